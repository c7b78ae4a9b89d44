using System.Text;
using StreamFraud.Core.Data;

namespace StreamFraud.Training.Pipeline;

/// <summary>
/// The event-time span of a canonical CSV without featurising it, so the split flags can be checked against the data
/// before the long read: <see cref="Peek"/> reads the header, the first and the last row (a CSV in event-time order
/// spans from one to the other); <see cref="Scan"/> reads the <c>event_time</c> of every row, for when the peek
/// suggests a problem and the file might not be sorted.
/// </summary>
public static class InputSpan
{
    private const int TailBytes = 64 * 1024;

    /// <summary>The event times of the first and last rows, or null when the file cannot be read this way (missing,
    /// not a CSV, a last row spanning more than 64 KiB); the full read reports such problems.</summary>
    public static DataSpan? Peek(string csvPath)
    {
        ArgumentNullException.ThrowIfNull(csvPath);
        try
        {
            using var file = new FileStream(csvPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            string? header, first;
            using (var reader = new StreamReader(file, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, leaveOpen: true))
            {
                header = reader.ReadLine();
                first = reader.ReadLine();
            }

            if (header is null || string.IsNullOrWhiteSpace(first))
            {
                return null;
            }

            file.Seek(Math.Max(0, file.Length - TailBytes), SeekOrigin.Begin);
            var tail = new byte[(int)Math.Min(TailBytes, file.Length)];
            file.ReadExactly(tail);
            var lines = Encoding.UTF8.GetString(tail).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (lines.Length == 0 || (file.Length > TailBytes && lines.Length < 2))
            {
                return null; // the last row is not whole in the tail
            }

            var rows = CanonicalCsv.Read(new StringReader($"{header}\n{first}\n{lines[^1]}\n")).ToList();
            return rows.Count == 2 ? new DataSpan(Math.Min(rows[0].EventTimeMs, rows[1].EventTimeMs), Math.Max(rows[0].EventTimeMs, rows[1].EventTimeMs), 2) : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CanonicalCsvException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>The earliest and latest event time over every row, or null when the file cannot be read (the full
    /// read reports why).</summary>
    public static DataSpan? Scan(string csvPath, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(csvPath);
        try
        {
            long first = long.MaxValue, last = long.MinValue, rows = 0;
            foreach (var t in CanonicalCsv.Read(csvPath))
            {
                cancellationToken.ThrowIfCancellationRequested();
                first = Math.Min(first, t.EventTimeMs);
                last = Math.Max(last, t.EventTimeMs);
                rows++;
            }

            return rows == 0 ? null : new DataSpan(first, last, rows);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CanonicalCsvException)
        {
            return null;
        }
    }
}
