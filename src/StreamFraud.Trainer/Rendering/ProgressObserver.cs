using System.Globalization;
using Spectre.Console;
using StreamFraud.Training.Lstm;
using StreamFraud.Training.Pipeline;

namespace StreamFraud.Trainer.Rendering;

/// <summary>Live progress bars on an interactive terminal: one per stage, the LSTM bar per epoch, the XGBoost bar per round.</summary>
public sealed class ProgressObserver(IAnsiConsole console) : ITrainingObserver
{
    private readonly List<EpochReport> _epochs = [];
    private readonly List<string> _warnings = [];
    private ProgressContext? _context;
    private ProgressTask? _task;
    private string _description = "";

    /// <summary>Binds to a running Spectre progress display.</summary>
    public void Attach(ProgressContext context) => _context = context;

    /// <inheritdoc/>
    public void StageStarted(TrainingStage stage, string description)
    {
        if (_context is null)
        {
            return;
        }

        _description = $"[bold]{Label(stage)}[/] {Markup.Escape(description)}";
        _task = _context.AddTask(_description, maxValue: 1);
        if (stage is not (TrainingStage.Featurising or TrainingStage.Lstm or TrainingStage.Xgb))
        {
            _task.IsIndeterminate = true;
        }
    }

    /// <inheritdoc/>
    public void StageCompleted(TrainingStage stage, TimeSpan elapsed, string summary)
    {
        if (_task is null)
        {
            return;
        }

        _task.IsIndeterminate = false;
        _task.Value = _task.MaxValue;
        _task.Description = $"[bold]{Label(stage)}[/] {Markup.Escape(summary)}";
        _task.StopTask();
    }

    /// <inheritdoc/>
    public void InputProgress(long bytesRead, long totalBytes, long rows)
    {
        if (_task is null)
        {
            return;
        }

        _task.MaxValue = Math.Max(1, totalBytes);
        _task.Value = Math.Min(bytesRead, totalBytes);
        _task.Description = $"{_description} [grey]{rows.ToString("N0", CultureInfo.InvariantCulture)} rows[/]";
    }

    /// <inheritdoc/>
    public void EpochCompleted(EpochReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        _epochs.Add(report);
        if (_task is null)
        {
            return;
        }

        _task.MaxValue = report.MaxEpochs;
        _task.Value = report.Epoch;
        _task.Description = $"[bold]lstm[/] epoch {report.Epoch}/{report.MaxEpochs} " +
                            Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                                $"loss {report.Loss:0.00000} val AP {report.ValidationAveragePrecision:0.0000} {report.SequencesPerSecond:N0} seq/s"));
    }

    /// <inheritdoc/>
    public void BoostingRound(int round, int maxRounds, double train, double validation)
    {
        if (_task is null)
        {
            return;
        }

        _task.MaxValue = maxRounds;
        _task.Value = round + 1;
        _task.Description = $"[bold]xgb[/] round {round + 1}/{maxRounds} " +
                            Markup.Escape(string.Create(CultureInfo.InvariantCulture, $"train aucpr {train:0.0000} val aucpr {validation:0.0000}"));
    }

    /// <inheritdoc/>
    public void Warning(string message) => _warnings.Add(message);

    /// <summary>After the live display: the LSTM's epochs as a table.</summary>
    public void WriteEpochTable()
    {
        if (_epochs.Count == 0)
        {
            return;
        }

        var table = new Table().Title("LSTM epochs").AddColumns("epoch", "loss", "train AP", "val AP", "lr", "seq/s", "s");
        foreach (var e in _epochs)
        {
            table.AddRow(
                (e.Improved ? "* " : "") + e.Epoch.ToString(CultureInfo.InvariantCulture),
                e.Loss.ToString("0.00000", CultureInfo.InvariantCulture),
                e.TrainAveragePrecision.ToString("0.0000", CultureInfo.InvariantCulture),
                e.ValidationAveragePrecision.ToString("0.0000", CultureInfo.InvariantCulture),
                e.LearningRate.ToString("G3", CultureInfo.InvariantCulture),
                e.SequencesPerSecond.ToString("N0", CultureInfo.InvariantCulture),
                e.EpochTime.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture));
        }

        console.Write(table);
    }

    /// <summary>After the live display: the warnings.</summary>
    public void WriteWarnings()
    {
        foreach (var w in _warnings)
        {
            console.MarkupLine($"[yellow]warning:[/] {Markup.Escape(w)}");
        }
    }

    internal static string Label(TrainingStage stage) => stage switch
    {
        TrainingStage.Featurising => "features",
        TrainingStage.Splitting => "split",
        TrainingStage.Lstm => "lstm",
        TrainingStage.Xgb => "xgb",
        TrainingStage.Evaluating => "evaluate",
        TrainingStage.Bundling => "bundle",
        _ => stage.ToString(),
    };
}

/// <summary>Plain progress lines when output is not a terminal (CI logs, pipes): stages, every epoch, every 25th round.</summary>
public sealed class LineObserver(IAnsiConsole console) : ITrainingObserver
{
    private const int RoundEvery = 25;
    private long _lastReportedBytes;

    /// <inheritdoc/>
    public void StageStarted(TrainingStage stage, string description) =>
        console.MarkupLine($"[bold]{ProgressObserver.Label(stage)}[/] {Markup.Escape(description)}");

    /// <inheritdoc/>
    public void StageCompleted(TrainingStage stage, TimeSpan elapsed, string summary) =>
        console.MarkupLine($"[bold]{ProgressObserver.Label(stage)}[/] done in {elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s: {Markup.Escape(summary)}");

    /// <inheritdoc/>
    public void InputProgress(long bytesRead, long totalBytes, long rows)
    {
        // One line per 10% of the file.
        if (totalBytes > 0 && (bytesRead - _lastReportedBytes) * 10 >= totalBytes)
        {
            _lastReportedBytes = bytesRead;
            console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {100.0 * bytesRead / totalBytes:0}% of the input, {rows:N0} rows"));
        }
    }

    /// <inheritdoc/>
    public void EpochCompleted(EpochReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  epoch {report.Epoch}/{report.MaxEpochs}: loss {report.Loss:0.00000}, train AP {report.TrainAveragePrecision:0.0000}, " +
            $"val AP {report.ValidationAveragePrecision:0.0000}{(report.Improved ? " (best)" : "")}, lr {report.LearningRate:G3}, " +
            $"{report.SequencesPerSecond:N0} seq/s, {report.EpochTime.TotalSeconds:0.0} s"));
    }

    /// <inheritdoc/>
    public void BoostingRound(int round, int maxRounds, double train, double validation)
    {
        if ((round + 1) % RoundEvery == 0 || round == 0)
        {
            console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  round {round + 1}/{maxRounds}: train aucpr {train:0.0000}, val aucpr {validation:0.0000}"));
        }
    }

    /// <inheritdoc/>
    public void Warning(string message) => console.MarkupLine($"[yellow]warning:[/] {Markup.Escape(message)}");
}
