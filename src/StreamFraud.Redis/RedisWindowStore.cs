using System.Buffers;
using System.Buffers.Binary;
using StackExchange.Redis;
using StreamFraud.Core;
using StreamFraud.Core.Features;
using StreamFraud.Core.Labels;
using StreamFraud.Core.Windows;

namespace StreamFraud.Redis;

/// <summary>Options of <see cref="RedisWindowStore"/>.</summary>
public sealed record RedisWindowStoreOptions
{
    /// <summary>
    /// Key prefix; a backtest uses its own so it never touches live state. Keys are <c>{prefix}{tag}:{id}</c>, one tag
    /// per <see cref="KeyKind"/>, all built by <see cref="RedisWindowStore.Key(string, KeyKind)"/>.
    /// </summary>
    public string KeyPrefix { get; init; } = "sf:";

    /// <summary>
    /// Migration from the previous key scheme (<c>{legacy prefix}{cardId}</c>, e.g. <c>sf:card:</c>): when set, a card
    /// with no state under its key is read from its old key (one more <c>MGET</c> for such cards), applied, and written
    /// under its new key; the old key is left to expire. Card ids ending in <c>:undo</c> never fall back (their old
    /// key may be another card's undo copy). Null (default): old keys are not read. Only for specs that do not
    /// <see cref="FeatureSpec.UsesEntityRisk"/>: the old scheme predates them, so an old key never holds their state.
    /// </summary>
    public string? LegacyKeyPrefix { get; init; }

    /// <summary>Idle cards and risk rings expire after this long (refreshed on every write).</summary>
    public TimeSpan IdleTtl { get; init; } = TimeSpan.FromDays(60);

    /// <summary>Card states kept in this process between batches (approximate LRU); 0 disables the cache.</summary>
    public int CacheCapacity { get; init; } = 200_000;

    /// <summary>
    /// Exactly-once mode: keep each card's state from before its last write under its undo key. A batch whose
    /// Kafka transaction aborted after its states were written is then re-applied on the undo state, so every event
    /// gets back its exact window (and alert) instead of being seen as a duplicate.
    /// </summary>
    public bool KeepUndo { get; init; }

    /// <summary>
    /// Redis Cluster mode (null, the default: detected from the connection). Card states and undo copies then carry a
    /// hash tag of their card (<c>{prefix}c:{hhhh}{cardId}</c>, see <see cref="RedisWindowStore.Key(string, KeyKind)"/>)
    /// so they spread over all slots while a card's two keys share one; reads are one <c>MGET</c> per slot and the
    /// commit one compare-and-set script per slot, all pipelined (one round trip per node), then (spec <c>card</c> v2)
    /// one ring-count script per merchant slot. Keys of the two layouts differ: a store moved between a single server
    /// and a cluster starts its cards afresh. A <see cref="KeyPrefix"/> that contains a brace (e.g. a hash-tag prefix
    /// <c>{sf}:</c>, the earlier advice for clusters) keeps the untagged keys: every key then lives in the prefix's slot,
    /// as before.
    /// </summary>
    public bool? Cluster { get; init; }
}

/// <summary>Which kind of key (<see cref="RedisWindowStore.Key(string, KeyKind)"/>); each has its own tag.</summary>
public enum KeyKind
{
    /// <summary>
    /// A card's state: <c>{prefix}c:{cardId}</c>, or <c>{prefix}c2:{cardId}</c> for a spec that
    /// <see cref="FeatureSpec.UsesEntityRisk"/> (its states coexist with a v1 scorer's, neither destroys the other's).
    /// </summary>
    State = 0,

    /// <summary>A card's state before its last write (exactly-once mode): <c>{prefix}u:{cardId}</c> (<c>u2:</c> as <see cref="State"/>).</summary>
    Undo = 1,

    /// <summary>A merchant's <see cref="RiskRing"/>, <c>{prefix}rm:{merchantId}</c>.</summary>
    MerchantRisk = 2,

    /// <summary>A card's <see cref="RiskRing"/>, <c>{prefix}rc:{cardId}</c>.</summary>
    CardRisk = 3,

    /// <summary>A labelled transaction's <see cref="LabelRecord"/>, <c>{prefix}l:{transactionId}</c>.</summary>
    Label = 4,
}

