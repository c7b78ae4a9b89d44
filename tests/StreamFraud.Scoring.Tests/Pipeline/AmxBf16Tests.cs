using StreamFraud.Scoring.Lstm;

namespace StreamFraud.Scoring.Tests.Pipeline;

/// <summary>
/// The AMX product of the <c>managed_bf16</c> LSTM path against a brute-force reference: operands rounded to bf16 by
/// an independent rule (round to nearest, ties to even, on the float's bits), products and sums in double; the tile's
/// fp32 sums must be within a few fp32 roundings of it. Where AMX-BF16 does not run, the product refuses with the reason.
/// </summary>
public sealed class AmxBf16Tests
{
    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 16, 1 },
        { 64, 512, 184 },  // [x_t | h1] · [W1; R1] at spec card v1, a full chunk
        { 50, 512, 56 },   // x_t · W1 at the first step, a partial chunk (rows padded to 64)
        { 17, 256, 192 },  // layer 2, 17 rows: padded to 32, one pass of two row blocks
        { 40, 64, 56 },    // 48 rows: a pass of two row blocks, then a last block of 16
        { 47, 48, 33 },    // 48 rows and an odd column block: the 16-row tail and the last column block together
        { 3, 48, 75 },     // an odd column block of 16, k padded to 96
        { 33, 16, 255 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Multiply_RandomShapes_EqualsBf16BruteForce(int m, int n, int k)
    {
        var rng = new Random((m * 1000) + (n * 10) + k);
        var lda = k + 3;
        var a = new float[m * lda];
        for (var i = 0; i < a.Length; i++)
        {
            a[i] = (float)((rng.NextDouble() * 2) - 1) * (i % 7 == 0 ? 9 : 1);
        }

        var b = new float[k * n];
        for (var i = 0; i < b.Length; i++)
        {
            b[i] = (float)((rng.NextDouble() * 2) - 1) * 0.3f;
        }

        if (!AmxBf16.Available)
        {
            Assert.NotNull(AmxBf16.Problem);
            Assert.Throws<PlatformNotSupportedException>(() => AmxBf16.Pack(b, n, k, n));
            return;
        }

        var packed = AmxBf16.Pack(b, n, k, n);
        var rows = AmxBf16.PaddedRows(m);
        var ldc = n + 5;
        var c = new float[rows * ldc];
        c.AsSpan().Fill(float.NaN);
        AmxBf16.Multiply(a, lda, m, k, packed, n, c, ldc, new ushort[rows * AmxBf16.PaddedK(k)]);
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < n; j++)
            {
                double sum = 0, magnitude = 0;
                for (var p = 0; p < k; p++)
                {
                    var product = i < m ? (double)Bf16(a[(i * lda) + p]) * Bf16(b[(p * n) + j]) : 0;
                    sum += product;
                    magnitude += Math.Abs(product);
                }

                // fp32 sums of exact products: within a few roundings of the magnitude (k/32 tile steps, pairs).
                Assert.True(Math.Abs(c[(i * ldc) + j] - sum) <= (4e-7 * magnitude) + 1e-30, $"C[{i}, {j}] = {c[(i * ldc) + j]}, reference {sum}");
            }

            Assert.All(c.AsSpan((i * ldc) + n, Math.Min(ldc - n, c.Length - ((i * ldc) + n))).ToArray(), v => Assert.True(float.IsNaN(v))); // nothing past n
        }
    }

    [Theory]
    [InlineData(1f, 1f)]
    [InlineData(1.00390625f, 1f)]          // 1 + 2⁻⁸: a tie between 1 and 1 + 2⁻⁷ goes to the even 1
    [InlineData(1.01171875f, 1.015625f)]   // 1 + 3·2⁻⁸: a tie between 1 + 2⁻⁷ and 1 + 2⁻⁶ goes to the even 1 + 2⁻⁶
    [InlineData(1.0039064f, 1.0078125f)]   // one float above the tie: up
    [InlineData(-3.3333333f, -3.328125f)]
    public void Multiply_RoundsBothOperandsToNearestEven(float value, float expected)
    {
        if (!AmxBf16.Available)
        {
            return; // the refusal is asserted by Multiply_RandomShapes_…
        }

        Assert.Equal(expected, Bf16(value)); // the reference rule agrees with the stated value
        var one = new float[16];
        one[0] = 1f;
        var c = new float[16 * 16];
        var scratch = new ushort[16 * 32];
        // value in A (rounded by the product), 1 in B.
        AmxBf16.Multiply([value], 1, 1, 1, AmxBf16.Pack(one, 16, 1, 16), 16, c, 16, scratch);
        Assert.Equal(expected, c[0]);
        // 1 in A, value in B (rounded by the packer).
        var column = new float[16];
        column[0] = value;
        AmxBf16.Multiply([1f], 1, 1, 1, AmxBf16.Pack(column, 16, 1, 16), 16, c, 16, scratch);
        Assert.Equal(expected, c[0]);
    }

    [Fact]
    public void Available_WhereTheCpuHasAmxBf16_ElseRefusedWithTheReason()
    {
        if (AmxBf16.CpuHasAmxBf16 && OperatingSystem.IsLinux() && System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64)
        {
            // A build that left the library out (or copied a stale one) fails here on AMX hardware; only the kernel may
            // still refuse the tile state, and then the reason says so.
            Assert.True(AmxBf16.Available || AmxBf16.Problem!.Contains("arch_prctl", StringComparison.Ordinal), AmxBf16.Problem);
        }
        else
        {
            Assert.False(AmxBf16.Available);
            Assert.NotNull(AmxBf16.Problem);
        }
    }

    [Fact]
    public void Multiply_BadShapeOrStride_Throws()
    {
        if (!AmxBf16.Available)
        {
            return; // the refusal is asserted by Available_…
        }

        var packed = AmxBf16.Pack(new float[32 * 16], 16, 32, 16);
        Assert.Throws<ArgumentOutOfRangeException>(() => AmxBf16.Multiply(new float[64], 32, 1, 32, packed, -16, new float[16 * 16], 16, new ushort[16 * 32]));
        Assert.Throws<ArgumentOutOfRangeException>(() => AmxBf16.Multiply(new float[64], 31, 1, 32, packed, 16, new float[16 * 16], 16, new ushort[16 * 32]));
        Assert.Throws<ArgumentOutOfRangeException>(() => AmxBf16.Multiply(new float[64], 32, 1, 32, packed, 16, new float[16 * 16], 8, new ushort[16 * 32]));
        Assert.Throws<ArgumentException>(() => AmxBf16.Pack(new float[32 * 16], 8, 32, 16)); // row stride below n
        Assert.Throws<ArgumentException>(() => AmxBf16.Pack(new float[32 * 16], 24, 32, 24)); // n not a multiple of 16
    }

    [Fact]
    public void Multiply_BufferTooSmall_Throws()
    {
        if (!AmxBf16.Available)
        {
            return;
        }

        var packed = AmxBf16.Pack(new float[32 * 16], 16, 32, 16);
        var e = Assert.Throws<ArgumentException>(() => AmxBf16.Multiply(new float[17 * 32], 32, 17, 32, packed, 16, new float[17 * 16], 16, new ushort[32 * 32]));
        Assert.Contains("does not fit its buffer", e.Message);
    }

    /// <summary>bf16 of x as a float: round to nearest on the upper 16 bits, ties to even (x finite).</summary>
    private static float Bf16(float x)
    {
        var bits = BitConverter.SingleToUInt32Bits(x);
        var lower = bits & 0xFFFF;
        var upper = bits >> 16;
        if (lower > 0x8000 || (lower == 0x8000 && (upper & 1) == 1))
        {
            upper++;
        }

        return BitConverter.UInt32BitsToSingle(upper << 16);
    }
}
