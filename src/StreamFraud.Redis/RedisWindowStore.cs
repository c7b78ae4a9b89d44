using System.Buffers.Binary;
using StackExchange.Redis;
using StreamFraud.Core.Features;
using StreamFraud.Core.Windows;

namespace StreamFraud.Redis;

/// <summary>Options of <see cref="RedisWindowStore"/>.</summary>
public sealed record RedisWindowStoreOptions
{
    /// <summary>
    /// Key prefix; a backtest uses its own so it never touches live state. Keys are <c>{prefix}c:{cardId}</c> (state)
    /// and <c>{prefix}u:{cardId}</c> (undo), see <see cref="RedisWindowStore.Key(string, KeyKind)"/>.
    /// </summary>
    public string KeyPrefix { get; init; } = "sf:";

    /// <summary>
    /// Migration from the previous key scheme (<c>{legacy prefix}{cardId}</c>, e.g. <c>sf:card:</c>): when set, a card
    /// with no state under its key is read from its old key (one more <c>MGET</c> for such cards), applied, and written
    /// under its new key; the old key is left to expire. Card ids ending in <c>:undo</c> never fall back (their old
    /// key may be another card's undo copy). Null (default): old keys are not read.
    /// </summary>
    public string? LegacyKeyPrefix { get; init; }

    /// <summary>Idle cards expire after this long (refreshed on every write).</summary>
    public TimeSpan IdleTtl { get; init; } = TimeSpan.FromDays(60);

    /// <summary>Card states kept in this process between batches (approximate LRU); 0 disables the cache.</summary>
    public int CacheCapacity { get; init; } = 200_000;

    /// <summary>
    /// Exactly-once mode: keep each card's state from before its last write under its undo key. A batch whose
    /// Kafka transaction aborted after its states were written is then re-applied on the undo state, so every event
    /// gets back its exact window (and alert) instead of being seen as a duplicate.
    /// </summary>
    public bool KeepUndo { get; init; }
}

/// <summary>Which key of a card (<see cref="RedisWindowStore.Key(string, KeyKind)"/>).</summary>
public enum KeyKind
{
    /// <summary>The card's state, <c>{prefix}c:{cardId}</c>.</summary>
    State = 0,

    /// <summary>The card's state before its last write (exactly-once mode), <c>{prefix}u:{cardId}</c>.</summary>
    Undo = 1,
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
    // One compare-and-set over the batch's changed cards. KEYS: n card keys, then (undo mode) their n undo keys.
    // ARGV[1] ttl ms; ARGV[2] '1' in undo mode; then per card: expected 8-byte version ('' = absent), new value, and
    // (undo mode) the undo value ('' = delete). Returns {i, current value, ...} for each card whose version did not
    // match (nothing written for it).
    private const string CompareAndSetScript = """
        local ttl = ARGV[1]
        local undo = ARGV[2] == '1'
        local per = 2
        local n = #KEYS
        if undo then per = 3; n = #KEYS / 2 end
        local conflicts = {}
        for i = 1, n do
          local at = 3 + per * (i - 1)
          local expected = ARGV[at]
          local cur = redis.call('GET', KEYS[i])
          local ok
          if cur then ok = (string.sub(cur, 1, 8) == expected) else ok = (expected == '') end
          if ok then
            redis.call('SET', KEYS[i], ARGV[at + 1], 'PX', ttl)
            if undo then
              local before = ARGV[at + 2]
              if before == '' then redis.call('DEL', KEYS[n + i]) else redis.call('SET', KEYS[n + i], before, 'PX', ttl) end
            end
          else
            conflicts[#conflicts + 1] = i
            conflicts[#conflicts + 1] = cur or ''
          end
        end
        return conflicts
        """;

    // The undo value of a card that had no state: version 0, empty state (redo then starts from nothing).
    private static readonly byte[] EmptyUndo = new byte[8];

