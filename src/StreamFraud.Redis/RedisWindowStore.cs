using System.Buffers.Binary;
using StackExchange.Redis;
using StreamFraud.Core.Features;
using StreamFraud.Core.Windows;

namespace StreamFraud.Redis;

/// <summary>Options of <see cref="RedisWindowStore"/>.</summary>
public sealed record RedisWindowStoreOptions
{
    /// <summary>Key prefix; a backtest uses its own so it never touches live state.</summary>
    public string KeyPrefix { get; init; } = "sf:card:";

    /// <summary>Idle cards expire after this long (refreshed on every write).</summary>
    public TimeSpan IdleTtl { get; init; } = TimeSpan.FromDays(60);

    /// <summary>Card states kept in this process between batches (approximate LRU); 0 disables the cache.</summary>
    public int CacheCapacity { get; init; } = 200_000;

    /// <summary>Attempts when another writer changed a card between read and write.</summary>
    public int MaxConflictRetries { get; init; } = 5;
}

/// <summary>
/// Window store in Redis: one string value per card, <c>[8-byte version][card state]</c>, with an idle TTL.
/// A batch costs one round trip for cards whose state this process already holds (the common case while it owns
/// their partitions) and two when some cards are cold (one <c>MGET</c> first):
/// <list type="number">
/// <item>features are computed here, from the cached or fetched state, by the same code the trainer uses;</item>
/// <item>one Lua script then writes every changed card atomically, compare-and-set on the version it started from.</item>
/// </list>
/// A card changed in between (a zombie consumer, a partition moved away and back) is a conflict: the script returns
/// its current value, the events are re-applied on it and written again. Re-applying an already-applied event leaves
/// a state unchanged, so redelivery never writes. Keys of one batch must live on one node (single Redis or a
/// primary; for Redis Cluster, prefix with a hash tag).
/// </summary>
public sealed class RedisWindowStore : IWindowStore
{
    // KEYS[i] card keys; ARGV[1] ttl ms; ARGV[2i] expected 8-byte version ('' = absent); ARGV[2i+1] new value.
    // Returns {i, current value, ...} for each key whose version did not match (nothing written for it).
    private const string CompareAndSetScript = """
        local ttl = ARGV[1]
        local conflicts = {}
        for i = 1, #KEYS do
          local expected = ARGV[2 * i]
          local cur = redis.call('GET', KEYS[i])
          local ok
          if cur then ok = (string.sub(cur, 1, 8) == expected) else ok = (expected == '') end
          if ok then
            redis.call('SET', KEYS[i], ARGV[2 * i + 1], 'PX', ttl)
          else
            conflicts[#conflicts + 1] = i
            conflicts[#conflicts + 1] = cur or ''
          end
        end
        return conflicts
        """;

    private readonly IDatabase _db;
    private readonly RedisWindowStoreOptions _options;
    private readonly CardBatchApplier _applier;
    private readonly StateCache _cache;
    private byte[]? _scriptSha;

    /// <summary>Creates a store over <paramref name="database"/>.</summary>
    public RedisWindowStore(IDatabase database, FeatureSpec spec, RedisWindowStoreOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        _db = database;
        _options = options ?? new RedisWindowStoreOptions();
        _applier = new CardBatchApplier(spec);
        _cache = new StateCache(_options.CacheCapacity);
    }

    /// <summary>Round trips made (for metrics and tests).</summary>
    public long RoundTrips { get; private set; }

    /// <summary>Compare-and-set conflicts resolved.</summary>
    public long Conflicts { get; private set; }

    /// <summary>Stored values replaced because they were corrupt or of another feature spec.</summary>
    public long ResetStates { get; private set; }

    /// <summary>The Redis key of a card.</summary>
    public RedisKey Key(string cardId) => _options.KeyPrefix + cardId;

    /// <summary>Forgets cached states (e.g. when partitions are revoked); correctness never depends on the cache.</summary>
    public void ClearCache() => _cache.Clear();

