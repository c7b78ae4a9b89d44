using System.Reflection;
using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Cli;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Trainer;
using StreamFraud.Trainer.Commands;
using StreamFraud.Training.Lstm;
using StreamFraud.Training.Pipeline;

using static StreamFraud.Tests.Shared.CliTestKit;

namespace StreamFraud.Training.Tests.Pipeline;

[Collection(PipelineCollection.Name)]
public sealed class TrainerCommandLineTests(PipelineFixture fixture)
{
    [Fact]
    public async Task ModelsCommands_ListPromoteRollback_MoveCurrentAndShowIt()
    {
        var older = fixture.Explicit.Version;
        var newer = fixture.Default.Version;
        var registry = new BundleRegistry(fixture.RegistryPath);
        Assert.Equal(newer, registry.ReadCurrent()!.Version);

        var (code, output, _) = await Run("models", "list", "--registry", fixture.RegistryPath);
        Assert.Equal(0, code);
        Assert.Contains(older, output);
        Assert.Contains(newer, output);
        var currentLine = output.Split('\n').Single(l => l.Contains("current", StringComparison.Ordinal) && l.Contains(newer, StringComparison.Ordinal));
        Assert.Contains(fixture.Default.Report.Metrics["test"]["ensemble"].AveragePrecision.ToString("0.0000", System.Globalization.CultureInfo.InvariantCulture), currentLine);

        (code, output, _) = await Run("models", "promote", older, "--registry", fixture.RegistryPath);
        Assert.Equal(0, code);
        Assert.Contains(older, output);
        var pointer = registry.ReadCurrent()!;
        Assert.Equal(older, pointer.Version);
        Assert.Equal(newer, pointer.Previous);
        var raw = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(fixture.RegistryPath, BundleRegistry.CurrentFile))).RootElement;
        Assert.Equal(older, raw.GetProperty("version").GetString());
        string Digest(string version) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
            File.ReadAllBytes(Path.Combine(registry.PathOf(version), BundleManifest.FileName))));
        Assert.Equal(Digest(older), raw.GetProperty("manifest_sha256").GetString()); // what the scorer checks the manifest against
        Assert.Equal(Digest(newer), raw.GetProperty("previous_manifest_sha256").GetString()); // recorded by train --promote

        (code, _, _) = await Run("models", "rollback", "--registry", fixture.RegistryPath);
        Assert.Equal(0, code);
        Assert.Equal(newer, registry.ReadCurrent()!.Version);
        Assert.Equal(older, registry.ReadCurrent()!.Previous);
        Assert.Equal(Digest(newer), registry.ReadCurrent()!.ManifestSha256);

        (code, _, var nameError) = await Run("models", "promote", "../" + older, "--registry", fixture.RegistryPath);
        Assert.Equal(TrainerApp.FailureExitCode, code);
        Assert.Contains("is not a plain name", nameError);

        (code, _, var error) = await Run("models", "promote", "20990101-000000-abcdef", "--registry", fixture.RegistryPath);
        Assert.Equal(TrainerApp.FailureExitCode, code);
        Assert.Contains("no bundle '20990101-000000-abcdef'", error);
        Assert.Contains(older, error);
        Assert.Equal(newer, registry.ReadCurrent()!.Version);
    }

    [Fact]
    public async Task Train_CsvWithRandomSplit_PublishesPrintsVersionAndTestTableAndWarnsOfLeakage()
    {
        var registry = Path.Combine(fixture.Root, "cli-registry");

        var (code, output, error) = await Run("train", "--input", fixture.CsvPath, "--registry", registry, "--split", "random",
            "--epochs", "1", "--hidden1", "8", "--hidden2", "4", "--xgb-rounds", "5", "--golden", "16", "--no-plots", "--seed", "4");

        Assert.True(code == 0, error);
        var version = Assert.Single(new BundleRegistry(registry).Versions());
        Assert.Contains("published " + version, output);
        Assert.Contains("Test metrics", output);
        foreach (var model in new[] { "lstm", "xgb", "ensemble" })
        {
            Assert.Contains(model, output);
        }

        Assert.Contains("warning:", output);
        Assert.Contains("see the future", output);
        Assert.Contains("epoch 1/1", output);
        Assert.DoesNotContain("pr_test.png", Directory.EnumerateFiles(Path.Combine(registry, version)).Select(f => Path.GetFileName(f)));
        Assert.Null(new BundleRegistry(registry).ReadCurrent());
    }

    [Fact]
    public async Task Train_BadDate_ExitsWithUsageErrorNamingTheFlag()
    {
        var (code, _, error) = await Run("train", "--input", fixture.CsvPath, "--registry", fixture.RegistryPath, "--train-from", "2026-13-45");

        Assert.Equal(TrainerApp.UsageExitCode, code);
        Assert.Contains("--train-from", error);
        Assert.Contains("2026-13-45", error);
        Assert.Contains("ISO date", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public async Task Train_MissingInput_ExitsWithFailureSayingWhatToPass()
    {
        var missing = Path.Combine(fixture.Root, "nope.csv");
        var (code, _, error) = await Run("train", "--input", missing, "--registry", fixture.RegistryPath);

        Assert.Equal(TrainerApp.FailureExitCode, code);
        Assert.Contains("no such file", error);
        Assert.Contains("canonical CSV", error);
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public async Task Train_DateMistakes_ExitTwoBeforeTheInputIsRead_NamingOnlyTheFlagsGiven()
    {
        // The fixture's first and last rows around a row no reader accepts: reading the input would fail with exit 1,
        // so exit 2 shows the dates were refused before the input was read.
        var lines = File.ReadAllLines(fixture.CsvPath);
        var broken = Path.Combine(fixture.Root, "broken-middle.csv");
        File.WriteAllLines(broken, [lines[0], lines[1], "not,a,transaction", lines[^1]]);
        var (readCode, _, readError) = await Run("train", "--input", broken, "--registry", fixture.RegistryPath);
        Assert.True(readCode == TrainerApp.FailureExitCode, readError); // the control: reading it fails

        (string[] Args, string Expected)[] cases =
        [
            (["--train-from", "2026-01-10", "--train-to", "2026-01-05"], "--train-to 2026-01-05 must be after --train-from 2026-01-10"),
            (["--train-from", "2026-01-05", "--train-to", "2026-01-10", "--val-from", "2026-01-08", "--val-to", "2026-01-12"],
                "--val-from 2026-01-08 must be at or after --train-to 2026-01-10"),
            (["--train-to", "2026-01-08", "--val-from", "2026-01-08", "--val-to", "2026-01-06"], "--val-to 2026-01-06 must be after --val-from 2026-01-08"),
            (["--val-from", "2026-01-05"], "--val-from 2026-01-05 is given without --val-to"),
            (["--train-to", "2026-01-08", "--test-from", "2026-01-12", "--test-to", "2026-01-12T00:00:00Z"], "--test-to 2026-01-12 must be after --test-from 2026-01-12"),
            (["--train-from", "2026-01-06", "--val-from", "2026-01-05", "--val-to", "2026-01-07"], "--val-from 2026-01-05 (the default of --train-to) must be after --train-from 2026-01-06"),
            (["--train-from", "2026-01-02"], "the training range has no end: give --train-to (or --val-from or --test-from, which it defaults to); given: --train-from 2026-01-02"),
            (["--split", "random", "--test-from", "2026-01-12"], "--test-from places a time split and does not apply to --split random"),
            (["--spec", "v1", "--xgb-monotone", "on"], "--xgb-monotone on constrains the label-history features of spec v2; --spec v1 has none"),
            (["--bootstrap", "kafka:9092"], "--bootstrap applies to --announce"),
        ];
        foreach (var (args, expected) in cases)
        {
            var (code, output, error) = await Run(["train", "--input", broken, "--registry", fixture.RegistryPath, .. args]);
            Assert.True(code == TrainerApp.UsageExitCode, $"{string.Join(' ', args)}: exit {code}, {error}");
            Assert.Contains(expected, error);
            Assert.Equal("", output);
            var given = args.Where(a => a.StartsWith("--", StringComparison.Ordinal)).ToHashSet();
            foreach (var flag in new[] { "--train-from", "--train-to", "--val-from", "--val-to", "--test-from", "--test-to" }.Where(f => !given.Contains(f)))
            {
                Assert.DoesNotContain(flag + " 20", error); // a flag not given is named only as "the default of --flag"
            }
        }
    }

    [Fact]
    public async Task Train_RangesAfterTheData_ExitTwoBeforeFeaturising_SayingWhichDefaultCameFromWhichRows()
    {
        // The fixture's data: 2026-01-01 .. 2026-01-18.
        var (code, output, error) = await Run("train", "--input", fixture.CsvPath, "--registry", fixture.RegistryPath,
            "--train-to", "2026-01-10", "--test-from", "2026-03-01");
        Assert.Equal(TrainerApp.UsageExitCode, code);
        Assert.Equal("", output); // nothing featurised, nothing printed
        Assert.Contains("2026-01-19, the default of --test-to (midnight after the last event; the latest event_time of ", error);
        Assert.Contains(" must be after --test-from 2026-03-01", error);
        Assert.DoesNotContain("--test-to 20", error);

        (code, output, error) = await Run("train", "--input", fixture.CsvPath, "--registry", fixture.RegistryPath,
            "--train-to", "2026-01-10", "--test-from", "2026-03-01", "--test-to", "2026-03-05");
        Assert.Equal(TrainerApp.UsageExitCode, code);
        Assert.Equal("", output);
        Assert.Contains("the test range 2026-03-01 .. 2026-03-05 lies after the data: the data spans 2026-01-01", error);

        (code, _, error) = await Run("train", "--input", fixture.CsvPath, "--registry", fixture.RegistryPath, "--train-to", "2025-12-01");
        Assert.Equal(TrainerApp.UsageExitCode, code);
        Assert.Contains("--train-to 2025-12-01 must be after 2026-01-01, the default of --train-from (the first event's day; the earliest event_time of ", error);
        Assert.DoesNotContain("--train-from 20", error);
        var rows = File.ReadLines(fixture.CsvPath).Count() - 1;
        Assert.Contains($" of {rows.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} rows is ", error); // the span came from every row: the peek's suspicion was confirmed by a scan
        Assert.Equal(2, new BundleRegistry(fixture.RegistryPath).Versions().Count);
    }

    [Fact]
    public async Task Train_SplitWithoutFrauds_ExitsWithFailureNamingTheSplit()
    {
        var csv = Path.Combine(fixture.Root, "no-fraud.csv");
        var sim = new StreamFraud.Sim.Generation.TransactionSimulator(new StreamFraud.Sim.Generation.SimulationOptions
        {
            Cards = 40,
            Days = 5,
            FraudRates = new Dictionary<string, double>(),
        });
        StreamFraud.Core.Data.CanonicalCsv.Write(csv, sim.Generate());

        var (code, _, error) = await Run("train", "--input", csv, "--registry", fixture.RegistryPath);

        Assert.Equal(TrainerApp.FailureExitCode, code);
        Assert.Contains("the training split (2026-01-01 .. 2026-01-04) has no frauds", error);
        Assert.Contains("the input has no frauds at all", error);
        Assert.Equal(2, new BundleRegistry(fixture.RegistryPath).Versions().Count);
    }

    [Fact]
    public async Task Train_UnknownFlag_ExitsWithUsageError()
    {
        var (code, _, error) = await Run("train", "--input", fixture.CsvPath, "--registry", fixture.RegistryPath, "--epoch", "3");

        Assert.Equal(TrainerApp.UsageExitCode, code);
        Assert.Contains("unknown flag --epoch", error);
    }

    [Fact]
    public async Task Help_EveryCommand_DescribesEveryFlag()
    {
        foreach (var (command, settings) in TrainerApp.Commands)
        {
            var (code, output, error) = await Run([.. command.Split(' '), "--help"]);
            Assert.True(code == 0, $"{command} --help: exit {code}; {error}");
            foreach (var section in new[] { "DESCRIPTION:", "USAGE:", "EXAMPLES:", "OPTIONS:" })
            {
                Assert.Contains(section, output);
            }

            Assert.Contains($"StreamFraud.Trainer {command}", output);
            foreach (var property in settings.GetProperties())
            {
                if (property.GetCustomAttribute<CommandOptionAttribute>() is { } option)
                {
                    Assert.Contains("--" + option.LongNames[0], output);
                }

                if (property.GetCustomAttribute<CommandArgumentAttribute>() is { } argument)
                {
                    Assert.Contains(argument.ValueName, output);
                }
            }
        }

        var (overviewCode, overview, _) = await Run("--help");
        Assert.Equal(0, overviewCode);
        foreach (var section in new[] { "DESCRIPTION:", "USAGE:", "EXAMPLES:", "OPTIONS:", "COMMANDS:" })
        {
            Assert.Contains(section, overview);
        }

        Assert.Contains("StreamFraud.Trainer [OPTIONS] <COMMAND>", overview);
        var (groupCode, group, _) = await Run("models", "--help");
        Assert.Equal(0, groupCode);
        Assert.Contains("rollback", group);
    }

    [Fact]
    public async Task BadValue_ExitsWithUsageErrorNamingTheFlagAndValue()
    {
        var (code, _, error) = await Run("train", "--input", fixture.CsvPath, "--registry", fixture.RegistryPath, "--epochs", "abc");

        Assert.Equal(TrainerApp.UsageExitCode, code);
        Assert.StartsWith("error: --epochs must be a whole number from 1 to 10,000 (got 'abc')", error);
    }

    [Fact]
    public async Task Usage_UnknownCommandOrMissingVersion_Exit2()
    {
        var (code, _, error) = await Run("models", "explode", "--registry", fixture.RegistryPath);
        Assert.Equal(TrainerApp.UsageExitCode, code);
        Assert.Contains("unknown command 'models explode'; commands: models list, models promote, models rollback", error);

        (code, _, error) = await Run("models", "promote", "--registry", fixture.RegistryPath);
        Assert.Equal(TrainerApp.UsageExitCode, code);
        Assert.Contains("VERSION is required", error);

        (code, _, _) = await Run("models");
        Assert.Equal(TrainerApp.UsageExitCode, code);
    }

    [Fact]
    public void ParseOptions_AllFlags_MapOntoTrainingOptions()
    {
        var settings = Parse<TrainSettings>(
            "--input", "a.csv", "--registry", "reg", "--promote", "--train-from", "2026-01-02", "--train-to", "2026-01-20", "--test-to", "2026-02-01T12:00:00Z",
            "--epochs", "3", "--seed", "9", "--cost-fn", "25", "--cost-fp", "2", "--target-recall", "0.8", "--oversample", "0.1",
            "--loss", "bce", "--xgb-rounds", "77", "--hidden1", "32", "--hidden2", "16", "--search-weights");

        var o = settings.ToTrainingOptions();

        Assert.True(o.Promote);
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 0, 0, 0, TimeSpan.Zero), o.Bounds.TrainFrom);
        Assert.Equal(new DateTimeOffset(2026, 2, 1, 12, 0, 0, TimeSpan.Zero), o.Bounds.TestTo);
        Assert.Equal((3, 9, 32, 16, 77), (o.Epochs, o.Seed, o.Hidden1, o.Hidden2, o.XgbRounds));
        Assert.Equal((25.0, 2.0, 0.8), (o.Thresholds.CostFalseNegative, o.Thresholds.CostFalsePositive, o.Thresholds.TargetRecall));
        Assert.Equal(0.1, o.OversampleRatio);
        Assert.Equal(LstmLossKind.CrossEntropy, o.Loss);
        Assert.True(o.SearchWeights);
        Assert.Null(o.Split);
        Assert.Equal(0.1, o.ToLstmOptions().OversampleRatio);
    }

    private static async Task<(int Code, string Output, string Error)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await TrainerApp.RunAsync(args, Console(output), Console(error));
        return (code, output.ToString(), error.ToString());
    }
}
