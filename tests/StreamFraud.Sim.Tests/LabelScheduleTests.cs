using StreamFraud.Core.Data;
using StreamFraud.Core.Labels;
using StreamFraud.Sim.Commands;

namespace StreamFraud.Sim.Tests;

/// <summary>The labels produce --labels interleaves with a CSV's transactions.</summary>
public sealed class LabelScheduleTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"feed-{Guid.NewGuid():N}.csv");

    public void Dispose() => File.Delete(_path);

    [Fact]
    public void FromFile_UnsortedLabels_DueInLabelTimeOrderTiesInFileOrder()
    {
        LabelCsv.Write(_path, [L("a", 10, 50), L("b", 20, 30), L("c", 5, 30), L("d", 40, 40)]);
        var feed = LabelSchedule.FromFile(_path);
        Assert.False(feed.TryTakeDue(30, out _)); // label time 30 is not before 30
        Assert.Equal(["b", "c"], Due(feed, 31));
        Assert.Equal(["d"], Due(feed, 50));
        Assert.Equal(["a"], Due(feed, 51));
        Assert.Empty(feed.TakeRest(1000));
        Assert.Equal(0, feed.Skipped);
    }

    [Fact]
    public void FromFile_StreamEndsEarly_RestOnlyForTransactionsReached()
    {
        LabelCsv.Write(_path, [L("a", 10, 50), L("b", 20, 60), L("c", 35, 70)]);
        var feed = LabelSchedule.FromFile(_path);
        Assert.Empty(Due(feed, 21));
        Assert.Equal(["a", "b"], feed.TakeRest(20).Select(l => l.TransactionId));
        Assert.Equal(1, feed.Skipped);
    }

    [Fact]
    public void FromFile_NoTransactionSent_EveryLabelSkipped()
    {
        LabelCsv.Write(_path, [L("a", 10, 50)]);
        var feed = LabelSchedule.FromFile(_path);
        Assert.Empty(feed.TakeRest(null));
        Assert.Equal(1, feed.Skipped);
    }

    private static List<string> Due(LabelSchedule feed, long beforeMs)
    {
        var ids = new List<string>();
        while (feed.TryTakeDue(beforeMs, out var label))
        {
            ids.Add(label.TransactionId);
        }

        return ids;
    }

    private static TransactionLabel L(string id, long eventMs, long labelMs) =>
        new(id, "c", "m", eventMs, labelMs, true, LabelOrigin.Analyst, 1);
}
