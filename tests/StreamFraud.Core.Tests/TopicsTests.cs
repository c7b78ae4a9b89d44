using StreamFraud.Core;

namespace StreamFraud.Core.Tests;

public class TopicsTests
{
    [Fact]
    public void ParseList_NamesWithCounts_ReturnsDefinitions()
    {
        var parsed = Topics.ParseList("transactions:8, fraud-alerts:4,model-updates");
        Assert.Equal(
            [new Topics.Definition("transactions", 8), new("fraud-alerts", 4), new("model-updates", 1, Compacted: true)],
            parsed);
    }

    [Theory]
    [InlineData("transactions:0")]
    [InlineData("transactions:x")]
    [InlineData(":3")]
    public void ParseList_BadEntry_ThrowsWithEntryInMessage(string spec)
    {
        var ex = Assert.Throws<FormatException>(() => Topics.ParseList(spec));
        Assert.Contains(spec, ex.Message);
    }

    [Fact]
    public void Defaults_InputAndAlerts_AreCoPartitioned()
    {
        var byName = Topics.Defaults.ToDictionary(d => d.Name);
        Assert.Equal(byName[Topics.Transactions].Partitions, byName[Topics.FraudAlerts].Partitions);
        Assert.True(byName[Topics.ModelUpdates].Compacted);
    }
}
