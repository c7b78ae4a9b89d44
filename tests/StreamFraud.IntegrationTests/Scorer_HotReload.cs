using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using StreamFraud.Core.Features;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Kafka;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Tests.Pipeline;

namespace StreamFraud.IntegrationTests;

/// <summary>A model-updates announcement makes the manager swap at once instead of at its next (slow) poll.</summary>
[Collection(StackCollection.Name)]
public sealed class Scorer_HotReload(StackFixture stack) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sf-hot-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task Announcement_TriggersSwap_BeforeNextPoll()
    {
        var registry = new BundleRegistry(Path.Combine(_root, "registry"));
        var history = TinyBundle.Stream(1, 20, 300);
        foreach (var v in new[] { "v1", "v2" })
        {
            var staging = registry.CreateStagingDirectory();
            TinyBundle.Create(staging, v, history, seed: v == "v1" ? 1 : 2);
            registry.Publish(staging, v);
        }

        registry.Promote("v1");
        var topic = await stack.CreateTopicAsync("model-updates-hot", 1);
        using var manager = new BundleManager(registry, FeatureSpec.CardV1, new BundleManagerOptions { PollInterval = TimeSpan.FromMinutes(5), Debounce = TimeSpan.FromMilliseconds(200) });
        manager.LoadInitial();
        using var stop = new CancellationTokenSource();
        var watcher = Task.Run(() => manager.RunAsync(stop.Token));
        var listener = new ModelUpdateListener(stack.Kafka, manager, NullLogger.Instance, topic);
        var thread = new Thread(() => listener.Run(stop.Token)) { IsBackground = true };
        thread.Start();
        await Task.Delay(3000); // the listener joins at the end of the topic

        registry.Promote("v2");
        var update = ModelAnnouncer.Describe(registry.PathOf("v2"), "v1");
        await ModelAnnouncer.AnnounceAsync(stack.Kafka, stack.Registry, update, topic);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (manager.Current!.Version != "v2" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        await stop.CancelAsync();
        await watcher;
        thread.Join(TimeSpan.FromSeconds(10));
        Assert.Equal("v2", manager.Current!.Version); // long before the 5-minute poll
        Assert.True(listener.Announcements >= 1);
    }
}
