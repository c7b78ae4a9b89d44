using System.Diagnostics;
using StreamFraud.Core.Data;
using StreamFraud.Sim.Cli;
using StreamFraud.Sim.Generation;

namespace StreamFraud.Sim.Commands;

/// <summary><c>generate</c>: simulates the portfolio and writes the canonical CSV, sorted by event time, then prints the
/// run summary and its rate.</summary>
public sealed class GenerateCommand : ICommand
{
    /// <inheritdoc/>
    public string Name => "generate";

    /// <inheritdoc/>
    public string Summary => "Simulate a card portfolio with labelled fraud and write canonical CSV sorted by event time.";

    /// <inheritdoc/>
    public IReadOnlyList<FlagHelp> Flags { get; } =
    [
        .. SimulationFlags.Help,
        new("out", "FILE", "Required. CSV file to write (replaced atomically when complete); '-' writes to standard "
            + "output and the summary to standard error."),
        new("summary-json", "FILE", "Also write the run summary as JSON to FILE."),
    ];

    /// <inheritdoc/>
    public IReadOnlyList<string> Examples { get; } =
    [
        "generate --cards 20000 --days 30 --seed 1 --out transactions.csv",
        "generate --cards 2000 --days 14 --fraud-rate card_testing=0.003,large_amount=0 --out small.csv",
        "generate --cards 500 --days 7 --no-fraud --out - | head",
    ];

    /// <inheritdoc/>
    public Task<int> RunAsync(CommandArgs args, CommandContext context)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(context);
        var options = SimulationFlags.Bind(args);
        var output = args.Required("out", "transactions.csv");
        var summaryJson = args.String("summary-json");
        args.RejectUnknown(Name);
        var toStdout = output == "-";
        if (!toStdout)
        {
            EnsureDirectory("out", output);
        }

        if (summaryJson is not null)
        {
            EnsureDirectory("summary-json", summaryJson);
        }

        var stopwatch = Stopwatch.StartNew();
        var simulator = new TransactionSimulator(options);
        var summary = new RunSummary();
        var partial = toStdout ? null : output + ".partial";
        try
        {
            var stream = partial is null
                ? context.OpenStandardOutput()
                : new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.SequentialScan);
            using (var writer = new CanonicalCsvWriter(stream, leaveOpen: false))
            {
                foreach (var transaction in simulator.Generate(context.CancellationToken))
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
        report.Write(toStdout ? context.Error : context.Output);
        if (summaryJson is not null)
        {
            File.WriteAllText(summaryJson, report.ToJson());
        }

        return Task.FromResult(0);
    }

    private static void EnsureDirectory(string flag, string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null && !Directory.Exists(directory))
        {
            throw new UsageException($"--{flag}: directory '{directory}' does not exist; create it or choose another path");
        }
    }
}
