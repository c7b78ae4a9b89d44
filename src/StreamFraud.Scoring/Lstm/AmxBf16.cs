using System.Runtime.InteropServices;

namespace StreamFraud.Scoring.Lstm;

/// <summary>
/// The <c>managed_bf16</c> path's matrix product on Intel AMX (<c>TDPBF16PS</c>): operands rounded to bf16 (nearest
/// even), exact products, fp32 sums. .NET has no AMX intrinsics, so the product lives in a small C library built with
/// the Scoring project (<c>Native/amx_bf16.c</c> → <c>libstreamfraud_amx.so</c>, when gcc is present); it is used only
/// where that library loads, the CPU has AMX-BF16 and the kernel grants the process the tile state.
/// </summary>
internal static unsafe class AmxBf16
{
    /// <summary>The library's file name next to the app.</summary>
    public const string LibraryName = "libstreamfraud_amx.so";

    private static readonly delegate* unmanaged<float*, int, int, int, ushort*, int, float*, int, ushort*, void> GemmFn;
    private static readonly delegate* unmanaged<float*, int, int, int, ushort*, void> PackFn;

    static AmxBf16()
    {
        if (!OperatingSystem.IsLinux() || !(NativeLibrary.TryLoad(Path.Combine(AppContext.BaseDirectory, LibraryName), out var lib)
                || NativeLibrary.TryLoad(LibraryName, out lib)))
        {
            Problem = $"{LibraryName} is not next to the app (built with the Scoring project where gcc is installed; Linux only)";
            return;
        }

        if (!NativeLibrary.TryGetExport(lib, "sf_amx_init", out var init) || !NativeLibrary.TryGetExport(lib, "sf_amx_gemm", out var gemm)
            || !NativeLibrary.TryGetExport(lib, "sf_amx_pack", out var pack))
        {
            Problem = $"{LibraryName} lacks sf_amx_init, sf_amx_gemm or sf_amx_pack (a library of another version: rebuild the app)";
            return;
        }

        var status = ((delegate* unmanaged<int>)init)();
        if (status != 0)
        {
            Problem = status == 1
                ? "this CPU has no AMX-BF16 (Intel Sapphire Rapids or later)"
                : "the kernel did not grant the AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM; Linux 5.16 or later)";
            return;
        }

        GemmFn = (delegate* unmanaged<float*, int, int, int, ushort*, int, float*, int, ushort*, void>)gemm;
        PackFn = (delegate* unmanaged<float*, int, int, int, ushort*, void>)pack;
        Available = true;
    }

    /// <summary>Whether the AMX product runs here.</summary>
    public static bool Available { get; }

    /// <summary>Why it does not (null when <see cref="Available"/>).</summary>
    public static string? Problem { get; }

    /// <summary>k rounded up to the tile's 32.</summary>
    public static int PaddedK(int k) => (k + 31) / 32 * 32;

    /// <summary>m rounded up to the tile's 16 rows: the rows a product writes.</summary>
    public static int PaddedRows(int m) => (m + 15) / 16 * 16;

    /// <summary>
    /// B ([k, n] row-major, row stride <paramref name="ldb"/>; n a multiple of 16) as bf16 tiles of 32 k × 16 columns,
    /// k padded with zeros to <see cref="PaddedK"/>.
    /// </summary>
    public static ushort[] Pack(ReadOnlySpan<float> b, int ldb, int k, int n)
    {
        EnsureAvailable();
        if (n % 16 != 0 || k < 1 || b.Length < ((k - 1) * (long)ldb) + n)
        {
            throw new ArgumentException($"B of {k} × {n} (row stride {ldb}) does not fit {b.Length} floats or n is not a multiple of 16.");
        }

        var packed = new ushort[PaddedK(k) * n];
        fixed (float* pb = b)
        fixed (ushort* pp = packed)
        {
            PackFn(pb, ldb, k, n, pp);
        }

        return packed;
    }

    /// <summary>
    /// C = A·B: A [m, k] fp32 (row stride <paramref name="lda"/>), B from <see cref="Pack"/>; C receives
    /// <see cref="PaddedRows"/>(m) rows of n (row stride <paramref name="ldc"/>), rows past m zero.
    /// <paramref name="scratch"/> holds PaddedRows(m) × PaddedK(k) values.
    /// </summary>
    public static void Multiply(ReadOnlySpan<float> a, int lda, int m, int k, ReadOnlySpan<ushort> b, int n, Span<float> c, int ldc, Span<ushort> scratch)
    {
        EnsureAvailable();
        if (m < 1)
        {
            return;
        }

        var rows = PaddedRows(m);
        if (a.Length < ((m - 1) * (long)lda) + k || b.Length < PaddedK(k) * n || c.Length < ((rows - 1) * (long)ldc) + n
            || scratch.Length < rows * PaddedK(k) || n % 16 != 0)
        {
            throw new ArgumentException($"A {m} × {k}, B {k} × {n} or C {rows} × {n} does not fit its buffer.");
        }

        fixed (float* pa = a)
        fixed (ushort* pb = b)
        fixed (float* pc = c)
        fixed (ushort* ps = scratch)
        {
            GemmFn(pa, lda, m, k, pb, n, pc, ldc, ps);
        }
    }

    private static void EnsureAvailable()
    {
        if (!Available)
        {
            throw new PlatformNotSupportedException($"The AMX-BF16 product does not run here: {Problem}.");
        }
    }
}
