using System.Globalization;
using StackExchange.Redis;
using StreamFraud.Core.Quality;

namespace StreamFraud.Redis;

/// <summary>Options of <see cref="RedisDecisionLog"/>.</summary>
public sealed record RedisDecisionLogOptions
{
    /// <summary>Key prefix, the window store's (<c>Redis:KeyPrefix</c>): records are <c>{prefix}d:{transaction_id}</c>.</summary>
    public string KeyPrefix { get; init; } = "sf:";

    /// <summary>
    /// How long a record is kept (default 40 days): longer than the 30 days after which a label changes nothing
    /// (<c>LabelRules.RetentionMs</c>), with room for a label consumer that lags.
    /// </summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromDays(40);
}

/// <summary>
/// Decision records in Redis (<see cref="IDecisionLog"/>): one string per transaction, <c>{prefix}d:{transaction_id}</c>,
/// with a TTL. The <c>d</c> tag keeps them apart from card states (<c>c</c>) and undo copies (<c>u</c>), so no id
/// reaches another kind's key. A value is text: format version, card, model version, alerted, score, threshold and
/// decision time separated by U+001F (ids never hold control characters, <c>TransactionLimits</c>). Writes of one call
/// are pipelined in one batch (one round trip); reads are one <c>MGET</c> (on Redis Cluster one per hash slot, pipelined).
/// </summary>
public sealed class RedisDecisionLog : IDecisionLog
{
    private const char Separator = '\u001f';
    private const string Format = "1";
    private readonly IDatabase _db;
    private readonly RedisDecisionLogOptions _options;
    private readonly bool _cluster;

    /// <summary>Creates a log over <paramref name="database"/>.</summary>
    public RedisDecisionLog(IDatabase database, RedisDecisionLogOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        _db = database;
        _options = options ?? new RedisDecisionLogOptions();
        _cluster = ClusterAccess.IsCluster(database);
    }

    /// <summary>The key of a transaction's record: <c>{prefix}d:{transactionId}</c>.</summary>
    public RedisKey Key(string transactionId) => _options.KeyPrefix + "d:" + transactionId;

    /// <inheritdoc />
    public async Task WriteAsync(IReadOnlyList<DecisionRecord> records, bool onlyIfAbsent, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0)
        {
            return;
        }

        var batch = _db.CreateBatch();
        var writes = new Task[records.Count];
        var when = onlyIfAbsent ? When.NotExists : When.Always;
        for (var i = 0; i < records.Count; i++)
        {
            writes[i] = batch.StringSetAsync(Key(records[i].TransactionId), Encode(records[i]), _options.Ttl, when);
        }

        batch.Execute();
        await Task.WhenAll(writes).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<DecisionRecord?>> ReadAsync(IReadOnlyList<string> transactionIds, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transactionIds);
        if (transactionIds.Count == 0)
        {
            return [];
        }

        var keys = new RedisKey[transactionIds.Count];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = Key(transactionIds[i]);
        }

        var values = await ClusterAccess.GetAsync(_db, _cluster, keys, cancellationToken).ConfigureAwait(false);
        var result = new DecisionRecord?[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            result[i] = values[i].IsNull ? null : Decode(transactionIds[i], values[i].ToString());
        }

        return result;
    }

    /// <summary>The stored text of a record.</summary>
    public static string Encode(DecisionRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return string.Join(Separator,
            Format, record.CardId, record.ModelVersion, record.Alerted ? "1" : "0",
            record.Score.ToString("R", CultureInfo.InvariantCulture), record.Threshold.ToString("R", CultureInfo.InvariantCulture),
            record.DecidedAtMs.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>The record of a stored text; null for a value of another format (treated as no record).</summary>
    public static DecisionRecord? Decode(string transactionId, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split(Separator);
        return parts.Length == 7 && parts[0] == Format && parts[3] is "0" or "1"
            && double.TryParse(parts[4], NumberStyles.Float, CultureInfo.InvariantCulture, out var score)
            && double.TryParse(parts[5], NumberStyles.Float, CultureInfo.InvariantCulture, out var threshold)
            && long.TryParse(parts[6], NumberStyles.Integer, CultureInfo.InvariantCulture, out var at)
            ? new DecisionRecord(transactionId, parts[1], parts[2], parts[3] == "1", score, threshold, at)
            : null;
    }
}
