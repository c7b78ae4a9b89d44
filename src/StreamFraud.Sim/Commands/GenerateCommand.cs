using System.ComponentModel;
using System.Diagnostics;
using Spectre.Console;
using Spectre.Console.Cli;
using StreamFraud.Cli;
using StreamFraud.Core.Data;
using StreamFraud.Sim.Generation;

namespace StreamFraud.Sim.Commands;

/// <summary>The flags of <c>generate</c>.</summary>
public sealed class GenerateSettings : SimulationFlags
{
    /// <summary><c>--out</c>.</summary>
    [CommandOption("--out <FILE>")]
    [Description("Required. CSV file to write (replaced atomically when complete); '-' writes to standard output and the summary to standard error.")]
    public string? Out { get; init; }

    /// <summary><c>--labels-out</c>.</summary>
    [CommandOption("--labels-out <FILE>")]
    [Description("Also write the fraud labels of the generated transactions (labels CSV: chargebacks, analyst verdicts, "
        + "customer claims, with realistic delays; some frauds never labelled, a few false claims and their reversals), "
        + "sorted by label_time, replaced atomically when complete. Labels due after the last day are written too.")]
    public string? LabelsOut { get; init; }

    /// <summary><c>--summary-json</c>.</summary>
    [CommandOption("--summary-json <FILE>")]
    [Description("Also write the run summary as JSON to FILE.")]
    public string? SummaryJson { get; init; }

    /// <inheritdoc/>
    public override ValidationResult Validate()
    {
        var simulation = base.Validate();
        return !simulation.Successful ? simulation
            : Out is null ? ValidationResult.Error("--out is required (e.g. --out transactions.csv)")
            : Out != "-" && MissingDirectory("out", Out) is { } outProblem ? ValidationResult.Error(outProblem)
            : LabelsOut == "-" ? ValidationResult.Error("--labels-out needs a file; standard output is for --out")
            : LabelsOut is not null && MissingDirectory("labels-out", LabelsOut) is { } labelsProblem ? ValidationResult.Error(labelsProblem)
            : LabelsOut is not null && Out != "-" && Path.GetFullPath(LabelsOut) == Path.GetFullPath(Out)
                ? ValidationResult.Error("--labels-out and --out name the same file; give the labels their own")
            : SummaryJson is not null && MissingDirectory("summary-json", SummaryJson) is { } jsonProblem ? ValidationResult.Error(jsonProblem)
            : ValidationResult.Success();
    }

    private static string? MissingDirectory(string flag, string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        return directory is not null && !Directory.Exists(directory)
            ? $"--{flag}: directory '{directory}' does not exist; create it or choose another path"
            : null;
    }
}

/// <summary><c>generate</c>: simulates the portfolio and writes the canonical CSV, sorted by event time (and, with
/// <c>--labels-out</c>, the labels CSV sorted by label time), then prints the run summary and its rate.</summary>
/// <param name="consoles">Where reports and data go.</param>
public sealed class GenerateCommand(CommandConsoles consoles) : Command<GenerateSettings>
{
    /// <inheritdoc/>
    public override int Execute(CommandContext context, GenerateSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var options = settings.ToOptions();
        var output = settings.Out!;
        var labelsOutput = settings.LabelsOut;
        var summaryJson = settings.SummaryJson;
        var toStdout = output == "-";
        var stopwatch = Stopwatch.StartNew();
        var simulator = new TransactionSimulator(options);
        var summary = new RunSummary();
        var labels = labelsOutput is null ? null : new LabelSimulator(options.Seed);
        var partial = toStdout ? null : output + ".partial";
        var labelsPartial = labelsOutput is null ? null : labelsOutput + ".partial";
        try
        {
            var stream = partial is null
                ? consoles.OpenStandardOutput()
                : new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.SequentialScan);
            using (var writer = new CanonicalCsvWriter(stream, leaveOpen: false))
            {
                foreach (var transaction in simulator.Generate(cancellationToken))
                {
                    writer.Write(transaction);
                    summary.Observe(transaction);
                    labels?.Observe(transaction);
                }
            }

            if (labels is not null)
            {
                LabelCsv.Write(labelsPartial!, labels.TakeAll());
            }

            // Both files complete before either replaces its destination.
            if (partial is not null)
            {
                File.Move(partial, output, overwrite: true);
            }

            if (labelsPartial is not null)
            {
                File.Move(labelsPartial, labelsOutput!, overwrite: true);
            }
        }
        catch
        {
            foreach (var file in new[] { partial, labelsPartial })
            {
                if (file is not null)
                {
                    File.Delete(file);
                }
            }

            throw;
        }

        stopwatch.Stop();
        var report = new RunReport(simulator, summary, stopwatch.Elapsed, toStdout ? "standard output" : Path.GetFullPath(output))
        {
            Labels = labels?.Summary,
            LabelsDestination = labelsOutput is null ? null : Path.GetFullPath(labelsOutput),
        };
        report.Write(toStdout ? consoles.Error : consoles.Output);
        if (summaryJson is not null)
        {
            File.WriteAllText(summaryJson, report.ToJson());
        }

        return 0;
    }
}
