using System.Reflection;
using Spectre.Console;
using Spectre.Console.Cli;
using StreamFraud.DevStack;
using StreamFraud.Replay;

using static StreamFraud.Tests.Shared.CliTestKit;

namespace StreamFraud.IntegrationTests;

/// <summary>Replay and DevStack have the same command line as Sim and Trainer: Spectre's help with the app's description,
/// usage, examples and every flag; usage errors on standard error naming the flag, exit 2. In-process; no broker.</summary>
public sealed class Cli_HelpStyle
{
    public static TheoryData<string> Apps => new() { ReplayApp.Name, DevStackApp.Name };

    [Theory]
    [MemberData(nameof(Apps))]
    public async Task Help_DescriptionUsageExamplesAndEveryFlag(string app)
    {
        var (code, output, error) = await Run(app, "--help");

        Assert.Equal(0, code);
        Assert.Equal("", error);
        var sections = new[] { "DESCRIPTION:", "USAGE:", "EXAMPLES:", "OPTIONS:" };
        Assert.Equal(sections, sections.OrderBy(s => output.IndexOf(s, StringComparison.Ordinal)));
        Assert.All(sections, s => Assert.Contains(s, output));
        Assert.Contains($"{app} [OPTIONS]", output);
        Assert.Contains("-h, --help", output);
        Assert.All(Flags(app), flag => Assert.Contains(flag, output));
    }

    [Fact]
    public void Scorer_Help_SameSectionsAndEveryConfigurationSection()
    {
        // The scorer is a host configured by keys, not a Spectre app; its help keeps the same layout.
        using var p = Infrastructure.ChildProcess.Start("StreamFraud.Scorer", ["--help"]);
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(60)), p.Output);
        Assert.Equal(0, p.ExitCode);
        var sections = new[] { "DESCRIPTION:", "USAGE:", "EXAMPLES:", "OPTIONS:" };
        Assert.All(sections, s => Assert.Contains(s, p.Output));
        Assert.Equal(sections, sections.OrderBy(s => p.Output.IndexOf(s, StringComparison.Ordinal)));
        Assert.Contains("StreamFraud.Scorer [OPTIONS]", p.Output);
        Assert.Contains("-h, --help", p.Output);
        foreach (var key in new[] { "--Kafka:BootstrapServers", "--SchemaRegistry:Url", "--Redis:Configuration", "--Models:Registry", "--Scoring:Policy", "--Scorer:BatchSize", "--Scorer:ReadinessGrace", "--Models:RequireDigest", "--Models:MaxFileBytes", "--Models:LoadTimeout", "--Scorer:SourceId", "--Redis:LegacyKeyPrefix", "--Scorer:MaxInputBytes", "--Scorer:Labels:Enabled", "--Scorer:Labels:Topic", "--Scorer:Labels:GroupId", "--Scorer:Labels:BatchSize", "--Scorer:Labels:DecisionTtl" })
        {
            Assert.Contains(key, p.Output);
        }
    }

    [Theory]
    [MemberData(nameof(Apps))]
    public async Task UnknownFlag_Exit2NamingIt(string app)
    {
        var (code, output, error) = await Run(app, "--registry", "r", "--version", "v", "--input", "x.csv", "--colour", "blue");

        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.StartsWith($"error: unknown flag ", error);
        Assert.Contains(app == ReplayApp.Name ? "--colour" : "--registry", error);
        Assert.Contains($"run '{app} --help'", error);
    }

    [Theory]
    [InlineData("StreamFraud.Replay", "--batch", "abc", "--batch must be a whole number from 1 to 100,000 (got 'abc')")]
    [InlineData("StreamFraud.Replay", "--from", "yesterday", "--from must be an ISO date or date-time")]
    [InlineData("StreamFraud.Replay", "--warmup", "-1.00:00:00", "--warmup must be a duration like 7.00:00:00")]
    [InlineData("StreamFraud.DevStack", "--brokers", "abc", "--brokers must be a whole number from 1 to 16 (got 'abc')")]
    [InlineData("StreamFraud.DevStack", "--kafka-port", "70000", "--kafka-port must be a port number between 1 and 65535 (got '70000')")]
    [InlineData("StreamFraud.DevStack", "--redis", "memcached", "--redis must be one of garnet, redis-server (got 'memcached')")]
    public async Task BadValue_Exit2NamingTheFlag(string app, string flag, string value, string expected)
    {
        string[] args = app == ReplayApp.Name ? ["--registry", "r", "--version", "v", "--input", "x.csv", flag, value] : [flag, value];
        var (code, _, error) = await Run(app, args);

        Assert.Equal(2, code);
        Assert.StartsWith("error: " + expected, error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public async Task Replay_NoArguments_HelpOnStderrExit2()
    {
        var (code, output, error) = await Run(ReplayApp.Name);

        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("USAGE:", error);
    }

    [Fact]
    public async Task Replay_MissingRegistryOrVersion_Exit2SayingWhatToPass()
    {
        var (code, _, error) = await Run(ReplayApp.Name, "--version", "v", "--input", "x.csv");
        Assert.Equal(2, code);
        Assert.Contains("--registry DIR is required", error);

        (code, _, error) = await Run(ReplayApp.Name, "--registry", "r", "--input", "x.csv");
        Assert.Equal(2, code);
        Assert.Contains("--version V is required", error);
    }

    [Fact]
    public async Task Replay_RepeatedVersion_IsAllowedButOtherFlagsOnce()
    {
        var (code, _, error) = await Run(ReplayApp.Name, "--registry", "r", "--version", "v", "--version", "w", "--input", "x.csv", "--input", "y.csv");

        Assert.Equal(2, code);
        Assert.StartsWith("error: --input is given more than once", error);
    }

    private static IEnumerable<string> Flags(string app) => StreamFraud.Tests.Shared.CliTestKit.Flags(app == ReplayApp.Name ? typeof(ReplayArgs) : typeof(DevStackSettings));

    private static async Task<(int Code, string Output, string Error)> Run(string app, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = app == ReplayApp.Name
            ? await ReplayApp.RunAsync(args, Console(output), Console(error))
            : await DevStackApp.RunAsync(args, Console(output), Console(error));
        return (code, output.ToString(), error.ToString());
    }
}
