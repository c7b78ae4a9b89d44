namespace StreamFraud.Training.Lstm;

/// <summary>
/// xoshiro256** seeded through SplitMix64: a small generator whose sequence is fixed by this code, not by the .NET
/// version, so a seed reproduces initialisation, shuffling and dropout exactly.
/// </summary>
internal sealed class LstmRandom
{
    private ulong _s0;
    private ulong _s1;
    private ulong _s2;
    private ulong _s3;

    public LstmRandom(ulong seed, ulong stream = 0)
    {
        var x = seed ^ (stream * 0x9E3779B97F4A7C15UL) ^ (stream << 17);
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
    }

    /// <summary>Mixes several values into one seed (e.g. seed, epoch, batch, chunk).</summary>
    public static ulong Mix(ulong a, ulong b, ulong c = 0, ulong d = 0)
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

    public ulong NextULong()
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
    public double NextDouble() => (NextULong() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, 1) with 24 random bits.</summary>
    public float NextFloat() => (NextULong() >> 40) * (1.0f / (1U << 24));

    /// <summary>Uniform integer in [0, n) without modulo bias (Lemire's method).</summary>
    public int NextInt(int n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        var bound = (ulong)n;
        var product = Math.BigMul(NextULong(), bound, out var low);
        if (low < bound)
        {
            var threshold = (0UL - bound) % bound;
            while (low < threshold)
            {
                product = Math.BigMul(NextULong(), bound, out low);
            }
        }

        return (int)product;
    }

    /// <summary>Standard normal (Box–Muller; the second value is discarded to keep the stream simple).</summary>
    public double NextGaussian()
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

    /// <summary>Fisher–Yates shuffle.</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (var i = items.Length - 1; i > 0; i--)
        {
            var j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    private static ulong SplitMix(ref ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        var z = x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
