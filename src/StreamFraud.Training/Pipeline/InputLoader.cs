using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json.Serialization;
using StreamFraud.Core;
using StreamFraud.Core.Data;
using StreamFraud.Core.Features;
using StreamFraud.Core.Labels;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Training.Data;

namespace StreamFraud.Training.Pipeline;

/// <summary>The two input formats (<c>csv</c>, <c>npz</c> in reports).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<InputFormat>))]
public enum InputFormat
{
    /// <summary>Canonical CSV of raw transactions, featurised with <c>card</c> v2 (or v1, <c>--spec</c>).</summary>
    [JsonStringEnumMemberName("csv")]
    Csv,

    /// <summary>Notebook <c>.npz</c> (<c>X</c>, <c>y</c>), spec <c>precomputed:F</c>.</summary>
    [JsonStringEnumMemberName("npz")]
    Npz,
}

/// <summary>What was read: the file, its size and hash, and what it held.</summary>
public sealed record InputDescription
{
    /// <summary>Input format.</summary>
    public required InputFormat Format { get; init; }

    /// <summary>File name (no directory), as recorded in the manifest.</summary>
    public required string FileName { get; init; }

    /// <summary>Full path read.</summary>
    public required string FullPath { get; init; }

    /// <summary>Lower-case hex SHA-256 of the file.</summary>
    public required string Sha256 { get; init; }

    /// <summary>File size in bytes.</summary>
    public long Bytes { get; init; }

    /// <summary>Source rows (transactions or <c>.npz</c> rows), skipped ones included.</summary>
    public long Rows { get; init; }

    /// <summary>Rows labelled fraud.</summary>
    public long Frauds { get; init; }

    /// <summary>Applied rows without a label (never examples).</summary>
    public long Unlabelled { get; init; }

    /// <summary>Distinct cards (CSV).</summary>
    public int Cards { get; init; }

    /// <summary>Rows skipped as duplicates of a transaction id in the card's window (CSV).</summary>
    public long Duplicates { get; init; }

    /// <summary>Rows skipped as invalid (CSV; the first reasons are in the warnings).</summary>
    public long Invalid { get; init; }

    /// <summary>First event time (CSV).</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Last event time (CSV).</summary>
    public DateTimeOffset? To { get; init; }

    /// <summary>True when the CSV was not in event-time order and the trainer sorted it (stable) before featurising.</summary>
    public bool Sorted { get; init; }

    /// <summary>Trailing <c>.npz</c> rows that did not fill a 7-row chunk.</summary>
    public int DroppedRows { get; init; }

    /// <summary>Feature spec of the vectors.</summary>
    public required string Spec { get; init; }

    /// <summary>Where the labels the features read came from and what they did (a spec that reads labels only).</summary>
    public LabelsDescription? Labels { get; init; }
}

/// <summary>
/// The labels of a spec that reads the label history (<c>card</c> v2): their source and what applying them did
/// (<see cref="LabelSummary"/>'s counts). Labels only feed features; the training target is the CSV's <c>is_fraud</c>.
/// </summary>
public sealed record LabelsDescription
{
    /// <summary><c>file</c> (<c>--labels</c>) or <c>simulated</c> (from the CSV's <c>is_fraud</c>, <c>--label-delay</c>).</summary>
    public required string Source { get; init; }

    /// <summary>One sentence for reports: the file, or the delay's description.</summary>
    public required string Description { get; init; }

    /// <summary>The labels file's name (file source).</summary>
    public string? FileName { get; init; }

    /// <summary>Lower-case hex SHA-256 of the labels file (file source).</summary>
    public string? Sha256 { get; init; }

    /// <summary>The delay as given (<c>7d</c>, <c>exp:3d</c>, <c>uniform:1d..14d</c>; simulated source).</summary>
    public string? Delay { get; init; }

    /// <summary>Labels in the file, or simulated (one per applied fraud).</summary>
    public long Labels { get; init; }

