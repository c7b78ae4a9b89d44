using StackExchange.Redis;

namespace StreamFraud.Redis;

/// <summary>
/// What the stores need to run on Redis Cluster as on one server. A multi-key command or script must name keys of one
/// hash slot only, so in cluster mode reads are one <c>MGET</c> per slot and scripts run once per slot, all sent
/// without waiting (StackExchange.Redis pipelines them on each node's connection: one round trip per node). Redirects
/// while a slot moves (<c>MOVED</c>, <c>ASK</c>) are followed by StackExchange.Redis; the errors that mean "not executed,
/// try again" (<c>TRYAGAIN</c> while a multi-key slot is half migrated, <c>CLUSTERDOWN</c> during a failover) are
/// retried here.
/// </summary>
internal static class ClusterAccess
{
    /// <summary>How long a command refused with a retryable cluster error is retried before the error is thrown.</summary>
    public static readonly TimeSpan RetryFor = TimeSpan.FromSeconds(20);

    /// <summary>Whether the database's connection is to a Redis Cluster.</summary>
    public static bool IsCluster(IDatabase database)
    {
        try
        {
            return database.Multiplexer.GetServers().Any(s => s.ServerType == ServerType.Cluster);
        }
        catch (NotSupportedException)
        {
            return false;
        }
    }

    /// <summary>
    /// Errors a cluster node answers without executing the command (safe to send again): a multi-key command on a slot
    /// being migrated, the cluster down during a failover, a redirect the client could not follow yet, a node still
    /// loading.
    /// </summary>
    public static bool IsNotExecuted(RedisServerException e) =>
        e.Message.StartsWith("TRYAGAIN", StringComparison.Ordinal)
        || e.Message.StartsWith("CLUSTERDOWN", StringComparison.Ordinal)
        || e.Message.StartsWith("MOVED", StringComparison.Ordinal)
        || e.Message.StartsWith("ASK", StringComparison.Ordinal)
        || e.Message.StartsWith("LOADING", StringComparison.Ordinal);

    /// <summary>Runs <paramref name="call"/>, sending it again (with a growing pause) while it is refused unexecuted.</summary>
    public static async Task<T> RetryUnexecutedAsync<T>(Func<Task<T>> call, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + RetryFor;
        var pause = 5;
        while (true)
        {
            try
            {
                return await call().ConfigureAwait(false);
            }
            catch (RedisServerException e) when (IsNotExecuted(e) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(pause, cancellationToken).ConfigureAwait(false);
                pause = Math.Min(pause * 2, 500);
            }
        }
    }

    /// <summary>
    /// The values of <paramref name="keys"/> in order: one <c>MGET</c> on a single server; in cluster mode one
    /// <c>MGET</c> (or <c>GET</c>) per hash slot, all pipelined.
    /// </summary>
    public static async Task<RedisValue[]> GetAsync(IDatabase database, bool cluster, RedisKey[] keys, CancellationToken cancellationToken)
    {
        if (!cluster)
        {
            return await database.StringGetAsync(keys).WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        var values = new RedisValue[keys.Length];
        var reads = new List<Task>();
        foreach (var group in BySlot(database, keys))
        {
            reads.Add(group.Length == 1 ? ReadOne(group[0]) : ReadMany(group));
        }

        await Task.WhenAll(reads).WaitAsync(cancellationToken).ConfigureAwait(false);
        return values;

        async Task ReadOne(int i) =>
            values[i] = await RetryUnexecutedAsync(() => database.StringGetAsync(keys[i]), cancellationToken).ConfigureAwait(false);

        async Task ReadMany(int[] group)
        {
            var slotKeys = Array.ConvertAll(group, i => keys[i]);
            var got = await RetryUnexecutedAsync(() => database.StringGetAsync(slotKeys), cancellationToken).ConfigureAwait(false);
            for (var j = 0; j < group.Length; j++)
            {
                values[group[j]] = got[j];
            }
        }
    }

    /// <summary>Indices of <paramref name="keys"/> grouped by hash slot, in first-seen order of the slots.</summary>
    public static List<int[]> BySlot(IDatabase database, IReadOnlyList<RedisKey> keys)
    {
        var slots = new Dictionary<int, List<int>>();
        var order = new List<List<int>>();
        for (var i = 0; i < keys.Count; i++)
        {
            var slot = database.Multiplexer.HashSlot(keys[i]);
            if (!slots.TryGetValue(slot, out var list))
            {
                slots.Add(slot, list = []);
                order.Add(list);
            }

            list.Add(i);
        }

        return order.ConvertAll(l => l.ToArray());
    }

    /// <summary>
    /// The hash tag that places a card's state and undo copy in one slot: <c>{hhhh}</c>, 16 bits of FNV-1a of the id in
    /// hex, so tags cover every one of the 16,384 slots whatever the ids look like (braces, empty ids).
    /// </summary>
    public static string Tag(string id)
    {
        var h = 2166136261u;
        foreach (var c in id)
        {
            h = (h ^ c) * 16777619u;
        }

        return string.Create(6, (h ^ (h >> 16)) & 0xFFFF, static (span, v) =>
        {
            span[0] = '{';
            ((ushort)v).TryFormat(span[1..5], out _, "x4", System.Globalization.CultureInfo.InvariantCulture);
            span[5] = '}';
        });
    }
}
