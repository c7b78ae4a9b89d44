using StreamFraud.Core.Features;

namespace StreamFraud.Core.Tests.Features;

/// <summary>
/// A seeded synthetic transaction stream for the parity and throughput tests: cards with home countries, favourite
/// merchants and typical amounts, some fraud bursts, missing categoricals — then turned into an arrival order with
/// late (out-of-order) events and producer duplicates (same transaction re-sent a little later).
/// </summary>
internal static class SyntheticStream
{
    private static readonly string[] Countries = ["US", "US", "US", "GB", "DE", "FR", "ES", "IT", "NL", "CA", "BR", "JP"];
    private static readonly string[] Currencies = ["USD", "USD", "USD", "GBP", "EUR", "EUR", "EUR", "EUR", "EUR", "CAD", "BRL", "JPY"];
    private static readonly string[] Channels = ["pos", "pos", "pos", "ecom", "ecom", "atm", "moto"];

    /// <summary>Stream statistics, for assertions and the test log.</summary>
    public sealed record Stats(int Events, int Cards, int Frauds, int Delayed, int ProducerDuplicates);

    /// <summary>Transactions in arrival order (Kafka log order), with ≈ <paramref name="events"/> base events.</summary>
    public static (List<Transaction> Arrivals, Stats Stats) Generate(int seed, int cards, int events, double lateFraction = 0.02, double duplicateFraction = 0.005)
    {
        var rng = new Random(seed);
        var start = TestTx.T0;
        const long span = 60 * TestTx.Day;
        var timeline = new List<(long Time, int Seq, Transaction Tx)>(events + (events / 20));
        var seq = 0;
        var frauds = 0;
        var perCard = events / (double)cards;

        for (var c = 0; c < cards; c++)
        {
            var card = $"card-{c:D5}";
            var home = rng.Next(Countries.Length);
            var favourites = Enumerable.Range(0, 3 + rng.Next(10)).Select(_ => rng.Next(5000)).ToArray();
            var typical = Math.Exp(2 + (rng.NextDouble() * 3));
            var count = Math.Max(1, (int)Math.Round(perCard * (0.2 + (1.6 * rng.NextDouble()))));
            for (var i = 0; i < count; i++)
            {
                var t = start + (long)(rng.NextDouble() * span);
                var merchant = rng.Next(8) == 0 ? rng.Next(5000) : favourites[rng.Next(favourites.Length)];
                var abroad = rng.Next(30) == 0 ? rng.Next(Countries.Length) : home;
                var amount = Math.Round(typical * Math.Exp(0.6 * Normal(rng)), 2);
                timeline.Add((t, seq++, Tx(card, seq, t, amount, merchant, abroad, Channels[rng.Next(Channels.Length)], rng, false, null)));
            }

            if (rng.Next(50) == 0)
            {
                // A fraud burst: several quick transactions at new merchants abroad, card testing or a spree.
                var testing = rng.Next(2) == 0;
                var t = start + (long)(rng.NextDouble() * span);
                var country = rng.Next(Countries.Length);
                for (var i = 0; i < 3 + rng.Next(6); i++)
                {
                    t += rng.Next(20_000, 600_000);
                    var amount = testing ? Math.Round(0.5 + rng.NextDouble(), 2) : Math.Round(typical * (3 + (5 * rng.NextDouble())), 0);
                    timeline.Add((t, seq++, Tx(card, seq, t, amount, 6000 + rng.Next(500), country, "ecom", rng, true, testing ? "card_testing" : "spree")));
                    frauds++;
                }
            }
        }

        timeline.Sort((a, b) => a.Time != b.Time ? a.Time.CompareTo(b.Time) : a.Seq.CompareTo(b.Seq));
        var ordered = timeline.Select(e => e.Tx).ToList();

        // Late events: a small fraction arrives thousands of positions after its event-time slot.
        var delayed = 0;
        var keys = new double[ordered.Count];
        for (var i = 0; i < ordered.Count; i++)
        {
            keys[i] = i;
            if (rng.NextDouble() < lateFraction)
            {
                keys[i] = i + 1 + rng.Next(8000) + 0.5;
                delayed++;
            }
        }

        var arrival = Enumerable.Range(0, ordered.Count).OrderBy(i => keys[i]).ThenBy(i => i).Select(i => ordered[i]).ToList();

        // Producer duplicates: the same record re-sent 1..300 positions later.
        var dupes = new List<(int At, Transaction Tx)>();
        for (var i = 0; i < arrival.Count; i++)
        {
            if (rng.NextDouble() < duplicateFraction)
            {
                dupes.Add((Math.Min(arrival.Count, i + 1 + rng.Next(300)), arrival[i]));
            }
        }

        foreach (var (at, tx) in dupes.OrderByDescending(d => d.At))
        {
            arrival.Insert(at, tx);
        }

        return (arrival, new Stats(arrival.Count, cards, frauds, delayed, dupes.Count));
    }

    private static Transaction Tx(string card, int seq, long t, double amount, int merchant, int country, string channel, Random rng, bool fraud, string? scenario) =>
        new(
            $"tx-{seq:D8}",
            card,
            $"m{merchant:D4}",
            amount,
            Currencies[country],
            t,
            rng.Next(30) == 0 ? null : (5000 + (merchant % 90)).ToString(System.Globalization.CultureInfo.InvariantCulture),
            rng.Next(50) == 0 ? null : Countries[country],
            rng.Next(40) == 0 ? null : channel,
            null,
            fraud,
            scenario);

    private static double Normal(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    /// <summary>Kafka partition of a card: stable hash of the key modulo the partition count.</summary>
    public static int PartitionOf(string cardId, int partitions) => (int)(StableHash.Hash(0, cardId) % (ulong)partitions);
}
