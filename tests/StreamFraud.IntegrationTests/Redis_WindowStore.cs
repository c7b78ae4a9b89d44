using StackExchange.Redis;
using StreamFraud.Core;
using StreamFraud.Core.Features;
using StreamFraud.Core.Windows;
using StreamFraud.DevStack.Redis;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Redis;

namespace StreamFraud.IntegrationTests;

/// <summary>The production window store on a real redis-server (and Garnet): windows, idempotence, conflicts, TTL.</summary>
[Collection(StackCollection.Name)]
public sealed class Redis_WindowStore(StackFixture stack)
{
    private static readonly FeatureSpec Spec = FeatureSpec.CardV1;

    [Fact]
    public async Task Batches_WindowsEqualOfflineFeaturizer_AndStoredBytesEqualInMemoryStore()
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var prefix = $"t:{Guid.NewGuid():N}:";
        var store = new RedisWindowStore(mux.GetDatabase(), Spec, new RedisWindowStoreOptions { KeyPrefix = prefix });
        var memory = new InMemoryWindowStore(Spec);
        var events = Stream(seed: 7, cards: 300, count: 6_000);

        // Independent path: the offline featurizer over the same rows in the same order.
        var offline = new OfflineFeaturizer(Spec);
        var expected = new float[events.Count][];
        for (var i = 0; i < events.Count; i++)
        {
            expected[i] = new float[Spec.WindowSize];
            Assert.True(offline.Apply(events[i], expected[i]).IsApplied);
        }

        var batch = new WindowBatch(Spec, 250);
        var memoryBatch = new WindowBatch(Spec, 250);
        for (var start = 0; start < events.Count; start += 250)
        {
            batch.Clear();
            memoryBatch.Clear();
            for (var i = start; i < Math.Min(events.Count, start + 250); i++)
            {
                batch.Add(events[i], new SourcePosition(0, i, SourcePosition.OfflineSource));
                memoryBatch.Add(events[i], new SourcePosition(0, i, SourcePosition.OfflineSource));
            }

            await store.ApplyAsync(batch);
            await memory.ApplyAsync(memoryBatch);
            for (var j = 0; j < batch.Count; j++)
            {
                Assert.Equal(ApplyStatus.Applied, batch.Result(j).Status);
                Assert.True(expected[start + j].AsSpan().SequenceEqual(batch.Window(j)), $"window of event {start + j}");
            }
        }

