using StackExchange.Redis;
using StreamFraud.Core.Labels;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Redis;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// Issue 12: the Lua halves of entity risk on a real redis-server equal their C# definitions — the ring bump
/// (<see cref="RiskRing.Bump"/>) byte for byte, and the label rules (<see cref="RiskBook.ApplyLabel"/>) outcome for
/// outcome, record for record, ring for ring.
/// </summary>
[Collection(StackCollection.Name)]
public sealed class Redis_RiskLua(StackFixture stack)
{
    // Runs bumps (stamp, transactions, frauds triples) on KEYS[1] with the store's own ring library.
    private const string BumpScript = RedisScripts.RingLibrary + """
        for i = 1, #ARGV, 3 do bump(KEYS[1], tonumber(ARGV[i]), tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])) end
        flush(600000)
        return 0
        """;

    // Counts transactions in place (the commit script's path): (stamp, transactions > 0) pairs on KEYS[1].
    private const string CountScript = RedisScripts.RingLibrary + """
        for i = 1, #ARGV, 2 do count_in_place(KEYS[1], tonumber(ARGV[i]), tonumber(ARGV[i + 1]), 600000) end
        return 0
        """;

    private static readonly uint Base = RiskRing.Stamp(RiskStreams.Start);

    [Fact]
    public async Task LuaCountInPlace_MixedWithLabelBumps_SameBytesAsRiskRing_TtlOnNewDays()
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var db = mux.GetDatabase();
        var rng = new Random(21);
        for (var round = 0; round < 40; round++)
        {
            // Transaction counts in place and label bumps (±frauds, whole-ring path) on one key, over 130 days (slots
            // recycle, older days are dropped), counts near saturation, every slot including the last (39).
            var key = $"ring:{Guid.NewGuid():N}";
            var expected = new RiskRing();
            var spread = round % 3 == 0 ? 5 : 130;
            for (var step = rng.Next(1, 60); step > 0; step--)
            {
                var stamp = Base + (uint)rng.Next(spread);
                if (rng.Next(4) == 0)
                {
                    var frauds = rng.Next(-1, 2);
                    expected.Bump(stamp, 0, frauds);
                    await db.ScriptEvaluateAsync(BumpScript, [key], [stamp, 0, frauds]);
                    continue;
                }

                var pairs = Enumerable.Range(0, rng.Next(1, 5)).Select(_ => (Stamp: Base + (uint)rng.Next(spread), Txns: rng.Next(50) == 0 ? int.MaxValue - rng.Next(3) : rng.Next(1, 4))).ToList();
                foreach (var (s, t) in pairs)
                {
                    expected.Bump(s, t, 0);
                }

                await db.ScriptEvaluateAsync(CountScript, [key], [.. pairs.SelectMany(p => new RedisValue[] { p.Stamp, p.Txns })]);
                Assert.Equal(expected.ToArray(), await RiskStreams.RingBytes(db, key));
            }

            if (await db.KeyExistsAsync(key))
            {
                Assert.InRange((await db.KeyTimeToLiveAsync(key))!.Value, TimeSpan.FromMinutes(9), TimeSpan.FromMinutes(10));
            }
        }

        // The last slot: a fresh key whose first day lands in slot 39 is a whole ring with a TTL.
        var last = $"ring:{Guid.NewGuid():N}";
        var day = Base + (39 - (Base % 40));
        await db.ScriptEvaluateAsync(CountScript, [last], [day, 2]);
        var ring = new RiskRing();
        ring.Bump(day, 2, 0);
        Assert.Equal(ring.ToArray(), (byte[])(await db.StringGetAsync(last))!);
        Assert.NotNull(await db.KeyTimeToLiveAsync(last));

