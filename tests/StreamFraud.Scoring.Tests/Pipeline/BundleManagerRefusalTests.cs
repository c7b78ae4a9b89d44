using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using StreamFraud.Core.Features;
using StreamFraud.Scoring.Bundles;

namespace StreamFraud.Scoring.Tests.Pipeline;

/// <summary>
/// Hot reload and start against hostile registries: a refused promotion keeps the serving bundle and is counted by
/// reason, later promotions are still followed (even while a load hangs), versions cannot leave the registry,
/// current.json's digest is enforced, and a bad current bundle at start falls back to the previous version.
/// </summary>
public sealed class BundleManagerRefusalTests(TemplateBundle template) : IClassFixture<TemplateBundle>, IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sf-refuse-").FullName;
    private readonly Meter _meter = new($"test-{Guid.NewGuid():N}");
    private readonly MeterListener _listener = new();
    private readonly List<string> _refusals = [];

    private BundleRegistry Registry { get; set; } = null!;

    private void Init(params string[] versions)
    {
        Registry = new BundleRegistry(Path.Combine(_root, "registry"));
        foreach (var v in versions)
        {
            template.CopyTo(Registry.PathOf(v), v);
        }

        _listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == _meter && instrument.Name == "streamfraud.model.refusals")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            if (value == 0)
            {
                return; // every reason is recorded at 0 when the manager is created (a series from the start)
            }

            foreach (var tag in tags)
            {
                if (tag.Key == "reason")
                {
                    lock (_refusals)
                    {
                        _refusals.Add($"{tag.Value}x{value}");
                    }
                }
            }
        });
        _listener.Start();
    }

    public void Dispose()
    {
        _listener.Dispose();
        _meter.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public void MalformedPromotion_RefusedAndCounted_KeepsServing_ThenFollowsAGoodOne()
    {
        Init("v1", "v2", "v3");
        Registry.Promote("v1");
        using var manager = Manager();
        manager.LoadInitial();
        TinyBundle.EditManifest(Registry.PathOf("v2"), m => m["thresholds"]!["cost_min"]!["threshold"] = "NaN");
        Registry.Promote("v2"); // recorded with the digest of the broken manifest: the manifest itself is what is wrong

        Assert.False(manager.CheckOnce());
        Assert.Equal("v1", manager.Current!.Version);
        Assert.Equal(RefusalKinds.Manifest, manager.LastRefusal!.Kind);
        Assert.Contains("thresholds.cost_min.threshold NaN", manager.LastRefusal.Reason);
        Assert.Equal(["manifestx1"], _refusals);
        Assert.False(manager.CheckOnce()); // not retried every poll
        Assert.Equal(["manifestx1"], _refusals);

        Registry.Promote("v3");
        Assert.True(manager.CheckOnce());
        Assert.Equal("v3", manager.Current!.Version);
    }

    [Theory]
    [InlineData("parent")]
    [InlineData("absolute")]
    public void CurrentJson_VersionOutsideTheRegistry_Refused_EvenWhenAValidBundleIsThere(string how)
    {
        Init("v1");
        var outside = template.CopyTo(Path.Combine(_root, "outside", "evil"), "evil"); // a bundle that would load
        using (ModelBundle.Load(outside, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = 0 }))
        {
        }

        var version = how == "parent" ? "../outside/evil" : outside;
        var digest = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(outside, BundleManifest.FileName))));
        WriteCurrent(version, digest);
        using (var fresh = Manager())
        {
            var e = Assert.Throws<BundleRejectedException>(() => fresh.LoadInitial());
            Assert.Equal(RefusalKinds.VersionName, e.Kind);
            Assert.Contains("is not a plain name", e.Reason);
        }

        Registry.Promote("v1");
        using var manager = Manager();
        manager.LoadInitial();
        WriteCurrent(version, digest);
        Assert.False(manager.CheckOnce());
        Assert.Equal("v1", manager.Current!.Version);
        Assert.Equal(RefusalKinds.VersionName, manager.LastRefusal!.Kind);
        Assert.Equal(1, manager.Loads);
    }

    [Fact]
    public void Pin_OutsideTheRegistry_Refused_KeepsServing()
    {
        Init("v1");
        template.CopyTo(Path.Combine(_root, "outside"), "outside");
        Registry.Promote("v1");
        string? pin = null;
        using var manager = Manager(pin: () => pin);
        manager.LoadInitial();
        pin = "../outside";
        Assert.False(manager.CheckOnce());
        Assert.Equal("v1", manager.Current!.Version);
        Assert.Contains("Models:Pin names version '../outside' is not a plain name", manager.LastRefusal!.Reason);
        Assert.Equal(["version_namex1"], _refusals);
    }

    [Fact]
    public void CurrentJsonWithoutDigest_RefusedByDefault_AcceptedWhenNotRequired()
    {
        Init("v1");
        WriteCurrent("v1", digest: null);
        using (var strict = Manager())
        {
            var e = Assert.Throws<BundleRejectedException>(() => strict.LoadInitial());
            Assert.Equal(RefusalKinds.ManifestDigest, e.Kind);
            Assert.Contains("records no manifest digest for v1", e.Reason);
            Assert.Contains("models promote v1", e.Reason);
        }

        using var lenient = Manager(requireDigest: false);
        Assert.Equal("v1", lenient.LoadInitial().Version);
    }

    [Fact]
    public void ManifestChangedAfterPromotion_Refused()
    {
        Init("v1");
        Registry.Promote("v1");
        TinyBundle.EditManifest(Registry.PathOf("v1"), m => m["thresholds"]!["best_f1"] = 0.99); // still a valid manifest
        using var manager = Manager();
        var e = Assert.Throws<BundleRejectedException>(() => manager.LoadInitial());
        Assert.Equal(RefusalKinds.ManifestDigest, e.Kind);
        Assert.Contains("the manifest was changed or replaced since", e.Reason);
    }

    [Fact]
    public void Start_BadCurrent_ServesPrevious_ThenFollowsTheNextPromotion()
    {
        Init("v1", "v2", "v3");
        Registry.Promote("v1");
        Registry.Promote("v2");
        TinyBundle.EditManifest(Registry.PathOf("v2"), m => m["golden_windows"]![0]!["window"] = "%%%");
        Registry.Promote("v2"); // re-promoted as broken: current v2 (new digest), previous still v1

        using var manager = Manager();
        Assert.Equal("v1", manager.LoadInitial().Version);
        Assert.Equal("v2", manager.LastRefusal!.Version);
        Assert.Contains("golden window 0 is not valid base64", manager.LastRefusal.Reason);
        Assert.Equal(["manifestx1"], _refusals);
        Assert.False(manager.CheckOnce()); // the refused current is not retried until it changes
        Assert.Equal(1, manager.Loads);

        Registry.Promote("v3");
        Assert.True(manager.CheckOnce());
        Assert.Equal("v3", manager.Current!.Version);
    }

    [Fact]
    public void Start_BadCurrentAndBadPrevious_RefusedWithBothReasons()
    {
        Init("v1", "v2");
        Registry.Promote("v1");
        Registry.Promote("v2");
        File.Delete(Path.Combine(Registry.PathOf("v1"), "xgb.json"));
        TinyBundle.EditManifest(Registry.PathOf("v2"), m => m["files"] = null);
        Registry.Promote("v2");

        using var manager = Manager();
        var e = Assert.Throws<BundleRejectedException>(() => manager.LoadInitial());
        Assert.Contains("files is missing or null", e.Reason);
        Assert.Contains("the previous version v1 cannot stand in: file xgb.json listed in the manifest is missing", e.Reason);
    }

    [Fact]
    public void HungLoad_TimesOut_LaterPromotionIsFollowedWhileItStaysStuck()
    {
        Init("v1", "v2", "v3");
        Registry.Promote("v1");
        using var stuck = new ManualResetEventSlim();
        var load = new BundleLoadOptions
        {
            WarmupBatch = 0,
            LoadTimeout = TimeSpan.FromSeconds(2),
            OnStep = step =>
            {
                if (step.StartsWith("hash", StringComparison.Ordinal) && Thread.CurrentThread.Name == "bundle-load v2")
                {
                    stuck.Wait(); // v2's read never returns
                }
            },
        };
        using var manager = new BundleManager(Registry, FeatureSpec.CardV1, new BundleManagerOptions { Debounce = TimeSpan.Zero, Load = load }, meter: _meter);
        manager.LoadInitial();

        Registry.Promote("v2");
        var clock = Stopwatch.StartNew();
        Assert.False(manager.CheckOnce());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"the watcher waited {clock.Elapsed}");
        Assert.Equal(RefusalKinds.Timeout, manager.LastRefusal!.Kind);
        Assert.Equal(["timeoutx1"], _refusals);

        Registry.Promote("v3");
        Assert.True(manager.CheckOnce()); // v2's load is still stuck on its own thread
        Assert.False(stuck.IsSet);
        Assert.Equal("v3", manager.Current!.Version);
        stuck.Set();
    }

    private BundleManager Manager(Func<string?>? pin = null, bool requireDigest = true) =>
        new(Registry, FeatureSpec.CardV1, new BundleManagerOptions { Debounce = TimeSpan.Zero, RequireDigest = requireDigest, Load = new BundleLoadOptions { WarmupBatch = 0 } }, pin, meter: _meter);

    private void WriteCurrent(string version, string? digest)
    {
        var pointer = new CurrentPointer(version, null, DateTimeOffset.UtcNow) { ManifestSha256 = digest };
        BundleRegistry.WriteAtomically(Path.Combine(Registry.Directory, BundleRegistry.CurrentFile), JsonSerializer.SerializeToUtf8Bytes(pointer, BundleManifest.JsonOptions));
    }
}
