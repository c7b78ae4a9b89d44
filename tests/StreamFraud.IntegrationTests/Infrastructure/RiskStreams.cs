using StackExchange.Redis;
using StreamFraud.Core;
using StreamFraud.Core.Labels;

namespace StreamFraud.IntegrationTests.Infrastructure;

/// <summary>A label delivered after the event at <paramref name="After"/> (−1: before the first).</summary>
public sealed record ScheduledLabel(int After, TransactionLabel Label);

/// <summary>Seeded transaction streams and label feeds for the entity-risk (spec <c>card</c> v2) tests.</summary>
public static class RiskStreams
{
    /// <summary>2026-01-01T00:00Z.</summary>
    public const long Start = 1_767_225_600_000L;

    public const long Day = 86_400_000L;

    /// <summary>
    /// Events over <paramref name="days"/> days in arrival order: mostly event-time order, some late by up to 3 days,
    /// some re-sent (same transaction again), a few invalid; merchants skewed (two hot ones), some without merchant.
    /// </summary>
    public static List<Transaction> Events(int seed, int count, int cards, int merchants, int days)
    {
        var rng = new Random(seed);
        var list = new List<Transaction>(count);
        var step = days * Day / count;
        var t = Start;
        for (var i = 0; i < count; i++)
        {
            t += rng.NextInt64(1, 2 * step);
            if (list.Count > 10 && rng.Next(40) == 0)
            {
                list.Add(list[rng.Next(list.Count - 10, list.Count)]); // redelivered upstream
                continue;
            }

            var time = rng.Next(25) == 0 ? t - rng.NextInt64(Day, 3 * Day) : t; // late
            var card = rng.Next(cards);
            var merchant = rng.Next(10) switch
            {
                0 => "",
                < 5 => $"hot-{rng.Next(2)}",
                _ => $"m-{rng.Next(merchants)}",
            };
            var amount = rng.Next(200) == 0 ? -5 : Math.Round(Math.Exp(rng.NextDouble() * 6), 2); // a few invalid
            list.Add(new Transaction(
                $"tx-{seed}-{i}", $"card-{card}", merchant, amount, "EUR", time,
                rng.Next(2) == 0 ? "5411" : "5999", rng.Next(10) == 0 ? "FR" : "DE", rng.Next(3) == 0 ? "ecom" : "pos"));
        }

        return list;
    }

    /// <summary>
    /// Labels for about a fifth of <paramref name="events"/>, each delivered once its label time has passed in the
    /// stream (plus jitter): verdicts a few hours to 35 days later (some stale), redelivered, flipped by a newer label,
    /// arriving out of label-time order (superseded), with conflicting content, for unknown transactions, and invalid.
    /// Sorted by delivery point.
    /// </summary>
    public static List<ScheduledLabel> Labels(int seed, List<Transaction> events)
    {
        var rng = new Random(seed);
        var labels = new List<ScheduledLabel>();
        var times = events.Select(e => e.EventTimeMs).ToArray();
        var running = new long[times.Length]; // the stream's clock: newest event time so far
        for (var i = 0; i < times.Length; i++)
        {
            running[i] = Math.Max(times[i], i > 0 ? running[i - 1] : long.MinValue);
        }

        int DeliveredAt(long labelTime)
        {
            var at = Array.BinarySearch(running, labelTime);
            at = at < 0 ? ~at : at;
            return Math.Min(times.Length - 1, at + rng.Next(0, 30)) - 1;
        }

        void Add(TransactionLabel label, int? after = null) => labels.Add(new ScheduledLabel(after ?? DeliveredAt(label.LabelTimeMs), label));

        var i0 = 0;
        foreach (var tx in events.DistinctBy(e => e.TransactionId))
        {
            i0++;
            if (rng.Next(5) != 0)
            {
                continue;
            }

            var delay = rng.Next(8) switch
            {
                0 => rng.NextInt64(31 * Day, 35 * Day), // stale
                < 4 => rng.NextInt64(3_600_000, Day),
                _ => rng.NextInt64(Day, 6 * Day),
            };
            var label = new TransactionLabel(tx.TransactionId, tx.CardId, tx.MerchantId, tx.EventTimeMs, tx.EventTimeMs + delay, rng.Next(3) != 0);
            Add(label);
            switch (rng.Next(10))
            {
                case 0: // redelivered
                    Add(label);
                    break;
                case 1: // flipped later
                    Add(label with { LabelTimeMs = label.LabelTimeMs + rng.NextInt64(1, 2 * Day), IsFraud = !label.IsFraud });
                    break;
                case 2: // an older verdict arriving late: superseded
                    Add(label with { LabelTimeMs = label.LabelTimeMs - rng.NextInt64(0, 3_600_000), IsFraud = !label.IsFraud }, DeliveredAt(label.LabelTimeMs) + 5);
                    break;
                case 3: // the same verdict again, later: a duplicate that advances the record
                    Add(label with { LabelTimeMs = label.LabelTimeMs + 60_000, Origin = LabelOrigin.Analyst });
                    break;
                case 4: // another source says the transaction was elsewhere
                    Add(label with { MerchantId = label.MerchantId + "-x", LabelTimeMs = label.LabelTimeMs + 1 });
                    break;
                case 5: // a verdict before the transaction
                    Add(label with { TransactionId = label.TransactionId + "-bad", LabelTimeMs = label.EventTimeMs - 1 }, DeliveredAt(label.EventTimeMs));
                    break;
                case 6: // a transaction this stream never carried
                    Add(label with { TransactionId = $"unknown-{seed}-{i0}", MerchantId = rng.Next(2) == 0 ? "hot-0" : "" });
                    break;
                default:
                    break;
            }
        }

        return [.. labels.OrderBy(l => l.After)]; // stable: same-point labels keep their order
    }

    /// <summary>A ring's value in Redis as <see cref="RiskRing"/> bytes: absent reads as an empty ring.</summary>
    public static async Task<byte[]> RingBytes(IDatabase db, RedisKey key)
    {
        var value = await db.StringGetAsync(key);
        return value.IsNull ? new byte[RiskRing.Size] : (byte[])value!;
    }

    /// <summary>A ring of a <see cref="RiskBook"/> as bytes: none reads as an empty ring.</summary>
    public static byte[] RingBytes(RiskBook book, RiskEntity entity, string id) =>
        book.Find(entity, id)?.ToArray() ?? new byte[RiskRing.Size];
}
