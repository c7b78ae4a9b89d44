using System.Runtime.CompilerServices;

namespace StreamFraud.Core.Features;

/// <summary>
/// <c>exp</c>, <c>log</c> and <c>sin/cos(2πx)</c> built only from IEEE-754 double additions, multiplications,
/// divisions and exact power-of-two scaling, so the results are the same bits on every platform and runtime.
/// </summary>
/// <remarks>
/// <see cref="Math.Exp"/>, <see cref="Math.Log(double)"/> and <see cref="Math.Sin"/> call the C runtime, whose last-bit
/// results differ between glibc, musl and the Windows CRT (and between their versions). Features are computed by the
/// trainer on one machine and by the scorer on another, and must agree bit for bit (docs/ARCHITECTURE.md "Windows and
/// features"), so the feature code uses these instead. .NET never contracts <c>a*b+c</c> into an FMA on its own,
/// so each expression below rounds the same way everywhere. Accuracy is about one ulp of double, far below the
/// float the features are stored as; the tests compare against <see cref="Math"/> within 1e-15 relative.
/// The algorithms are the classic fdlibm reductions with plain Taylor/atanh series instead of minimax polynomials.
/// </remarks>
internal static class DeterministicMath
{
    // ln 2 split so that k * Ln2Hi is exact for |k| < 2^20 (fdlibm e_exp.c / e_log.c).
    private const double Ln2Hi = 6.93147180369123816490e-01;
    private const double Ln2Lo = 1.90821492927058770002e-10;
    private const double InvLn2 = 1.44269504088896338700e+00;
    private const double HalfPi = 1.57079632679489661923;

    /// <summary>e^x. Underflows to 0 below -745.2 and overflows to +∞ above 709.8; NaN stays NaN.</summary>
    public static double Exp(double x)
    {
        if (double.IsNaN(x))
        {
            return x;
        }

        if (x > 709.782712893384)
        {
            return double.PositiveInfinity;
        }

        if (x < -745.1332191019412)
        {
            return 0.0;
        }

        // x = k ln2 + r with |r| <= ln2/2; e^x = 2^k e^r.
        var k = Math.Round(x * InvLn2);
        var r = (x - (k * Ln2Hi)) - (k * Ln2Lo);

        // Taylor series of e^r to r^14/14!: truncation error < 5e-18 for |r| <= 0.3466.
        var p = 1.0 / 87178291200.0;
        p = (p * r) + (1.0 / 6227020800.0);
        p = (p * r) + (1.0 / 479001600.0);
        p = (p * r) + (1.0 / 39916800.0);
        p = (p * r) + (1.0 / 3628800.0);
        p = (p * r) + (1.0 / 362880.0);
        p = (p * r) + (1.0 / 40320.0);
        p = (p * r) + (1.0 / 5040.0);
        p = (p * r) + (1.0 / 720.0);
        p = (p * r) + (1.0 / 120.0);
        p = (p * r) + (1.0 / 24.0);
        p = (p * r) + (1.0 / 6.0);
        p = (p * r) + 0.5;
        p = (p * r) + 1.0;
        p = (p * r) + 1.0;

        var ki = (int)k;
        // Split the scaling so that a subnormal result is rounded once, by the final multiplication.
        if (ki < -1000)
        {
            return Math.ScaleB(Math.ScaleB(p, ki + 1000), -1000);
        }

        return Math.ScaleB(p, ki);
    }