    private readonly IDatabase _db;
    private readonly RedisWindowStoreOptions _options;
    private readonly CardBatchApplier _applier;
    private readonly StateCache _cache;
    private readonly CardState _probe;
    private readonly Dictionary<string, byte[]?> _current = new(StringComparer.Ordinal); // scratch of one PrepareAsync
    private readonly Dictionary<string, byte[]?> _undo = new(StringComparer.Ordinal); // scratch of one PrepareAsync
    private readonly Dictionary<string, byte[]> _legacy = new(StringComparer.Ordinal); // scratch of one PrepareAsync
    private readonly Dictionary<string, byte[]?> _bases = new(StringComparer.Ordinal); // scratch of one PrepareAsync
    private readonly List<string> _cold = [];
    private byte[]? _scriptSha;

    /// <summary>Creates a store over <paramref name="database"/>.</summary>
    public RedisWindowStore(IDatabase database, FeatureSpec spec, RedisWindowStoreOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        _db = database;
        _options = options ?? new RedisWindowStoreOptions();
        _applier = new CardBatchApplier(spec);
        _cache = new StateCache(_options.CacheCapacity);
        _probe = new CardState(spec);
    }

    /// <summary>Round trips made (for metrics and tests).</summary>
    public long RoundTrips { get; private set; }

    /// <summary>Compare-and-set conflicts resolved.</summary>
    public long Conflicts { get; private set; }

    /// <summary>Stored values replaced because they were corrupt or of another feature spec.</summary>
    public long ResetStates { get; private set; }

    /// <summary>The Redis key of a card's state: <c>{prefix}c:{cardId}</c>.</summary>
    public RedisKey Key(string cardId) => Key(cardId, KeyKind.State);

    /// <summary>
    /// The one place keys are built: <c>{prefix}{kind tag}:{cardId}</c>, the tag (<c>c</c> state, <c>u</c> undo)
    /// before the card id. Keys of different kinds differ right after the prefix and keys of one kind differ only in
    /// the card id, so no card id can name another card's key or any undo key (the previous scheme,
    /// <c>{prefix}{cardId}</c> and <c>{prefix}{cardId}:undo</c>, let card <c>X:undo</c> write card X's undo state).
    /// </summary>
    public RedisKey Key(string cardId, KeyKind kind)
    {
        ArgumentNullException.ThrowIfNull(cardId);
        return string.Concat(_options.KeyPrefix, kind == KeyKind.Undo ? "u:" : "c:", cardId);
    }

    /// <inheritdoc />
    public void ForgetCachedState() => _cache.Clear();

    /// <summary>The undo key of a card (exactly-once mode): <c>{prefix}u:{cardId}</c>.</summary>
    public RedisKey UndoKey(string cardId) => Key(cardId, KeyKind.Undo);

    /// <inheritdoc />
    public async Task<PreparedWrites> PrepareAsync(WindowBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var groups = _applier.Group(batch);
        var current = _current;
        var undo = _undo;
        var cold = _cold;
        current.Clear();
        undo.Clear();
        cold.Clear();
        _legacy.Clear();
        foreach (var card in groups.Keys)
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
            var keys = new RedisKey[_options.KeepUndo ? 2 * cold.Count : cold.Count];
            for (var i = 0; i < cold.Count; i++)
            {
                keys[i] = Key(cold[i]);
                if (_options.KeepUndo)
                {
                    keys[cold.Count + i] = UndoKey(cold[i]);
                }
            }

            var values = await _db.StringGetAsync(keys).WaitAsync(cancellationToken).ConfigureAwait(false);
            RoundTrips++;
            for (var i = 0; i < cold.Count; i++)
            {
                current[cold[i]] = values[i].IsNull ? null : (byte[])values[i]!;
                if (_options.KeepUndo)
                {
                    undo[cold[i]] = values[cold.Count + i].IsNull ? null : (byte[])values[cold.Count + i]!;
                }
            }

            await ReadLegacyAsync(cold, current, cancellationToken).ConfigureAwait(false);
        }

