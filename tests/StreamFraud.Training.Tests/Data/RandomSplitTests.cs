using StreamFraud.Training.Data;

namespace StreamFraud.Training.Tests.Data;

public class RandomSplitTests
{
    private static bool[] Labels(int rows, double fraudRate, int seed)
    {
        var rng = new Random(seed);
        var labels = new bool[rows];
        for (var i = 0; i < rows; i++)
        {
            labels[i] = rng.NextDouble() < fraudRate;
        }

        return labels;
    }

    [Fact]
    public void Split_NotebookScale_SizesFollowCeilingRule()
    {
        // The notebook: 1,000,000 rows -> 142,857 sequences of 7 (1 row left over).
        var split = RandomSplit.Split(Labels(1_000_000, 0.001, 1), seed: 42);

        Assert.Equal(142_857, split.ChunkCount);
        Assert.Equal(1, split.DroppedRows);
        Assert.Equal(28_572, split.Test.Count);        // ceil(0.2 · 142,857)
        Assert.Equal(22_857, split.Validation.Count);  // ceil(0.2 · 114,285)
        Assert.Equal(91_428, split.Train.Count);
    }

    [Fact]
    public void Split_ManySeeds_SetsDisjointAndCoverAllChunks()
    {
        for (var seed = 0; seed < 30; seed++)
        {
            var rows = 7 * (3 + seed * 17) + (seed % 7);
            var split = RandomSplit.Split(Labels(rows, 0.1, seed), seed);

            var all = split.Train.Concat(split.Validation).Concat(split.Test).ToList();
            Assert.Equal(split.ChunkCount, all.Count);
            Assert.Equal(Enumerable.Range(0, rows / 7), all.Order());
            Assert.Equal(rows % 7, split.DroppedRows);
            Assert.True(split.Train.SequenceEqual(split.Train.Order()), "sets are ascending");
            Assert.NotEmpty(split.Train);
            Assert.NotEmpty(split.Validation);
            Assert.NotEmpty(split.Test);
        }
    }

    [Fact]
    public void Split_Chunks_AreNonOverlappingSevenRowWindowsLabelledByLastRow()
    {
        // 5 chunks of 7 (rows 0..34) + 2 extra rows. Fraud rows: 3 (inside chunk 0, not last), 13 (last of chunk 1),
        // 20 (last of chunk 2), 27 (last of chunk 3), 35 (dropped row).
        var labels = new bool[37];
        foreach (var r in new[] { 3, 13, 20, 27, 35 })
        {
            labels[r] = true;
        }

        var split = RandomSplit.Split(labels, seed: 5);

        Assert.Equal([false, true, true, true, false], split.ChunkLabels.ToArray());
        Assert.Equal(2, split.DroppedRows);
        Assert.Equal(14, split.FirstRow(2));
        Assert.Equal(20, split.LastRow(2));
        for (var c = 0; c + 1 < split.ChunkCount; c++)
        {
            Assert.Equal(split.LastRow(c) + 1, split.FirstRow(c + 1)); // adjacent, no overlap, no gap
        }
    }

    [Theory]
    [InlineData(0.001)]
    [InlineData(0.01)]
    [InlineData(0.3)]
    [InlineData(0.0)]
    [InlineData(1.0)]
    public void Split_Stratified_PositiveShareWithinOneChunkOfExpectation(double fraudRate)
    {
        for (var seed = 0; seed < 20; seed++)
        {
            var rows = 7 * (50 + (seed * 311));
            var split = RandomSplit.Split(Labels(rows, fraudRate, 100 + seed), seed);
            var n = split.ChunkCount;
            var positives = split.CountPositives(Enumerable.Range(0, n).ToList());
            foreach (var set in new[] { split.Train, split.Validation, split.Test })
            {
                var expected = (double)positives * set.Count / n;
                var actual = split.CountPositives(set);
                Assert.True(Math.Abs(actual - expected) <= 1.0, $"seed {seed}: {actual} positives, expected {expected:F2}");
            }
        }
    }

    [Fact]
    public void Split_SameSeed_SameSplit_OtherSeed_Different()
    {
        var labels = Labels(7 * 5000, 0.05, 9);
        var a = RandomSplit.Split(labels, seed: 42);
        var b = RandomSplit.Split(labels, seed: 42);
        var c = RandomSplit.Split(labels, seed: 43);

        Assert.Equal(a.Test, b.Test);
        Assert.Equal(a.Validation, b.Validation);
        Assert.Equal(a.Train, b.Train);
        Assert.NotEqual(a.Test, c.Test);
        Assert.Equal(42, a.Seed);
    }

    [Fact]
    public void Split_IsNotIdentity_TestSpreadsOverTheFile()
    {
        var split = RandomSplit.Split(Labels(7 * 10_000, 0.01, 2), seed: 1);

        // A random 20% of 10,000 chunks: about half of the test chunks fall in each half of the file.
        var firstHalf = split.Test.Count(c => c < 5_000);
        Assert.InRange(firstHalf, 900, 1100);
    }

    [Fact]
    public void Split_ChunkLengthOne_SplitsRows()
    {
        var split = RandomSplit.Split(Labels(1000, 0.1, 4), seed: 3, chunkLength: 1, testFraction: 0.25, validationFraction: 0.1);

        Assert.Equal(1000, split.ChunkCount);
        Assert.Equal(250, split.Test.Count);
        Assert.Equal(75, split.Validation.Count);
        Assert.Equal(675, split.Train.Count);
    }

    [Fact]
    public void Split_TooFewChunks_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => RandomSplit.Split(new bool[13], seed: 1));
        Assert.Contains("13 rows make 1 chunks of 7", ex.Message);
        Assert.Equal(3, RandomSplit.Split(new bool[21], seed: 1).ChunkCount);
    }

    [Theory]
    [InlineData(0.0, 0.2)]
    [InlineData(1.0, 0.2)]
    [InlineData(0.2, 0.0)]
    [InlineData(0.2, double.NaN)]
    public void Split_BadFractions_Throw(double test, double validation) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => RandomSplit.Split(new bool[700], 1, 7, test, validation));
}
