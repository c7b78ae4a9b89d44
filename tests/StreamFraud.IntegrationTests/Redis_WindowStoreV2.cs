using StackExchange.Redis;
using StreamFraud.Core;
using StreamFraud.Core.Features;
using StreamFraud.Core.Labels;
using StreamFraud.Core.Windows;
using StreamFraud.DevStack.Redis;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Redis;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// Issue 12: the production store serving spec <c>card</c> v2 on a real redis-server — merchant and card risk rings
/// read with every batch and counted in the commit script, labels through <see cref="ILabelStore"/> — against the
/// offline featurizer fed the same interleaving of events and labels.
/// </summary>
[Collection(StackCollection.Name)]
public sealed class Redis_WindowStoreV2(StackFixture stack)
{
    private static readonly FeatureSpec Spec = FeatureSpec.CardV2;

    [Fact]
    public async Task EventsAndLabelsInterleaved_EveryWindowEqualsOfflineFeaturizer_RingsAndRecordsToo()
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        await EventsAndLabelsEqualOffline(mux.GetDatabase(), $"v2:{Guid.NewGuid():N}:", count: 3_000, cards: 120);
    }

    /// <summary>
    /// The scorer's overlapped protocol: each batch is prepared on the previous batch's uncommitted writes, its reads
    /// sent before that commit, which then runs while the batch is computed. Windows, rings and records still equal
    /// the offline featurizer's, labels included.
    /// </summary>
    [Fact]
    public async Task PreparedOnThePendingCommit_EveryWindowEqualsOfflineFeaturizer_RingsAndRecordsToo()
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        await EventsAndLabelsEqualOffline(mux.GetDatabase(), $"v2p:{Guid.NewGuid():N}:", count: 3_000, cards: 120, onPending: true);
    }

    /// <summary>
    /// Events and labels interleaved through a scoring store and a label store on <paramref name="db"/>: every window,
    /// status and label decision equals the offline featurizer's, and so do the rings and records at the end.
    /// <paramref name="during"/> (optional) starts after the first quarter of the batches and runs alongside the rest
    /// (a reshard, a failover); the number of batches applied while it ran is returned.
    /// </summary>
    internal static async Task<int> EventsAndLabelsEqualOffline(
        IDatabase db, string prefix, int count, int cards, Func<Task>? during = null, RedisWindowStoreOptions? options = null, bool onPending = false)
    {
        PreparedWrites? pending = null;
        var events = RiskStreams.Events(seed: 21, count: count, cards: cards, merchants: 15, days: 14);
        var labels = RiskStreams.Labels(seed: 22, events);
        var store = new RedisWindowStore(db, Spec, (options ?? new RedisWindowStoreOptions()) with { KeyPrefix = prefix });
        var labeller = new RedisWindowStore(db, Spec, new RedisWindowStoreOptions { KeyPrefix = prefix }); // the label consumer's own
        Task? background = null;
        var overlapped = 0;

        // Independent path: the offline featurizer, labels applied at the same points (after the same events).
        var offline = new OfflineFeaturizer(Spec);
        var expected = new float[events.Count][];
        var statuses = new ApplyStatus[events.Count];
        var expectedDecisions = new List<LabelDecision>();
        var next = 0;
        foreach (var l in labels.Where(l => l.After < 0))
        {
            expectedDecisions.Add(offline.ApplyLabel(l.Label));
            next++;
        }

        var rng = new Random(23);
        var boundaries = new List<int>();
        for (var start = 0; start < events.Count; start += rng.Next(20, 260))
        {
            boundaries.Add(start);
        }

        boundaries.Add(events.Count);
        var labelsAt = labels.Select(l => l.After).ToArray();
        for (var b = 0; b + 1 < boundaries.Count; b++)
        {
            for (var i = boundaries[b]; i < boundaries[b + 1]; i++)
            {
                expected[i] = new float[Spec.WindowSize];
                statuses[i] = offline.Apply(events[i], expected[i]).Status;
            }

            // Labels that arrived up to the batch's last event, after the batch.
            for (; next < labels.Count && labelsAt[next] < boundaries[b + 1]; next++)
            {
                expectedDecisions.Add(offline.ApplyLabel(labels[next].Label));
            }
        }

        var decisions = new List<LabelDecision>();
        next = 0;
        decisions.AddRange(await labeller.ApplyLabelsAsync([.. labels.Where(l => l.After < 0).Select(l => l.Label)]));
        next = decisions.Count;
        for (var b = 0; b + 1 < boundaries.Count; b++)
        {
            if (during is not null && background is null && b >= boundaries.Count / 4)
            {
                background = Task.Run(during);
            }

            var running = background is { IsCompleted: false };
            var batch = Batch(events, boundaries[b], boundaries[b + 1] - boundaries[b]);
            if (onPending)
            {
                Assert.True(store.CanPrepareOnPending);
                var preparing = pending is null ? store.PrepareAsync(batch) : store.PrepareOnPendingAsync(batch, pending);
                var committing = pending is null ? Task.FromResult(0) : store.CommitAsync(pending);
                var writes = await preparing;
                Assert.Equal(0, await committing);
                pending = writes;
            }
            else
            {
                await store.ApplyAsync(batch);
            }

            overlapped += running ? 1 : 0;
            for (var j = 0; j < batch.Count; j++)
            {
                var i = boundaries[b] + j;
                Assert.Equal(statuses[i], batch.Result(j).Status);
                if (Comparable(batch.Result(j)))
                {
                    Assert.True(expected[i].AsSpan().SequenceEqual(batch.Window(j)), $"window of event {i} ({events[i].CardId}, {events[i].MerchantId})");
                }
            }

            // The labels of this point, in chunks of any size.
            var due = new List<TransactionLabel>();
            for (; next < labels.Count && labelsAt[next] < boundaries[b + 1]; next++)
            {
                due.Add(labels[next].Label);
            }

            for (var at = 0; at < due.Count;)
            {
                var chunk = due.Skip(at).Take(rng.Next(1, 25)).ToList();
                at += chunk.Count;
                decisions.AddRange(await labeller.ApplyLabelsAsync(chunk));
            }
        }

        if (background is not null)
        {
            await background;
        }

        if (pending is not null)
        {
            Assert.Equal(0, await store.CommitAsync(pending));
        }

        Assert.Equal(expectedDecisions, decisions);
        foreach (var outcome in Enum.GetValues<LabelOutcome>())
        {
            Assert.True(offline.Risk.Count(outcome) > 0, $"the stream should exercise {outcome}");
        }

        Assert.Contains(statuses, s => s == ApplyStatus.DuplicateTransactionId);
        await AssertRisk(db, prefix, offline.Risk, events, labels.Select(l => l.Label));
        Assert.Equal(0, store.ForeignRings);
        return overlapped;
    }

    [Fact]
    public async Task RedeliveryAndExactlyOnceRedo_CountNothingTwice_RedoGetsTheOriginalWindows()
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var db = mux.GetDatabase();
        var prefix = $"v2r:{Guid.NewGuid():N}:";
        var events = RiskStreams.Events(seed: 31, count: 1_200, cards: 40, merchants: 6, days: 6).Where(e => e.Amount >= 0).ToList();
        var options = new RedisWindowStoreOptions { KeyPrefix = prefix, KeepUndo = true };
        var offline = new OfflineFeaturizer(Spec);
        var expected = events.Select(e =>
        {
            var w = new float[Spec.WindowSize];
            offline.Apply(e, w);
            return w;
        }).ToArray();

        // A batch that spans a day boundary, so its later events read counts of its earlier ones' day.
        var cut = events.FindIndex(e => e.EventTimeMs >= RiskStreams.Start + (4 * RiskStreams.Day)) - 150;
        var store = new RedisWindowStore(db, Spec, options);
        for (var start = 0; start < cut; start += 200)
        {
            await store.ApplyAsync(Batch(events, start, Math.Min(200, cut - start)));
        }

        // The aborted batch: states and ring counts written, then its Kafka transaction aborted.
        var aborted = Batch(events, cut, 300);
        await store.ApplyAsync(aborted);
        AssertWindows(aborted, cut, expected);
        var afterAborted = await Snapshot(db, prefix, events);

        // A new scorer (cold cache) gets it again: re-applied on the undo copies, every event applied with its original
        // window, and the rings count each transaction once.
        var restarted = new RedisWindowStore(db, Spec, options);
        var redo = Batch(events, cut, 300);
        await restarted.ApplyAsync(redo);
        for (var j = 0; j < redo.Count; j++)
        {
            Assert.Equal(aborted.Result(j).Status, redo.Result(j).Status);
        }

        AssertWindows(redo, cut, expected);
        Assert.Equal(afterAborted, await Snapshot(db, prefix, events)); // same states (new versions aside) and rings

        // At-least-once redelivery of the tail (cold cache, no undo): all duplicates, nothing written, nothing counted.
        var plain = new RedisWindowStore(db, Spec, new RedisWindowStoreOptions { KeyPrefix = prefix });
        var again = Batch(events, cut + 100, 200);
        await plain.ApplyAsync(again);
        Assert.All(Enumerable.Range(0, again.Count), j => Assert.True(again.Result(j).IsDuplicate));
        Assert.Equal(1, plain.RoundTrips); // the MGET
        Assert.Equal(afterAborted, await Snapshot(db, prefix, events));

        // The rest, then: rings equal one pass over everything.
        for (var start = cut + 300; start < events.Count; start += 200)
        {
            var batch = Batch(events, start, Math.Min(200, events.Count - start));
            await restarted.ApplyAsync(batch);
            AssertWindows(batch, start, expected);
        }

        await AssertRisk(db, prefix, offline.Risk, events, []);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TwoWritersOnSameCards_ConflictsReReadRings_CountEachTransactionOnce(bool lateAndResent)
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var db = mux.GetDatabase();
        var prefix = $"v2c:{Guid.NewGuid():N}:";
        var events = RiskStreams.Events(seed: 41, count: 1_000, cards: 15, merchants: 4, days: 5);
        if (!lateAndResent)
        {
            events = [.. events.DistinctBy(e => e.TransactionId).OrderBy(e => e.EventTimeMs)];
        }

        var a = new RedisWindowStore(db, Spec, new RedisWindowStoreOptions { KeyPrefix = prefix });
        var b = new RedisWindowStore(db, Spec, new RedisWindowStoreOptions { KeyPrefix = prefix });
        var offline = new OfflineFeaturizer(Spec);
        var expected = events.Select(e =>
        {
            var w = new float[Spec.WindowSize];
            offline.Apply(e, w);
            return w;
        }).ToArray();

        // Alternate batches between two writers whose caches go stale every time the other one writes (a scorer
        // forgets its cache on a rebalance; these do not): the first attempt of a batch writes the cards that did not
        // change and conflicts on the others, which are re-applied on their current states with re-read rings.
        var v1 = FeatureSpec.CardV1.Dimension;
        for (var start = 0; start < events.Count; start += 50)
        {
            var batch = Batch(events, start, Math.Min(50, events.Count - start));
            await (start / 50 % 2 == 0 ? a : b).ApplyAsync(batch);
            for (var j = 0; j < batch.Count; j++)
            {
                if (!Comparable(batch.Result(j)))
                {
                    continue;
                }

                if (!lateAndResent)
                {
                    Assert.True(expected[start + j].AsSpan().SequenceEqual(batch.Window(j)), $"window of event {start + j}");
                    continue;
                }

                // Out of event-time order, a re-applied card can read counts of the batch's cards written by the first
                // attempt that come after it in the batch (documented on RedisWindowStore): the card features stay exact.
                for (var step = 0; step < FeatureSpec.WindowLength; step++)
                {
                    Assert.True(
                        expected[start + j].AsSpan(step * Spec.Dimension, v1).SequenceEqual(batch.Window(j).Slice(step * Spec.Dimension, v1)),
                        $"card features of event {start + j}, step {step}");
                }
            }
        }

        Assert.True(a.Conflicts + b.Conflicts > 0, "the stale caches should have produced conflicts");
        await AssertRisk(db, prefix, offline.Risk, events, []);
    }

    [Fact]
    public async Task TwoStoresConcurrently_SharedHotMerchants_NoLostCount_EveryWindowRight()
    {
        // Two scorers (own connections, cards split like two partitions) and a label consumer run at once within each
        // day; a barrier between days. Features of a day read only earlier days, so every window is determined.
        await using var muxA = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        await using var muxB = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        await using var muxL = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var prefix = $"v2p:{Guid.NewGuid():N}:";
        var events = RiskStreams.Events(seed: 51, count: 4_000, cards: 200, merchants: 5, days: 6)
            .Where(e => e.Amount >= 0).DistinctBy(e => e.TransactionId).OrderBy(e => e.EventTimeMs).ToList();
        var labels = RiskStreams.Labels(seed: 52, events).Select(l => l.Label).ToList();
        var stores = new[]
        {
            new RedisWindowStore(muxA.GetDatabase(), Spec, new RedisWindowStoreOptions { KeyPrefix = prefix }),
            new RedisWindowStore(muxB.GetDatabase(), Spec, new RedisWindowStoreOptions { KeyPrefix = prefix }),
        };
        var labeller = new RedisWindowStore(muxL.GetDatabase(), Spec, new RedisWindowStoreOptions { KeyPrefix = prefix });
        static int Partition(string card) => (int)(StableHash.Hash(1, card) % 2);
        static uint DayOf(long t) => RiskRing.Stamp(t);

        var offline = new OfflineFeaturizer(Spec);
        var expected = new Dictionary<string, float[]>();
        var windows = new Dictionary<string, float[]>();
        var offsets = new long[2];
        foreach (var day in events.Select(e => DayOf(e.EventTimeMs)).Distinct().Order())
        {
            var today = events.Where(e => DayOf(e.EventTimeMs) == day).ToList();
            var todaysLabels = labels.Where(l => DayOf(l.EventTimeMs) == day && LabelRules.Validate(l) is null).ToList();
            foreach (var e in today)
            {
                var w = new float[Spec.WindowSize];
                Assert.True(offline.Apply(e, w).IsApplied);
                expected[e.TransactionId] = w;
            }

            foreach (var l in todaysLabels)
            {
                offline.ApplyLabel(l);
            }

            var writers = Enumerable.Range(0, 2).Select(p => Task.Run(async () =>
            {
                var mine = today.Where(e => Partition(e.CardId) == p).ToList();
                var rng = new Random((int)(day * 2) + p);
                var result = new List<(string, float[])>();
                for (var at = 0; at < mine.Count;)
                {
                    var batch = new WindowBatch(Spec, 64);
                    for (var n = rng.Next(8, 64); n > 0 && at < mine.Count; n--, at++)
                    {
                        batch.Add(mine[at], new SourcePosition(p, offsets[p]++, SourcePosition.OfflineSource));
                    }

                    await stores[p].ApplyAsync(batch);
                    for (var j = 0; j < batch.Count; j++)
                    {
                        result.Add((batch.Event(j).TransactionId, batch.Window(j).ToArray()));
                    }
                }

                return result;
            })).ToList();
            var labelling = Task.Run(async () =>
            {
                for (var at = 0; at < todaysLabels.Count; at += 7)
                {
                    await labeller.ApplyLabelsAsync(todaysLabels.Skip(at).Take(7).ToList());
                }
            });
            await Task.WhenAll([.. writers, labelling]);
            foreach (var (id, w) in writers.SelectMany(t => t.Result))
            {
                windows[id] = w;
            }
        }

        Assert.Equal(events.Count, windows.Count);
        foreach (var e in events)
        {
            Assert.True(expected[e.TransactionId].AsSpan().SequenceEqual(windows[e.TransactionId]), $"window of {e.TransactionId}");
        }

        // Brute force: per merchant, per day, the number of transactions (6 days: no slot recycles); a card's ring
        // counts no transactions (its own are in its state, checked through the windows above).
        var db = muxL.GetDatabase();
        foreach (var (kind, tag) in new[] { (0, "rm:"), (1, "rc:") })
        {
            foreach (var group in events.GroupBy(e => kind == 0 ? e.MerchantId : e.CardId).Where(g => g.Key.Length > 0))
            {
                var ring = new RiskRing();
                Assert.True(ring.Load(await RiskStreams.RingBytes(db, prefix + tag + group.Key)));
                var days = group.GroupBy(e => RiskRing.Stamp(e.EventTimeMs)).OrderBy(g => g.Key).ToList();
                Assert.Equal(days.Select(d => (d.Key, kind == 0 ? (uint)d.Count() : 0u)), days.Select(d => (d.Key, ring.Transactions(d.Key))));
            }
        }

        await AssertRisk(db, prefix, offline.Risk, events, labels);
    }

    [Fact]
    public async Task WarmCards_TwoRoundTripsPerBatch_RingsReadEveryBatch_TtlSet()
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var db = mux.GetDatabase();
        var prefix = $"v2t:{Guid.NewGuid():N}:";
        var events = RiskStreams.Events(seed: 61, count: 300, cards: 10, merchants: 3, days: 3);
        var store = new RedisWindowStore(db, Spec, new RedisWindowStoreOptions { KeyPrefix = prefix, IdleTtl = TimeSpan.FromHours(1) });
        await store.ApplyAsync(Batch(events, 0, 100)); // MGET + SCRIPT LOAD + EVALSHA
        Assert.Equal(3, store.RoundTrips);
        await store.ApplyAsync(Batch(events, 100, 100)); // warm cards: the MGET (rings only) + EVALSHA
        Assert.Equal(5, store.RoundTrips);

        // A ring changed by someone else between batches is seen by the next one (never cached).
        var card = events[200].CardId;
        var ring = new RiskRing();
        ring.Load(await RiskStreams.RingBytes(db, prefix + "rc:" + card));
        ring.Bump(RiskRing.Stamp(events[200].EventTimeMs) - 1, 0, 1);
        await db.StringSetAsync(prefix + "rc:" + card, ring.ToArray());
        var batch = Batch(events, 200, 100);
        await store.ApplyAsync(batch);
        var first = Enumerable.Range(0, batch.Count).First(j => batch.Event(j).CardId == card && batch.Result(j).IsApplied);
        Assert.Equal(1f, batch.Newest(first)[Spec.IndexOf("card_has_fraud")]);

        // The scorer writes card states and merchant rings (card rings are the label consumer's).
        foreach (var key in new[] { prefix + "c2:" + card, prefix + "rm:" + events[250].MerchantId })
        {
            if (key.EndsWith(':'))
            {
                continue;
            }

            Assert.InRange((await db.KeyTimeToLiveAsync(key))!.Value, TimeSpan.FromMinutes(59), TimeSpan.FromHours(1));
        }
    }

    [Fact]
    public async Task V1AndV2ScorersOnOnePrefix_KeepTheirOwnStates_NoIdReachesAnotherKind()
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var db = mux.GetDatabase();
        var prefix = $"v12:{Guid.NewGuid():N}:";
        // Ids that look like other kinds' tags.
        string[] cards = ["X", "2:X", "c:X", "m:X", "u2:X"];
        string[] merchants = ["X", "c:X", "c2:X", "l:X"];
        var events = Enumerable.Range(0, 60).Select(i => new Transaction(
            $"l:{i}", cards[i % cards.Length], merchants[i % merchants.Length], 10 + i, "EUR", RiskStreams.Start + (i * 3_600_000L), "5411", "DE", "pos")).ToList();
        var v1 = new RedisWindowStore(db, FeatureSpec.CardV1, new RedisWindowStoreOptions { KeyPrefix = prefix });
        var v2 = new RedisWindowStore(db, Spec, new RedisWindowStoreOptions { KeyPrefix = prefix });
        var memory1 = new InMemoryWindowStore(FeatureSpec.CardV1);
        var memory2 = new InMemoryWindowStore(Spec);
        for (var start = 0; start < events.Count; start += 20)
        {
            // Interleaved: each scorer's writes leave the other's states alone.
            await v1.ApplyAsync(Batch(events, start, 20, FeatureSpec.CardV1));
            await v2.ApplyAsync(Batch(events, start, 20));
            await memory1.ApplyAsync(Batch(events, start, 20, FeatureSpec.CardV1));
            await memory2.ApplyAsync(Batch(events, start, 20));
        }

        var label = new TransactionLabel("X", "X", "X", RiskStreams.Start, RiskStreams.Start + 1, true);
        Assert.Equal(LabelOutcome.Applied, (await v2.ApplyLabelsAsync([label]))[0].Outcome);
        await memory2.ApplyLabelsAsync([label]);
        foreach (var card in cards)
        {
            Assert.Equal(memory1.Get(card), ((byte[])(await db.StringGetAsync(prefix + "c:" + card))!)[8..]);
            Assert.Equal(memory2.Get(card), ((byte[])(await db.StringGetAsync(prefix + "c2:" + card))!)[8..]);
            Assert.Equal(RiskStreams.RingBytes(memory2.Risk, RiskEntity.Card, card), await RiskStreams.RingBytes(db, prefix + "rc:" + card));
        }

        foreach (var merchant in merchants)
        {
            Assert.Equal(RiskStreams.RingBytes(memory2.Risk, RiskEntity.Merchant, merchant), await RiskStreams.RingBytes(db, prefix + "rm:" + merchant));
        }

        var keys = new List<string>();
        await foreach (var key in mux.GetServer(mux.GetEndPoints()[0]).KeysAsync(pattern: prefix + "*"))
        {
            keys.Add(key.ToString()[prefix.Length..]);
        }

        // A card's ring exists once a label names it (the card counts its own transactions in its state).
        var expectedKeys = cards.SelectMany(c => new[] { "c:" + c, "c2:" + c }).Concat(merchants.Select(m => "rm:" + m)).Append("l:X").Append("rc:X");
        Assert.Equal(expectedKeys.Order(StringComparer.Ordinal), keys.Order(StringComparer.Ordinal));
        Assert.Equal((RedisKey)(prefix + "c2:2:X"), v2.Key("2:X"));
        Assert.Equal((RedisKey)(prefix + "u2:X"), v2.UndoKey("X"));
        Assert.Equal((RedisKey)(prefix + "u:X"), v1.UndoKey("X"));
        Assert.Equal((RedisKey)(prefix + "l:X"), v1.Key("X", KeyKind.Label));
    }

    [Fact]
    public async Task Garnet_RunsTheV2StoreAndLabels_WithTheSameBytes()
    {
        await using var garnet = await GarnetHost.StartAsync();
        await using var onGarnetMux = await ConnectionMultiplexer.ConnectAsync(garnet.Endpoint);
        await using var onRedisMux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var prefix = $"v2g:{Guid.NewGuid():N}:";
        var events = RiskStreams.Events(seed: 71, count: 800, cards: 30, merchants: 4, days: 8);
        var labels = RiskStreams.Labels(seed: 72, events);
        var dbs = new[] { onRedisMux.GetDatabase(), onGarnetMux.GetDatabase() };
        var stores = dbs.Select(db => new RedisWindowStore(db, Spec, new RedisWindowStoreOptions { KeyPrefix = prefix, CacheCapacity = 0, KeepUndo = true })).ToArray();
        var decisions = new List<LabelDecision>[] { [], [] };
        var next = 0;
        for (var start = 0; start < events.Count; start += 100)
        {
            var due = new List<TransactionLabel>();
            for (; next < labels.Count && labels[next].After < start; next++)
            {
                due.Add(labels[next].Label);
            }

            for (var s = 0; s < 2; s++)
            {
                decisions[s].AddRange(await stores[s].ApplyLabelsAsync(due));
                await stores[s].ApplyAsync(Batch(events, start, 100));
            }
        }

        Assert.Equal(decisions[0], decisions[1]);
        var snapshots = new List<List<string>>();
        foreach (var db in dbs)
        {
            var snapshot = await Snapshot(db, prefix, events);
            foreach (var l in labels)
            {
                snapshot.Add(l.Label.TransactionId + "=" + await db.StringGetAsync(prefix + "l:" + l.Label.TransactionId));
            }

            snapshots.Add(snapshot);
        }

        Assert.Equal(snapshots[0], snapshots[1]);
    }

    private static WindowBatch Batch(List<Transaction> events, int start, int count, FeatureSpec? spec = null)
    {
        var batch = new WindowBatch(spec ?? Spec, count);
        for (var i = start; i < start + count; i++)
        {
            batch.Add(events[i], new SourcePosition(0, i, SourcePosition.OfflineSource));
        }

        return batch;
    }

    /// <summary>Whether a result comes with its whole window (applied, or a duplicate whose older steps are still kept).</summary>
    private static bool Comparable(ApplyResult result) => result.IsApplied || result.WindowComplete;

    private static void AssertWindows(WindowBatch batch, int start, float[][] expected)
    {
        for (var j = 0; j < batch.Count; j++)
        {
            Assert.True(!Comparable(batch.Result(j)) || expected[start + j].AsSpan().SequenceEqual(batch.Window(j)), $"window of event {start + j} ({batch.Event(j).CardId})");
        }
    }

    /// <summary>Card states (without their version), undo copies and rings of every card and merchant, as hex.</summary>
    private static async Task<List<string>> Snapshot(IDatabase db, string prefix, List<Transaction> events)
    {
        var result = new List<string>();
        foreach (var card in events.Select(e => e.CardId).Distinct().Order(StringComparer.Ordinal))
        {
            var state = await db.StringGetAsync(prefix + "c2:" + card);
            result.Add(card + "=" + (state.IsNull ? "-" : Convert.ToHexString(((byte[])state!)[8..])));
            result.Add(card + " ring=" + Convert.ToHexString(await RiskStreams.RingBytes(db, prefix + "rc:" + card)));
        }

        foreach (var merchant in events.Select(e => e.MerchantId).Where(m => m.Length > 0).Distinct().Order(StringComparer.Ordinal))
        {
            result.Add(merchant + " ring=" + Convert.ToHexString(await RiskStreams.RingBytes(db, prefix + "rm:" + merchant)));
        }

        return result;
    }

    /// <summary>Every ring of the stream's and labels' merchants and cards, and every label record, equal <paramref name="expected"/>'s.</summary>
    internal static async Task AssertRisk(IDatabase db, string prefix, RiskBook expected, List<Transaction> events, IEnumerable<TransactionLabel> labels)
    {
        var labelList = labels.ToList();
        foreach (var merchant in events.Select(e => e.MerchantId).Concat(labelList.Select(l => l.MerchantId)).Where(m => !string.IsNullOrEmpty(m)).Distinct())
        {
            var stored = await RiskStreams.RingBytes(db, prefix + "rm:" + merchant);
            Assert.True(RiskStreams.RingBytes(expected, RiskEntity.Merchant, merchant).AsSpan().SequenceEqual(stored), $"ring of merchant {merchant}");
        }

        foreach (var card in events.Select(e => e.CardId).Concat(labelList.Select(l => l.CardId)).Where(c => !string.IsNullOrEmpty(c)).Distinct())
        {
            var stored = await RiskStreams.RingBytes(db, prefix + "rc:" + card);
            Assert.True(RiskStreams.RingBytes(expected, RiskEntity.Card, card).AsSpan().SequenceEqual(stored), $"ring of card {card}");
        }

        foreach (var id in labelList.Select(l => l.TransactionId).Where(t => !string.IsNullOrEmpty(t)).Distinct())
        {
            Assert.Equal(expected.FindLabel(id), RedisWindowStore.ParseRecord(await db.StringGetAsync(prefix + "l:" + id)));
        }
    }
}
