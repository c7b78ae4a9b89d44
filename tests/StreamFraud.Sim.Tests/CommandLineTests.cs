using System.Reflection;
using System.Text;
using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Cli;
using StreamFraud.Core.Data;
using StreamFraud.Sim.Commands;
using StreamFraud.Sim.Generation;

using static StreamFraud.Tests.Shared.CliTestKit;

namespace StreamFraud.Sim.Tests;

public sealed class CommandLineTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sim-cli-").FullName;
    private readonly StringWriter _out = new();
    private readonly StringWriter _err = new();
    private readonly MemoryStream _stdout = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Generate_ValidFlags_WritesCsvAndPrintsSummaryWithRate()
    {
        var csv = Path.Combine(_dir, "t.csv");
        var json = Path.Combine(_dir, "summary.json");
        var code = await Run("generate", "--cards", "300", "--days", "7", "--seed", "5", "--out", csv, "--summary-json", json);

        Assert.Equal(0, code);
        var rows = CanonicalCsv.Read(csv).ToList();
        var output = _out.ToString();
        Assert.Contains($"{rows.Count:N0} rows", output);
        Assert.Contains("rows/s", output);
        foreach (var scenario in FraudScenarios.All)
        {
            Assert.Contains(scenario, output);
        }

        Assert.False(File.Exists(csv + ".partial"));
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(rows.Count, doc.RootElement.GetProperty("rows").GetInt64());
        Assert.Equal(rows.Count(r => r.IsFraud == true), doc.RootElement.GetProperty("frauds").GetInt64());
        Assert.Equal(300, doc.RootElement.GetProperty("cards").GetInt32());
        Assert.Equal(7, doc.RootElement.GetProperty("days").GetInt32());
        Assert.Equal(
            rows.Count(r => r.FraudScenario == FraudScenarios.CardTesting),
            doc.RootElement.GetProperty("scenarios").GetProperty("card_testing").GetProperty("rows").GetInt64());
    }

    [Fact]
    public async Task Generate_LabelsOut_WritesTheRunsLabelsSortedByLabelTimeAndSummarisesThem()
    {
        var csv = Path.Combine(_dir, "t.csv");
        var labelsCsv = Path.Combine(_dir, "labels.csv");
        var json = Path.Combine(_dir, "summary.json");
        var code = await Run("generate", "--cards", "400", "--days", "14", "--seed", "5", "--fraud-rate", "all=0.3%", "--out", csv,
            "--labels-out", labelsCsv, "--summary-json", json);

        Assert.Equal(0, code);
        Assert.False(File.Exists(labelsCsv + ".partial"));
        var rows = CanonicalCsv.Read(csv).ToList();
        var labels = LabelCsv.Read(labelsCsv).ToList();
        Assert.NotEmpty(labels);
        Assert.Equal(labels.OrderBy(l => l.LabelTimeMs), labels);

        // The same labels as the simulator's for the transactions in the file.
        var expected = new LabelSimulator(5);
        rows.ForEach(expected.Observe);
        Assert.Equal(expected.TakeAll(), labels);

        var output = _out.ToString();
        Assert.Contains($"{labels.Count:N0} labels", output);
        var frauds = rows.Count(r => r.IsFraud == true);
        var labelled = labels.Where(l => rows.Any(r => r.TransactionId == l.TransactionId && r.IsFraud == true)).Select(l => l.TransactionId).Distinct().Count();
        Assert.Contains($"{labelled:N0} of {frauds:N0}", output);
        foreach (var line in new[] { "frauds labelled", "delay to first verdict", "median", "p90", "duplicates", "false claims" })
        {
            Assert.Contains(line, output);
        }

        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var summary = doc.RootElement.GetProperty("labels");
        Assert.Equal(labels.Count, summary.GetProperty("labels").GetInt64());
        Assert.Equal(labelled, summary.GetProperty("frauds_labelled").GetInt64());
        Assert.Equal(labels.Count(l => !l.IsFraud), summary.GetProperty("flips").GetInt64());
    }

    [Fact]
    public async Task Generate_WithoutLabelsOut_NoLabelsInTheSummary()
    {
        var json = Path.Combine(_dir, "summary.json");
        Assert.Equal(0, await Run("generate", "--cards", "100", "--days", "3", "--out", Path.Combine(_dir, "t.csv"), "--summary-json", json));
        Assert.DoesNotContain("labels", _out.ToString());
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.False(doc.RootElement.TryGetProperty("labels", out _));
    }

    [Theory]
    [InlineData("-", "--labels-out needs a file")]
    [InlineData("x.csv", "--labels-out and --out name the same file")]
    [InlineData("nope/labels.csv", "--labels-out: directory")]
    public async Task Generate_BadLabelsOut_Exit2NamesTheFlag(string labelsOut, string expected)
    {
        var code = await Run("generate", "--cards", "10", "--out", Path.Combine(_dir, "x.csv"), "--labels-out", labelsOut == "-" ? "-" : Path.Combine(_dir, labelsOut));
        Assert.Equal(SimApp.UsageExitCode, code);
        Assert.Contains(expected, _err.ToString());
        Assert.False(File.Exists(Path.Combine(_dir, "x.csv")));
    }

    [Fact]
    public async Task Generate_OutDash_WritesCsvToStdoutAndSummaryToStderr()
    {
        var code = await Run("generate", "--cards", "100", "--days", "2", "--out", "-");
        Assert.Equal(0, code);
        var text = Encoding.UTF8.GetString(_stdout.ToArray());
        Assert.StartsWith("transaction_id,card_id,", text);
        Assert.Contains("rows/s", _err.ToString());
        Assert.DoesNotContain("rows/s", _out.ToString());
    }

    [Fact]
    public async Task Generate_SameFlagsTwice_IdenticalFiles()
    {
        var a = Path.Combine(_dir, "a.csv");
        var b = Path.Combine(_dir, "b.csv");
        Assert.Equal(0, await Run("generate", "--cards", "200", "--days", "5", "--seed", "9", "--out", a));
        Assert.Equal(0, await Run("generate", "--cards", "200", "--days", "5", "--seed", "9", "--out", b));
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
    }

    [Theory]
    [InlineData("--cards 0", "--cards must be a whole number from 1")]
    [InlineData("--cards many", "--cards must be a whole number")]
    [InlineData("--days -3", "--days must be a whole number")]
    [InlineData("--seed x", "--seed must be a whole number")]
    [InlineData("--start 2026-13-01", "--start must be a date as yyyy-MM-dd")]
    [InlineData("--start 9999-12-30 --days 10", "--start 9999-12-30 with --days 10 would run past 9999-12-31")]
    [InlineData("--tx-per-day 0", "--tx-per-day must be a number above 0")]
    [InlineData("--currency euro", "--currency must be a three-letter")]
    [InlineData("--merchants 5", "--merchants must be a whole number from 100")]
    [InlineData("--fraud-rate phishing=0.1", "--fraud-rate: unknown scenario 'phishing'")]
    [InlineData("--fraud-rate card_testing=lots", "--fraud-rate: rate of card_testing must be a number")]
    [InlineData("--fraud-rate card_testing=0.5", "--fraud-rate: rate of card_testing must be from 0 to 0.1")]
    [InlineData("--fraud-rate card_testing", "--fraud-rate: entry 'card_testing' must look like scenario=rate")]
    [InlineData("--fraud-rate all=0.09", "--fraud-rate: the rates add up to")]
    [InlineData("--no-fraud --fraud-rate all=0", "--no-fraud and --fraud-rate contradict")]
    [InlineData("--colour blue", "unknown flag --colour")]
    [InlineData("--cards 5 --cards 6", "--cards is given more than once")]
    [InlineData("stray", "unexpected argument 'stray'")]
    public async Task Generate_BadFlag_Exit2WithMessageNamingFlag(string flags, string expected)
    {
        var args = new List<string> { "generate" };
        args.AddRange(flags.Split(' '));
        if (!flags.Contains("stray", StringComparison.Ordinal))
        {
            args.AddRange(["--out", Path.Combine(_dir, "x.csv")]);
        }

        var code = await Run([.. args]);
        Assert.Equal(SimApp.UsageExitCode, code);
        Assert.Contains(expected, _err.ToString());
        Assert.False(File.Exists(Path.Combine(_dir, "x.csv")));
    }

    [Fact]
    public async Task Generate_MissingOut_NamesOut()
    {
        Assert.Equal(2, await Run("generate", "--cards", "10"));
        Assert.Contains("--out is required", _err.ToString());
    }

    [Fact]
    public async Task Generate_OutInMissingDirectory_NamesOut()
    {
        Assert.Equal(2, await Run("generate", "--out", Path.Combine(_dir, "nope", "x.csv")));
        Assert.Contains("--out: directory", _err.ToString());
    }

    [Fact]
    public async Task Help_Generate_DescribesEveryFlag()
    {
        Assert.Equal(0, await Run("generate", "--help"));
        var help = _out.ToString();
        foreach (var flag in Flags(typeof(GenerateSettings)))
        {
            Assert.Contains(flag, help);
        }
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("help")]
    public async Task Help_App_ShowsDescriptionUsageExamplesAndCommands(string help)
    {
        Assert.Equal(0, await Run(help));
        var text = _out.ToString();
        foreach (var section in new[] { "DESCRIPTION:", "USAGE:", "EXAMPLES:", "OPTIONS:", "COMMANDS:" })
        {
            Assert.Contains(section, text);
        }

        Assert.Contains("StreamFraud.Sim [OPTIONS] <COMMAND>", text);
        Assert.Contains("generate", text);
        Assert.Contains("produce", text);
        Assert.Equal("", _err.ToString());
    }

    [Fact]
    public async Task Help_EveryCommand_SameSectionsAndEveryFlag()
    {
        foreach (var (command, settings) in SimApp.Commands)
        {
            _out.GetStringBuilder().Clear();
            Assert.Equal(0, await Run(command, "--help"));
            var help = _out.ToString();
            foreach (var section in new[] { "DESCRIPTION:", "USAGE:", "EXAMPLES:", "OPTIONS:" })
            {
                Assert.Contains(section, help);
            }

            Assert.Contains($"StreamFraud.Sim {command} [OPTIONS]", help);
            Assert.All(Flags(settings), flag => Assert.Contains(flag, help));
        }
    }

    [Fact]
    public async Task NoArguments_HelpOnStderrExit2()
    {
        Assert.Equal(2, await Run());
        Assert.Contains("USAGE:", _err.ToString());
        Assert.Equal("", _out.ToString());
    }

    [Theory]
    [InlineData("generate", "--cards", "abc")]
    [InlineData("produce", "--cards", "abc")]
    [InlineData("produce", "--limit", "abc")]
    [InlineData("produce", "--rate=fast")]
    public async Task BadValue_Exit2NamesTheFlagAndTheValue(params string[] args)
    {
        Assert.Equal(2, await Run(args));
        var error = _err.ToString();
        var flag = args[1].Split('=')[0];
        Assert.StartsWith($"error: {flag} must be ", error);
        Assert.Contains(args.Length == 3 ? $"(got '{args[2]}')" : $"(got '{args[1].Split('=')[1]}')", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Theory]
    [InlineData("generate")]
    [InlineData("produce")]
    public async Task UnknownFlag_Exit2NamesTheFlag(string command)
    {
        Assert.Equal(2, await Run(command, "--colour", "blue"));
        Assert.StartsWith($"error: unknown flag --colour; run 'StreamFraud.Sim {command} --help' for the list", _err.ToString());
    }

    [Fact]
    public async Task Produce_SimulationFlagWithInput_Exit2NamesBoth()
    {
        var csv = Path.Combine(_dir, "in.csv");
        File.WriteAllText(csv, "");
        Assert.Equal(2, await Run("produce", "--input", csv, "--cards", "10"));
        Assert.Contains("--cards describes a simulation and does not apply to --input", _err.ToString());
    }

    [Theory]
    [InlineData("--labels-input {labels}", "--labels-input goes with --input")]
    [InlineData("--input {csv} --labels", "--labels with --input needs --labels-input FILE")]
    [InlineData("--input {csv} --labels-input {dir}/missing.csv", "--labels-input: file '")]
    [InlineData("--labels-topic t", "--labels-topic applies only with --labels")]
    public async Task Produce_BadLabelFlags_Exit2NamesTheFlag(string flags, string expected)
    {
        var csv = Path.Combine(_dir, "in.csv");
        var labels = Path.Combine(_dir, "labels.csv");
        File.WriteAllText(csv, "");
        File.WriteAllText(labels, "");
        var args = flags.Replace("{csv}", csv, StringComparison.Ordinal).Replace("{labels}", labels, StringComparison.Ordinal)
            .Replace("{dir}", _dir, StringComparison.Ordinal).Split(' ');
        Assert.Equal(2, await Run(["produce", .. args]));
        Assert.Contains(expected, _err.ToString());
    }

    [Fact]
    public async Task Produce_BadLabelsInput_Exit1NamesFileLineAndColumnBeforeConnecting()
    {
        var csv = Path.Combine(_dir, "in.csv");
        var labels = Path.Combine(_dir, "labels.csv");
        File.WriteAllText(csv, "");
        File.WriteAllText(labels, LabelCsv.Header + "\nt1,c1,m1,2026-03-04T10:00:00Z,2026-03-01T10:00:00Z,true,analyst,\n");
        Assert.Equal(SimApp.FailureExitCode, await Run("produce", "--bootstrap", "127.0.0.1:1", "--input", csv, "--labels-input", labels));
        Assert.Contains($"error: --labels-input {labels}: line 2, column label_time: '2026-03-01T10:00:00Z' is before the event_time", _err.ToString());
    }

    [Fact]
    public async Task UnknownCommand_Exit2ListsCommands()
    {
        Assert.Equal(2, await Run("explode"));
        Assert.Contains("unknown command 'explode'; commands: generate", _err.ToString());
    }

    [Fact]
    public void ParseFraudRates_PercentAndAll_OverrideDefaultsLeftToRight()
    {
        var rates = SimulationFlags.ParseFraudRates("all=0.05%, card_testing=0.3%");
        Assert.Equal(0.003, rates[FraudScenarios.CardTesting], 12);
        Assert.Equal(0.0005, rates[FraudScenarios.LargeAmount], 12);

        var partial = SimulationFlags.ParseFraudRates("large_amount=0.002");
        Assert.Equal(0.002, partial[FraudScenarios.LargeAmount]);
        Assert.Equal(FraudScenarios.DefaultRates[FraudScenarios.AccountTakeover], partial[FraudScenarios.AccountTakeover]);
    }

    [Fact]
    public void Bind_FlagsWithSeparatorsAndEquals_ReadsValues()
    {
        var options = Parse<GenerateSettings>(
            "--cards=20_000", "--days", "14", "--seed", "18446744073709551615", "--start", "2025-06-30", "--no-fraud", "--out", Path.Combine(_dir, "x.csv")).ToOptions();
        Assert.Equal(20_000, options.Cards);
        Assert.Equal(14, options.Days);
        Assert.Equal(ulong.MaxValue, options.Seed);
        Assert.Equal(new DateOnly(2025, 6, 30), options.Start);
        Assert.All(FraudScenarios.All, s => Assert.Equal(0, options.RateOf(s)));
    }

    private Task<int> Run(params string[] args) => SimApp.RunAsync(args, Console(_out), Console(_err), () => _stdout);
}