    /// <summary>File labels whose transaction id is not an applied row of the CSV (they still count for their merchant and card).</summary>
    public long? UnknownTransactions { get; init; }

    /// <summary>Labels handed to the features (label time before the last transaction).</summary>
    public long Offered { get; init; }

    /// <summary>Labels whose label time is after the last transaction: they changed no row.</summary>
    public long NotReached { get; init; }

    /// <summary>First verdicts on a transaction.</summary>
    public long Applied { get; init; }

    /// <summary>Verdicts that changed a transaction's recorded verdict.</summary>
    public long Flipped { get; init; }

    /// <summary>The recorded verdict again.</summary>
    public long Duplicates { get; init; }

    /// <summary>Older than the recorded verdict (the newest label wins).</summary>
    public long Superseded { get; init; }

    /// <summary>For transactions more than 30 days older than the label: no feature can see them.</summary>
    public long Stale { get; init; }

    /// <summary>Same transaction id as an earlier label with another card, merchant or event time (dead letters).</summary>
    public long Conflicting { get; init; }

    /// <summary>Bad labels (dead letters).</summary>
    public long Invalid { get; init; }

    /// <summary>The counts of <paramref name="summary"/> with a source.</summary>
    public static LabelsDescription From(LabelSummary summary, string source, string description, long labels)
    {
        ArgumentNullException.ThrowIfNull(summary);
        return new LabelsDescription
        {
            Source = source,
            Description = description,
            Labels = labels,
            Offered = summary.Offered,
            NotReached = summary.NotReached,
            Applied = summary.Applied,
            Flipped = summary.Flipped,
            Duplicates = summary.Duplicates,
            Superseded = summary.Superseded,
            Stale = summary.Stale,
            Conflicting = summary.Conflicting,
            Invalid = summary.Invalid,
        };
    }
}

/// <summary>An input read and featurised.</summary>
/// <param name="Examples">Candidate examples.</param>
/// <param name="Description">What the file held.</param>
/// <param name="Warnings">Problems worth telling the user (invalid rows, re-sorting).</param>
public sealed record LoadedInput(ExampleSource Examples, InputDescription Description, IReadOnlyList<string> Warnings);

/// <summary>
/// Reads the trainer's input. A CSV is streamed through <see cref="TrainingSet.Build(FeatureSpec, IEnumerable{Transaction}, LabelFeed, int)"/>
/// (the scorer's own feature code) in event-time order, with the spec and labels of a <see cref="CsvFeaturing"/>: for a
/// spec that reads labels, a labels file (read whole) or labels simulated from <c>is_fraud</c> are merged in by label
/// time. When the file is not sorted by <c>event_time</c>, it is read again, sorted (stable, so equal times keep file
/// order) and featurised, with a warning. An <c>.npz</c> is read whole and keeps its own spec.
/// </summary>
public static class InputLoader
{
    private const int ProgressEvery = 8192;

    /// <summary>The format of <paramref name="path"/>: <c>.npz</c> by extension or zip signature, else CSV.</summary>
    public static InputFormat DetectFormat(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.EndsWith(".npz", StringComparison.OrdinalIgnoreCase))
        {
            return InputFormat.Npz;
        }

