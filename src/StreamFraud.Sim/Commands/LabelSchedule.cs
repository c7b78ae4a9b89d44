using StreamFraud.Core;
using StreamFraud.Core.Data;
using StreamFraud.Core.Labels;
using StreamFraud.Sim.Generation;

namespace StreamFraud.Sim.Commands;

/// <summary>
/// The labels <c>produce --labels</c> interleaves with the transactions: simulated for the transactions as they are
/// sent, or read from a labels CSV. A label is due once the transaction stream has passed its label time; what is left
/// when the stream ends goes out after it.
/// </summary>
internal sealed class LabelSchedule
{
    private readonly LabelSimulator? _simulator;
    private readonly TransactionLabel[] _file;
    private int _next;

    private LabelSchedule(LabelSimulator? simulator, TransactionLabel[] file)
    {
        _simulator = simulator;
        _file = file;
    }

    /// <summary>Labels of a file that the end of the stream left out: their transactions were never reached (a
    /// <c>--limit</c>, or a labels file for more than the transactions file holds).</summary>
    public long Skipped { get; private set; }

    /// <summary>Verdicts simulated for each transaction sent (<see cref="LabelSimulator"/> with the run's seed).</summary>
    public static LabelSchedule Simulated(ulong seed) => new(new LabelSimulator(seed), []);

    /// <summary>The labels of a labels CSV, ordered by label time (ties in file order). Labels are a small fraction of
    /// the rows, so the file is read whole.</summary>
    /// <exception cref="CanonicalCsvException">The file is not a labels CSV (the message names the flag and file).</exception>
    public static LabelSchedule FromFile(string path)
    {
        try
        {
            return new(null, [.. LabelCsv.Read(path).Select((label, i) => (label, i)).OrderBy(x => x.label.LabelTimeMs).ThenBy(x => x.i).Select(x => x.label)]);
        }
        catch (CanonicalCsvException e)
        {
            throw new CanonicalCsvException($"--labels-input {path}: {e.Message}", e.LineNumber, e.Column);
        }
    }

    /// <summary>A transaction was sent: simulate its verdicts.</summary>
    public void Sent(Transaction transaction) => _simulator?.Observe(transaction);

    /// <summary>The next label whose label time is before <paramref name="beforeMs"/>, the event time of the next
    /// transaction to send.</summary>
    public bool TryTakeDue(long beforeMs, out TransactionLabel label)
    {
        if (_simulator is not null)
        {
            return _simulator.TryTakeDue(beforeMs, out label);
        }

        if (_next < _file.Length && _file[_next].LabelTimeMs < beforeMs)
        {
            label = _file[_next++];
            return true;
        }

        label = null!;
        return false;
    }

    /// <summary>The labels still pending after the last transaction: all simulated ones; of a file, those whose
    /// transaction the stream reached (event time up to <paramref name="lastEventMs"/>), the rest counted in
    /// <see cref="Skipped"/>.</summary>
    public IEnumerable<TransactionLabel> TakeRest(long? lastEventMs)
    {
        if (_simulator is not null)
        {
            foreach (var label in _simulator.TakeAll())
            {
                yield return label;
            }

            yield break;
        }

        for (; _next < _file.Length; _next++)
        {
            var label = _file[_next];
            if (lastEventMs is { } last && label.EventTimeMs <= last)
            {
                yield return label;
            }
            else
            {
                Skipped++;
            }
        }
    }
}