    /// <inheritdoc />
    public async Task ApplyAsync(WindowBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var groups = _applier.Group(batch);
        var cards = new List<(string Card, List<int> Indices)>(groups.Count);
        foreach (var (card, indices) in groups)
        {
            cards.Add((card, indices));
        }

        // Current values: from the cache, else one MGET for all cold cards.
        var current = new Dictionary<string, byte[]?>(cards.Count, StringComparer.Ordinal);
        var cold = new List<string>();
        foreach (var (card, _) in cards)
        {
            if (_cache.TryGet(card, out var value))
            {
                current[card] = value;
            }
            else
            {
                cold.Add(card);
            }
        }

        if (cold.Count > 0)
        {
            var keys = new RedisKey[cold.Count];
            for (var i = 0; i < keys.Length; i++)
            {
                keys[i] = Key(cold[i]);
            }

            var values = await _db.StringGetAsync(keys).WaitAsync(cancellationToken).ConfigureAwait(false);
            RoundTrips++;
            for (var i = 0; i < cold.Count; i++)
            {
                current[cold[i]] = values[i].IsNull ? null : (byte[])values[i]!;
            }
        }

        var pending = cards;
        for (var attempt = 0; ; attempt++)
        {
            var writes = new List<(string Card, byte[]? Expected, byte[] Value)>(pending.Count);
            foreach (var (card, indices) in pending)
            {
                var stored = current[card];
                var state = stored is null ? ReadOnlySpan<byte>.Empty : stored.AsSpan(8);
                var updated = _applier.Apply(batch, indices, state, out var load);
                if (load is StateLoadStatus.Corrupt or StateLoadStatus.SpecMismatch)
                {
                    ResetStates++;
                }

                if (updated is null)
                {
                    _cache.Set(card, stored); // unchanged: what we read is what is stored
                    continue;
                }

                var version = stored is null || stored.Length < 8 ? 0 : BinaryPrimitives.ReadInt64LittleEndian(stored);
                var value = new byte[8 + updated.Length];
                BinaryPrimitives.WriteInt64LittleEndian(value, version + 1);
                updated.CopyTo(value, 8);
                writes.Add((card, stored, value));
            }

            if (writes.Count == 0)
            {
                return;
            }

            var conflicts = await CompareAndSetAsync(writes, cancellationToken).ConfigureAwait(false);
            var retry = new List<(string Card, List<int> Indices)>();
            var conflicted = new HashSet<int>();
            for (var c = 0; c < conflicts.Length; c += 2)
            {
                var i = (int)conflicts[c] - 1;
                conflicted.Add(i);
                var now = (byte[]?)conflicts[c + 1];
                current[writes[i].Card] = now is { Length: > 0 } ? now : null;
                retry.Add((writes[i].Card, groups[writes[i].Card]));
            }

            for (var i = 0; i < writes.Count; i++)
            {
                if (!conflicted.Contains(i))
                {
                    _cache.Set(writes[i].Card, writes[i].Value);
                }
            }

            if (retry.Count == 0)
            {
                return;
            }

            Conflicts += retry.Count;
            if (attempt + 1 >= _options.MaxConflictRetries)
            {
                throw new InvalidOperationException(
                    $"{retry.Count} card state(s) kept changing under this scorer ({_options.MaxConflictRetries} attempts), e.g. key '{Key(retry[0].Card)}'. " +
                    "Another consumer is writing the same cards: check that only one scorer group consumes the topic with this key prefix.");
            }

            pending = retry;
        }
    }

    private async Task<RedisResult[]> CompareAndSetAsync(List<(string Card, byte[]? Expected, byte[] Value)> writes, CancellationToken cancellationToken)
    {
        var keys = new RedisKey[writes.Count];
        var args = new RedisValue[1 + (2 * writes.Count)];
        args[0] = (long)_options.IdleTtl.TotalMilliseconds;
        for (var i = 0; i < writes.Count; i++)
        {
            keys[i] = Key(writes[i].Card);
            args[1 + (2 * i)] = writes[i].Expected is { Length: >= 8 } e ? e.AsMemory(0, 8) : RedisValue.EmptyString;
            args[2 + (2 * i)] = writes[i].Value;
        }

        RedisResult result;
        try
        {
            // EVALSHA (the script body travels once per connection), falling back to EVAL after a server restart.
            _scriptSha ??= await LoadScriptAsync().ConfigureAwait(false);
            result = await _db.ScriptEvaluateAsync(_scriptSha, keys, args).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            result = await _db.ScriptEvaluateAsync(CompareAndSetScript, keys, args).WaitAsync(cancellationToken).ConfigureAwait(false);
            _scriptSha = null;
        }

        RoundTrips++;
        return (RedisResult[])result!;
    }

    private async Task<byte[]> LoadScriptAsync()
    {
        var sha = await _db.ExecuteAsync("SCRIPT", "LOAD", CompareAndSetScript).ConfigureAwait(false);
        RoundTrips++;
        return Convert.FromHexString((string)sha!);
    }

    /// <summary>Two-generation approximate LRU of card values (null = known absent).</summary>
    private sealed class StateCache(int capacity)
    {
        private Dictionary<string, byte[]?> _young = new(StringComparer.Ordinal);
        private Dictionary<string, byte[]?> _old = new(StringComparer.Ordinal);

        public bool TryGet(string card, out byte[]? value)
        {
            if (capacity <= 0)
            {
                value = null;
                return false;
            }

            if (_young.TryGetValue(card, out value))
            {
                return true;
            }

            if (_old.Remove(card, out value))
            {
                Set(card, value);
                return true;
            }

            return false;
        }

        public void Set(string card, byte[]? value)
        {
            if (capacity <= 0)
            {
                return;
            }

            _young[card] = value;
            if (_young.Count >= (capacity + 1) / 2)
            {
                _old = _young;
                _young = new Dictionary<string, byte[]?>(StringComparer.Ordinal);
            }
        }

        public void Clear()
        {
            _young.Clear();
            _old.Clear();
        }
    }
}