        // Foreign values (too short, too long with a newer day in the slot, another type) read as empty and are replaced.
        foreach (var (name, setup) in new (string, Func<string, Task>)[]
        {
            ("short", k => db.StringSetAsync(k, new byte[RiskRing.Size - 1])),
            ("long", k => db.StringSetAsync(k, Enumerable.Repeat((byte)0xff, RiskRing.Size + 20).ToArray())),
            ("list", k => db.ListLeftPushAsync(k, "not a ring")),
        })
        {
            var k = $"ring:{name}:{Guid.NewGuid():N}";
            await setup(k);
            await db.ScriptEvaluateAsync(CountScript, [k], [Base + 3, 2]);
            var fresh = new RiskRing();
            fresh.Bump(Base + 3, 2, 0);
            Assert.Equal(fresh.ToArray(), (byte[])(await db.StringGetAsync(k))!);
            Assert.InRange((await db.KeyTimeToLiveAsync(k))!.Value, TimeSpan.FromMinutes(9), TimeSpan.FromMinutes(10));
        }
    }

    [Fact]
    public async Task LuaRing_RandomBumpsInShuffledOrders_SameBytesAsRiskRing()
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var db = mux.GetDatabase();
        var rng = new Random(12);
        for (var round = 0; round < 60; round++)
        {
            // Days over 130 days (every slot recycled), increments and (odd rounds) decrements, zero deltas, and counts
            // near saturation.
            var incrementsOnly = round % 2 == 0;
            var bumps = new List<(uint Stamp, int Txns, int Frauds)>();
            var spread = round % 3 == 0 ? 5u : 130u;
            for (var k = rng.Next(1, 120); k > 0; k--)
            {
                var stamp = Base + (uint)rng.Next((int)spread);
                var txns = incrementsOnly ? rng.Next(0, 4) : rng.Next(-2, 4);
                var frauds = incrementsOnly ? rng.Next(0, 2) : rng.Next(-1, 2);
                if (rng.Next(50) == 0)
                {
                    txns = int.MaxValue - rng.Next(3);
                }

                bumps.Add((stamp, txns, frauds));
            }

            byte[]? first = null;
            for (var order = 0; order < 3; order++)
            {
                var shuffled = order == 0 ? bumps : [.. bumps.OrderBy(_ => rng.Next())];
                var expected = new RiskRing();
                foreach (var (stamp, txns, frauds) in shuffled)
                {
                    expected.Bump(stamp, txns, frauds);
                }

                var key = $"ring:{Guid.NewGuid():N}";
                for (var at = 0; at < shuffled.Count;)
                {
                    // Chunks: a ring crosses script boundaries (GET/SET) and takes several bumps within one script.
                    var chunk = shuffled.Skip(at).Take(rng.Next(1, 20)).ToList();
                    at += chunk.Count;
                    await db.ScriptEvaluateAsync(BumpScript, [key], [.. chunk.SelectMany(b => new RedisValue[] { b.Stamp, b.Txns, b.Frauds })]);
                }

                var actual = await RiskStreams.RingBytes(db, key);
                Assert.Equal(expected.ToArray(), actual);
                if (incrementsOnly)
                {
                    // Increments commute: every order ends in the same bytes.
                    first ??= actual;
                    Assert.Equal(first, actual);
                }
            }
        }
    }

    [Fact]
    public async Task LuaRing_ForeignValues_ReadAsEmptyAndAreReplaced()
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var db = mux.GetDatabase();
        var expected = new RiskRing();
        expected.Bump(Base + 3, 2, 1);
        var wrongLength = $"ring:{Guid.NewGuid():N}";
        var wrongType = $"ring:{Guid.NewGuid():N}";
        await db.StringSetAsync(wrongLength, new byte[RiskRing.Size - 1]);
        await db.ListLeftPushAsync(wrongType, "not a ring");
        foreach (var key in new[] { wrongLength, wrongType })
        {
            await db.ScriptEvaluateAsync(BumpScript, [key], [Base + 3, 2, 1]);
            Assert.Equal(expected.ToArray(), (byte[])(await db.StringGetAsync(key))!);
            Assert.InRange((await db.KeyTimeToLiveAsync(key))!.Value, TimeSpan.FromMinutes(9), TimeSpan.FromMinutes(10));
        }
    }

    [Fact]
    public async Task LuaLabelRules_RandomLabelSequences_SameOutcomesRecordsAndRingsAsRiskBook()
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(stack.Redis);
        var db = mux.GetDatabase();
        var prefix = $"lab:{Guid.NewGuid():N}:";
        var store = new RedisWindowStore(db, Core.Features.FeatureSpec.CardV2, new RedisWindowStoreOptions { KeyPrefix = prefix });
        var book = new RiskBook();
        var rng = new Random(5);
        string[] cards = ["c-0", "c-1", "c-2", "c-3", "c-4", "c-5"];
        string[] merchants = ["m-0", "m-1", "m-2", "m-3", ""];

        // 40 transactions over 60 days (ring slots recycle); label times on a coarse grid so ties happen.
        var txns = Enumerable.Range(0, 40).Select(i => new TransactionLabel(
            $"t-{i}", cards[rng.Next(cards.Length)], merchants[rng.Next(merchants.Length)],
            RiskStreams.Start + (rng.NextInt64(60) * RiskStreams.Day) + rng.NextInt64(RiskStreams.Day), 0, false)).ToList();
        var sent = new List<TransactionLabel>();
        var labels = new List<TransactionLabel>();
        for (var i = 0; i < 1_500; i++)
        {
            var tx = txns[rng.Next(txns.Count)];
            var label = tx with
            {
                LabelTimeMs = tx.EventTimeMs + (rng.Next(4) == 0 ? rng.NextInt64(29, 33) * RiskStreams.Day : rng.NextInt64(6) * 3_600_000),
                IsFraud = rng.Next(3) != 0,
            };
            label = rng.Next(20) switch
            {
                0 when sent.Count > 0 => sent[rng.Next(sent.Count)], // redelivered verbatim
                1 => label with { MerchantId = "elsewhere" }, // conflicting content
                2 => label with { EventTimeMs = label.EventTimeMs + 1 }, // conflicting content
                3 => label with { TransactionId = $"never-{i}" }, // unknown transaction
                4 => label with { LabelTimeMs = label.EventTimeMs - 1 }, // invalid
                5 => label with { CardId = "" }, // invalid
                _ => label,
            };
            sent.Add(label);
            labels.Add(label);
        }

        var seen = new HashSet<LabelOutcome>();
        for (var at = 0; at < labels.Count;)
        {
            var chunk = labels.Skip(at).Take(rng.Next(1, 60)).ToList();
            at += chunk.Count;
            var decisions = await store.ApplyLabelsAsync(chunk);
            Assert.Equal(chunk.Count, decisions.Count);
            for (var j = 0; j < chunk.Count; j++)
            {
                var expected = book.ApplyLabel(chunk[j]);
                Assert.Equal(expected, decisions[j]);
                seen.Add(expected.Outcome);
            }
        }

        Assert.Equal(Enum.GetValues<LabelOutcome>().Order(), seen.Order()); // every rule was exercised
        foreach (var id in labels.Select(l => l.TransactionId).Distinct())
        {
            var stored = await db.StringGetAsync(prefix + "l:" + id);
            Assert.Equal(book.FindLabel(id), RedisWindowStore.ParseRecord(stored));
            if (book.FindLabel(id) is { } record)
            {
                Assert.Equal(RedisWindowStore.FormatRecord(record), (string?)stored);
                Assert.InRange((await db.KeyTimeToLiveAsync(prefix + "l:" + id))!.Value, TimeSpan.FromDays(39), TimeSpan.FromDays(40));
            }
        }

        foreach (var m in merchants.Append("elsewhere").Where(m => m.Length > 0))
        {
            Assert.Equal(RiskStreams.RingBytes(book, RiskEntity.Merchant, m), await RiskStreams.RingBytes(db, prefix + "rm:" + m));
        }

        foreach (var c in cards)
        {
            Assert.Equal(RiskStreams.RingBytes(book, RiskEntity.Card, c), await RiskStreams.RingBytes(db, prefix + "rc:" + c));
        }

        Assert.True(book.Count(LabelOutcome.Flipped) > 20 && book.Count(LabelOutcome.Applied) > 20, "flips and first verdicts both counted");
    }

    [Fact]
    public void LabelRecord_TextForm_RoundTrips_AndForeignTextIsNoRecord()
    {
        var record = new LabelRecord(true, -2_208_988_800_000, 0x00ab_cdef_0123_4567UL);
        Assert.Equal("1:-2208988800000:00abcdef01234567", RedisWindowStore.FormatRecord(record));
        Assert.Equal(record, RedisWindowStore.ParseRecord(RedisWindowStore.FormatRecord(record)));
        Assert.Equal(new LabelRecord(false, 5, 1), RedisWindowStore.ParseRecord("0:5:0000000000000001"));
        foreach (var foreign in new[] { "", "x", "2:5:0000000000000001", "1:5:000000000000001", "1:5:00000000000000010", "1::0000000000000001",
                     "1:-:0000000000000001", "1:5:000000000000000A", "1:12345678901234567:0000000000000001", "1:+5:0000000000000001" })
        {
            Assert.Null(RedisWindowStore.ParseRecord(foreign));
        }
    }
}