/// <summary>
/// Window store in Redis: one string value per card, <c>[8-byte version][card state]</c> (a random version per write,
/// <see cref="NextVersion"/>), with an idle TTL; for a
/// spec that <see cref="FeatureSpec.UsesEntityRisk"/> (<c>card</c> v2) also a <see cref="RiskRing"/> per merchant and
/// per card, and (<see cref="ILabelStore"/>) a <see cref="LabelRecord"/> per labelled transaction.
/// A batch costs one round trip for cards whose state this process already holds (the common case while it owns
/// their partitions) and two when some cards are cold (one <c>MGET</c> first):
/// <list type="number">
/// <item>features are computed here, from the cached or fetched state, by the same code the trainer uses;</item>
/// <item>one Lua script then writes every changed card atomically, compare-and-set on the version it started from.</item>
/// </list>
/// A card changed in between (a zombie consumer, a partition moved away and back) is a conflict: the script returns
/// its current value, the events are re-applied on it and written again. Re-applying an already-applied event leaves
/// a state unchanged, so redelivery never writes. On Redis Cluster (<see cref="RedisWindowStoreOptions.Cluster"/>) the
/// same two steps run per hash slot, pipelined to every node at once.
/// </summary>
/// <remarks>
/// Entity risk (spec <c>card</c> v2): rings change under every scorer and the label consumer, so they are never cached.
/// Every batch reads the rings of all its merchants and cards in its one <c>MGET</c> (with the cold cards; a batch of
/// warm cards therefore costs two round trips), computes on those copies, and the commit script counts each card's
/// newly applied transactions on its merchant's and its own ring only when that card's compare-and-set succeeds, in
/// the same script. Counting is thus exactly once per applied transaction: a conflict re-reads the rings (they hold
/// the cards that did get written) and re-applies only the cards that did not; a duplicate is never counted; a batch
/// re-applied from the undo copies (exactly-once mode) does not count again the events its aborted write counted.
/// Ring bumps commute (<see cref="RiskRing.Bump"/>), so many writers never lose one.
/// Windows equal a single writer's replay bit for bit, except after a compare-and-set conflict: the cards re-applied
/// then read rings that hold the counts of the batch's cards already written, which for events out of event-time
/// order include events later in the batch (and a card applied on a stale cached state may have counted an event
/// another writer had applied). The counts written stay exact; a conflict needs a second writer on the same cards (a
/// rebalance forgets the cached states).
/// </remarks>
public sealed partial class RedisWindowStore : IWindowStore, ILabelStore
{
    // The undo value of a card that had no state: version 0, empty state (redo then starts from nothing).
    private static readonly byte[] EmptyUndo = new byte[8];

    private readonly IDatabase _db;
    private readonly RedisWindowStoreOptions _options;
    private readonly CardBatchApplier _applier;
    private readonly StateCache _cache;
    private readonly CardState _probe;
    private readonly bool _usesRisk;
    private readonly bool _cluster;
    private readonly bool _tagCards; // cluster mode with a brace-free prefix: card keys carry a per-card hash tag
    private readonly string[] _keyPrefixes; // by KeyKind: prefix + tag
    private readonly LuaScript _compareAndSet = new(RedisScripts.CompareAndSet);
    private readonly LuaScript _applyLabels = new(RedisScripts.ApplyLabels);
    private readonly LuaScript _bumpRings = new(RedisScripts.BumpRings);
    private readonly Dictionary<string, byte[]?> _current = new(StringComparer.Ordinal); // scratch of one PrepareAsync
    private readonly HashSet<string> _overlaid = new(StringComparer.Ordinal); // scratch of one PrepareAsync: cards read from pending writes
    private readonly Dictionary<string, byte[]> _laidStates = new(StringComparer.Ordinal); // scratch of one PrepareAsync: the pending writes' states
    private readonly bool _overlaps; // see CanPrepareOnPending
    private long _roundTrips;
    private long _conflicts;
    private readonly Dictionary<string, byte[]?> _undo = new(StringComparer.Ordinal); // scratch of one PrepareAsync
    private readonly Dictionary<string, byte[]> _legacy = new(StringComparer.Ordinal); // scratch of one PrepareAsync
    private readonly Dictionary<string, byte[]?> _bases = new(StringComparer.Ordinal); // scratch of one PrepareAsync
    private readonly List<string> _cold = [];
    private readonly RiskBook _risk = new(); // the rings of one batch, as read and as its events apply
    private readonly Dictionary<string, int> _merchantRing = new(StringComparer.Ordinal); // merchant → ring number
    private readonly Dictionary<string, int> _cardRing = new(StringComparer.Ordinal); // card → ring number
    private readonly HashSet<int> _counted = []; // batch indices already counted by an aborted write (redo)
    private readonly List<(int Ring, uint Stamp, uint Count)> _bumps = [];
    private readonly ArrayBufferWriter<byte> _bumpBytes = new();
    private readonly Dictionary<(int Ring, uint Stamp), uint> _bumpSums = []; // over the batch's written cards, in first-seen order
    private float[]? _probeWindow;
    private bool _scriptsLoaded;

    /// <summary>Creates a store over <paramref name="database"/>.</summary>
    public RedisWindowStore(IDatabase database, FeatureSpec spec, RedisWindowStoreOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(spec);
        _db = database;
        _options = options ?? new RedisWindowStoreOptions();
        _applier = new CardBatchApplier(spec);
        _cache = new StateCache(_options.CacheCapacity);
        _probe = new CardState(spec);
        _usesRisk = spec.UsesEntityRisk;
        _cluster = _options.Cluster ?? ClusterAccess.IsCluster(database);
        _overlaps = !_cluster && !_options.KeepUndo && database.Multiplexer.GetEndPoints().Length == 1;
        // A prefix with a brace already decides the slot (the previous advice for clusters was a hash-tag prefix such
        // as {sf}:): such deployments keep their keys, all in the prefix's slot.
        _tagCards = _cluster && !_options.KeyPrefix.Contains('{', StringComparison.Ordinal);
        var prefix = _options.KeyPrefix;
        _keyPrefixes =
        [
            prefix + (_usesRisk ? "c2:" : "c:"), prefix + (_usesRisk ? "u2:" : "u:"), prefix + "rm:", prefix + "rc:", prefix + "l:",
        ];
    }

    /// <summary>Whether this store runs in Redis Cluster mode (<see cref="RedisWindowStoreOptions.Cluster"/>).</summary>
    public bool IsCluster => _cluster;