        // Loads each card's base state, applies the batch's events in batch order and collects the changed states.
        var writes = new Writes(this);
        var bases = _bases;
        bases.Clear();
        foreach (var (card, indices) in groups)
        {
            var stored = current[card];
            var baseValue = stored ?? _legacy.GetValueOrDefault(card); // a card not yet migrated: its old key's state
            if (_options.KeepUndo && stored is not null && undo.GetValueOrDefault(card) is { } undone && ReappliesAbortedWrite(batch, indices, stored, undone))
            {
                baseValue = undone; // the last write belonged to an aborted transaction: redo it from the state before it
            }

            bases[card] = baseValue;
            var load = _applier.Load(card, baseValue is not { Length: > 8 } ? ReadOnlySpan<byte>.Empty : baseValue.AsSpan(8)); // too short: a fresh card
            if (load is StateLoadStatus.Corrupt or StateLoadStatus.SpecMismatch)
            {
                ResetStates++;
            }
        }

        _applier.Apply(batch);
        foreach (var card in groups.Keys)
        {
            var stored = current[card];
            var updated = _applier.Result(card);
            if (updated is null)
            {
                if (!_legacy.ContainsKey(card))
                {
                    _cache.Set(card, stored); // unchanged: what we read is what is stored (an old key is read again)
                }

                continue;
            }

            var version = stored is null || stored.Length < 8 ? 0 : BinaryPrimitives.ReadInt64LittleEndian(stored);
            var value = new byte[8 + updated.Length];
            BinaryPrimitives.WriteInt64LittleEndian(value, version + 1);
            updated.CopyTo(value, 8);
            writes.States.Add((card, stored, value, bases[card] ?? EmptyUndo));
        }

