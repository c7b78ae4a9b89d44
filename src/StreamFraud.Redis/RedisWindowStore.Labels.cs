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
    /// store that also scores, between batches.
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
            args[at + 4] = string.IsNullOrEmpty(label.MerchantId) ? 0 : Ring(Key(label.MerchantId, KeyKind.MerchantRisk));
            args[at + 5] = Ring(Key(label.CardId, KeyKind.CardRisk));
        }

        var keys = new RedisKey[n + ringKeys.Count];
        recordKeys.CopyTo(keys, 0);
        ringKeys.CopyTo(keys, n);
        var (result, trips) = await _applyLabels.EvaluateAsync(_db, keys, args, cancellationToken).ConfigureAwait(false);
        RoundTrips += trips;
        var outcomes = (RedisResult[])result!;
        string? disagreement = null;
        for (var j = 0; j < n; j++)
        {
            var label = labels[pending[j]];
            var code = (int)outcomes[2 * j];
            var decision = LabelRules.Decide(ParseRecord((string?)outcomes[(2 * j) + 1]), label);
            if ((int)decision.Outcome != code)
            {
                disagreement ??= $"The label script decided {(LabelOutcome)code} for transaction '{label.TransactionId}' where the label rules decide {decision.Outcome}.";
            }

            decisions[pending[j]] = decision;
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
