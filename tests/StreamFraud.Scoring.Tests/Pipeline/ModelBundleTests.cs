using StreamFraud.Core.Features;
using StreamFraud.Scoring.Bundles;

namespace StreamFraud.Scoring.Tests.Pipeline;

/// <summary>Bundle verification refuses every kind of broken bundle with its reason.</summary>
public sealed class ModelBundleTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("sf-bundle-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Load_ValidBundle_ReproducesGoldenWindows()
    {
        var tiny = Make("ok");
        using var bundle = ModelBundle.Load(tiny.Directory, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = 4 });
        Assert.Equal("ok", bundle.Version);
        Assert.Equal("CPU", bundle.LstmProvider);
    }

    [Theory]
    [InlineData("checksum")]
    [InlineData("truncated")]
    [InlineData("missing")]
    [InlineData("spec")]
    [InlineData("golden")]
    [InlineData("no-manifest")]
    [InlineData("garbage-onnx")]
    [InlineData("input-shape")]
    public void Load_BrokenBundle_RefusedWithReason(string breakage)
    {
        var tiny = Make(breakage);
        var dir = tiny.Directory;
        var onnx = Path.Combine(dir, "lstm.onnx");
        var manifest = tiny.Manifest;
        string expectedReason;
        switch (breakage)
        {
            case "checksum":
                var xgbBytes = File.ReadAllBytes(Path.Combine(dir, "xgb.json"));
                xgbBytes[^1] ^= 0x20; // same size, other content
                File.WriteAllBytes(Path.Combine(dir, "xgb.json"), xgbBytes);
                expectedReason = "checksum mismatch for xgb.json";
                break;
            case "truncated":
                var length = new FileInfo(onnx).Length;
                File.WriteAllBytes(onnx, File.ReadAllBytes(onnx)[..100]);
                expectedReason = $"file lstm.onnx is 100 bytes; the manifest says {length}";
                break;
            case "missing":
                File.Delete(onnx);
                expectedReason = "lstm.onnx listed in the manifest is missing";
                break;
            case "spec":
                (manifest with { FeatureSpec = manifest.FeatureSpec with { Hash = "0000" } }).Write(Path.Combine(dir, BundleManifest.FileName));
                expectedReason = "feature spec";
                break;
            case "golden":
                var g = manifest.GoldenWindows[0];
                (manifest with { GoldenWindows = [g with { Lstm = g.Lstm + 0.01 }, .. manifest.GoldenWindows.Skip(1)] }).Write(Path.Combine(dir, BundleManifest.FileName));
                expectedReason = "golden window 0 not reproduced";
                break;
            case "no-manifest":
                File.Delete(Path.Combine(dir, BundleManifest.FileName));
                expectedReason = "still being written";
                break;
            case "input-shape":
                Training.Lstm.LstmModel.CreateInitial(10, new Training.Lstm.LstmOptions { Hidden1 = 4, Hidden2 = 2 }).ExportOnnx(onnx); // F = 10, not 56
                (manifest with { Files = new Dictionary<string, BundleFile>(manifest.Files) { ["lstm.onnx"] = new(BundleRegistry.Sha256(onnx), new FileInfo(onnx).Length) } })
                    .Write(Path.Combine(dir, BundleManifest.FileName));
                expectedReason = "this bundle needs [batch, 7, 56]";
                break;
            default:
                File.WriteAllBytes(onnx, "not an onnx model"u8.ToArray());
                var files = new Dictionary<string, BundleFile>(manifest.Files) { ["lstm.onnx"] = new(BundleRegistry.Sha256(onnx), 17) };
                (manifest with { Files = files }).Write(Path.Combine(dir, BundleManifest.FileName));
                expectedReason = "ONNX Runtime cannot load the model";
                break;
        }

        var e = Assert.Throws<BundleRejectedException>(() => ModelBundle.Load(dir, FeatureSpec.CardV1, new BundleLoadOptions { WarmupBatch = 0 }));
        Assert.Contains(expectedReason, e.Reason);
    }

    [Fact]
    public void Registry_PromoteRollback_CurrentJsonFollows()
    {
        var registry = new BundleRegistry(Path.Combine(_root, "registry"));
        foreach (var v in new[] { "v1", "v2" })
        {
            var staging = registry.CreateStagingDirectory();
            TinyBundle.Create(staging, v, TinyBundle.Stream(1, 10, 200));
            registry.Publish(staging, v);
        }

        Assert.Equal(["v1", "v2"], registry.Versions());
        Assert.Null(registry.ReadCurrent());
        registry.Promote("v1");
        var p = registry.Promote("v2");
        Assert.Equal(("v2", "v1"), (p.Version, p.Previous));
        var back = registry.Rollback();
        Assert.Equal(("v1", "v2"), (back.Version, back.Previous));
        Assert.Equal("v1", registry.ReadCurrent()!.Version);
        Assert.Throws<DirectoryNotFoundException>(() => registry.Promote("v9"));
        Assert.Throws<IOException>(() => registry.Publish(registry.CreateStagingDirectory(), "v1"));
        Assert.DoesNotContain(registry.Versions(), v => v.StartsWith('.')); // staging directories are never versions
    }

    private TinyBundle Make(string version) =>
        TinyBundle.Create(Path.Combine(_root, version), version, TinyBundle.Stream(seed: 7, cards: 15, count: 400));
}
