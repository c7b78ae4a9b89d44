using StreamFraud.Core.Features;
using static StreamFraud.Core.Tests.Features.TestTx;

namespace StreamFraud.Core.Tests.Features;

public class TrainingSetTests
{
    [Fact]
    public void Build_SmallStream_RowsLabelsWindowsAndSkips()
    {
        Transaction[] source =
        [
            Make("a1", T0, 10, card: "A", isFraud: false),
            Make("b1", T0 + 1, 20, card: "B"),
            Make("a2", T0 + 2, 30, card: "A", isFraud: true, scenario: "spree"),
            Make("a2", T0 + 2, 30, card: "A", isFraud: true, scenario: "spree"), // producer duplicate (same content)
            Make("bad", T0 + 4, double.NaN, card: "B"),                          // invalid
            Make("a3", T0 + 5, 40, card: "A", isFraud: false),
        ];
        var set = TrainingSet.Build(FeatureSpec.CardV1, source);

        Assert.Equal(4, set.Count);
        Assert.Equal(6, set.SourceRows);
        Assert.Equal(1, set.Duplicates);
        Assert.Equal(1, set.InvalidCount);
        Assert.Equal(2, set.CardCount);
        var rejected = Assert.Single(set.Rejected);
        Assert.Equal(4, rejected.SourceIndex);
        Assert.Equal("bad", rejected.TransactionId);

        Assert.Equal(["a1", "b1", "a2", "a3"], set.TransactionIds.ToArray());
        Assert.Equal(["A", "B", "A", "A"], set.CardIds.ToArray());
        Assert.Equal(new sbyte[] { 0, -1, 1, 0 }, set.Labels.ToArray());
        Assert.Equal(new string?[] { null, null, "spree", null }, set.Scenarios.ToArray().AsEnumerable());
        Assert.Equal([T0, T0 + 1, T0 + 2, T0 + 5], set.EventTimesMs.ToArray());
        Assert.Equal(new byte[] { 1, 1, 2, 3 }, set.RealSteps.ToArray());
        // a3's window: rows 0 (a1) and 2 (a2), then itself (row 3), left-padded with -1.
        Assert.Equal([-1, -1, -1, -1, 0, 2, 3], set.WindowRows.Slice(3 * 7, 7).ToArray());

        var d = set.Dimension;
        var window = new float[7 * d];
        set.CopyWindow(3, window);
        Assert.True(window.AsSpan(0, 4 * d).ToArray().All(x => x == 0f));
        Assert.True(BitEqual(set.Vector(0), window.AsSpan(4 * d, d)));
        Assert.True(BitEqual(set.Vector(2), window.AsSpan(5 * d, d)));
        Assert.True(BitEqual(set.Vector(3), window.AsSpan(6 * d, d)));
        Near(Math.Log(41), set.Vector(3)[CardFeatureSpecV1.AmtLog], "amt_log");

        var batch = new float[2 * 7 * d];
        set.CopyWindows(2, 2, batch);
        set.CopyWindow(2, window);
        Assert.True(BitEqual(window, batch.AsSpan(0, 7 * d)));
    }

    [Fact]
    public void Build_WindowsFromFeaturizer_EqualGatheredWindows()
    {
        var (arrivals, _) = SyntheticStream.Generate(seed: 11, cards: 100, events: 3000);
        var spec = FeatureSpec.CardV1;
        var set = TrainingSet.Build(spec, arrivals, capacity: 10); // forces growth
        var featurizer = new OfflineFeaturizer(spec);
        var direct = new float[spec.WindowSize];
        var gathered = new float[spec.WindowSize];
        var row = 0;
        foreach (var tx in arrivals)
        {
            if (featurizer.Apply(tx, direct).IsApplied)
            {
                set.CopyWindow(row++, gathered);
                Assert.True(BitEqual(direct, gathered), $"row {row - 1}");
            }
        }

        Assert.Equal(set.Count, row);
    }

    [Fact]
    public void Build_Precomputed_VectorsAreTheArrays()
    {
        var spec = PrecomputedFeatureSpec.Create(3);
        Transaction[] source =
        [
            Make("x1", T0, 1, card: "X", features: [1f, 2f, 3f], isFraud: false),
            Make("x2", T0 + 1, 1, card: "X", features: [4f, 5f], isFraud: false),
            Make("x3", T0 + 2, 1, card: "X", features: [6f, 7f, 8f], isFraud: true),
        ];
        var set = TrainingSet.Build(spec, source);
        Assert.Equal(2, set.Count);
        Assert.Equal([1f, 2f, 3f, 6f, 7f, 8f], set.Vectors.ToArray());
        Assert.Equal("features has 2 values; spec precomputed:3 needs 3", set.Rejected[0].Reason);
    }
}
