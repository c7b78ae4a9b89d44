using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json.Serialization;
using StreamFraud.Core;
using StreamFraud.Core.Data;
using StreamFraud.Core.Features;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Training.Data;

namespace StreamFraud.Training.Pipeline;

/// <summary>The two input formats (<c>csv</c>, <c>npz</c> in reports).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<InputFormat>))]
public enum InputFormat
{
    /// <summary>Canonical CSV of raw transactions, featurised with <c>card</c> v1.</summary>
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
}

/// <summary>An input read and featurised.</summary>
/// <param name="Examples">Candidate examples.</param>
/// <param name="Description">What the file held.</param>
/// <param name="Warnings">Problems worth telling the user (invalid rows, re-sorting).</param>
public sealed record LoadedInput(ExampleSource Examples, InputDescription Description, IReadOnlyList<string> Warnings);

/// <summary>
/// Reads the trainer's input. A CSV is streamed through <see cref="TrainingSet.Build(FeatureSpec, IEnumerable{Transaction}, int)"/> (the scorer's own feature code)
/// in event-time order: when the file is not sorted by <c>event_time</c>, it is read again, sorted (stable, so equal
/// times keep file order) and featurised, with a warning. An <c>.npz</c> is read whole.
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

    /// <summary>Reads and featurises <paramref name="path"/>.</summary>
    /// <exception cref="TrainingException">The file is missing or unreadable; the message says why and what to do.</exception>
    public static LoadedInput Load(string path, ITrainingObserver? observer = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        observer ??= NullTrainingObserver.Instance;
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

        try
        {
            var sha = BundleRegistry.Sha256(full);
            return DetectFormat(full) == InputFormat.Npz
                ? LoadNpz(full, sha)
                : LoadCsv(full, sha, observer, cancellationToken);
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

    private static LoadedInput LoadCsv(string path, string sha, ITrainingObserver observer, CancellationToken cancellationToken)
    {
        var warnings = new List<string>();
        var spec = FeatureSpec.CardV1;
        var bytes = new FileInfo(path).Length;
        TrainingSet set;
        var sorted = false;
        try
        {
            set = Featurise(spec, path, bytes, sort: false, observer, cancellationToken);
        }
        catch (OutOfOrderException e)
        {
            warnings.Add(
                $"the CSV is not in event-time order (line {e.Line} is earlier than the line before it); it was read " +
                "into memory and sorted by event_time (stable) so that every window sees the history the scorer would have seen");
            set = Featurise(spec, path, bytes, sort: true, observer, cancellationToken);
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
        };
        return new LoadedInput(new TransactionExamples(set), description, warnings);
    }

    private static TrainingSet Featurise(
        FeatureSpec spec, string path, long bytes, bool sort, ITrainingObserver observer, CancellationToken cancellationToken)
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
            return TrainingSet.Build(spec, InOrder(csv, file, bytes, observer, cancellationToken), capacity);
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
        return TrainingSet.Build(spec, Counted(ordered, bytes, observer, cancellationToken), ordered.Count);
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
