namespace StreamFraud.Sim.Generation;

/// <summary>
/// xoshiro256** (Blackman and Vigna, https://prng.di.unimi.it/) seeded through SplitMix64. The simulator uses its own
/// generator rather than <see cref="Random"/> so that a seed yields the same data on every .NET version: the
/// framework documents no stability guarantee for <see cref="Random"/>'s sequence.
/// </summary>
/// <remarks>
/// A mutable struct: pass it by <see langword="ref"/>. Each (card, day) and each planning step derives its own stream
/// with <see cref="For(ulong, ulong, ulong, ulong)"/>, so the data of one card-day never depends on how many numbers
/// another consumed, nor on the order or thread in which they are generated.
/// </remarks>
internal struct Xoshiro256
{
    private ulong _s0, _s1, _s2, _s3;

    public Xoshiro256(ulong seed)
    {
        var x = seed;
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
    }

    /// <summary>An independent stream for (seed, purpose, a, b).</summary>
    public static Xoshiro256 For(ulong seed, ulong purpose, ulong a = 0, ulong b = 0) =>
        new(Mix(Mix(Mix(seed ^ Mix(purpose + 0x632BE59BD9B4E019UL)) + a) ^ Mix(b + 0x9E3779B97F4A7C15UL)));

    /// <summary>SplitMix64's finaliser: a bijective 64-bit mix.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

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

    /// <summary>Uniform integer in [0, n) (Lemire's multiply-shift; bias below 2^-40 for the sizes used here).</summary>
    public int NextInt(int n) => (int)Math.BigMul(NextUInt64(), (ulong)n, out _);

    /// <summary>Uniform integer in [min, max].</summary>
    public int Between(int min, int max) => min + NextInt(max - min + 1);

    /// <summary>Uniform in [a, b).</summary>
    public double Uniform(double a, double b) => a + (b - a) * NextDouble();

    public bool Chance(double p) => NextDouble() < p;

    /// <summary>Standard normal (Box–Muller; one of the pair is used, which keeps the state simple).</summary>
    public double Normal()
    {
        var u1 = 1.0 - NextDouble(); // (0, 1]
        var u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Lognormal with the given median and log-scale spread.</summary>
    public double LogNormal(double median, double sigma) => median * Math.Exp(sigma * Normal());

    /// <summary>Poisson count (Knuth's product method below 30, a rounded normal above).</summary>
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
    public int StochasticRound(double x)
    {
        var floor = Math.Floor(x);
        return (int)floor + (NextDouble() < x - floor ? 1 : 0);
    }

    private static ulong SplitMix(ref ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        return Mix(x);
    }
}