    /// <summary>Round trips made (for metrics and tests); in cluster mode, one per wave of commands pipelined to all nodes.</summary>
    public long RoundTrips => Interlocked.Read(ref _roundTrips);

    /// <summary>Compare-and-set conflicts resolved.</summary>
    public long Conflicts => Interlocked.Read(ref _conflicts);

    /// <summary>Stored values replaced because they were corrupt or of another feature spec.</summary>
    public long ResetStates { get; private set; }

    /// <summary>Risk rings read that were neither absent nor a ring (read as empty; the next bump replaces them).</summary>
    public long ForeignRings { get; private set; }

    /// <summary>The Redis key of a card's state (<see cref="KeyKind.State"/>).</summary>
    public RedisKey Key(string cardId) => Key(cardId, KeyKind.State);

    /// <summary>
    /// The one place keys are built: <c>{prefix}{tag}{id}</c> with tag <c>c:</c> / <c>u:</c> (card state and undo,
    /// <c>c2:</c> / <c>u2:</c> for a spec that <see cref="FeatureSpec.UsesEntityRisk"/>), <c>rm:</c> (merchant ring),
    /// <c>rc:</c> (card ring) or <c>l:</c> (label record). No tag is a prefix of another, so keys of different kinds
    /// differ right after the prefix and keys of one kind differ only in the id: no id can name another id's key or
    /// another kind's (the previous scheme, <c>{prefix}{cardId}</c> and <c>{prefix}{cardId}:undo</c>, let card
    /// <c>X:undo</c> write card X's undo state). In cluster mode a card's state and undo keys carry the card's hash
    /// tag after the kind tag, <c>{prefix}c:{hhhh}{cardId}</c> (fixed length, so still one key per id): both land in
    /// one slot, and cards spread over all slots. Rings and label records are single keys and need no tag.
    /// </summary>
    public RedisKey Key(string id, KeyKind kind)
    {
        ArgumentNullException.ThrowIfNull(id);
        if ((uint)kind >= (uint)_keyPrefixes.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Not a key kind.");
        }

        return _tagCards && kind is KeyKind.State or KeyKind.Undo
            ? string.Concat(_keyPrefixes[(int)kind], ClusterAccess.Tag(id), id)
            : string.Concat(_keyPrefixes[(int)kind], id);
    }

    /// <inheritdoc />
    public void ForgetCachedState() => _cache.Clear();

    /// <summary>The undo key of a card (exactly-once mode, <see cref="KeyKind.Undo"/>).</summary>
    public RedisKey UndoKey(string cardId) => Key(cardId, KeyKind.Undo);

    /// <inheritdoc />
    public Task<PreparedWrites> PrepareAsync(WindowBatch batch, CancellationToken cancellationToken = default) =>
        PrepareAsync(batch, null, cancellationToken);

    /// <summary>
    /// On one server without undo copies (at-least-once mode): commands on one connection run in the order they were
    /// sent, so reads sent before the pending commit see the store without it, and its states and merchant counts
    /// are laid over them here exactly as the commit script will count them. Not on a cluster, where a redirected
    /// read may be answered after the commit, nor with more than one endpoint configured (replicas, sentinel), where
    /// a read may go to a replica that already holds the commit, or lags.
    /// </summary>
    public bool CanPrepareOnPending => _overlaps;

    /// <inheritdoc />
    public Task<PreparedWrites> PrepareOnPendingAsync(WindowBatch batch, PreparedWrites pending, CancellationToken cancellationToken = default)
    {
        if (!CanPrepareOnPending)
        {
            throw new NotSupportedException("Preparing on uncommitted writes needs one Redis server and no undo copies (at-least-once mode).");
        }

        return PrepareAsync(batch, Mine(pending), cancellationToken);
    }

    private Writes Mine(PreparedWrites writes) =>
        writes is Writes mine && ReferenceEquals(mine.Store, this) ? mine : throw new ArgumentException("These writes were prepared by another store.", nameof(writes));

