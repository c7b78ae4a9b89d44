using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace StreamFraud.Scoring.Lstm;

/// <summary>
/// The <c>managed_bf16</c> path's matrix product on Intel AMX (<c>TDPBF16PS</c>): operands rounded to bf16 (nearest
/// even), products of normal values exact, fp32 sums (denormals flushed to zero). .NET has no AMX intrinsics, so the product lives in a small C library built with
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
        CpuHasAmxBf16 = DetectCpu();
        try
        {
            Problem = Load(out var gemm, out var pack);
            if (Problem is null)
            {
                GemmFn = (delegate* unmanaged<float*, int, int, int, ushort*, int, float*, int, ushort*, void>)gemm;
                PackFn = (delegate* unmanaged<float*, int, int, int, ushort*, void>)pack;
                Available = true;
            }
        }
        catch (Exception e)
        {
            Problem = $"{LibraryName} could not be used: {e.Message}";
        }
    }

    /// <summary>
    /// Whether this CPU has AMX-BF16 and the OS runs AVX-512 (<c>Avx512BW.IsSupported</c>), whatever the library:
    /// where it does, <see cref="LstmPaths.Candidates"/> keep <c>managed_bf16</c>, so a missing or refused library is
    /// reported with its reason (<see cref="Problem"/>) instead of the path silently not existing.
    /// </summary>
    public static bool CpuHasAmxBf16 { get; }

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
        if (n <= 0 || n % 16 != 0 || k < 1 || ldb < n || b.Length < ((k - 1) * (long)ldb) + n)
        {
            throw new ArgumentException($"B of {k} × {n} (row stride {ldb}) does not fit {b.Length} floats, or n is not a positive multiple of 16, or the stride is below n.");
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
        if (k < 1 || n <= 0 || n % 16 != 0 || lda < k || ldc < n)
        {
            throw new ArgumentOutOfRangeException(nameof(n), $"A {m} × {k} (stride {lda}), C {rows} × {n} (stride {ldc}): k and n must be positive, n a multiple of 16, the strides at least k and n.");
        }

        if (a.Length < ((m - 1) * (long)lda) + k || b.Length < PaddedK(k) * n || c.Length < ((rows - 1) * (long)ldc) + n
            || scratch.Length < rows * PaddedK(k))
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

    private static string? Load(out nint gemm, out nint pack)
    {
        (gemm, pack) = (0, 0);
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            return "AMX runs on Linux x86-64 only";
        }

        if (!CpuHasAmxBf16)
        {
            return "this CPU has no AMX-BF16 (Intel Sapphire Rapids or later), or AVX-512 is disabled";
        }

        var path = Path.Combine(AppContext.BaseDirectory, LibraryName);
        if (!NativeLibrary.TryLoad(path, out var lib))
        {
            return $"{LibraryName} is not next to the app (the Scoring project builds it where gcc is installed: `make deps`, then rebuild)";
        }

        if (!NativeLibrary.TryGetExport(lib, "sf_amx_version", out var version) || ((delegate* unmanaged<int>)version)() != AbiVersion
            || !NativeLibrary.TryGetExport(lib, "sf_amx_init", out var init) || !NativeLibrary.TryGetExport(lib, "sf_amx_gemm", out gemm)
            || !NativeLibrary.TryGetExport(lib, "sf_amx_pack", out pack))
        {
            return $"{path} is not this version's library (rebuild the app)";
        }

        var status = ((delegate* unmanaged<int>)init)();
        return status switch
        {
            0 => null,
            1 => "this CPU has no AMX-BF16, or the OS does not save the AVX-512 state",
            _ => $"the kernel refused the AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM, errno {status}: Linux 5.16 or later is needed, and threads' signal stacks large enough for it)",
        };
    }

    /// <summary>CPUID: AMX-BF16 and AMX-TILE (leaf 7 EDX bits 22, 24), AVX512-BF16 (leaf 7.1 EAX bit 5), and AVX-512BW usable.</summary>
    private static bool DetectCpu()
    {
        if (!X86Base.IsSupported || !Avx512BW.IsSupported)
        {
            return false;
        }

        var (_, _, _, edx) = X86Base.CpuId(7, 0);
        var (eax1, _, _, _) = X86Base.CpuId(7, 1);
        return ((edx >> 22) & 1) == 1 && ((edx >> 24) & 1) == 1 && ((eax1 >> 5) & 1) == 1;
    }

    private const int AbiVersion = 1;

    private static void EnsureAvailable()
    {
        if (!Available)
        {
            throw new PlatformNotSupportedException($"The AMX-BF16 product does not run here: {Problem}.");
        }
    }
}
