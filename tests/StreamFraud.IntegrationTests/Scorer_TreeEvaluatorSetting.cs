using Microsoft.Extensions.Configuration;
using StreamFraud.Scorer;
using StreamFraud.Scoring.Trees;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// <c>Scoring:Trees</c>: auto by default, each spelling reaching the bundle loader's options, the effective value in
/// the start-up line, and a wrong value named with the choices among every other problem.
/// </summary>
public sealed class Scorer_TreeEvaluatorSetting : IDisposable
{
    private readonly string _registry = Directory.CreateTempSubdirectory("sf-trees-settings-").FullName;

    public void Dispose() => Directory.Delete(_registry, recursive: true);

    [Fact]
    public void Settings_ScoringTrees_DefaultAutoEachValueReachesTheLoader_WrongValueNamed()
    {
        var defaults = Read(new() { ["Models:Registry"] = _registry });
        Assert.Equal(TreeEvaluator.Auto, defaults.Trees);
        Assert.Equal(TreeEvaluator.Auto, defaults.LoadOptions.Trees);
        Assert.Contains(" trees=auto ", defaults.Describe(), StringComparison.Ordinal);

        foreach (var (text, expected) in new[] { ("managed", TreeEvaluator.Managed), ("LibXGBoost", TreeEvaluator.Libxgboost), ("auto", TreeEvaluator.Auto) })
        {
            var settings = Read(new() { ["Models:Registry"] = _registry, ["Scoring:Trees"] = text });
            Assert.Equal(expected, settings.LoadOptions.Trees);
            Assert.Contains($" trees={TreeEvaluatorNames.Name(expected)} ", settings.Describe(), StringComparison.Ordinal);
        }

        var e = Assert.Throws<ScorerConfigurationException>(() => Read(new() { ["Models:Registry"] = _registry, ["Scoring:Trees"] = "1", ["Scorer:BatchSize"] = "0" }));
        Assert.Contains("Scoring:Trees '1': use auto, managed or libxgboost.", e.Message, StringComparison.Ordinal);
        Assert.Contains("Scorer:BatchSize=0", e.Message, StringComparison.Ordinal); // every problem at once
    }

    private static Settings Read(Dictionary<string, string?> values) =>
        Settings.Read(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
}