        return writes;
    }

    /// <inheritdoc />
    public async Task<int> CommitAsync(PreparedWrites writes, CancellationToken cancellationToken = default)
    {
        if (writes is not Writes mine || !ReferenceEquals(mine.Store, this))
        {
            throw new ArgumentException("These writes were prepared by another store.", nameof(writes));
        }

        if (mine.Committed || mine.States.Count == 0)
        {
            return 0;
        }

        RedisResult[] conflicts;
        try
        {
            conflicts = await CompareAndSetAsync(mine.States, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Outcome unknown (a timeout may still execute later): forget what we believe these cards hold. A retry
            // sends the same compare-and-set; if the first one did land, it reports a conflict with our own value,
            // and re-applying the events on it changes nothing.
            foreach (var w in mine.States)
            {
                _cache.Remove(w.Card);
            }

            throw;
        }

        mine.MarkCommitted();
        var conflicted = new HashSet<int>();
        for (var c = 0; c < conflicts.Length; c += 2)
        {
            // The card changed since it was read: cache its current value, so preparing the batch again applies the
            // events on it.
            var i = (int)conflicts[c] - 1;
            conflicted.Add(i);
            var now = (byte[]?)conflicts[c + 1];
            _cache.Set(mine.States[i].Card, now is { Length: > 0 } ? now : null);
        }

        for (var i = 0; i < mine.States.Count; i++)
        {
            if (!conflicted.Contains(i))
            {
                _cache.Set(mine.States[i].Card, mine.States[i].Value);
            }
        }

        Conflicts += conflicted.Count;
        return conflicted.Count;
    }

    /// <summary>Reads the old keys of cold cards that have no state under their key (migration; see <see cref="RedisWindowStoreOptions.LegacyKeyPrefix"/>).</summary>
    private async Task ReadLegacyAsync(List<string> cold, Dictionary<string, byte[]?> current, CancellationToken cancellationToken)
    {
        if (_options.LegacyKeyPrefix is not { Length: > 0 } legacyPrefix)
        {
            return;
        }

        var missing = cold.Where(c => current[c] is null && !c.EndsWith(":undo", StringComparison.Ordinal)).ToList();
        if (missing.Count == 0)
        {
            return;
        }

        var keys = missing.Select(c => (RedisKey)(legacyPrefix + c)).ToArray();
        var values = await _db.StringGetAsync(keys).WaitAsync(cancellationToken).ConfigureAwait(false);
        RoundTrips++;
        for (var i = 0; i < missing.Count; i++)
        {
            if (!values[i].IsNull)
            {
                _legacy[missing[i]] = (byte[])values[i]!;
            }
        }
    }

    /// <summary>
    /// Whether some of these events are in the card's state (at or below its watermark) but not in its undo state:
    /// then the state's last write came from a batch now being redelivered, i.e. its transaction aborted.
    /// </summary>
    private bool ReappliesAbortedWrite(WindowBatch batch, List<int> indices, byte[] stored, byte[] undo)
    {
        if (stored.Length <= 8 || _probe.Load(stored.AsSpan(8)) != StateLoadStatus.Loaded)
        {
            return false;
        }

        var current = _probe.HighWatermark;
        var before = SourcePosition.None; // undo of a card that had no state before its last write
        var legacyUndo = false;
        if (undo.Length > 8)
        {
            if (_probe.Load(undo.AsSpan(8)) != StateLoadStatus.Loaded)
            {
                return false;
            }

            before = _probe.HighWatermark;
            // An undo state written in state format 1 has no source identity; it was written by this topic's scorer
            // just before the upgrade, so its watermark is compared by partition and offset alone.
            legacyUndo = before.Source == SourcePosition.UnknownSource && before.Partition >= 0;
        }

        foreach (var i in indices)
        {
            var p = batch.Position(i);
            var inCurrent = p.IsAtOrBelow(current);
            var inUndo = legacyUndo
                ? p.IsKnown && p.Partition == before.Partition && p.Offset <= before.Offset
                : p.IsAtOrBelow(before);
            if (inCurrent && !inUndo)
            {
                return true;
            }
        }

        return false;
    }

    private async Task<RedisResult[]> CompareAndSetAsync(List<(string Card, byte[]? Expected, byte[] Value, byte[]? Undo)> writes, CancellationToken cancellationToken)
    {
        var undo = _options.KeepUndo;
        var n = writes.Count;
        var keys = new RedisKey[undo ? 2 * n : n];
        var per = undo ? 3 : 2;
        var args = new RedisValue[2 + (per * n)];
        args[0] = (long)_options.IdleTtl.TotalMilliseconds;
        args[1] = undo ? "1" : "0";
        for (var i = 0; i < n; i++)
        {
            keys[i] = Key(writes[i].Card);
            // The script compares the stored value's first 8 bytes; a shorter (foreign) value is compared whole.
            args[2 + (per * i)] = writes[i].Expected is { } e ? e.AsMemory(0, Math.Min(8, e.Length)) : RedisValue.EmptyString;
            args[3 + (per * i)] = writes[i].Value;
            if (undo)
            {
                keys[n + i] = UndoKey(writes[i].Card);
                args[4 + (per * i)] = writes[i].Undo ?? RedisValue.EmptyString;
            }
        }

        RedisResult result;
        try
        {
            // EVALSHA (the script body travels once per connection), falling back to EVAL after a server restart.
            _scriptSha ??= await LoadScriptAsync(CompareAndSetScript).ConfigureAwait(false);
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

    private async Task<byte[]> LoadScriptAsync(string script)
    {
        var sha = await _db.ExecuteAsync("SCRIPT", "LOAD", script).ConfigureAwait(false);
        RoundTrips++;
        return Convert.FromHexString((string)sha!);
    }

    private sealed class Writes(RedisWindowStore store) : PreparedWrites
    {
        public RedisWindowStore Store { get; } = store;

        public List<(string Card, byte[]? Expected, byte[] Value, byte[]? Undo)> States { get; } = [];

        public override int Cards => States.Count;

        public void MarkCommitted() => Committed = true;
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

        public void Remove(string card)
        {
            _young.Remove(card);
            _old.Remove(card);
        }

        public void Clear()
        {
            _young.Clear();
            _old.Clear();
        }
    }
}
