using StackExchange.Redis;
using StreamFraud.Core;
using StreamFraud.Core.Features;
using StreamFraud.Core.Windows;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Redis;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// Issue 11: card ids never reach another key. Card <c>X:undo</c> used to be stored under card X's undo key in
/// exactly-once mode; state and undo keys now live in separate namespaces (<c>{prefix}c:</c>, <c>{prefix}u:</c>).
/// </summary>
[Collection(StackCollection.Name)]
public sealed class Redis_KeyNamespace(StackFixture stack)
{
    private static readonly FeatureSpec Spec = FeatureSpec.CardV1;
    private static readonly uint Source = SourcePosition.SourceHash("transactions");

    [Fact]
    public async Task ExactlyOnce_CardsXAndXUndo_DoNotCollide_WindowsCorrect_UndoRedoesAnAbortedBatch()
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var db = mux.GetDatabase();
        var prefix = $"ns:{Guid.NewGuid():N}:";
        string[] cards = ["X", "X:undo", "u:X", "c:X"];
        var events = new List<Transaction>();
        var t = 1_767_225_600_000L;
        for (var i = 0; i < 40; i++)
        {
            var card = cards[i % cards.Length];
            events.Add(new Transaction($"tx-{i}", card, $"m-{i % 3}", 10 + (i * 3.5), "EUR", t += 60_000, "5411", "DE", "pos"));
        }

        // Independent expectation: each card's windows from the offline featurizer.
        var expected = OfflineWindows(events);

        var options = new RedisWindowStoreOptions { KeyPrefix = prefix, KeepUndo = true };
        var store = new RedisWindowStore(db, Spec, options);
        await store.ApplyAsync(Batch(events, 0, 24));
        var second = Batch(events, 24, 16);
        await store.ApplyAsync(second);
        AssertWindows(second, 24, expected);

        // Four cards, one state key and one undo key each, in disjoint namespaces.
        var keys = new List<string>();
        await foreach (var key in mux.GetServer(mux.GetEndPoints()[0]).KeysAsync(pattern: prefix + "*"))
        {
            keys.Add(key.ToString()[prefix.Length..]);
        }

        Assert.Equal(
            cards.SelectMany(c => new[] { "c:" + c, "u:" + c }).Order(StringComparer.Ordinal),
            keys.Order(StringComparer.Ordinal));
        Assert.Equal(store.Key("X:undo"), (RedisKey)(prefix + "c:X:undo"));
        Assert.Equal(store.UndoKey("X"), (RedisKey)(prefix + "u:X"));

        // Each undo key holds its own card's state from before the second batch.
        var before = new InMemoryWindowStore(Spec);
        await before.ApplyAsync(Batch(events, 0, 24));
        foreach (var card in cards)
        {
            var undo = (byte[])(await db.StringGetAsync(prefix + "u:" + card))!;
            Assert.Equal(before.Get(card), undo[8..]);
        }

        // The second batch's Kafka transaction aborted after the states were written: a new scorer (cold cache) gets
        // it again and re-applies it on the undo states, so every event gets back its exact window (and alert).
        var restarted = new RedisWindowStore(db, Spec, options);
        var redelivered = Batch(events, 24, 16);
        await restarted.ApplyAsync(redelivered);
        for (var j = 0; j < redelivered.Count; j++)
        {
            Assert.Equal(ApplyStatus.Applied, redelivered.Result(j).Status);
        }

        AssertWindows(redelivered, 24, expected);