    private async Task<PreparedWrites> PrepareAsync(WindowBatch batch, Writes? pending, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var groups = _applier.Group(batch);
        if (pending is { Committed: true })
        {
            pending = null;
        }

        var epoch = _cache.Epoch; // a revocation meanwhile (ForgetCachedState) voids what this prepare would cache
        var overlaid = _overlaid;
        overlaid.Clear();
        var laidStates = _laidStates;
        laidStates.Clear();
        foreach (var w in pending?.States ?? [])
        {
            laidStates[w.Card] = w.Value;
        }

        var current = _current;
        var undo = _undo;
        var cold = _cold;
        current.Clear();
        undo.Clear();
        cold.Clear();
        _legacy.Clear();
        _counted.Clear();
        foreach (var card in groups.Keys)
        {
            if (laidStates.TryGetValue(card, out var laid))
            {
                current[card] = laid;
                overlaid.Add(card);
            }
            else if (_cache.TryGet(card, out var value))
            {
                current[card] = value;
            }
            else
            {
                cold.Add(card);
            }
        }

        var stateKeys = _options.KeepUndo ? 2 * cold.Count : cold.Count;
        var rings = _usesRisk ? NumberRings(batch, groups) : 0;
        RedisKey[]? keys = null;
        if (stateKeys + rings > 0)
        {
            // One MGET: the cold cards' states (and undo copies), then every ring of the batch.
            keys = new RedisKey[stateKeys + rings];
            for (var i = 0; i < cold.Count; i++)
            {
                keys[i] = Key(cold[i]);
                if (_options.KeepUndo)
                {
                    keys[cold.Count + i] = UndoKey(cold[i]);
                }
            }

            foreach (var (merchant, ring) in _merchantRing)
            {
                keys[stateKeys + ring] = Key(merchant, KeyKind.MerchantRisk);
            }

            foreach (var (card, ring) in _cardRing)
            {
                keys[stateKeys + ring] = Key(card, KeyKind.CardRisk);
            }

            var values = await ClusterAccess.GetAsync(_db, _cluster, keys, cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref _roundTrips);
            for (var i = 0; i < cold.Count; i++)
            {
                current[cold[i]] = values[i].IsNull ? null : (byte[])values[i]!;
                if (_options.KeepUndo)
                {
                    undo[cold[i]] = values[cold.Count + i].IsNull ? null : (byte[])values[cold.Count + i]!;
                }
            }

            if (_usesRisk)
            {
                LoadRings(values.AsSpan(stateKeys));
                if (pending is not null)
                {
                    // Counted as the pending commit's script counts them (RiskRing.Bump is that rule).
                    foreach (var (merchant, stamp, count) in pending.MerchantCounts)
                    {
                        _risk.Find(RiskEntity.Merchant, merchant)?.Bump(stamp, (int)Math.Min(count, int.MaxValue), 0);
                    }
                }
            }
            else if (cold.Count > 0)
            {
                await ReadLegacyAsync(cold, current, cancellationToken).ConfigureAwait(false);
            }
        }

        // Loads each card's base state, applies the batch's events in batch order and collects the changed states.
        // Merchants are numbered first, and only they are bumped: the commit gets their ring keys.
        var writes = new Writes(this) { RingKeys = keys is null ? default : new ArraySegment<RedisKey>(keys, stateKeys, _merchantRing.Count) };
        var bases = _bases;
        bases.Clear();
        foreach (var (card, indices) in groups)
        {
            var stored = current[card];
            var baseValue = stored ?? _legacy.GetValueOrDefault(card); // a card not yet migrated: its old key's state
            if (_options.KeepUndo && stored is not null && undo.GetValueOrDefault(card) is { } undone && ReappliesAbortedWrite(batch, indices, stored, undone, out var storedMark))
            {
                baseValue = undone; // the last write belonged to an aborted transaction: redo it from the state before it
                if (_usesRisk)
                {
                    UncountAbortedWrite(batch, indices, undone, storedMark);
                }
            }

            bases[card] = baseValue;
            var load = _applier.Load(card, baseValue is not { Length: > 8 } ? ReadOnlySpan<byte>.Empty : baseValue.AsSpan(8)); // too short: a fresh card
            if (load is StateLoadStatus.Corrupt or StateLoadStatus.SpecMismatch)
            {
                ResetStates++;
            }
        }

        _applier.Apply(batch, _usesRisk ? _risk : null);
        if (_usesRisk)
        {
            _bumpBytes.ResetWrittenCount();
            _bumpSums.Clear();
        }

        foreach (var (card, indices) in groups)
        {
            var stored = current[card];
            var value = _applier.Result(card, header: 8);
            if (value is null)
            {
                // Unchanged: what we read is what is stored (an old key is read again). In undo mode a state read with
                // an undo copy may be an aborted transaction's write whose events are still to come (a re-read from
                // before the last commit meets the card's committed events first): it is not cached, so the next batch
                // reads the undo copy again and can redo that write.
                if (!_legacy.ContainsKey(card) && !(_options.KeepUndo && undo.GetValueOrDefault(card) is not null) && !overlaid.Contains(card))
                {
                    _cache.Set(card, stored, epoch);
                }

                continue;
            }

            var version = stored is null || stored.Length < 8 ? 0 : BinaryPrimitives.ReadInt64LittleEndian(stored);
            BinaryPrimitives.WriteInt64LittleEndian(value, NextVersion(version));
            writes.States.Add((card, stored, value, bases[card] ?? EmptyUndo));
            if (_usesRisk)
            {
                WriteBumps(batch, card, indices);
            }
        }

        if (_usesRisk && writes.States.Count > 0)
        {
            writes.Bumps = BumpArgument();
            var merchants = new string[_merchantRing.Count];
            foreach (var (merchant, ring) in _merchantRing)
            {
                merchants[ring] = merchant;
            }

            foreach (var ((ring, stamp), count) in _bumpSums)
            {
                writes.MerchantCounts.Add((merchants[ring], stamp, count));
            }
        }

        return writes;
    }

    /// <summary>
    /// A new card version: random, never 0 and never the one it replaces. A counter (old + 1) would let a writer
    /// holding a stale copy of a card pass the compare-and-set after the card's key expired and another writer
    /// recreated it and wrote it as many times (ABA); a random 64-bit version makes that a 2⁻⁶⁴ chance.
    /// </summary>
    internal static long NextVersion(long old)
    {
        while (true)
        {
            var next = Random.Shared.NextInt64(long.MinValue, long.MaxValue);
            if (next != 0 && next != old)
            {
                return next;
            }
        }
    }