        var db = mux.GetDatabase();
        foreach (var card in events.Select(e => e.CardId).Distinct())
        {
            var stored = (byte[])(await db.StringGetAsync(prefix + "c:" + card))!;
            Assert.Equal(memory.Get(card), stored[8..]);
        }
    }

    [Fact]
    public async Task RedeliveredBatch_LeavesRedisBytesUnchanged_AndReturnsTheOriginalWindows()
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var prefix = $"t:{Guid.NewGuid():N}:";
        var db = mux.GetDatabase();
        var events = Stream(seed: 3, cards: 40, count: 400);
        var first = new RedisWindowStore(db, Spec, new RedisWindowStoreOptions { KeyPrefix = prefix });
        var batch = Batch(events, 0, 400);
        await first.ApplyAsync(batch);
        var windows = batch.Windows.AsSpan(0, 400 * Spec.WindowSize).ToArray();
        var before = await Snapshot(db, prefix, events);

        // A new scorer instance (cold cache) after a crash gets the last 150 events again.
        var restarted = new RedisWindowStore(db, Spec, new RedisWindowStoreOptions { KeyPrefix = prefix });
        var again = Batch(events, 250, 150);
        await restarted.ApplyAsync(again);
        Assert.Equal(before, await Snapshot(db, prefix, events));
        Assert.Equal(1, restarted.RoundTrips); // the read; no write for an all-duplicate batch
        var complete = 0;
        for (var j = 0; j < again.Count; j++)
        {
            Assert.True(again.Result(j).IsDuplicate);
            if (again.Result(j).WindowComplete)
            {
                complete++;
                Assert.True(windows.AsSpan((250 + j) * Spec.WindowSize, Spec.WindowSize).SequenceEqual(again.Window(j)), $"event {250 + j}");
            }
        }

        // Every card's newest event (at least) still has its whole window; older steps of earlier ones may be evicted.
        Assert.True(complete >= events.Skip(250).Select(e => e.CardId).Distinct().Count(), $"{complete} complete windows");
    }

    [Fact]
    public async Task TwoWritersOnSameCards_CompareAndSetResolves_ResultEqualsOneWriter()
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var db = mux.GetDatabase();
        var prefix = $"t:{Guid.NewGuid():N}:";
        var events = Stream(seed: 11, cards: 20, count: 600);
        var a = new RedisWindowStore(db, Spec, new RedisWindowStoreOptions { KeyPrefix = prefix });
        var b = new RedisWindowStore(db, Spec, new RedisWindowStoreOptions { KeyPrefix = prefix });

        // Alternate batches between two writers whose caches go stale every time the other one writes.
        for (var start = 0; start < events.Count; start += 50)
        {
            await (start / 50 % 2 == 0 ? a : b).ApplyAsync(Batch(events, start, 50));
        }

        Assert.True(a.Conflicts + b.Conflicts > 0, "the stale caches should have produced conflicts");
        var single = new InMemoryWindowStore(Spec);
        await single.ApplyAsync(Batch(events, 0, events.Count));
        foreach (var card in events.Select(e => e.CardId).Distinct())
        {
            Assert.Equal(single.Get(card), ((byte[])(await db.StringGetAsync(prefix + "c:" + card))!)[8..]);
        }
    }

    [Fact]
    public async Task ExpiredCardRecreatedByAnotherWriter_AsManyWrites_StaleCopyIsAConflictNotALostUpdate()
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var db = mux.GetDatabase();
        var prefix = $"t:{Guid.NewGuid():N}:";
        var events = Stream(seed: 13, cards: 1, count: 5); // one card
        var a = new RedisWindowStore(db, Spec, new RedisWindowStoreOptions { KeyPrefix = prefix });
        var b = new RedisWindowStore(db, Spec, new RedisWindowStoreOptions { KeyPrefix = prefix });

        // Writer A writes the card twice and keeps its state cached; the key then expires (idle TTL); writer B (the
        // partition's new owner) recreates the card and also writes it twice; A, a zombie, then writes on its copy.
        await a.ApplyAsync(Batch(events, 0, 1));
        await a.ApplyAsync(Batch(events, 1, 1));
        Assert.True(await db.KeyDeleteAsync(prefix + "c:" + events[0].CardId));
        await b.ApplyAsync(Batch(events, 2, 1));
        await b.ApplyAsync(Batch(events, 3, 1));
        await a.ApplyAsync(Batch(events, 4, 1));

        // A counter version (old + 1) matched after as many writes and A overwrote B's two events; a random version
        // makes A's write a conflict, so A's event is applied on B's state.
        Assert.Equal(1, a.Conflicts);
        var expected = new InMemoryWindowStore(Spec);
        await expected.ApplyAsync(Batch(events, 2, 3));
        Assert.Equal(expected.Get(events[0].CardId), ((byte[])(await db.StringGetAsync(prefix + "c:" + events[0].CardId))!)[8..]);
    }

    [Fact]
    public async Task WarmCache_OneRoundTripPerBatch_ColdCards_TwoAndIdleTtlSet()
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var db = mux.GetDatabase();
        var prefix = $"t:{Guid.NewGuid():N}:";
        var events = Stream(seed: 5, cards: 10, count: 300);
        var store = new RedisWindowStore(db, Spec, new RedisWindowStoreOptions { KeyPrefix = prefix, IdleTtl = TimeSpan.FromHours(1) });
        await store.ApplyAsync(Batch(events, 0, 100)); // cold: MGET + SCRIPT LOAD + EVALSHA
        var afterFirst = store.RoundTrips;
        Assert.Equal(3, afterFirst);
        await store.ApplyAsync(Batch(events, 100, 100)); // warm: one EVALSHA
        Assert.Equal(afterFirst + 1, store.RoundTrips);

        var ttl = await db.KeyTimeToLiveAsync(prefix + "c:" + events[0].CardId);
        Assert.NotNull(ttl);
        Assert.InRange(ttl!.Value, TimeSpan.FromMinutes(59), TimeSpan.FromHours(1));
    }

    [Fact]
    public async Task Garnet_RunsTheSameStore_WithTheSameBytes()
    {
        await using var garnet = await GarnetHost.StartAsync();
        await using var mux = await ConnectionMultiplexer.ConnectAsync(garnet.Endpoint);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var prefix = $"t:{Guid.NewGuid():N}:";
        var events = Stream(seed: 9, cards: 30, count: 500);
        var onGarnet = new RedisWindowStore(mux.GetDatabase(), Spec, new RedisWindowStoreOptions { KeyPrefix = prefix, CacheCapacity = 0 });
        var onRedis = new RedisWindowStore(redis.GetDatabase(), Spec, new RedisWindowStoreOptions { KeyPrefix = prefix, CacheCapacity = 0 });
        for (var start = 0; start < events.Count; start += 100)
        {
            await onGarnet.ApplyAsync(Batch(events, start, 100));
            await onRedis.ApplyAsync(Batch(events, start, 100));
        }

        Assert.Equal(await Snapshot(redis.GetDatabase(), prefix, events, versions: false), await Snapshot(mux.GetDatabase(), prefix, events, versions: false));
    }

    private static WindowBatch Batch(List<Transaction> events, int start, int count)
    {
        var batch = new WindowBatch(Spec, count);
        for (var i = start; i < start + count; i++)
        {
            batch.Add(events[i], new SourcePosition(0, i, SourcePosition.OfflineSource));
        }

        return batch;
    }

    /// <summary>Every card's stored value as hex; without its 8-byte version (random per write) when <paramref name="versions"/> is false.</summary>
    private static async Task<List<string>> Snapshot(IDatabase db, string prefix, List<Transaction> events, bool versions = true)
    {
        var result = new List<string>();
        foreach (var card in events.Select(e => e.CardId).Distinct().Order(StringComparer.Ordinal))
        {
            var value = (byte[])(await db.StringGetAsync(prefix + "c:" + card))!;
            result.Add(card + "=" + Convert.ToHexString(versions ? value : value[8..]));
        }

        return result;
    }

    /// <summary>A seeded stream in event-time order: repeat cards, a few merchants each, varied amounts.</summary>
    private static List<Transaction> Stream(int seed, int cards, int count)
    {
        var rng = new Random(seed);
        var t = 1_767_225_600_000L;
        var list = new List<Transaction>(count);
        for (var i = 0; i < count; i++)
        {
            t += rng.Next(1, 120_000);
            var card = rng.Next(cards);
            list.Add(new Transaction(
                $"tx-{seed}-{i}", $"card-{card}", $"m-{card % 7}-{rng.Next(4)}", Math.Round(Math.Exp(rng.NextDouble() * 6), 2), "EUR", t,
                rng.Next(2) == 0 ? "5411" : "5999", rng.Next(10) == 0 ? "FR" : "DE", rng.Next(3) == 0 ? "ecom" : "pos"));
        }

        return list;
    }
}
