using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace StreamFraud.Scoring.Lstm;

/// <summary>
/// Single-precision matrix product C (+)= A·B on packed operands, single-threaded (the trainer and the managed serving
/// path, <see cref="ManagedLstm"/>, parallelise over batch chunks, so every product runs on one core and the result
/// never depends on the thread count).
/// </summary>
/// <remarks>
/// BLIS-style layout: B is packed into panels of <see cref="Nr"/> columns (k rows each, zero-padded), A into panels of
/// <see cref="Mr"/> rows stored column by column, and a register-blocked micro-kernel keeps an Mr×Nr tile of C in
/// vector registers for the whole k loop (AVX-512: 8×32 = 16 zmm accumulators; AVX2: 6×16 = 12 ymm). The shapes here
/// are small (k ≤ a few hundred), so one B panel (k·Nr floats) stays in L1/L2 while all A panels stream past it and
/// no k-blocking is needed. The k loop always runs in order 0..k-1, so results are bit-for-bit reproducible.
/// Measured on the 2-core dev machine (AMD EPYC, AVX-512), one core, for the LSTM's shapes (e.g. 448×512×80,
/// 64×512×128, 80×512×448): 70–95 GFLOP/s, against 3.6 GFLOP/s for the reference BLAS (libblas.so.3) sgemm, so no
/// BLAS library is needed.
/// </remarks>
internal static unsafe class Sgemm
{
    internal enum KernelKind
    {
        Portable,
        Avx2,
        Avx512,
    }

    /// <summary>The kernel this machine uses.</summary>
    internal static readonly KernelKind Kind =
        Vector512.IsHardwareAccelerated ? KernelKind.Avx512
        : Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported ? KernelKind.Avx2
        : KernelKind.Portable;

    /// <summary>Rows of the micro-kernel tile (A panel height).</summary>
    internal static readonly int Mr = TileRows(Kind);

    /// <summary>Columns of the micro-kernel tile (B panel width).</summary>
    internal static readonly int Nr = TileColumns(Kind);

    /// <summary>Whether <paramref name="kind"/> can run here (tests run every supported kernel).</summary>
    internal static bool IsSupported(KernelKind kind) => kind switch
    {
        KernelKind.Avx512 => Vector512.IsHardwareAccelerated,
        KernelKind.Avx2 => Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported,
        _ => true,
    };

    private static int TileRows(KernelKind kind) => kind switch { KernelKind.Avx512 => 8, KernelKind.Avx2 => 6, _ => 4 };

    private static int TileColumns(KernelKind kind) => kind switch { KernelKind.Avx512 => 32, KernelKind.Avx2 => 16, _ => 8 };

    /// <summary>Name of the kernel in use, for logs and benchmarks.</summary>
    internal static string KernelName => Kind switch
    {
        KernelKind.Avx512 => "avx512 8x32",
        KernelKind.Avx2 => "avx2 6x16",
        _ => "portable 4x8",
    };

    internal static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    /// <summary>Floats needed for a packed B of k×n.</summary>
    internal static int PackedBLength(int k, int n) => k * RoundUp(n, Nr);

    /// <summary>Floats needed for a packed B of k×n for <paramref name="kind"/>.</summary>
    internal static int PackedBLength(int k, int n, KernelKind kind) => k * RoundUp(n, TileColumns(kind));

    /// <summary>Floats needed for a packed A of m×k.</summary>
    internal static int PackedALength(int m, int k) => RoundUp(m, Mr) * k;

    /// <summary>Floats needed for a packed A of m×k for <paramref name="kind"/>.</summary>
    internal static int PackedALength(int m, int k, KernelKind kind) => RoundUp(m, TileRows(kind)) * k;

    /// <summary>
    /// Packs B (k×n) into Nr-wide column panels. B[p, j] is <c>src[p*ld + j]</c>, or <c>src[j*ld + p]</c> when
    /// <paramref name="transpose"/> (the source then holds Bᵀ as an n×k row-major matrix).
    /// </summary>
    internal static void PackB(ReadOnlySpan<float> src, int ld, bool transpose, int k, int n, Span<float> dst) =>
        PackB(src, ld, transpose, k, n, dst, Nr);