    /// <inheritdoc />
    public async Task<int> CommitAsync(PreparedWrites writes, CancellationToken cancellationToken = default)
    {
        var mine = Mine(writes);
        var epoch = _cache.Epoch;
        if (mine.Committed || mine.States.Count == 0)
        {
            return 0;
        }

        RedisResult[] conflicts;
        try
        {
            conflicts = await CompareAndSetAsync(mine, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Outcome unknown (a timeout may still execute later): forget what we believe these cards hold. A retry
            // sends the same compare-and-set; if the first one did land, it reports a conflict with our own value
            // (and counts nothing again), and re-applying the events on it changes nothing.
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
            _cache.Set(mine.States[i].Card, now is { Length: > 0 } ? now : null, epoch);
        }

        for (var i = 0; i < mine.States.Count; i++)
        {
            if (!conflicted.Contains(i))
            {
                _cache.Set(mine.States[i].Card, mine.States[i].Value, epoch);
            }
        }

        Interlocked.Add(ref _conflicts, conflicted.Count);
        return conflicted.Count;
    }

    /// <summary>Numbers the batch's rings: merchants (non-empty ids) first, then cards (non-empty ids); returns how many.</summary>
    private int NumberRings(WindowBatch batch, IReadOnlyDictionary<string, List<int>> groups)
    {
        _merchantRing.Clear();
        _cardRing.Clear();
        _risk.Clear();
        var n = 0;
        for (var i = 0; i < batch.Count; i++)
        {
            var merchant = batch.Event(i).MerchantId;
            if (!string.IsNullOrEmpty(merchant) && _merchantRing.TryAdd(merchant, n))
            {
                n++;
            }
        }

        foreach (var card in groups.Keys)
        {
            if (card.Length > 0)
            {
                _cardRing.Add(card, n++);
            }
        }

        return n;
    }

    /// <summary>Loads the rings read (in <see cref="NumberRings"/> order) into the batch's scratch book.</summary>
    private void LoadRings(ReadOnlySpan<RedisValue> values)
    {
        foreach (var (merchant, ring) in _merchantRing)
        {
            Load(RiskEntity.Merchant, merchant, values[ring]);
        }

        foreach (var (card, ring) in _cardRing)
        {
            Load(RiskEntity.Card, card, values[ring]);
        }

        void Load(RiskEntity entity, string id, RedisValue value)
        {
            if (!_risk.Load(entity, id, value.IsNull ? ReadOnlySpan<byte>.Empty : ((ReadOnlyMemory<byte>)value).Span))
            {
                ForeignRings++;
            }
        }
    }

    /// <summary>
    /// A card re-applied from its undo copy: its events that the aborted write applied (applied again now, at or below
    /// the stored state's watermark) were counted on the rings by that write. They are marked so the commit does not
    /// count them again, and taken off the batch's copies of the rings so that the batch computes on the rings as they
    /// were before the aborted write (up to the rare slot an aborted count took over from a day 40 days older).
    /// </summary>
    private void UncountAbortedWrite(WindowBatch batch, List<int> indices, byte[] undo, SourcePosition stored)
    {
        if (_probe.Load(undo.Length > 8 ? undo.AsSpan(8) : ReadOnlySpan<byte>.Empty) is StateLoadStatus.Corrupt or StateLoadStatus.SpecMismatch)
        {
            return; // the applier starts this card fresh: its events are all new
        }

        var window = _probeWindow ??= new float[_applier.Spec.WindowSize];
        foreach (var i in indices)
        {
            var p = batch.Position(i);
            var tx = batch.Event(i);
            if (_probe.TryApply(tx, p, window).IsApplied && p.IsAtOrBelow(stored))
            {
                _counted.Add(i);
                var stamp = RiskRing.Stamp(tx.EventTimeMs);
                _risk.Find(RiskEntity.Merchant, tx.MerchantId)?.Bump(stamp, -1, 0); // the card's own count is in its state
            }
        }
    }

    /// <summary>
    /// The commit script's bump argument: the bumps summed per (ring, day) over every written card, then each card's
    /// own bumps in card order (read by the script only for a card whose compare-and-set failed, to take them off).
    /// </summary>
    private byte[] BumpArgument()
    {
        var perCard = _bumpBytes.WrittenSpan;
        var bytes = new byte[4 + (12 * _bumpSums.Count) + perCard.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, (uint)_bumpSums.Count);
        var at = 4;
        foreach (var ((ring, stamp), count) in _bumpSums)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at), (uint)ring);
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at + 4), stamp);
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(at + 8), count);
            at += 12;
        }

        perCard.CopyTo(bytes.AsSpan(at));
        return bytes;
    }

    /// <summary>Appends a card's ring bumps for the commit script: its newly applied events, summed per (ring, day).</summary>
    private void WriteBumps(WindowBatch batch, string card, List<int> indices)
    {
        var bumps = _bumps;
        bumps.Clear();
        foreach (var i in indices)
        {
            if (!batch.Result(i).IsApplied || _counted.Contains(i))
            {
                continue;
            }

            var tx = batch.Event(i);
            var stamp = RiskRing.Stamp(tx.EventTimeMs);
            if (!string.IsNullOrEmpty(tx.MerchantId) && _merchantRing.TryGetValue(tx.MerchantId, out var merchant))
            {
                Add(merchant, stamp); // only merchants: the card counts its own transactions in its state
            }
        }

        var span = _bumpBytes.GetSpan(4 + (12 * bumps.Count));
        BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)bumps.Count);
        for (var k = 0; k < bumps.Count; k++)
        {
            var at = 4 + (12 * k);
            BinaryPrimitives.WriteUInt32LittleEndian(span[at..], (uint)bumps[k].Ring);
            BinaryPrimitives.WriteUInt32LittleEndian(span[(at + 4)..], bumps[k].Stamp);
            BinaryPrimitives.WriteUInt32LittleEndian(span[(at + 8)..], bumps[k].Count);
        }

        _bumpBytes.Advance(4 + (12 * bumps.Count));
        foreach (var (ring, stamp, count) in bumps)
        {
            _bumpSums[(ring, stamp)] = _bumpSums.GetValueOrDefault((ring, stamp)) + count;
        }

        void Add(int ring, uint stamp)
        {
            // Increments on one day sum exactly (RiskRing.Bump saturates the same either way); a card has few distinct
            // (ring, day) pairs in a batch, so a linear search is enough.
            for (var k = 0; k < bumps.Count; k++)
            {
                if (bumps[k].Ring == ring && bumps[k].Stamp == stamp)
                {
                    bumps[k] = (ring, stamp, bumps[k].Count + 1);
                    return;
                }
            }

            bumps.Add((ring, stamp, 1));
        }
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
        var values = await ClusterAccess.GetAsync(_db, _cluster, keys, cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _roundTrips);
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
    /// <paramref name="storedMark"/> receives the state's watermark.
    /// </summary>
    private bool ReappliesAbortedWrite(WindowBatch batch, List<int> indices, byte[] stored, byte[] undo, out SourcePosition storedMark)
    {
        storedMark = SourcePosition.None;
        if (stored.Length <= 8 || _probe.Load(stored.AsSpan(8)) != StateLoadStatus.Loaded)
        {
            return false;
        }

        var current = _probe.HighWatermark;
        storedMark = current;
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

    private async Task<RedisResult[]> CompareAndSetAsync(Writes writes, CancellationToken cancellationToken)
    {
        if (_cluster)
        {
            return await ClusterCompareAndSetAsync(writes, cancellationToken).ConfigureAwait(false);
        }

        var states = writes.States;
        var undo = _options.KeepUndo;
        var n = states.Count;
        var cardKeys = undo ? 2 * n : n;
        var counts = writes.Bumps is not null;
        var rings = counts ? writes.RingKeys.Count : 0;
        var keys = new RedisKey[cardKeys + rings];
        var per = undo ? 3 : 2;
        var args = new RedisValue[3 + (per * n) + (counts ? 1 : 0)];
        args[0] = (long)_options.IdleTtl.TotalMilliseconds;
        args[1] = undo ? "1" : "0";
        args[2] = n;
        for (var i = 0; i < n; i++)
        {
            keys[i] = Key(states[i].Card);
            // The script compares the stored value's first 8 bytes; a shorter (foreign) value is compared whole.
            args[3 + (per * i)] = states[i].Expected is { } e ? e.AsMemory(0, Math.Min(8, e.Length)) : RedisValue.EmptyString;
            args[4 + (per * i)] = states[i].Value;
            if (undo)
            {
                keys[n + i] = UndoKey(states[i].Card);
                args[5 + (per * i)] = states[i].Undo ?? RedisValue.EmptyString;
            }
        }

        if (counts)
        {
            writes.RingKeys.AsSpan().CopyTo(keys.AsSpan(cardKeys));
            args[^1] = writes.Bumps;
        }

        var (result, trips) = await _compareAndSet.EvaluateAsync(_db, keys, args, cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _roundTrips, trips);
        return (RedisResult[])result!;
    }

    /// <summary>
    /// Cluster mode: the compare-and-set script once per card slot (a card's state and undo keys share its tag), all
    /// pipelined; then the merchant ring counts of the cards written, summed as on one server but without the cards whose
    /// write failed, once per merchant slot (the same script with no cards). A merchant's counts therefore land after
    /// its cards' writes, not with them: a process that dies in between, or a slot whose write failed with an unknown
    /// outcome (its cards are left out of the counts; the slots that wrote are counted before the error goes up), loses
    /// those counts — they are never counted twice, since a redelivered event is a duplicate. In exactly-once mode a
    /// redo of such a card takes the lost counts off its ring copies too, so its windows read them one lower.
    /// </summary>
    private async Task<RedisResult[]> ClusterCompareAndSetAsync(Writes writes, CancellationToken cancellationToken)
    {
        var states = writes.States;
        var undo = _options.KeepUndo;
        var per = undo ? 3 : 2;
        var stateKeys = new RedisKey[states.Count];
        for (var i = 0; i < states.Count; i++)
        {
            stateKeys[i] = Key(states[i].Card);
        }

        await LoadScriptEverywhereAsync(cancellationToken).ConfigureAwait(false);
        var groups = ClusterAccess.BySlot(_db, stateKeys);
        var calls = new Task<(RedisResult Result, int RoundTrips)>[groups.Count];
        for (var g = 0; g < groups.Count; g++)
        {
            var group = groups[g];
            var n = group.Length;
            var keys = new RedisKey[undo ? 2 * n : n];
            var args = new RedisValue[3 + (per * n)];
            args[0] = (long)_options.IdleTtl.TotalMilliseconds;
            args[1] = undo ? "1" : "0";
            args[2] = n;
            for (var j = 0; j < n; j++)
            {
                var w = states[group[j]];
                keys[j] = stateKeys[group[j]];
                args[3 + (per * j)] = w.Expected is { } e ? e.AsMemory(0, Math.Min(8, e.Length)) : RedisValue.EmptyString;
                args[4 + (per * j)] = w.Value;
                if (undo)
                {
                    keys[n + j] = UndoKey(w.Card);
                    args[5 + (per * j)] = w.Undo ?? RedisValue.EmptyString;
                }
            }

            calls[g] = ClusterAccess.RetryUnexecutedAsync(() => _compareAndSet.EvaluateAsync(_db, keys, args, cancellationToken), cancellationToken);
        }

        try
        {
            await Task.WhenAll(calls).ConfigureAwait(false);
        }
        catch (Exception) when (calls.Any(c => c.IsCompletedSuccessfully))
        {
            // Some slots wrote: their cards' merchant counts are still due (below), then the error goes up.
        }

        Interlocked.Increment(ref _roundTrips);
        var conflicts = new List<RedisResult>();
        var failed = new HashSet<int>();
        Exception? error = null;
        for (var g = 0; g < groups.Count; g++)
        {
            if (!calls[g].IsCompletedSuccessfully)
            {
                // Not known to be written (an error, a timeout): counted as not written; the caller's retry finds out.
                error ??= calls[g].Exception?.GetBaseException() ?? new OperationCanceledException(cancellationToken);
                failed.UnionWith(groups[g]);
                continue;
            }

            var local = (RedisResult[])calls[g].Result.Result!;
            for (var c = 0; c < local.Length; c += 2)
            {
                var i = groups[g][(int)local[c] - 1];
                failed.Add(i);
                conflicts.Add(RedisResult.Create(i + 1));
                conflicts.Add(local[c + 1]);
            }
        }

        if (writes.Bumps is { } bumps && failed.Count < states.Count)
        {
            await CountMerchantsAsync(writes.RingKeys, bumps, states.Count, failed, cancellationToken).ConfigureAwait(false);
        }

        if (error is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }

        return [.. conflicts];
    }

    /// <summary>
    /// Cluster mode, after the cards' compare-and-set: counts the summed merchant bumps (<see cref="BumpArgument"/>'s
    /// layout) less those of the <paramref name="failed"/> cards, one script per merchant slot, pipelined.
    /// </summary>
    private async Task CountMerchantsAsync(ArraySegment<RedisKey> rings, byte[] bumps, int cards, HashSet<int> failed, CancellationToken cancellationToken)
    {
        var sums = new Dictionary<(int Ring, uint Stamp), long>();
        var order = new List<(int Ring, uint Stamp)>();
        var m = (int)BinaryPrimitives.ReadUInt32LittleEndian(bumps);
        var at = 4;
        for (var j = 0; j < m; j++, at += 12)
        {
            var id = ((int)BinaryPrimitives.ReadUInt32LittleEndian(bumps.AsSpan(at)), BinaryPrimitives.ReadUInt32LittleEndian(bumps.AsSpan(at + 4)));
            sums[id] = BinaryPrimitives.ReadUInt32LittleEndian(bumps.AsSpan(at + 8));
            order.Add(id);
        }

        for (var i = 0; i < cards; i++)
        {
            var k = (int)BinaryPrimitives.ReadUInt32LittleEndian(bumps.AsSpan(at));
            at += 4;
            for (var j = 0; j < k; j++, at += 12)
            {
                if (failed.Contains(i))
                {
                    var id = ((int)BinaryPrimitives.ReadUInt32LittleEndian(bumps.AsSpan(at)), BinaryPrimitives.ReadUInt32LittleEndian(bumps.AsSpan(at + 4)));
                    sums[id] -= BinaryPrimitives.ReadUInt32LittleEndian(bumps.AsSpan(at + 8));
                }
            }
        }

        // Per merchant slot: its ring keys renumbered from 0, and its (ring, day, count) triples.
        var bySlot = new Dictionary<int, (List<RedisKey> Keys, Dictionary<int, int> Local, List<(int Ring, uint Stamp, long Count)> Triples)>();
        foreach (var (ring, stamp) in order)
        {
            var count = sums[(ring, stamp)];
            if (count <= 0)
            {
                continue;
            }

            var key = rings[ring];
            var slot = _db.Multiplexer.HashSlot(key);
            if (!bySlot.TryGetValue(slot, out var group))
            {
                bySlot.Add(slot, group = ([], [], []));
            }

            if (!group.Local.TryGetValue(ring, out var local))
            {
                group.Local.Add(ring, local = group.Keys.Count);
                group.Keys.Add(key);
            }

            group.Triples.Add((local, stamp, count));
        }

        var calls = new List<Task>();
        foreach (var (keys, _, triples) in bySlot.Values)
        {
            var argument = new byte[4 + (12 * triples.Count)];
            BinaryPrimitives.WriteUInt32LittleEndian(argument, (uint)triples.Count);
            for (var j = 0; j < triples.Count; j++)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(argument.AsSpan(4 + (12 * j)), (uint)triples[j].Ring);
                BinaryPrimitives.WriteUInt32LittleEndian(argument.AsSpan(8 + (12 * j)), triples[j].Stamp);
                BinaryPrimitives.WriteUInt32LittleEndian(argument.AsSpan(12 + (12 * j)), (uint)triples[j].Count);
            }

            RedisValue[] args = [(long)_options.IdleTtl.TotalMilliseconds, "0", 0, argument];
            var slotKeys = keys.ToArray();
            calls.Add(ClusterAccess.RetryUnexecutedAsync(() => _compareAndSet.EvaluateAsync(_db, slotKeys, args, cancellationToken), cancellationToken));
        }

        if (calls.Count > 0)
        {
            await Task.WhenAll(calls).ConfigureAwait(false);
            Interlocked.Increment(ref _roundTrips);
        }
    }

    /// <summary>Cluster mode: loads the scripts on every primary once, so pipelined calls do not each miss them.</summary>
    private async Task LoadScriptEverywhereAsync(CancellationToken cancellationToken)
    {
        if (_scriptsLoaded)
        {
            return;
        }

        foreach (var server in _db.Multiplexer.GetServers().Where(s => s.IsConnected && !s.IsReplica))
        {
            foreach (var script in new[] { _compareAndSet, _applyLabels, _bumpRings })
            {
                script.MarkLoaded(await server.ScriptLoadAsync(script.Body).WaitAsync(cancellationToken).ConfigureAwait(false));
            }
        }

        _scriptsLoaded = true;
    }

    private sealed class Writes(RedisWindowStore store) : PreparedWrites
    {
        public RedisWindowStore Store { get; } = store;

        public List<(string Card, byte[]? Expected, byte[] Value, byte[]? Undo)> States { get; } = [];

        /// <summary>The batch's merchant ring keys (spec <c>card</c> v2), as numbered in <see cref="Bumps"/>.</summary>
        public ArraySegment<RedisKey> RingKeys { get; init; }

        /// <summary>Per state in order, its ring bumps (<see cref="RedisScripts.CompareAndSet"/>); null: rings are not counted.</summary>
        public byte[]? Bumps { get; set; }

        /// <summary>The merchant counts the commit adds when every card is written: per (merchant, day), its transactions.</summary>
        public List<(string Merchant, uint Stamp, uint Count)> MerchantCounts { get; } = [];

        public override int Cards => States.Count;

        public void MarkCommitted() => Committed = true;
    }

    /// <summary>
    /// Two-generation approximate LRU of card values (null = known absent). Locked: a commit's continuation may update
    /// it while the next batch's prepare reads it (<see cref="PrepareOnPendingAsync"/>). <see cref="Clear"/> starts a new
    /// epoch, and a value read or written before it (a call that began before a revocation) is not cached after it.
    /// </summary>
    private sealed class StateCache(int capacity)
    {
        private readonly Lock _gate = new();
        private long _epoch;
        private Dictionary<string, Entry> _young = new(StringComparer.Ordinal);
        private Dictionary<string, Entry> _old = new(StringComparer.Ordinal);

        public bool TryGet(string card, out byte[]? value)
        {
            if (capacity <= 0)
            {
                value = null;
                return false;
            }

            lock (_gate)
            {
                if (_young.TryGetValue(card, out var entry))
                {
                    value = entry.Value;
                    return true;
                }

                if (_old.Remove(card, out entry))
                {
                    SetLocked(card, entry);
                    value = entry.Value;
                    return true;
                }

                value = null;
                return false;
            }
        }

        public long Epoch
        {
            get
            {
                lock (_gate)
                {
                    return _epoch;
                }
            }
        }

        public void Set(string card, byte[]? value, long epoch)
        {
            if (capacity <= 0)
            {
                return;
            }

            lock (_gate)
            {
                if (epoch == _epoch)
                {
                    SetLocked(card, EntryLocked(card, value));
                }
            }
        }

        /// <summary>
        /// The entry for a new value of <paramref name="card"/>. Once a card's state keeps its size (its window is
        /// full) the cache refills its own array in place, so steady writes leave no garbage behind and nothing new to
        /// promote to older GC generations: a value whose length differs from the cached one is kept as it is (the
        /// caller's array, not owned); the next value of the same length is copied once into an array the cache owns,
        /// and later ones are copied into that. Only an owned array is ever refilled, so a write never changes an
        /// array that a batch still holds (the pending writes laid under the next batch); an owned array handed out by
        /// <see cref="TryGet"/> is refilled only by a later write of the same card, and the batch after a write reads
        /// that card from its pending writes, not from here.
        /// </summary>
        private Entry EntryLocked(string card, byte[]? value)
        {
            if (value is null)
            {
                return default;
            }

            if ((_young.TryGetValue(card, out var entry) || _old.Remove(card, out entry)) && entry.Value is { } cached && cached.Length == value.Length)
            {
                if (ReferenceEquals(cached, value))
                {
                    return entry;
                }

                var mine = entry.Owned ? cached : new byte[value.Length];
                value.CopyTo(mine, 0);
                return new Entry(mine, Owned: true);
            }

            return new Entry(value, Owned: false);
        }

        public void Remove(string card)
        {
            lock (_gate)
            {
                _young.Remove(card);
                _old.Remove(card);
            }
        }

        public void Clear()
        {
            lock (_gate)
            {
                _epoch++;
                _young.Clear();
                _old.Clear();
            }
        }

        private void SetLocked(string card, Entry entry)
        {
            _young[card] = entry;
            if (_young.Count >= (capacity + 1) / 2)
            {
                _old = _young;
                _young = new Dictionary<string, Entry>(StringComparer.Ordinal);
            }
        }

        /// <summary>A cached state (null: the card is known to be absent) and whether the cache owns its array.</summary>
        private readonly record struct Entry(byte[]? Value, bool Owned);
    }
}
