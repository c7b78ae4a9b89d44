namespace StreamFraud.Core.Tests;

/// <summary>
/// Pins the generator's sequences: generated data sets and trained models are reproduced from seeds, so any change to
/// these numbers changes them. The values were produced by the simulator's and the LSTM trainer's generators before
/// they became this one.
/// </summary>
public sealed class Xoshiro256Tests
{
    [Fact]
    public void Seeded_NextUInt64_IsPinned()
    {
        var rng = new Xoshiro256(42);

        Assert.Equal(0x15780B2E0C2EC716UL, rng.NextUInt64());
        Assert.Equal(0x6104D9866D113A7EUL, rng.NextUInt64());
        Assert.Equal(0xAE17533239E499A1UL, rng.NextUInt64());
    }

    [Fact]
    public void For_SimulatorStream_IsPinned()
    {
        var rng = Xoshiro256.For(7, 3, 11, 5);

        Assert.Equal(0x3E548ABE48F888DFUL, rng.NextUInt64());
        Assert.Equal(737, rng.NextInt(1000));
        Assert.Equal(-1.799721678743662, rng.Normal());
        Assert.Equal(0x79CE5DC97509C089UL, Xoshiro256.Mix(99));
    }

    [Fact]
    public void ForStream_TrainerStream_IsPinned()
    {
        var rng = Xoshiro256.ForStream(7, 0x1757);

        Assert.Equal(0xBD9A4FABB1FCDC56UL, rng.NextUInt64());
        Assert.Equal(420, rng.NextIntUnbiased(1000));
        Assert.Equal(-0.1884108028662048, rng.NormalRedrawingZero());
        Assert.Equal(0.18691611f, rng.NextFloat());
        Assert.Equal(0xD55CCD4AEB3CCAFBUL, Xoshiro256.Combine(1, 2, 3, 4));
    }

    [Fact]
    public void ForStream_StreamZero_IsTheSeededGenerator()
    {
        var a = Xoshiro256.ForStream(42, 0);
        var b = new Xoshiro256(42);

        Assert.Equal(b.NextUInt64(), a.NextUInt64());
    }

    [Fact]
    public void Shuffle_IsPinned()
    {
        var items = Enumerable.Range(0, 10).ToArray();
        var rng = new Xoshiro256(5);

        rng.Shuffle(items.AsSpan());

        Assert.Equal([1, 0, 4, 9, 6, 3, 7, 8, 5, 2], items);
    }

    [Fact]
    public void NextIntUnbiased_BelowOne_Throws()
    {
        var rng = new Xoshiro256(1);

        Assert.Throws<ArgumentOutOfRangeException>(() => rng.NextIntUnbiased(0));
    }
}