    internal static void PackB(ReadOnlySpan<float> src, int ld, bool transpose, int k, int n, Span<float> dst, KernelKind kind) =>
        PackB(src, ld, transpose, k, n, dst, TileColumns(kind));

    private static void PackB(ReadOnlySpan<float> src, int ld, bool transpose, int k, int n, Span<float> dst, int nr)
    {
        var panels = (n + nr - 1) / nr;
        if (dst.Length < panels * nr * k)
        {
            ThrowTooSmall();
        }

        fixed (float* s = src)
        fixed (float* d0 = dst)
        {
            var d = d0;
            for (var jp = 0; jp < panels; jp++)
            {
                var j0 = jp * nr;
                var width = Math.Min(nr, n - j0);
                if (!transpose)
                {
                    for (var p = 0; p < k; p++)
                    {
                        var row = s + (nint)p * ld + j0;
                        var c = 0;
                        for (; c < width; c++)
                        {
                            d[c] = row[c];
                        }

                        for (; c < nr; c++)
                        {
                            d[c] = 0f;
                        }

                        d += nr;
                    }
                }
                else
                {
                    for (var p = 0; p < k; p++)
                    {
                        var c = 0;
                        for (; c < width; c++)
                        {
                            d[c] = s[(nint)(j0 + c) * ld + p];
                        }

                        for (; c < nr; c++)
                        {
                            d[c] = 0f;
                        }

                        d += nr;
                    }
                }
            }
        }
    }

    /// <summary>
    /// Packs A (m×k) into Mr-high row panels stored k-major. A[i, p] is <c>src[i*ld + p]</c>, or <c>src[p*ld + i]</c>
    /// when <paramref name="transpose"/> (the source then holds Aᵀ as a k×m row-major matrix).
    /// </summary>
    internal static void PackA(ReadOnlySpan<float> src, int ld, bool transpose, int m, int k, Span<float> dst) =>
        PackA(src, ld, transpose, m, k, dst, Mr);

    internal static void PackA(ReadOnlySpan<float> src, int ld, bool transpose, int m, int k, Span<float> dst, KernelKind kind) =>
        PackA(src, ld, transpose, m, k, dst, TileRows(kind));

    private static void PackA(ReadOnlySpan<float> src, int ld, bool transpose, int m, int k, Span<float> dst, int mr)
    {
        var panels = (m + mr - 1) / mr;
        if (dst.Length < panels * mr * k)
        {
            ThrowTooSmall();
        }

        fixed (float* s = src)
        fixed (float* d0 = dst)
        {
            var d = d0;
            for (var ip = 0; ip < panels; ip++)
            {
                var i0 = ip * mr;
                var height = Math.Min(mr, m - i0);
                if (transpose)
                {
                    for (var p = 0; p < k; p++)
                    {
                        var col = s + (nint)p * ld + i0;
                        var r = 0;
                        for (; r < height; r++)
                        {
                            d[r] = col[r];
                        }

                        for (; r < mr; r++)
                        {
                            d[r] = 0f;
                        }

                        d += mr;
                    }
                }
                else if (height == mr && mr == 8 && k >= 8)
                {
                    PackA8Rows(s + (nint)i0 * ld, ld, k, d);
                    d += 8 * k;
                }
                else
                {
                    for (var p = 0; p < k; p++)
                    {
                        var r = 0;
                        for (; r < height; r++)
                        {
                            d[r] = s[(nint)(i0 + r) * ld + p];
                        }

                        for (; r < mr; r++)
                        {
                            d[r] = 0f;
                        }

                        d += mr;
                    }
                }
            }
        }
    }

