namespace StreamFraud.Core.Quality;

/// <summary>
/// What the scorer decided about one transaction, kept so that a label arriving days later can be joined with it
/// (<see cref="LiveQuality"/>): written for every alert when it is published, and for a labelled transaction that had
/// no alert when its first label arrives (so a later flip of that label is attributed to the same version).
/// </summary>
/// <param name="TransactionId">The transaction.</param>
/// <param name="CardId">Its card (a record of another card with the same transaction id does not match a label).</param>
/// <param name="ModelVersion">The bundle that raised the alert; for a transaction without alert, the version serving when its first label arrived.</param>
/// <param name="Alerted">Whether the scorer alerted on it.</param>
/// <param name="Score">The ensemble score of the alert (NaN without alert).</param>
/// <param name="Threshold">The threshold it was compared with (NaN without alert).</param>
/// <param name="DecidedAtMs">When the alert was scored, or when the first label of a transaction without alert was joined, Unix ms UTC.</param>
public sealed record DecisionRecord(
    string TransactionId, string CardId, string ModelVersion, bool Alerted, double Score, double Threshold, long DecidedAtMs);

/// <summary>
/// Where decision records live (Redis in the scorer, <c>{prefix}d:{transaction_id}</c> with a TTL; memory in tests). A
/// record is small (ids, version, two numbers, a time) and exists only for alerts and labelled transactions, so the log
/// costs one pipelined write per batch that has alerts and one read per batch of labels.
/// </summary>
public interface IDecisionLog
{
    /// <summary>
    /// Writes <paramref name="records"/>. <paramref name="onlyIfAbsent"/>: keep a record that exists (attributions of
    /// labelled transactions never replace an alert's record); otherwise replace it (an alert re-scored after an
    /// aborted transaction records the version that finally alerted).
    /// </summary>
    Task WriteAsync(IReadOnlyList<DecisionRecord> records, bool onlyIfAbsent, CancellationToken cancellationToken = default);

    /// <summary>The record of each transaction id (null: none, or expired), in the same order.</summary>
    Task<IReadOnlyList<DecisionRecord?>> ReadAsync(IReadOnlyList<string> transactionIds, CancellationToken cancellationToken = default);
}

/// <summary>Decision log in process memory, for tests and replays. Thread-safe; records never expire.</summary>
public sealed class InMemoryDecisionLog : IDecisionLog
{
    private readonly Dictionary<string, DecisionRecord> _records = new(StringComparer.Ordinal);

    /// <summary>Records held.</summary>
    public int Count
    {
        get
        {
            lock (_records)
            {
                return _records.Count;
            }
        }
    }

    /// <inheritdoc />
    public Task WriteAsync(IReadOnlyList<DecisionRecord> records, bool onlyIfAbsent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        lock (_records)
        {
            foreach (var r in records)
            {
                if (!onlyIfAbsent || !_records.ContainsKey(r.TransactionId))
                {
                    _records[r.TransactionId] = r;
                }
            }
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task<IReadOnlyList<DecisionRecord?>> ReadAsync(IReadOnlyList<string> transactionIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transactionIds);
        var result = new DecisionRecord?[transactionIds.Count];
        lock (_records)
        {
            for (var i = 0; i < result.Length; i++)
            {
                result[i] = _records.GetValueOrDefault(transactionIds[i]);
            }
        }

        return Task.FromResult<IReadOnlyList<DecisionRecord?>>(result);
    }
}
