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

/// <summary><c>generate</c>: simulates the portfolio and writes the canonical CSV, sorted by event time, then prints the
/// run summary and its rate.</summary>
/// <param name="consoles">Where reports and data go.</param>
public sealed class GenerateCommand(CommandConsoles consoles) : Command<GenerateSettings>
{
    /// <inheritdoc/>
    public override int Execute(CommandContext context, GenerateSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var options = settings.ToOptions();
        var output = settings.Out!;
        var summaryJson = settings.SummaryJson;
        var toStdout = output == "-";
        var stopwatch = Stopwatch.StartNew();
        var simulator = new TransactionSimulator(options);
        var summary = new RunSummary();
        var partial = toStdout ? null : output + ".partial";
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
                }
            }

            if (partial is not null)
            {
                File.Move(partial, output, overwrite: true);
            }
        }
        catch
        {
            if (partial is not null)
            {
                File.Delete(partial);
            }

            throw;
        }

        stopwatch.Stop();
        var report = new RunReport(simulator, summary, stopwatch.Elapsed, toStdout ? "standard output" : Path.GetFullPath(output));
        report.Write(toStdout ? consoles.Error : consoles.Output);
        if (summaryJson is not null)
        {
            File.WriteAllText(summaryJson, report.ToJson());
        }

        return 0;
    }
}
