namespace StreamFraud.Core;

/// <summary>
/// xoshiro256** (Blackman and Vigna, https://prng.di.unimi.it/) seeded through SplitMix64: the one random generator of
/// the simulator and the LSTM trainer. It is used rather than <see cref="Random"/> so that a seed yields the same
/// numbers on every .NET version (the framework documents no stability guarantee for <see cref="Random"/>'s sequence):
/// generated data, initial weights, shuffles and dropout masks are reproduced exactly from their seeds.
/// </summary>
/// <remarks>
/// A mutable struct: pass it by <see langword="ref"/> (a copy continues the same sequence independently). Independent
/// streams come from <see cref="For(ulong, ulong, ulong, ulong)"/> and <see cref="ForStream(ulong, ulong)"/>, so the
/// numbers of one stream never depend on how many another consumed, nor on the order or thread they are drawn in.
/// Where two methods do nearly the same thing (<see cref="NextInt(int)"/> and <see cref="NextIntUnbiased(int)"/>,
/// <see cref="Normal"/> and <see cref="NormalRedrawingZero"/>) each keeps the exact sequence its callers' seeds were
/// fixed with; changing either would change generated data sets and trained models.
/// </remarks>
public struct Xoshiro256
{
    private const ulong Golden = 0x9E3779B97F4A7C15UL;

    private ulong _s0, _s1, _s2, _s3;

    /// <summary>A generator whose state is four SplitMix64 outputs from <paramref name="seed"/>.</summary>
    /// <param name="seed">Any value, zero included.</param>
    public Xoshiro256(ulong seed)
    {
        var x = seed;
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
    }

    /// <summary>An independent stream for (seed, purpose, a, b): the simulator's streams per purpose, card and day.</summary>
    /// <param name="seed">The run's seed.</param>
    /// <param name="purpose">What the numbers are for; each purpose has its own stream.</param>
    /// <param name="a">First index within the purpose (for example a card).</param>
    /// <param name="b">Second index within the purpose (for example a day).</param>
    public static Xoshiro256 For(ulong seed, ulong purpose, ulong a = 0, ulong b = 0) =>
        new(Mix(Mix(Mix(seed ^ Mix(purpose + 0x632BE59BD9B4E019UL)) + a) ^ Mix(b + Golden)));

    /// <summary>
    /// Stream <paramref name="stream"/> of <paramref name="seed"/>: the LSTM trainer's streams (stream 0 is
    /// <c>new Xoshiro256(seed)</c>).
    /// </summary>
    /// <param name="seed">The seed.</param>
    /// <param name="stream">The stream number.</param>
    public static Xoshiro256 ForStream(ulong seed, ulong stream) => new(seed ^ (stream * Golden) ^ (stream << 17));

