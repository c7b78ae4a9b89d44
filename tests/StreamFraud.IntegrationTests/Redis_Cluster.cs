using StackExchange.Redis;
using StreamFraud.Core.Features;
using StreamFraud.DevStack.Redis;
using StreamFraud.Redis;
using Xunit.Abstractions;

namespace StreamFraud.IntegrationTests;

/// <summary>A real Redis Cluster (3 primaries, 3 replicas) of Debian's redis-server, shared by one test class.</summary>
public sealed class RedisClusterFixture : IAsyncLifetime
{
    private RedisClusterProcess? _cluster;

    /// <summary>The running cluster.</summary>
    public RedisClusterProcess Cluster => _cluster ?? throw new InvalidOperationException("The cluster has not started.");

    /// <inheritdoc />
    public async Task InitializeAsync() => _cluster = await RedisClusterProcess.StartAsync(primaries: 3, replicasPerPrimary: 1);

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }
}

/// <summary>
/// Issue 13: the window store on Redis Cluster — card states, undo copies, rings and label records spread over every
/// primary, windows, decisions, rings and records equal the offline featurizer's, also while slots are resharded and a
/// primary fails over mid-stream.
/// </summary>
public sealed class Redis_Cluster(RedisClusterFixture fixture, ITestOutputHelper output) : IClassFixture<RedisClusterFixture>
{
    [Fact]
    public async Task StoreOnACluster_KeysOnEveryPrimary_WindowsDecisionsRingsEqualOffline()
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(fixture.Cluster.Configuration);
        var db = mux.GetDatabase();
        var prefix = $"cl:{Guid.NewGuid():N}:";
        Assert.True(new RedisWindowStore(db, FeatureSpec.CardV2).IsCluster, "the store should detect the cluster");

        await Redis_WindowStoreV2.EventsAndLabelsEqualOffline(db, prefix, count: 3_000, cards: 300, options: new RedisWindowStoreOptions { KeepUndo = true });

        // Every primary holds some of the cards, undo copies, rings and records (the old layout put them all in one slot).
        foreach (var primary in await fixture.Cluster.PrimariesAsync())
        {
            var server = mux.GetServer(primary);
            foreach (var tag in new[] { "c2:", "u2:", "rm:", "rc:", "l:" })
            {
                var any = false;
                await foreach (var _ in server.KeysAsync(pattern: prefix + tag + "*", pageSize: 500))
                {
                    any = true;
                    break;
                }

                Assert.True(any, $"primary {primary} holds no {tag} key");
            }
        }

        // A card's state and its undo copy share a slot; cards use many slots.
        var store = new RedisWindowStore(db, FeatureSpec.CardV2, new RedisWindowStoreOptions { KeyPrefix = prefix });
        var slots = new HashSet<int>();
        for (var c = 0; c < 300; c++)
        {
            var card = $"card{c}";
            Assert.Equal(mux.HashSlot(store.Key(card)), mux.HashSlot(store.UndoKey(card)));
            slots.Add(mux.HashSlot(store.Key(card)));
        }

        Assert.True(slots.Count > 250, $"300 cards in {slots.Count} slots");

        // A hash-tag prefix (the earlier advice for clusters) keeps its untagged keys, so such a deployment keeps its states.
        var tagged = new RedisWindowStore(db, FeatureSpec.CardV2, new RedisWindowStoreOptions { KeyPrefix = "{sf}:" });
        Assert.Equal("{sf}:c2:card1", (string?)tagged.Key("card1"));
        Assert.Equal("{sf}:u2:card1", (string?)tagged.UndoKey("card1"));
    }

    [Fact]
    public async Task SlotsReshardedThenAPrimaryFailedOver_MidStream_NothingLost_EverythingEqualsOffline()
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(fixture.Cluster.Configuration + ",syncTimeout=20000,asyncTimeout=20000");
        var db = mux.GetDatabase();
        var prefix = $"rs:{Guid.NewGuid():N}:";
        var cluster = fixture.Cluster;
        var moved = 0;
        var reshardOverlap = await Redis_WindowStoreV2.EventsAndLabelsEqualOffline(db, prefix, count: 12_000, cards: 2_000, during: async () =>
        {
            var primaries = await cluster.PrimariesAsync();
            var before = await cluster.SlotCountAsync(primaries[1]);
            await cluster.ReshardAsync(primaries[0], primaries[1], slots: 1_500);
            moved = await cluster.SlotCountAsync(primaries[1]) - before;
        });
        output.WriteLine($"reshard: {moved} slots moved while {reshardOverlap} batches ran");
        Assert.Equal(1_500, moved);
        Assert.True(reshardOverlap >= 3, $"only {reshardOverlap} batches ran while slots moved");

        string? old = null, promoted = null;
        var failoverOverlap = await Redis_WindowStoreV2.EventsAndLabelsEqualOffline(db, prefix + "f:", count: 12_000, cards: 2_000, during: async () =>
        {
            old = (await cluster.PrimariesAsync())[^1];
            promoted = await cluster.FailoverAsync(old);
        }, options: new RedisWindowStoreOptions { KeepUndo = true });
        output.WriteLine($"failover: {old} → {promoted} while {failoverOverlap} batches ran");
        Assert.DoesNotContain(old, await cluster.PrimariesAsync());
        Assert.Contains(promoted, await cluster.PrimariesAsync());
        Assert.True(failoverOverlap >= 1, $"only {failoverOverlap} batches ran during the failover");
    }
}
