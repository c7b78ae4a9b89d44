using StreamFraud.Core.Features;
using Xunit.Abstractions;

namespace StreamFraud.Core.Tests.Features;

/// <summary>
/// Training/serving parity: the windows the trainer gets offline (TrainingSet, in-memory state) equal bit for bit the
/// windows the scorer computes online, where every event goes through the exact Redis round trip — load the stored
/// bytes, apply at its Kafka position, store the new bytes — under redeliveries, producer duplicates and late events.
/// </summary>
public class ParityTests(ITestOutputHelper output)
{
    private const int Partitions = 8;

    [Fact]
    public void OfflineWindows_EqualOnlineWindowsThroughSerialisedState_BitForBit()
    {
        var spec = FeatureSpec.CardV1;
        var (arrivals, stats) = SyntheticStream.Generate(seed: 20240601, cards: 2500, events: 60_000);
        Assert.True(stats.Events >= 50_000, $"{stats.Events} events");
        Assert.True(stats.Cards >= 2000);

        // Offline: the trainer's path.
        var set = TrainingSet.Build(spec, arrivals, arrivals.Count);

        // Online: Kafka logs per partition (key = card), consumed in random batches with occasional rewinds.
        var logs = new List<Transaction>[Partitions];
        for (var p = 0; p < Partitions; p++)
        {
            logs[p] = [];
        }

        foreach (var tx in arrivals)
        {
            logs[SyntheticStream.PartitionOf(tx.CardId, Partitions)].Add(tx);
        }

        var redis = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        var online = new Dictionary<string, List<(string TxId, int Steps, float[] Window)>>(StringComparer.Ordinal);
        var state = new CardState(spec);
        var window = new float[spec.WindowSize];
        var buffer = new byte[spec.MaxStateSize];
        var next = new int[Partitions];
        var rng = new Random(99);
        int deliveries = 0, rewound = 0, duplicatePosition = 0, duplicateId = 0, late = 0, recovered = 0;
        while (next.Select((n, p) => n < logs[p].Count).Any(x => x))
        {
            var p = rng.Next(Partitions);
            if (next[p] >= logs[p].Count)
            {
                continue;
            }

            if (next[p] > 0 && rng.NextDouble() < 0.03)
            {
                // A crash or rebalance before the offsets were committed: the batch range is delivered again.
                var back = Math.Min(next[p], 1 + rng.Next(100));
                next[p] -= back;
                rewound += back;
            }

            for (var b = 1 + rng.Next(64); b > 0 && next[p] < logs[p].Count; b--)
            {
                var offset = next[p]++;
                var tx = logs[p][offset];
                deliveries++;
                var stored = redis.GetValueOrDefault(tx.CardId) ?? [];
                var load = state.Load(stored);
                Assert.True(load is StateLoadStatus.Loaded or StateLoadStatus.Empty, load.ToString());
                var result = state.TryApply(tx, new SourcePosition(p, offset, SourcePosition.OfflineSource), window);
                if (result.IsApplied)
                {
                    var n = state.Write(buffer);
                    redis[tx.CardId] = buffer.AsSpan(0, n).ToArray();
                    if (!online.TryGetValue(tx.CardId, out var list))
                    {
                        online[tx.CardId] = list = [];
                    }

                    list.Add((tx.TransactionId, result.RealSteps, (float[])window.Clone()));
                    late += window[(6 * spec.Dimension) + CardFeatureSpecV1.IsLate] == 1f ? 1 : 0;
                    continue;
                }

                Assert.True(result.IsDuplicate, result.Error);
                // Idempotence on the exact bytes the scorer would keep: nothing changed.
                var n2 = state.Write(buffer);
                Assert.True(buffer.AsSpan(0, n2).SequenceEqual(stored), $"state bytes changed by duplicate {tx.TransactionId}");
                duplicatePosition += result.Status == ApplyStatus.DuplicatePosition ? 1 : 0;
                duplicateId += result.Status == ApplyStatus.DuplicateTransactionId ? 1 : 0;
                recovered += result.HasWindow ? 1 : 0;
            }
        }

        output.WriteLine($"stream: {stats}; offline rows {set.Count}, duplicates skipped {set.Duplicates}, cards {set.CardCount}");
        output.WriteLine($"online: {deliveries} deliveries, {rewound} redelivered, {duplicatePosition} position duplicates, {duplicateId} id duplicates, {recovered} windows recovered, {late} late events");

        // Every redelivery and every producer duplicate was recognised, and nothing else was.
        Assert.Equal(rewound + set.Duplicates, duplicatePosition + duplicateId);
        Assert.Equal(arrivals.Count + rewound, deliveries);
        Assert.True(duplicatePosition > 1000 && set.Duplicates > 100 && late > 200, "the stream must exercise every rule");
        Assert.Equal(0, set.InvalidCount);

        // Same windows, same order per card, bit for bit.
        var cursor = new Dictionary<string, int>(StringComparer.Ordinal);
        var offline = new float[spec.WindowSize];
        for (var i = 0; i < set.Count; i++)
        {
            var card = set.CardIds[i];
            var k = cursor.GetValueOrDefault(card);
            cursor[card] = k + 1;
            var (txId, steps, onlineWindow) = online[card][k];
            Assert.Equal(txId, set.TransactionIds[i]);
            Assert.Equal(steps, set.RealSteps[i]);
            set.CopyWindow(i, offline);
            if (!TestTx.BitEqual(offline, onlineWindow))
            {
                Assert.Fail($"row {i} ({txId}, card {card}): offline window differs from online");
            }
        }

        Assert.Equal(online.Sum(c => c.Value.Count), set.Count);
        Assert.All(online, c => Assert.Equal(c.Value.Count, cursor[c.Key]));
    }

    [Fact]
    public void OfflineAndOnline_SameStreamTwice_IdenticalBytes()
    {
        // Determinism across runs within the process: a fresh build gives the same matrices bit for bit.
        var (arrivals, _) = SyntheticStream.Generate(seed: 5, cards: 200, events: 5000);
        var a = TrainingSet.Build(FeatureSpec.CardV1, arrivals);
        var b = TrainingSet.Build(FeatureSpec.CardV1, arrivals);
        Assert.True(TestTx.BitEqual(a.Vectors, b.Vectors));
        Assert.True(a.WindowRows.SequenceEqual(b.WindowRows));
    }
}