    /// <summary>Interleaves 8 rows column by column (an 8×k → k×8 transpose), 8 columns at a time.</summary>
    private static void PackA8Rows(float* s, int ld, int k, float* d)
    {
        var p = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; p + 8 <= k; p += 8)
            {
                var r0 = Vector256.Load(s + p);
                var r1 = Vector256.Load(s + ld + p);
                var r2 = Vector256.Load(s + (nint)2 * ld + p);
                var r3 = Vector256.Load(s + (nint)3 * ld + p);
                var r4 = Vector256.Load(s + (nint)4 * ld + p);
                var r5 = Vector256.Load(s + (nint)5 * ld + p);
                var r6 = Vector256.Load(s + (nint)6 * ld + p);
                var r7 = Vector256.Load(s + (nint)7 * ld + p);
                Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
                var o = d + (nint)p * 8;
                r0.Store(o);
                r1.Store(o + 8);
                r2.Store(o + 16);
                r3.Store(o + 24);
                r4.Store(o + 32);
                r5.Store(o + 40);
                r6.Store(o + 48);
                r7.Store(o + 56);
            }
        }

        for (; p < k; p++)
        {
            var o = d + (nint)p * 8;
            for (var r = 0; r < 8; r++)
            {
                o[r] = s[(nint)r * ld + p];
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(
        ref Vector256<float> r0, ref Vector256<float> r1, ref Vector256<float> r2, ref Vector256<float> r3,
        ref Vector256<float> r4, ref Vector256<float> r5, ref Vector256<float> r6, ref Vector256<float> r7)
    {
        // Element-index shuffles keep this portable (Vector256.Shuffle lowers to permutes on x64).
        var t0 = Unpack(r0, r1, false);
        var t1 = Unpack(r0, r1, true);
        var t2 = Unpack(r2, r3, false);
        var t3 = Unpack(r2, r3, true);
        var t4 = Unpack(r4, r5, false);
        var t5 = Unpack(r4, r5, true);
        var t6 = Unpack(r6, r7, false);
        var t7 = Unpack(r6, r7, true);
        // t0 = a0 b0 a1 b1 | a4 b4 a5 b5 ; t1 = a2 b2 a3 b3 | a6 b6 a7 b7 (per 128-bit lane, like unpacklo/hi)
        var u0 = Shuffle2(t0, t2, false);
        var u1 = Shuffle2(t0, t2, true);
        var u2 = Shuffle2(t1, t3, false);
        var u3 = Shuffle2(t1, t3, true);
        var u4 = Shuffle2(t4, t6, false);
        var u5 = Shuffle2(t4, t6, true);
        var u6 = Shuffle2(t5, t7, false);
        var u7 = Shuffle2(t5, t7, true);
        // u0 = a0 b0 c0 d0 | a4 b4 c4 d4 ; u4 = e0 f0 g0 h0 | e4 f4 g4 h4
        r0 = Vector256.Create(u0.GetLower(), u4.GetLower());
        r1 = Vector256.Create(u1.GetLower(), u5.GetLower());
        r2 = Vector256.Create(u2.GetLower(), u6.GetLower());
        r3 = Vector256.Create(u3.GetLower(), u7.GetLower());
        r4 = Vector256.Create(u0.GetUpper(), u4.GetUpper());
        r5 = Vector256.Create(u1.GetUpper(), u5.GetUpper());
        r6 = Vector256.Create(u2.GetUpper(), u6.GetUpper());
        r7 = Vector256.Create(u3.GetUpper(), u7.GetUpper());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Unpack(Vector256<float> a, Vector256<float> b, bool high)
    {
        if (System.Runtime.Intrinsics.X86.Avx.IsSupported)
        {
            return high ? System.Runtime.Intrinsics.X86.Avx.UnpackHigh(a, b) : System.Runtime.Intrinsics.X86.Avx.UnpackLow(a, b);
        }

        var o = high ? 2 : 0;
        return Vector256.Create(a[o], b[o], a[o + 1], b[o + 1], a[o + 4], b[o + 4], a[o + 5], b[o + 5]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Shuffle2(Vector256<float> a, Vector256<float> b, bool high)
    {
        if (System.Runtime.Intrinsics.X86.Avx.IsSupported)
        {
            // shufps: low pair from a, high pair from b; 0x44 = (1,0,1,0), 0xEE = (3,2,3,2).
            return high ? System.Runtime.Intrinsics.X86.Avx.Shuffle(a, b, 0xEE) : System.Runtime.Intrinsics.X86.Avx.Shuffle(a, b, 0x44);
        }

        var o = high ? 2 : 0;
        return Vector256.Create(a[o], a[o + 1], b[o], b[o + 1], a[o + 4], a[o + 5], b[o + 4], b[o + 5]);
    }

    /// <summary>
    /// C (m×n, row stride <paramref name="ldc"/>) = A·B, or C += A·B when <paramref name="accumulate"/>, from
    /// operands packed by <c>PackA</c> and <c>PackB</c> for the same kernel.
    /// </summary>
    internal static void Multiply(
        ReadOnlySpan<float> packedA, ReadOnlySpan<float> packedB, int m, int n, int k, Span<float> c, int ldc,
        bool accumulate) =>
        Multiply(packedA, packedB, m, n, k, c, ldc, accumulate, Kind);

    /// <summary>As <see cref="Multiply(ReadOnlySpan{float}, ReadOnlySpan{float}, int, int, int, Span{float}, int, bool)"/> with a chosen kernel (operands packed for it).</summary>
    internal static void Multiply(
        ReadOnlySpan<float> packedA, ReadOnlySpan<float> packedB, int m, int n, int k, Span<float> c, int ldc,
        bool accumulate, KernelKind kind)
    {
        if (m == 0 || n == 0)
        {
            return;
        }

        if (!IsSupported(kind))
        {
            throw new PlatformNotSupportedException($"The {kind} GEMM kernel needs instructions this CPU lacks.");
        }

        var mr = TileRows(kind);
        var nr = TileColumns(kind);
        var mPanels = (m + mr - 1) / mr;
        var nPanels = (n + nr - 1) / nr;
        if (packedA.Length < mPanels * mr * k || packedB.Length < nPanels * nr * k || c.Length < (m - 1) * ldc + n)
        {
            ThrowTooSmall();
        }

        if (k == 0)
        {
            if (!accumulate)
            {
                for (var i = 0; i < m; i++)
                {
                    c.Slice(i * ldc, n).Clear();
                }
            }

            return;
        }

        var tile = stackalloc float[8 * 32];
        fixed (float* a0 = packedA)
        fixed (float* b0 = packedB)
        fixed (float* c0 = c)
        {
            for (var jp = 0; jp < nPanels; jp++)
            {
                var j0 = jp * nr;
                var width = Math.Min(nr, n - j0);
                var b = b0 + (nint)jp * nr * k;
                for (var ip = 0; ip < mPanels; ip++)
                {
                    var i0 = ip * mr;
                    var height = Math.Min(mr, m - i0);
                    var a = a0 + (nint)ip * mr * k;
                    var cTile = c0 + (nint)i0 * ldc + j0;
                    if (width == nr && height == mr)
                    {
                        RunKernel(kind, k, a, b, cTile, ldc, accumulate);
                        continue;
                    }

                    // Edge tile: run the full kernel on a scratch tile, then copy the valid part.
                    for (var r = 0; r < mr; r++)
                    {
                        for (var q = 0; q < nr; q++)
                        {
                            tile[r * nr + q] = accumulate && r < height && q < width ? cTile[(nint)r * ldc + q] : 0f;
                        }
                    }

                    RunKernel(kind, k, a, b, tile, nr, true);
                    for (var r = 0; r < height; r++)
                    {
                        for (var q = 0; q < width; q++)
                        {
                            cTile[(nint)r * ldc + q] = tile[r * nr + q];
                        }
                    }
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RunKernel(KernelKind kind, int k, float* a, float* b, float* c, nint ldc, bool accumulate)
    {
        switch (kind)
        {
            case KernelKind.Avx512:
                Kernel8x32(k, a, b, c, ldc, accumulate);
                break;
            case KernelKind.Avx2:
                Kernel6x16(k, a, b, c, ldc, accumulate);
                break;
            default:
                KernelPortable(k, a, b, c, ldc, accumulate);
                break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel8x32(int k, float* a, float* b, float* c, nint ldc, bool accumulate)
    {
        Vector512<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71;
        if (accumulate)
        {
            c00 = Vector512.Load(c);
            c01 = Vector512.Load(c + 16);
            c10 = Vector512.Load(c + ldc);
            c11 = Vector512.Load(c + ldc + 16);
            c20 = Vector512.Load(c + 2 * ldc);
            c21 = Vector512.Load(c + 2 * ldc + 16);
            c30 = Vector512.Load(c + 3 * ldc);
            c31 = Vector512.Load(c + 3 * ldc + 16);
            c40 = Vector512.Load(c + 4 * ldc);
            c41 = Vector512.Load(c + 4 * ldc + 16);
            c50 = Vector512.Load(c + 5 * ldc);
            c51 = Vector512.Load(c + 5 * ldc + 16);
            c60 = Vector512.Load(c + 6 * ldc);
            c61 = Vector512.Load(c + 6 * ldc + 16);
            c70 = Vector512.Load(c + 7 * ldc);
            c71 = Vector512.Load(c + 7 * ldc + 16);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = Vector512<float>.Zero;
            c40 = c41 = c50 = c51 = c60 = c61 = c70 = c71 = Vector512<float>.Zero;
        }

        for (var p = 0; p < k; p++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var av = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(av, b0, c00);
            c01 = Vector512.FusedMultiplyAdd(av, b1, c01);
            av = Vector512.Create(a[1]);
            c10 = Vector512.FusedMultiplyAdd(av, b0, c10);
            c11 = Vector512.FusedMultiplyAdd(av, b1, c11);
            av = Vector512.Create(a[2]);
            c20 = Vector512.FusedMultiplyAdd(av, b0, c20);
            c21 = Vector512.FusedMultiplyAdd(av, b1, c21);
            av = Vector512.Create(a[3]);
            c30 = Vector512.FusedMultiplyAdd(av, b0, c30);
            c31 = Vector512.FusedMultiplyAdd(av, b1, c31);
            av = Vector512.Create(a[4]);
            c40 = Vector512.FusedMultiplyAdd(av, b0, c40);
            c41 = Vector512.FusedMultiplyAdd(av, b1, c41);
            av = Vector512.Create(a[5]);
            c50 = Vector512.FusedMultiplyAdd(av, b0, c50);
            c51 = Vector512.FusedMultiplyAdd(av, b1, c51);
            av = Vector512.Create(a[6]);
            c60 = Vector512.FusedMultiplyAdd(av, b0, c60);
            c61 = Vector512.FusedMultiplyAdd(av, b1, c61);
            av = Vector512.Create(a[7]);
            c70 = Vector512.FusedMultiplyAdd(av, b0, c70);
            c71 = Vector512.FusedMultiplyAdd(av, b1, c71);
            a += 8;
            b += 32;
        }

        c00.Store(c);
        c01.Store(c + 16);
        c10.Store(c + ldc);
        c11.Store(c + ldc + 16);
        c20.Store(c + 2 * ldc);
        c21.Store(c + 2 * ldc + 16);
        c30.Store(c + 3 * ldc);
        c31.Store(c + 3 * ldc + 16);
        c40.Store(c + 4 * ldc);
        c41.Store(c + 4 * ldc + 16);
        c50.Store(c + 5 * ldc);
        c51.Store(c + 5 * ldc + 16);
        c60.Store(c + 6 * ldc);
        c61.Store(c + 6 * ldc + 16);
        c70.Store(c + 7 * ldc);
        c71.Store(c + 7 * ldc + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x16(int k, float* a, float* b, float* c, nint ldc, bool accumulate)
    {
        Vector256<float> c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        if (accumulate)
        {
            c00 = Vector256.Load(c);
            c01 = Vector256.Load(c + 8);
            c10 = Vector256.Load(c + ldc);
            c11 = Vector256.Load(c + ldc + 8);
            c20 = Vector256.Load(c + 2 * ldc);
            c21 = Vector256.Load(c + 2 * ldc + 8);
            c30 = Vector256.Load(c + 3 * ldc);
            c31 = Vector256.Load(c + 3 * ldc + 8);
            c40 = Vector256.Load(c + 4 * ldc);
            c41 = Vector256.Load(c + 4 * ldc + 8);
            c50 = Vector256.Load(c + 5 * ldc);
            c51 = Vector256.Load(c + 5 * ldc + 8);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = Vector256<float>.Zero;
            c30 = c31 = c40 = c41 = c50 = c51 = Vector256<float>.Zero;
        }

        for (var p = 0; p < k; p++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var av = Vector256.Create(a[0]);
            c00 = Vector256.FusedMultiplyAdd(av, b0, c00);
            c01 = Vector256.FusedMultiplyAdd(av, b1, c01);
            av = Vector256.Create(a[1]);
            c10 = Vector256.FusedMultiplyAdd(av, b0, c10);
            c11 = Vector256.FusedMultiplyAdd(av, b1, c11);
            av = Vector256.Create(a[2]);
            c20 = Vector256.FusedMultiplyAdd(av, b0, c20);
            c21 = Vector256.FusedMultiplyAdd(av, b1, c21);
            av = Vector256.Create(a[3]);
            c30 = Vector256.FusedMultiplyAdd(av, b0, c30);
            c31 = Vector256.FusedMultiplyAdd(av, b1, c31);
            av = Vector256.Create(a[4]);
            c40 = Vector256.FusedMultiplyAdd(av, b0, c40);
            c41 = Vector256.FusedMultiplyAdd(av, b1, c41);
            av = Vector256.Create(a[5]);
            c50 = Vector256.FusedMultiplyAdd(av, b0, c50);
            c51 = Vector256.FusedMultiplyAdd(av, b1, c51);
            a += 6;
            b += 16;
        }

        c00.Store(c);
        c01.Store(c + 8);
        c10.Store(c + ldc);
        c11.Store(c + ldc + 8);
        c20.Store(c + 2 * ldc);
        c21.Store(c + 2 * ldc + 8);
        c30.Store(c + 3 * ldc);
        c31.Store(c + 3 * ldc + 8);
        c40.Store(c + 4 * ldc);
        c41.Store(c + 4 * ldc + 8);
        c50.Store(c + 5 * ldc);
        c51.Store(c + 5 * ldc + 8);
    }

    private static void KernelPortable(int k, float* a, float* b, float* c, nint ldc, bool accumulate)
    {
        // 4×8 tile; used only where neither AVX2+FMA nor AVX-512 is available (e.g. Arm without this tuning).
        var acc = stackalloc float[32];
        for (var r = 0; r < 4; r++)
        {
            for (var q = 0; q < 8; q++)
            {
                acc[r * 8 + q] = accumulate ? c[r * ldc + q] : 0f;
            }
        }

        for (var p = 0; p < k; p++)
        {
            for (var r = 0; r < 4; r++)
            {
                var av = a[r];
                for (var q = 0; q < 8; q++)
                {
                    acc[r * 8 + q] = MathF.FusedMultiplyAdd(av, b[q], acc[r * 8 + q]);
                }
            }

            a += 4;
            b += 8;
        }

        for (var r = 0; r < 4; r++)
        {
            for (var q = 0; q < 8; q++)
            {
                c[r * ldc + q] = acc[r * 8 + q];
            }
        }
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowTooSmall() => throw new ArgumentException("A GEMM buffer is smaller than its shape needs.");
}