        // And the states equal a single in-memory pass over all events.
        var all = new InMemoryWindowStore(Spec);
        await all.ApplyAsync(Batch(events, 0, 40));
        foreach (var card in cards)
        {
            Assert.Equal(all.Get(card), ((byte[])(await db.StringGetAsync(prefix + "c:" + card))!)[8..]);
        }
    }

    [Fact]
    public async Task ExactlyOnce_RestartReReadsFromTheStart_CardSeenUnchangedFirst_StillRedoesItsAbortedWrite()
    {
        // A restart that re-reads from before the last commit (librdkafka's mock broker keeps no transactional
        // offsets; an operator's offset reset does the same) meets the card's committed events first: unchanged,
        // duplicates. Its aborted write must still be redone when its events come, whatever the batches were.
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var db = mux.GetDatabase();
        var prefix = $"redo:{Guid.NewGuid():N}:";
        var events = new List<Transaction>();
        var t = 1_767_225_600_000L;
        for (var i = 0; i < 30; i++)
        {
            events.Add(new Transaction($"tx-{i}", $"card-{i % 3}", $"m-{i % 4}", 10 + (i * 7.5), "EUR", t += 60_000, "5411", "DE", "pos"));
        }

        var expected = OfflineWindows(events);

        var options = new RedisWindowStoreOptions { KeyPrefix = prefix, KeepUndo = true };
        var first = new RedisWindowStore(db, Spec, options);
        await first.ApplyAsync(Batch(events, 0, 18));  // committed
        await first.ApplyAsync(Batch(events, 18, 12)); // states written, then the process died before its Kafka commit

        // The new process reads from the start in batches of 5: cards are seen unchanged (all duplicates) first.
        var restarted = new RedisWindowStore(db, Spec, options);
        for (var start = 0; start < events.Count; start += 5)
        {
            var batch = Batch(events, start, 5);
            await restarted.ApplyAsync(batch);
            for (var j = 0; j < batch.Count; j++)
            {
                var i = start + j;
                Assert.Equal(i < 18 ? ApplyStatus.DuplicatePosition : ApplyStatus.Applied, batch.Result(j).Status);
                if (i >= 18)
                {
                    Assert.True(expected[i].AsSpan().SequenceEqual(batch.Window(j)), $"window of event {i}");
                }
            }
        }
    }

    [Fact]
    public async Task LegacyKeyPrefix_FormatOneStateUnderOldKey_ReadAppliedAndWrittenUnderNewKey()
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var db = mux.GetDatabase();
        var prefix = $"mig:{Guid.NewGuid():N}:";
        var legacyPrefix = $"old:{Guid.NewGuid():N}:";
        var t = 1_767_225_600_000L;
        var events = new List<Transaction>();
        for (var i = 0; i < 14; i++)
        {
            var card = i < 10 ? "L" : "L:undo";
            events.Add(new Transaction($"tx-{i}", card, $"m-{i % 3}", 10 + (i * 2.5), "EUR", t += 60_000, "5411", "DE", "pos"));
        }

        var offline = new OfflineFeaturizer(Spec);
        var expected = new float[events.Count][];
        for (var i = 0; i < events.Count; i++)
        {
            expected[i] = new float[Spec.WindowSize];
            offline.Apply(events[i], expected[i]);
        }

        // What the previous version left: card L's first 6 events in state format 1 under its old key, and under
        // "old:L:undo" a value card "L:undo" must not inherit (there it could be L's undo copy).
        var before = new InMemoryWindowStore(Spec);
        await before.ApplyAsync(Batch(events, 0, 6));
        var v1 = ToFormatOne(before.Get("L")!);
        var version = new byte[8];
        version[0] = 6;
        await db.StringSetAsync(legacyPrefix + "L", (byte[])[.. version, .. v1]);
        await db.StringSetAsync(legacyPrefix + "L:undo", (byte[])[.. version, .. v1]);

        var store = new RedisWindowStore(db, Spec, new RedisWindowStoreOptions { KeyPrefix = prefix, LegacyKeyPrefix = legacyPrefix });
        var batch = new WindowBatch(Spec, 9);
        batch.Add(events[5], new SourcePosition(0, 5, Source)); // a redelivery of the last migrated event
        for (var i = 6; i < 14; i++)
        {
            batch.Add(events[i], new SourcePosition(0, i, Source));
        }

        await store.ApplyAsync(batch);
        Assert.Equal(ApplyStatus.DuplicateTransactionId, batch.Result(0).Status); // format 1: the id rule still holds
        for (var j = 1; j < batch.Count; j++)
        {
            Assert.Equal(ApplyStatus.Applied, batch.Result(j).Status);
            Assert.True(expected[5 + j].AsSpan().SequenceEqual(batch.Window(j)), $"window of event {5 + j} ({batch.Event(j).CardId})");
        }

        var migrated = (byte[])(await db.StringGetAsync(prefix + "c:L"))!;
        var state = new CardState(Spec);
        Assert.Equal(StateLoadStatus.Loaded, state.Load(migrated.AsSpan(8)));
        Assert.Equal(FeatureSpec.StateFormatVersion, migrated[8]);
        Assert.Equal(10, state.AppliedCount);
        Assert.Equal(new SourcePosition(0, 9, Source), state.HighWatermark);
        var undoCard = new CardState(Spec); // card "L:undo" started fresh: its 4 events only, nothing from "old:L:undo"
        Assert.Equal(StateLoadStatus.Loaded, undoCard.Load(((byte[])(await db.StringGetAsync(prefix + "c:L:undo"))!).AsSpan(8)));
        Assert.Equal(4, undoCard.AppliedCount);
        Assert.True(await db.KeyExistsAsync(legacyPrefix + "L")); // left to expire
    }

    private static byte[] ToFormatOne(byte[] v2)
    {
        const int Dim = 56;
        int count = v2[1];
        var v1 = new List<byte>();
        var header = v2[..24];
        header[0] = 1;
        v1.AddRange(header);
        for (var i = 0; i < count; i++)
        {
            var p = 28 + (i * (40 + (4 * Dim)));
            v1.AddRange(v2[p..(p + 8)]);
            v1.AddRange(v2[(p + 16)..(p + 36)]);
            v1.AddRange(v2[(p + 40)..(p + 40 + (4 * Dim))]);
        }

        v1.AddRange(v2[(28 + (count * (40 + (4 * Dim))))..]);
        return [.. v1];
    }

    private static void AssertWindows(WindowBatch batch, int start, float[][] expected)
    {
        for (var j = 0; j < batch.Count; j++)
        {
            Assert.True(expected[start + j].AsSpan().SequenceEqual(batch.Window(j)), $"window of event {start + j} ({batch.Event(j).CardId})");
        }
    }

    /// <summary>Each event's window from the offline featurizer, in order (every event applies).</summary>
    private static float[][] OfflineWindows(List<Transaction> events)
    {
        var offline = new OfflineFeaturizer(Spec);
        var expected = new float[events.Count][];
        for (var i = 0; i < events.Count; i++)
        {
            expected[i] = new float[Spec.WindowSize];
            Assert.True(offline.Apply(events[i], expected[i]).IsApplied);
        }

        return expected;
    }

    private static WindowBatch Batch(List<Transaction> events, int start, int count)
    {
        var batch = new WindowBatch(Spec, count);
        for (var i = start; i < start + count; i++)
        {
            batch.Add(events[i], new SourcePosition(0, i, Source));
        }

        return batch;
    }
}