        Span<byte> head = stackalloc byte[4];
        using var f = File.OpenRead(path);
        var n = f.ReadAtLeast(head, 4, throwOnEndOfStream: false);
        return n == 4 && head.SequenceEqual("PK\u0003\u0004"u8) ? InputFormat.Npz : InputFormat.Csv;
    }

    /// <summary>Reads and featurises <paramref name="path"/> (a CSV with the default spec, <c>card</c> v2, and simulated labels).</summary>
    /// <exception cref="TrainingException">The file is missing or unreadable; the message says why and what to do.</exception>
    public static LoadedInput Load(string path, ITrainingObserver? observer = null, CancellationToken cancellationToken = default) =>
        Load(path, new CsvFeaturing(), observer, cancellationToken);

    /// <summary>Reads and featurises <paramref name="path"/>; a CSV as <paramref name="featuring"/> says.</summary>
    /// <exception cref="TrainingException">The input or labels file is missing or unreadable, or the settings do not
    /// fit the input; the message says why and what to do.</exception>
    public static LoadedInput Load(string path, CsvFeaturing featuring, ITrainingObserver? observer = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(featuring);
        observer ??= NullTrainingObserver.Instance;
        if (featuring.Problem() is { } problem)
        {
            throw new TrainingException(problem);
        }

        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw new TrainingException($"--input {path} is a directory; pass a canonical CSV file or a notebook .npz file");
        }

        if (!File.Exists(full))
        {
            throw new TrainingException(
                $"--input {path}: no such file; pass a canonical CSV (e.g. made by 'StreamFraud.Sim generate') or a notebook .npz");
        }

        InputFormat format;
        try
        {
            format = DetectFormat(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TrainingException($"--input {path}: cannot read the file ({e.Message})", e);
        }

        if (format == InputFormat.Npz && featuring.NpzProblem(path) is { } npzProblem)
        {
            throw new TrainingException(npzProblem);
        }

        // The labels file is checked and read before the (larger) input.
        var labels = format == InputFormat.Csv && featuring.UsesLabels && featuring.LabelsPath is { } labelsPath
            ? ReadLabels(labelsPath)
            : null;
        try
        {
            var sha = BundleRegistry.Sha256(full);
            return format == InputFormat.Npz
                ? LoadNpz(full, sha)
                : LoadCsv(full, sha, featuring, labels, observer, cancellationToken);
        }
        catch (CanonicalCsvException e)
        {
            throw new TrainingException($"{Path.GetFileName(full)}: {e.Message}; fix the file (columns: {CanonicalCsv.Header})", e);
        }
        catch (NpzFormatException e)
        {
            throw new TrainingException(e.Message, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TrainingException($"--input {path}: cannot read the file ({e.Message})", e);
        }
    }

    private static LoadedInput LoadNpz(string path, string sha)
    {
        var data = NpzReader.Read(path);
        var examples = new ChunkExamples(data);
        if (examples.Count == 0)
        {
            throw new TrainingException($"{Path.GetFileName(path)} has {data.Rows} rows: fewer than one sequence of {FeatureSpec.WindowLength}");
        }

        var description = new InputDescription
        {
            Format = InputFormat.Npz,
            FileName = Path.GetFileName(path),
            FullPath = path,
            Sha256 = sha,
            Bytes = new FileInfo(path).Length,
            Rows = data.Rows,
            Frauds = data.Positives,
            DroppedRows = data.Rows - (examples.Count * FeatureSpec.WindowLength),
            Spec = data.Spec.ToString(),
        };
        return new LoadedInput(examples, description, []);
    }

    /// <summary>A labels file read whole, with its name and hash.</summary>
    private sealed record LabelsFile(string FileName, string Sha256, List<TransactionLabel> Labels);

    private static LabelsFile ReadLabels(string path)
    {
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw new TrainingException($"--labels {path} is a directory; pass a labels CSV file (columns: {LabelCsv.Header})");
        }

        if (!File.Exists(full))
        {
            throw new TrainingException(
                $"--labels {path}: no such file; pass a labels CSV (e.g. made by 'StreamFraud.Sim generate --labels-out'), or drop --labels to simulate labels from is_fraud (--label-delay)");
        }

        try
        {
            var sha = BundleRegistry.Sha256(full);
            return new LabelsFile(Path.GetFileName(full), sha, [.. LabelCsv.Read(full)]);
        }
        catch (CanonicalCsvException e)
        {
            throw new TrainingException($"{Path.GetFileName(full)}: {e.Message}; fix the labels file (columns: {LabelCsv.Header})", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TrainingException($"--labels {path}: cannot read the file ({e.Message})", e);
        }
    }

    private static LoadedInput LoadCsv(
        string path, string sha, CsvFeaturing featuring, LabelsFile? labelsFile, ITrainingObserver observer, CancellationToken cancellationToken)
    {
        var warnings = new List<string>();
        var spec = featuring.Spec;
        var bytes = new FileInfo(path).Length;
        TrainingSet set;
        var sorted = false;

        // A feed per attempt: featurising consumes it.
        LabelFeed? Feed() => !featuring.UsesLabels ? null
            : labelsFile is not null ? LabelFeed.FromLabels(labelsFile.Labels)
            : LabelFeed.FromDelay(featuring.EffectiveDelay);
        var feed = Feed();
        try
        {
            set = Featurise(spec, path, bytes, sort: false, feed, observer, cancellationToken);
        }
        catch (OutOfOrderException e)
        {
            warnings.Add(
                $"the CSV is not in event-time order (line {e.Line} is earlier than the line before it); it was read " +
                "into memory and sorted by event_time (stable) so that every window sees the history the scorer would have seen");
            feed = Feed();
            set = Featurise(spec, path, bytes, sort: true, feed, observer, cancellationToken);
            sorted = true;
        }

        if (set.SourceRows == 0)
        {
            throw new TrainingException($"{Path.GetFileName(path)} has a header but no transactions");
        }

        if (set.InvalidCount > 0)
        {
            var sample = string.Join("; ", set.Rejected.Take(3).Select(r => $"row {r.SourceIndex + 1} ({r.TransactionId}): {r.Reason}"));
            warnings.Add($"{set.InvalidCount} invalid rows were skipped (as the scorer would send them to the DLQ): {sample}");
        }

        if (set.Duplicates > 0)
        {
            warnings.Add($"{set.Duplicates} duplicate rows (same transaction id in the card's window) were skipped, as the scorer would");
        }

        long frauds = 0, unlabelled = 0;
        foreach (var label in set.Labels)
        {
            if (label > 0)
            {
                frauds++;
            }
            else if (label < 0)
            {
                unlabelled++;
            }
        }

        if (set.Count > 0 && unlabelled == set.Count)
        {
            throw new TrainingException(
                $"{Path.GetFileName(path)} has no labels (is_fraud is missing or empty on every row); training needs labelled history");
        }

        if (unlabelled > 0)
        {
            warnings.Add($"{unlabelled} rows have no is_fraud label: they are context for later windows but never examples");
        }

        var times = set.EventTimesMs;
        long first = long.MaxValue, last = long.MinValue;
        foreach (var t in times)
        {
            first = Math.Min(first, t);
            last = Math.Max(last, t);
        }

        var description = new InputDescription
        {
            Format = InputFormat.Csv,
            FileName = Path.GetFileName(path),
            FullPath = path,
            Sha256 = sha,
            Bytes = bytes,
            Rows = set.SourceRows,
            Frauds = frauds,
            Unlabelled = unlabelled,
            Cards = set.CardCount,
            Duplicates = set.Duplicates,
            Invalid = set.InvalidCount,
            From = set.Count > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(first) : null,
            To = set.Count > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(last) : null,
            Sorted = sorted,
            Spec = spec.ToString(),
            Labels = feed is null ? null : DescribeLabels(set, feed, labelsFile, warnings),
        };
        return new LoadedInput(new TransactionExamples(set), description, warnings);
    }

    private static LabelsDescription DescribeLabels(TrainingSet set, LabelFeed feed, LabelsFile? file, List<string> warnings)
    {
        var summary = set.LabelStats!;
        if (file is null)
        {
            var delay = feed.Delay!;
            return LabelsDescription.From(summary, "simulated",
                    $"simulated from the CSV's is_fraud: {delay.Description} (--label-delay {delay.Text})", feed.Simulated) with
            {
                Delay = delay.Text,
            };
        }

        var ids = new HashSet<string>(set.Count, StringComparer.Ordinal);
        foreach (var id in set.TransactionIds)
        {
            ids.Add(id);
        }

        var unknown = file.Labels.LongCount(l => !ids.Contains(l.TransactionId));
        var description = LabelsDescription.From(summary, "file", $"labels file {file.FileName}, replayed by label time", feed.Provided) with
        {
            FileName = file.FileName,
            Sha256 = file.Sha256,
            UnknownTransactions = unknown,
        };
        if (file.Labels.Count == 0)
        {
            warnings.Add($"{file.FileName} holds no labels: the merchant and card fraud features are 0 on every row");
        }
        else if (unknown == file.Labels.Count)
        {
            warnings.Add($"no label of {file.FileName} names a transaction of the input: is it the labels file of this history?");
        }
        else if (unknown > 0)
        {
            warnings.Add($"{unknown:N0} of {file.Labels.Count:N0} labels of {file.FileName} name transactions the input does not have; they still count for their merchant and card");
        }

        if (summary.Conflicting + summary.Invalid > 0)
        {
            warnings.Add($"{summary.Invalid:N0} invalid and {summary.Conflicting:N0} conflicting labels of {file.FileName} changed nothing (the scorer would dead-letter them)");
        }

        return description;
    }

    private static TrainingSet Featurise(
        FeatureSpec spec, string path, long bytes, bool sort, LabelFeed? labels, ITrainingObserver observer, CancellationToken cancellationToken)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        using var csv = new CanonicalCsvReader(new StreamReader(file, Encoding.UTF8, true, 1 << 16), leaveOpen: false);
        if (!csv.HasLabels)
        {
            throw new TrainingException(
                $"{Path.GetFileName(path)} has no is_fraud column; training needs labelled history (columns: {CanonicalCsv.Header})");
        }

        // Capacity from the file size (about 100 bytes per generated row) avoids most array growth.
        var capacity = (int)Math.Min(bytes / 90, 50_000_000);
        if (!sort)
        {
            return TrainingSet.Build(spec, InOrder(csv, file, bytes, observer, cancellationToken), labels, capacity);
        }

        var all = new List<Transaction>(capacity);
        while (csv.TryRead(out var tx))
        {
            all.Add(tx);
            if (all.Count % ProgressEvery == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                observer.InputProgress(file.Position / 2, bytes, all.Count);
            }
        }

        // Stable: equal event times keep file order, which is arrival order.
        var ordered = all.OrderBy(t => t.EventTimeMs).ToList();
        all.Clear();
        return TrainingSet.Build(spec, Counted(ordered, bytes, observer, cancellationToken), labels, ordered.Count);
    }

    private static IEnumerable<Transaction> InOrder(
        CanonicalCsvReader csv, FileStream file, long bytes, ITrainingObserver observer, CancellationToken cancellationToken)
    {
        var previous = long.MinValue;
        long rows = 0;
        while (csv.TryRead(out var tx))
        {
            if (tx.EventTimeMs < previous)
            {
                ThrowOutOfOrder(csv.LineNumber);
            }

            previous = tx.EventTimeMs;
            yield return tx;
            if (++rows % ProgressEvery == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                observer.InputProgress(file.Position, bytes, rows);
            }
        }

        observer.InputProgress(bytes, bytes, rows);
    }

    private static IEnumerable<Transaction> Counted(List<Transaction> rows, long bytes, ITrainingObserver observer, CancellationToken cancellationToken)
    {
        for (var i = 0; i < rows.Count; i++)
        {
            yield return rows[i];
            if ((i + 1) % ProgressEvery == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                observer.InputProgress((bytes / 2) + (long)((double)(i + 1) / rows.Count * (bytes / 2)), bytes, i + 1);
            }
        }

        observer.InputProgress(bytes, bytes, rows.Count);
    }

    [DoesNotReturn]
    private static void ThrowOutOfOrder(long line) => throw new OutOfOrderException(line);

    private sealed class OutOfOrderException(long line) : Exception($"line {line} is out of event-time order")
    {
        public long Line { get; } = line;
    }
}