    /// <summary>SplitMix64's finaliser: a bijective 64-bit mix.</summary>
    /// <param name="z">The value to mix.</param>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Mixes several values into one seed (for example seed, epoch, batch, chunk) by chained SplitMix64 steps.</summary>
    /// <param name="a">First value.</param>
    /// <param name="b">Second value.</param>
    /// <param name="c">Third value.</param>
    /// <param name="d">Fourth value.</param>
    public static ulong Combine(ulong a, ulong b, ulong c = 0, ulong d = 0)
    {
        var x = a;
        var h = SplitMix(ref x);
        x = h ^ b;
        h = SplitMix(ref x);
        x = h ^ c;
        h = SplitMix(ref x);
        x = h ^ d;
        return SplitMix(ref x);
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        var result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, 1) with 24 random bits.</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1.0f / (1U << 24));

    /// <summary>
    /// Uniform integer in [0, <paramref name="n"/>) by Lemire's multiply-shift, one draw, no rejection (bias below
    /// n / 2^64, under 2^-33). The simulator's.
    /// </summary>
    /// <param name="n">The exclusive upper bound, at least 1.</param>
    public int NextInt(int n) => (int)Math.BigMul(NextUInt64(), (ulong)n, out _);

    /// <summary>Uniform integer in [0, <paramref name="n"/>) without bias (Lemire's method with rejection). The LSTM trainer's.</summary>
    /// <param name="n">The exclusive upper bound, at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="n"/> is below 1.</exception>
    public int NextIntUnbiased(int n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        var bound = (ulong)n;
        var product = Math.BigMul(NextUInt64(), bound, out var low);
        if (low < bound)
        {
            var threshold = (0UL - bound) % bound;
            while (low < threshold)
            {
                product = Math.BigMul(NextUInt64(), bound, out low);
            }
        }

        return (int)product;
    }

    /// <summary>Uniform integer in [<paramref name="min"/>, <paramref name="max"/>] (<see cref="NextInt(int)"/>).</summary>
    /// <param name="min">The smallest value.</param>
    /// <param name="max">The largest value.</param>
    public int Between(int min, int max) => min + NextInt(max - min + 1);

    /// <summary>Uniform in [<paramref name="a"/>, <paramref name="b"/>).</summary>
    /// <param name="a">The lower bound.</param>
    /// <param name="b">The upper bound.</param>
    public double Uniform(double a, double b) => a + (b - a) * NextDouble();

    /// <summary>True with probability <paramref name="p"/>.</summary>
    /// <param name="p">The probability.</param>
    public bool Chance(double p) => NextDouble() < p;

    /// <summary>Standard normal (Box–Muller with u1 = 1 − U in (0, 1]; one of the pair is used). The simulator's.</summary>
    public double Normal()
    {
        var u1 = 1.0 - NextDouble(); // (0, 1]
        var u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>
    /// Standard normal (Box–Muller with u1 = U, drawn again while zero; one of the pair is used). The LSTM trainer's.
    /// </summary>
    public double NormalRedrawingZero()
    {
        double u1;
        do
        {
            u1 = NextDouble();
        }
        while (u1 <= double.Epsilon);

        var u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Lognormal with the given median and log-scale spread.</summary>
    /// <param name="median">The median.</param>
    /// <param name="sigma">The standard deviation of the logarithm.</param>
    public double LogNormal(double median, double sigma) => median * Math.Exp(sigma * Normal());

    /// <summary>Poisson count (Knuth's product method below 30, a rounded normal above).</summary>
    /// <param name="lambda">The mean; 0 or less gives 0.</param>
    public int Poisson(double lambda)
    {
        if (lambda <= 0)
        {
            return 0;
        }

        if (lambda >= 30)
        {
            return Math.Max(0, (int)Math.Round(lambda + Math.Sqrt(lambda) * Normal()));
        }

        var limit = Math.Exp(-lambda);
        var k = 0;
        var product = NextDouble();
        while (product > limit)
        {
            k++;
            product *= NextDouble();
        }

        return k;
    }

    /// <summary>Index drawn from cumulative weights (last element = total).</summary>
    /// <param name="cumulative">Non-decreasing cumulative weights.</param>
    public int Pick(ReadOnlySpan<double> cumulative)
    {
        var x = NextDouble() * cumulative[^1];
        var lo = 0;
        var hi = cumulative.Length - 1;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (cumulative[mid] > x)
            {
                hi = mid;
            }
            else
            {
                lo = mid + 1;
            }
        }

        return lo;
    }

    /// <summary>Rounds <paramref name="x"/> up or down at random so that the expectation is <paramref name="x"/>.</summary>
    /// <param name="x">The value to round.</param>
    public int StochasticRound(double x)
    {
        var floor = Math.Floor(x);
        return (int)floor + (NextDouble() < x - floor ? 1 : 0);
    }

    /// <summary>Fisher–Yates shuffle (<see cref="NextIntUnbiased(int)"/>).</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="items">The items, shuffled in place.</param>
    public void Shuffle<T>(Span<T> items)
    {
        for (var i = items.Length - 1; i > 0; i--)
        {
            var j = NextIntUnbiased(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    private static ulong SplitMix(ref ulong x)
    {
        x += Golden;
        return Mix(x);
    }
}