    /// <summary>Natural logarithm. log(0) = -∞, log(x &lt; 0) = NaN, log(+∞) = +∞.</summary>
    public static double Log(double x)
    {
        if (!(x > 0.0))
        {
            return x == 0.0 ? double.NegativeInfinity : double.NaN;
        }

        if (double.IsPositiveInfinity(x))
        {
            return x;
        }

        var bits = BitConverter.DoubleToInt64Bits(x);
        var e = (int)((bits >> 52) & 0x7FF);
        if (e == 0)
        {
            // Subnormal: scale into the normal range first (exact).
            x *= 18014398509481984.0; // 2^54
            bits = BitConverter.DoubleToInt64Bits(x);
            e = (int)((bits >> 52) & 0x7FF) - 54;
        }

        e -= 1023;
        // m in [1, 2): replace the exponent field with the bias.
        var m = BitConverter.Int64BitsToDouble((bits & 0x000FFFFFFFFFFFFFL) | 0x3FF0000000000000L);
        if (m > 1.4142135623730951)
        {
            m *= 0.5;
            e++;
        }

        // log m = 2 atanh(s), s = (m-1)/(m+1), |s| <= 0.1716; series to s^25 (error < 1e-19).
        var f = m - 1.0;
        var s = f / (2.0 + f);
        var z = s * s;
        var q = 1.0 / 25.0;
        q = (q * z) + (1.0 / 23.0);
        q = (q * z) + (1.0 / 21.0);
        q = (q * z) + (1.0 / 19.0);
        q = (q * z) + (1.0 / 17.0);
        q = (q * z) + (1.0 / 15.0);
        q = (q * z) + (1.0 / 13.0);
        q = (q * z) + (1.0 / 11.0);
        q = (q * z) + (1.0 / 9.0);
        q = (q * z) + (1.0 / 7.0);
        q = (q * z) + (1.0 / 5.0);
        q = (q * z) + (1.0 / 3.0);
        // 2s(1 + z q) = f - s f + 2 s z q, written to keep the leading term exact-ish: f = 2s + s f.
        var logm = f - (s * (f - (2.0 * z * q)));
        return (e * Ln2Hi) + ((e * Ln2Lo) + logm);
    }

    /// <summary>ln(1 + x) for x &gt; -1, as <see cref="Log"/> of the rounded sum (features never need small-x accuracy).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Log1P(double x) => Log(1.0 + x);

    /// <summary>sin(2π·turns) and cos(2π·turns) for <paramref name="turns"/> in [0, 1).</summary>
    public static (double Sin, double Cos) SinCosTurns(double turns)
    {
        // Quadrant q and the angle within it, θ in [0, π/2). turns * 4 and the subtraction are exact.
        var t4 = turns * 4.0;
        var q = (int)Math.Floor(t4);
        var theta = (t4 - q) * HalfPi;
        var z = theta * theta;

        // Taylor series to θ^21 / θ^20: truncation error < 2e-18 for θ < π/2.
        var sp = -1.0 / 51090942171709440000.0;
        sp = (sp * z) + (1.0 / 121645100408832000.0);
        sp = (sp * z) - (1.0 / 355687428096000.0);
        sp = (sp * z) + (1.0 / 1307674368000.0);
        sp = (sp * z) - (1.0 / 6227020800.0);
        sp = (sp * z) + (1.0 / 39916800.0);
        sp = (sp * z) - (1.0 / 362880.0);
        sp = (sp * z) + (1.0 / 5040.0);
        sp = (sp * z) - (1.0 / 120.0);
        sp = (sp * z) + (1.0 / 6.0);
        var sin = theta - (theta * z * sp);

        var cp = 1.0 / 2432902008176640000.0;
        cp = (cp * z) - (1.0 / 6402373705728000.0);
        cp = (cp * z) + (1.0 / 20922789888000.0);
        cp = (cp * z) - (1.0 / 87178291200.0);
        cp = (cp * z) + (1.0 / 479001600.0);
        cp = (cp * z) - (1.0 / 3628800.0);
        cp = (cp * z) + (1.0 / 40320.0);
        cp = (cp * z) - (1.0 / 720.0);
        cp = (cp * z) + (1.0 / 24.0);
        cp = (cp * z) - 0.5;
        var cos = 1.0 + (z * cp);

        // sin(θ + qπ/2); "0.0 - v" rather than "-v" so an exact zero comes out as +0, not -0.
        return (q & 3) switch
        {
            0 => (sin, cos),
            1 => (cos, 0.0 - sin),
            2 => (0.0 - sin, 0.0 - cos),
            _ => (0.0 - cos, sin),
        };
    }
}
