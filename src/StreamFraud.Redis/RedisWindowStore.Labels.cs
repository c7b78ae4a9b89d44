using System.Buffers;
using System.Globalization;
using StackExchange.Redis;
using StreamFraud.Core.Labels;

namespace StreamFraud.Redis;

/// <summary>The label side of <see cref="RedisWindowStore"/> (<see cref="ILabelStore"/>).</summary>
public sealed partial class RedisWindowStore
{
    /// <summary>How long a label record lives after its last change: the rings' <see cref="RiskRing.Days"/> days.</summary>
    public static readonly TimeSpan LabelRecordTtl = TimeSpan.FromDays(RiskRing.Days);

    private static readonly SearchValues<char> LowerHex = SearchValues.Create("0123456789abcdef");

    /// <summary>
    /// Applies <paramref name="labels"/> in order, in one round trip: invalid and stale labels are decided here
    /// (<see cref="LabelRules.Decide"/> without a record); the rest go to one Lua script that, per label and
    /// atomically, reads the transaction's record <c>{prefix}l:{transactionId}</c>, applies the remaining rules,
    /// writes the record (TTL <see cref="LabelRecordTtl"/>) and moves the fraud count of the label's merchant and card
    /// rings on the transaction's day (TTL <see cref="RedisWindowStoreOptions.IdleTtl"/>). Two label consumers therefore
    /// never count a transaction twice. Each decision is <see cref="LabelRules.Decide"/> given the record the script
    /// saw, so reasons and records are exactly the in-memory store's. Uses none of the batch scratch: it may run on a
    /// store that also scores, between batches. On Redis Cluster records and rings live in different slots: the script
    /// runs per record slot without rings, then the rings are bumped per ring slot (two pipelined round trips; see
    /// <see cref="ClusterBumpRingsAsync"/> for what a crash in between costs).
    /// </summary>
    /// <exception cref="InvalidOperationException">The script and <see cref="LabelRules"/> disagreed (a defect; the labels were applied).</exception>
    public async Task<IReadOnlyList<LabelDecision>> ApplyLabelsAsync(IReadOnlyList<TransactionLabel> labels, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(labels);
        var decisions = new LabelDecision[labels.Count];
        var pending = new List<int>(labels.Count);
        for (var i = 0; i < labels.Count; i++)
        {
            var first = LabelRules.Decide(null, labels[i]);
            if (first.Outcome is LabelOutcome.Invalid or LabelOutcome.Stale)
            {
                decisions[i] = first;
            }
            else
            {
                pending.Add(i);
            }
        }

        if (pending.Count == 0)
        {
            return decisions;
        }

        var n = pending.Count;
        var rings = new Dictionary<RedisKey, int>(); // ring key → its KEYS number (1-based)
        var ringKeys = new List<RedisKey>();
        var args = new RedisValue[3 + (6 * n)];
        args[0] = (long)_options.IdleTtl.TotalMilliseconds;
        args[1] = (long)LabelRecordTtl.TotalMilliseconds;
        args[2] = n;
        var recordKeys = new RedisKey[n];
        for (var j = 0; j < n; j++)
        {
            var label = labels[pending[j]];
            recordKeys[j] = Key(label.TransactionId, KeyKind.Label);
            var at = 3 + (6 * j);
            args[at] = label.IsFraud ? "1" : "0";
            args[at + 1] = label.LabelTimeMs.ToString(CultureInfo.InvariantCulture);
            args[at + 2] = LabelRules.ContentHash(label).ToString("x16", CultureInfo.InvariantCulture);
            args[at + 3] = RiskRing.Stamp(label.EventTimeMs);
            // On a cluster the rings are bumped after the records (ClusterBumpRingsAsync): no ring keys here.
            args[at + 4] = _cluster || string.IsNullOrEmpty(label.MerchantId) ? 0 : Ring(Key(label.MerchantId, KeyKind.MerchantRisk));
            args[at + 5] = _cluster ? 0 : Ring(Key(label.CardId, KeyKind.CardRisk));
        }

        RedisResult[] outcomes;
        Exception? error = null;
        if (_cluster)
        {
            (outcomes, error) = await ClusterApplyLabelsAsync(recordKeys, args, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var keys = new RedisKey[n + ringKeys.Count];
            recordKeys.CopyTo(keys, 0);
            ringKeys.CopyTo(keys, n);
            var (result, trips) = await _applyLabels.EvaluateAsync(_db, keys, args, cancellationToken).ConfigureAwait(false);
            Interlocked.Add(ref _roundTrips, trips);
            outcomes = (RedisResult[])result!;
        }

        string? disagreement = null;
        for (var j = 0; j < n; j++)
        {
            var label = labels[pending[j]];
            if (outcomes[2 * j] is null)
            {
                continue; // its record slot failed (cluster): not known to be applied, the error goes up below
            }

            var code = (int)outcomes[2 * j];
            var decision = LabelRules.Decide(ParseRecord((string?)outcomes[(2 * j) + 1]), label);
            if ((int)decision.Outcome != code)
            {
                disagreement ??= $"The label script decided {(LabelOutcome)code} for transaction '{label.TransactionId}' where the label rules decide {decision.Outcome}.";
            }

            decisions[pending[j]] = decision;
        }

        if (_cluster)
        {
            var decided = error is null ? pending : [.. pending.Where((_, j) => outcomes[2 * j] is not null)];
            await ClusterBumpRingsAsync(labels, decided, decisions, cancellationToken).ConfigureAwait(false);
            if (error is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
            }
        }

        return disagreement is null ? decisions : throw new InvalidOperationException(disagreement);

        int Ring(RedisKey key)
        {
            if (!rings.TryGetValue(key, out var number))
            {
                ringKeys.Add(key);
                number = n + ringKeys.Count;
                rings.Add(key, number);
            }

            return number;
        }
    }

    /// <summary>
    /// Cluster mode, first step: the label script once per record slot with no rings (labels of one transaction share
    /// its key, so they stay in order), pipelined; returns the outcomes in label order as the one-server script would.
    /// </summary>
    private async Task<(RedisResult[] Outcomes, Exception? Error)> ClusterApplyLabelsAsync(RedisKey[] recordKeys, RedisValue[] args, CancellationToken cancellationToken)
    {
        await LoadScriptEverywhereAsync(cancellationToken).ConfigureAwait(false);
        var groups = ClusterAccess.BySlot(_db, recordKeys);
        var calls = new Task<(RedisResult Result, int RoundTrips)>[groups.Count];
        for (var g = 0; g < groups.Count; g++)
        {
            var group = groups[g];
            var keys = new RedisKey[group.Length];
            var slotArgs = new RedisValue[3 + (6 * group.Length)];
            slotArgs[0] = args[0];
            slotArgs[1] = args[1];
            slotArgs[2] = group.Length;
            for (var j = 0; j < group.Length; j++)
            {
                keys[j] = recordKeys[group[j]];
                Array.Copy(args, 3 + (6 * group[j]), slotArgs, 3 + (6 * j), 6); // ring indices 0: no rings in this step
            }

            calls[g] = ClusterAccess.RetryUnexecutedAsync(() => _applyLabels.EvaluateAsync(_db, keys, slotArgs, cancellationToken), cancellationToken);
        }

        try
        {
            await Task.WhenAll(calls).ConfigureAwait(false);
        }
        catch (Exception) when (calls.Any(c => c.IsCompletedSuccessfully))
        {
            // Some record slots applied their labels: their rings are still due, then the error goes up.
        }

        Interlocked.Increment(ref _roundTrips);
        var outcomes = new RedisResult[2 * recordKeys.Length]; // null for the labels of a failed slot
        Exception? error = null;
        for (var g = 0; g < groups.Count; g++)
        {
            if (!calls[g].IsCompletedSuccessfully)
            {
                error ??= calls[g].Exception?.GetBaseException() ?? new OperationCanceledException(cancellationToken);
                continue;
            }

            var local = (RedisResult[])calls[g].Result.Result!;
            for (var j = 0; j < groups[g].Length; j++)
            {
                outcomes[2 * groups[g][j]] = local[2 * j];
                outcomes[(2 * groups[g][j]) + 1] = local[(2 * j) + 1];
            }
        }

        return (outcomes, error);
    }

    /// <summary>
    /// Cluster mode, second step: the fraud deltas of the recorded labels on their merchants' and cards' rings, in label
    /// order per ring, one script per ring slot, pipelined. Rings are bumped after their labels are recorded: a process
    /// that dies in between loses those counts (a redelivered label is then a duplicate), it never counts one twice.
    /// Two label consumers on the same transaction (a zombie during a rebalance) can land a flip's −1 before the +1 it
    /// undoes; the −1 then finds nothing to take off and the ring keeps one fraud too many (on one server the record
    /// and its rings change in one script, so this cannot happen there).
    /// </summary>
    private async Task ClusterBumpRingsAsync(IReadOnlyList<TransactionLabel> labels, List<int> pending, LabelDecision[] decisions, CancellationToken cancellationToken)
    {
        var bySlot = new Dictionary<int, (List<RedisKey> Keys, Dictionary<RedisKey, int> Index, List<RedisValue> Args)>();
        foreach (var i in pending)
        {
            var delta = decisions[i].FraudDelta;
            if (delta == 0)
            {
                continue;
            }

            var label = labels[i];
            var stamp = RiskRing.Stamp(label.EventTimeMs);
            if (!string.IsNullOrEmpty(label.MerchantId))
            {
                Add(Key(label.MerchantId, KeyKind.MerchantRisk), stamp, delta);
            }

            Add(Key(label.CardId, KeyKind.CardRisk), stamp, delta);
        }

        var calls = new List<Task>();
        foreach (var (keys, _, slotArgs) in bySlot.Values)
        {
            var k = keys.ToArray();
            var a = slotArgs.ToArray();
            calls.Add(ClusterAccess.RetryUnexecutedAsync(() => _bumpRings.EvaluateAsync(_db, k, a, cancellationToken), cancellationToken));
        }

        if (calls.Count > 0)
        {
            await Task.WhenAll(calls).ConfigureAwait(false);
            Interlocked.Increment(ref _roundTrips);
        }

        void Add(RedisKey key, uint stamp, int delta)
        {
            var slot = _db.Multiplexer.HashSlot(key);
            if (!bySlot.TryGetValue(slot, out var group))
            {
                bySlot.Add(slot, group = ([], [], [(long)_options.IdleTtl.TotalMilliseconds]));
            }

            if (!group.Index.TryGetValue(key, out var index))
            {
                group.Keys.Add(key);
                group.Index.Add(key, index = group.Keys.Count);
            }

            group.Args.Add(index);
            group.Args.Add(stamp);
            group.Args.Add(delta);
        }
    }

    /// <summary>
    /// A label record's text form, <c>{0|1}:{label time ms}:{content hash, 16 lowercase hex digits}</c>, as the label
    /// script writes it (<see cref="RedisScripts.ApplyLabels"/>).
    /// </summary>
    public static string FormatRecord(LabelRecord record) =>
        string.Create(CultureInfo.InvariantCulture, $"{(record.IsFraud ? '1' : '0')}:{record.LabelTimeMs}:{record.ContentHash:x16}");

    /// <summary>
    /// Parses <see cref="FormatRecord"/>'s form exactly as the label script does (at most 16 digits of time, an optional
    /// minus sign); null for an empty or any other value, which the script treats as no record.
    /// </summary>
    public static LabelRecord? ParseRecord(string? text)
    {
        if (text is not { Length: >= 20 } || text[0] is not ('0' or '1') || text[1] != ':' || text[^17] != ':')
        {
            return null;
        }

        var time = text.AsSpan(2, text.Length - 19);
        var digits = time.Length > 0 && time[0] == '-' ? time[1..] : time;
        if (digits.Length is 0 or > 16 || digits.ContainsAnyExceptInRange('0', '9'))
        {
            return null;
        }

        var hash = text.AsSpan(text.Length - 16);
        if (hash.ContainsAnyExcept(LowerHex))
        {
            return null;
        }

        return new LabelRecord(
            text[0] == '1',
            long.Parse(time, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture),
            ulong.Parse(hash, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));
    }
}
