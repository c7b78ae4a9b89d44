using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using StreamFraud.Core.Features;
using StreamFraud.Scoring.Bundles;

namespace StreamFraud.Scoring.Tests.Pipeline;

/// <summary>One real tiny bundle, built once per test class and copied for each case.</summary>
public sealed class TemplateBundle : IDisposable
{
    public TemplateBundle()
    {
        Root = System.IO.Directory.CreateTempSubdirectory("sf-template-").FullName;
        Directory = Path.Combine(Root, "v1");
        TinyBundle.Create(Directory, "v1", TinyBundle.Stream(seed: 7, cards: 15, count: 400));
    }

    public string Root { get; }

    public string Directory { get; }

    /// <summary>Copies the bundle to <paramref name="target"/> and rewrites its manifest with <paramref name="version"/>.</summary>
    public string CopyTo(string target, string version = "v1")
    {
        System.IO.Directory.CreateDirectory(target);
        foreach (var file in System.IO.Directory.EnumerateFiles(Directory))
        {
            File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        }

        if (version != "v1")
        {
            TinyBundle.EditManifest(target, m => m["version"] = version);
        }

        return target;
    }

    public void Dispose() => System.IO.Directory.Delete(Root, recursive: true);
}

/// <summary>
/// Hostile bundles (docs/ARCHITECTURE.md "Model bundle and registry"): every malformed manifest, unsafe name, non-regular
/// or wrongly sized file, changed manifest and hung load is refused with its reason and class, never with an exception
/// of another type, and never by hanging.
/// </summary>
public sealed partial class BundleValidationTests(TemplateBundle template) : IClassFixture<TemplateBundle>, IDisposable
{
    private static readonly BundleLoadOptions Fast = new() { WarmupBatch = 0 };
    private readonly string _root = Directory.CreateTempSubdirectory("sf-valid-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    public static TheoryData<string, string, string> MalformedManifests => new()
    {
        // case, expected text in the reason, refusal kind
        { "golden-not-base64", "golden window 0 is not valid base64", RefusalKinds.Manifest },
        { "golden-wrong-length", "golden window 1 has 8 bytes; expected 1568", RefusalKinds.Manifest },
        { "golden-null", "golden window 2 is null", RefusalKinds.Manifest },
        { "golden-windows-null", "golden_windows is null", RefusalKinds.Manifest },
        { "golden-score-nan", "golden window 0 scores lstm NaN", RefusalKinds.Manifest },
        { "files-null", "files is missing or null", RefusalKinds.Manifest },
        { "file-entry-missing", "'xgb.json' is not listed under files", RefusalKinds.Manifest },
        { "file-entry-null", "files.xgb.json is null", RefusalKinds.Manifest },
        { "file-sha-not-hex", "files.lstm.onnx.sha256 is not 64 hex digits", RefusalKinds.Manifest },
        { "file-bytes-negative", "files.lstm.onnx.bytes -1 is outside", RefusalKinds.Manifest },
        { "file-name-escapes", "file name '../xgb.json' is not a plain name", RefusalKinds.Manifest },
        { "lstm-file-absolute", "lstm_file '/etc/passwd' is not a plain name", RefusalKinds.Manifest },
        { "version-nul", "version 'v\\u0000evil' is not a plain name", RefusalKinds.VersionName },
        { "version-parent", "version '../outside' is not a plain name", RefusalKinds.VersionName },
        { "cost-min-nan", "thresholds.cost_min.threshold NaN must be in [0, 1]", RefusalKinds.Manifest },
        { "cost-min-above-one", "thresholds.cost_min.threshold 1.5 must be in [0, 1]", RefusalKinds.Manifest },
        { "best-f1-negative-infinity", "thresholds.best_f1 -Infinity must be in [0, 1]", RefusalKinds.Manifest },
        { "target-recall-infinity", "thresholds.target_recall.threshold Infinity must be in [0, 1]", RefusalKinds.Manifest },
        { "target-recall-negative", "thresholds.target_recall.threshold -0.1 must be in [0, 1]", RefusalKinds.Manifest },
        { "target-recall-target-zero", "thresholds.target_recall.target 0 must be in (0, 1]", RefusalKinds.Manifest },
        { "thresholds-null", "thresholds is missing or null", RefusalKinds.Manifest },
        { "cost-min-null", "thresholds.cost_min is null", RefusalKinds.Manifest },
        { "cost-fn-infinity", "thresholds.cost_min costs fn Infinity and fp 1 must be finite", RefusalKinds.Manifest },
        { "cost-fp-negative", "thresholds.cost_min costs fn 10 and fp -1 must be finite", RefusalKinds.Manifest },
        { "weight-nan", "ensemble weights lstm NaN and xgb 0.5", RefusalKinds.Manifest },
        { "weight-infinity", "ensemble weights lstm 0.5 and xgb Infinity", RefusalKinds.Manifest },
        { "weights-sum", "ensemble weights lstm 0.7 and xgb 0.7 must each be in [0, 1] and sum to 1", RefusalKinds.Manifest },
        { "weight-negative", "ensemble weights lstm -0.5 and xgb 1.5", RefusalKinds.Manifest },
        { "ensemble-null", "ensemble is null", RefusalKinds.Manifest },
        { "feature-spec-null", "feature_spec is missing", RefusalKinds.Manifest },
        { "metrics-null", "metrics is null", RefusalKinds.Manifest },
        { "policy-unknown", "default_policy 'loose'", RefusalKinds.Manifest },
        { "format-2", "manifest format 2; this scorer reads format 1", RefusalKinds.Manifest },
        { "not-json", "not a valid bundle manifest", RefusalKinds.Manifest },
        { "json-null", "the manifest is empty (JSON null)", RefusalKinds.Manifest },
        { "created-at-garbage", "not a valid bundle manifest", RefusalKinds.Manifest },
    };

    [Theory]
    [MemberData(nameof(MalformedManifests))]
    public void Load_MalformedManifest_RefusedWithReasonNotException(string breakage, string expected, string kind)
    {
        var dir = template.CopyTo(Path.Combine(_root, "b"));
        var manifestPath = Path.Combine(dir, BundleManifest.FileName);
        switch (breakage)
        {
            case "not-json":
                File.WriteAllText(manifestPath, "{\"version\": \"v1\", \"files\": [");
                break;
            case "json-null":
                File.WriteAllText(manifestPath, "null");
                break;
            default:
                TinyBundle.EditManifest(dir, m => Break(breakage, m));
                break;
        }

        var e = Assert.Throws<BundleRejectedException>(() => ModelBundle.Load(dir, FeatureSpec.CardV1, Fast));
        Assert.Contains(expected, e.Reason);
        Assert.Equal(kind, e.Kind);
        Assert.IsType<InvalidDataException>(Record.Exception(() => BundleManifest.Read(manifestPath))); // the tools' reader says the same
    }

    [Fact]
    public void Load_CostMinInfinity_IsTheTrainersFlagNothing_Accepted()
    {
        var dir = template.CopyTo(Path.Combine(_root, "b"));
        TinyBundle.EditManifest(dir, m => m["thresholds"]!["cost_min"]!["threshold"] = "Infinity");
        using var bundle = ModelBundle.Load(dir, FeatureSpec.CardV1, Fast);
        Assert.True(double.IsPositiveInfinity(bundle.Threshold(Core.Evaluation.ThresholdPolicy.CostMin)));
    }

    [Theory]
    [InlineData("v1", true)]
    [InlineData("20261129-074512-3fa2c1", true)]
    [InlineData("a.b_c-D9", true)]
    [InlineData("", false)]
    [InlineData("..", false)]
    [InlineData("a..b", false)]
    [InlineData("../outside/evil", false)]
    [InlineData("/tmp/evil", false)]
    [InlineData("a/b", false)]
    [InlineData("a\\b", false)]
    [InlineData("v1\0", false)]
    [InlineData("v1\n", false)]
    [InlineData(".staging-1", false)]
    [InlineData("-v1", false)]
    [InlineData("v 1", false)]
    public void BundleNames_OnlyPlainNames(string name, bool valid)
    {
        Assert.Equal(valid, BundleNames.IsValid(name));
        Assert.Equal(valid, BundleNames.IsValid(name) && !name.Contains('/') && !name.Contains('\\') && !name.Contains('\0') && !name.Contains("..") && !Path.IsPathRooted(name));
        Assert.True(BundleNames.IsValid(new string('a', 128)));
        Assert.False(BundleNames.IsValid(new string('a', 129)));
    }

    [Fact]
    public void Load_SymlinkedFile_SameBytes_Refused()
    {
        var dir = template.CopyTo(Path.Combine(_root, "b"));
        var xgb = Path.Combine(dir, "xgb.json");
        var outside = Path.Combine(_root, "outside-xgb.json");
        File.Move(xgb, outside);
        File.CreateSymbolicLink(xgb, outside); // identical bytes, size and checksum: only the link itself is wrong

        var e = Assert.Throws<BundleRejectedException>(() => ModelBundle.Load(dir, FeatureSpec.CardV1, Fast));
        Assert.Contains("file xgb.json is a symbolic link", e.Reason);
        Assert.Equal(RefusalKinds.FileType, e.Kind);
    }

    [Fact]
    public void Load_FileLinkedToDevZero_RefusedAtOnce_NothingRead()
    {
        var dir = template.CopyTo(Path.Combine(_root, "b"));
        var xgb = Path.Combine(dir, "xgb.json");
        File.Delete(xgb);
        File.CreateSymbolicLink(xgb, "/dev/zero");
        var steps = new List<string>();
        var clock = Stopwatch.StartNew();

        var e = Assert.Throws<BundleRejectedException>(() => ModelBundle.Load(dir, FeatureSpec.CardV1, Fast with { OnStep = steps.Add }));
        Assert.Contains("file xgb.json is a symbolic link", e.Reason);
        Assert.DoesNotContain("hash xgb.json", steps);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task Load_FifoAsBundleFile_RefusedWithoutOpeningIt()
    {
        var dir = template.CopyTo(Path.Combine(_root, "b"));
        var xgb = Path.Combine(dir, "xgb.json");
        File.Delete(xgb);
        Assert.Equal(0, MkFifo(xgb, 0x1A4)); // a reader opening it would block until a writer appears: never

        var load = Task.Run(() => ModelBundle.Load(dir, FeatureSpec.CardV1, Fast with { LoadTimeout = Timeout.InfiniteTimeSpan }));
        Assert.Same(load, await Task.WhenAny(load, Task.Delay(TimeSpan.FromSeconds(30)))); // no timeout to rescue it: it must not open the FIFO
        var e = await Assert.ThrowsAsync<BundleRejectedException>(() => load);
        Assert.Contains("file xgb.json is a FIFO (named pipe), not a regular file", e.Reason);
        Assert.Equal(RefusalKinds.FileType, e.Kind);
    }

    [Fact]
    public void Load_BundleDirectoryOrManifestLinked_Refused()
    {
        var real = template.CopyTo(Path.Combine(_root, "real"));
        var linkedDir = Path.Combine(_root, "linked");
        Directory.CreateSymbolicLink(linkedDir, real);
        var e = Assert.Throws<BundleRejectedException>(() => ModelBundle.Load(linkedDir, FeatureSpec.CardV1, Fast));
        Assert.Contains("is a symbolic link, not a directory", e.Reason);

        var dir = template.CopyTo(Path.Combine(_root, "b"));
        var manifest = Path.Combine(dir, BundleManifest.FileName);
        File.Move(manifest, Path.Combine(_root, "m.json"));
        File.CreateSymbolicLink(manifest, Path.Combine(_root, "m.json"));
        e = Assert.Throws<BundleRejectedException>(() => ModelBundle.Load(dir, FeatureSpec.CardV1, Fast));
        Assert.Contains("manifest.json is a symbolic link", e.Reason);
    }

    [Fact]
    public void Load_SizeMismatch_RefusedBeforeHashing()
    {
        var dir = template.CopyTo(Path.Combine(_root, "b"));
        var xgb = Path.Combine(dir, "xgb.json");
        var declared = new FileInfo(xgb).Length;
        File.AppendAllText(xgb, "          "); // also changes the checksum: the reason shows which check ran first
        var steps = new List<string>();

        var e = Assert.Throws<BundleRejectedException>(() => ModelBundle.Load(dir, FeatureSpec.CardV1, Fast with { OnStep = steps.Add }));
        Assert.Contains($"file xgb.json is {declared + 10} bytes; the manifest says {declared}", e.Reason);
        Assert.Equal(RefusalKinds.FileSize, e.Kind);
        Assert.DoesNotContain("hash xgb.json", steps);
        Assert.Contains("hash lstm.onnx", steps); // files are checked in name order: the one before it was hashed
    }

    [Fact]
    public void Load_FileOverTheCap_RefusedFromTheManifest_HugeSparseFileNeverRead()
    {
        var dir = template.CopyTo(Path.Combine(_root, "b"));
        var big = Path.Combine(dir, "report.bin");
        using (var f = new FileStream(big, FileMode.CreateNew))
        {
            f.SetLength(4L << 30); // 4 GiB, sparse: hashing it would take many seconds
        }

        TinyBundle.EditManifest(dir, m => m["files"]!["report.bin"] = new JsonObject { ["sha256"] = new string('0', 64), ["bytes"] = 4L << 30 });
        var options = Fast with { MaxFileBytes = 64L << 20 };
        var steps = new List<string>();
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<BundleRejectedException>(() => ModelBundle.Load(dir, FeatureSpec.CardV1, options with { OnStep = steps.Add }));
        Assert.Contains($"files.report.bin.bytes {4L << 30} is outside 0..{64L << 20} (Models:MaxFileBytes)", e.Reason);

        TinyBundle.EditManifest(dir, m => m["files"]!["report.bin"]!["bytes"] = 1000); // within the cap, but not what is on disk
        e = Assert.Throws<BundleRejectedException>(() => ModelBundle.Load(dir, FeatureSpec.CardV1, options with { OnStep = steps.Add }));
        Assert.Contains($"file report.bin is {4L << 30} bytes; the manifest says 1000", e.Reason);
        Assert.DoesNotContain("hash report.bin", steps);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}: the file was read");
    }

    [Fact]
    public void Load_ManifestDigest_MustMatchWhenGiven()
    {
        var dir = template.CopyTo(Path.Combine(_root, "b"));
        var digest = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(dir, BundleManifest.FileName))));
        using (var ok = ModelBundle.Load(dir, FeatureSpec.CardV1, Fast, digest.ToUpperInvariant()))
        {
            Assert.Equal(digest, ok.ManifestSha256);
        }

        TinyBundle.EditManifest(dir, m => m["thresholds"]!["cost_min"]!["threshold"] = 0.9); // a valid manifest, but not the promoted one
        var e = Assert.Throws<BundleRejectedException>(() => ModelBundle.Load(dir, FeatureSpec.CardV1, Fast, digest));
        Assert.Equal(RefusalKinds.ManifestDigest, e.Kind);
        Assert.Contains($"but current.json recorded {digest}", e.Reason);
    }

    [Fact]
    public void Load_Timeout_RefusedPromptly_WhileTheStuckLoadIsAbandoned()
    {
        var dir = template.CopyTo(Path.Combine(_root, "b"));
        using var stuck = new ManualResetEventSlim();
        var reachedHash = new ManualResetEventSlim();
        var options = Fast with
        {
            LoadTimeout = TimeSpan.FromMilliseconds(500),
            OnStep = step =>
            {
                if (step == "hash lstm.onnx")
                {
                    reachedHash.Set();
                    stuck.Wait(); // a read that never returns, as on a hung mount
                }
            },
        };

        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<BundleRejectedException>(() => ModelBundle.Load(dir, FeatureSpec.CardV1, options));
        clock.Stop();
        Assert.True(reachedHash.IsSet);
        Assert.Equal(RefusalKinds.Timeout, e.Kind);
        Assert.Contains("loading took longer than 0.5 s (Models:LoadTimeout)", e.Reason);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the caller waited {clock.Elapsed}");
        stuck.Set(); // let the abandoned thread end (it stops at its next step and frees what it built)
    }

    [Fact]
    public void Registry_PromoteRecordsManifestDigest_RollbackKeepsTheRecordedOne()
    {
        var registry = new BundleRegistry(Path.Combine(_root, "registry"));
        foreach (var v in new[] { "v1", "v2" })
        {
            template.CopyTo(registry.PathOf(v), v);
        }

        var d1 = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(registry.PathOf("v1"), BundleManifest.FileName))));
        var d2 = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(registry.PathOf("v2"), BundleManifest.FileName))));
        Assert.NotEqual(d1, d2);
        registry.Promote("v1");
        var p = registry.Promote("v2");
        Assert.Equal((d2, d1), (p.ManifestSha256, p.PreviousManifestSha256));
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(registry.Directory, BundleRegistry.CurrentFile)))!;
        Assert.Equal(d2, (string?)json["manifest_sha256"]);

        TinyBundle.EditManifest(registry.PathOf("v1"), m => m["thresholds"]!["best_f1"] = 0.01); // changed after it was promoted
        var back = registry.Rollback();
        Assert.Equal(("v1", d1), (back.Version, back.ManifestSha256)); // the digest it was promoted with, not the file's new one
        Assert.Throws<ArgumentException>(() => registry.PathOf("../v1"));
        Assert.Throws<ArgumentException>(() => registry.Promote("/etc"));
    }

    [Fact]
    public void Registry_CurrentJsonLinkedToDevZero_RefusedAtOnce()
    {
        var registry = new BundleRegistry(Path.Combine(_root, "registry"));
        Directory.CreateDirectory(registry.Directory);
        File.CreateSymbolicLink(Path.Combine(registry.Directory, BundleRegistry.CurrentFile), "/dev/zero");
        var e = Assert.Throws<InvalidDataException>(registry.ReadCurrent);
        Assert.Contains("is a symbolic link", e.Message);

        File.Delete(Path.Combine(registry.Directory, BundleRegistry.CurrentFile));
        File.WriteAllText(Path.Combine(registry.Directory, BundleRegistry.CurrentFile), "{\"version\": null}");
        Assert.Contains("names no version", Assert.Throws<InvalidDataException>(registry.ReadCurrent).Message);
    }

    private static void Break(string breakage, JsonObject m)
    {
        var golden = m["golden_windows"]!.AsArray();
        var files = m["files"]!.AsObject();
        var thresholds = m["thresholds"]!.AsObject();
        switch (breakage)
        {
            case "golden-not-base64": golden[0]!["window"] = "this is not base64!"; break;
            case "golden-wrong-length": golden[1]!["window"] = Convert.ToBase64String(new byte[8]); break;
            case "golden-null": golden[2] = null; break;
            case "golden-windows-null": m["golden_windows"] = null; break;
            case "golden-score-nan": golden[0]!["lstm"] = "NaN"; break;
            case "files-null": m["files"] = null; break;
            case "file-entry-missing": files.Remove("xgb.json"); break;
            case "file-entry-null": files["xgb.json"] = null; break;
            case "file-sha-not-hex": files["lstm.onnx"]!["sha256"] = "../../etc/passwd"; break;
            case "file-bytes-negative": files["lstm.onnx"]!["bytes"] = -1; break;
            case "file-name-escapes":
                var entry = files["xgb.json"]!.DeepClone();
                files.Remove("xgb.json");
                files["../xgb.json"] = entry;
                m["xgb_file"] = "../xgb.json";
                break;
            case "lstm-file-absolute": m["lstm_file"] = "/etc/passwd"; break;
            case "version-nul": m["version"] = "v\0evil"; break;
            case "version-parent": m["version"] = "../outside"; break;
            case "cost-min-nan": thresholds["cost_min"]!["threshold"] = "NaN"; break;
            case "cost-min-above-one": thresholds["cost_min"]!["threshold"] = 1.5; break;
            case "best-f1-negative-infinity": thresholds["best_f1"] = "-Infinity"; break;
            case "target-recall-infinity": thresholds["target_recall"]!["threshold"] = "Infinity"; break;
            case "target-recall-negative": thresholds["target_recall"]!["threshold"] = -0.1; break;
            case "target-recall-target-zero": thresholds["target_recall"]!["target"] = 0; break;
            case "thresholds-null": m["thresholds"] = null; break;
            case "cost-min-null": thresholds["cost_min"] = null; break;
            case "cost-fn-infinity": thresholds["cost_min"]!["cost_fn"] = "Infinity"; break;
            case "cost-fp-negative": thresholds["cost_min"]!["cost_fp"] = -1; break;
            case "weight-nan": m["ensemble"] = new JsonObject { ["lstm"] = "NaN", ["xgb"] = 0.5 }; break;
            case "weight-infinity": m["ensemble"] = new JsonObject { ["lstm"] = 0.5, ["xgb"] = "Infinity" }; break;
            case "weights-sum": m["ensemble"] = new JsonObject { ["lstm"] = 0.7, ["xgb"] = 0.7 }; break;
            case "weight-negative": m["ensemble"] = new JsonObject { ["lstm"] = -0.5, ["xgb"] = 1.5 }; break;
            case "ensemble-null": m["ensemble"] = null; break;
            case "feature-spec-null": m["feature_spec"] = null; break;
            case "metrics-null": m["metrics"] = null; break;
            case "policy-unknown": m["default_policy"] = "loose"; break;
            case "format-2": m["format"] = 2; break;
            case "created-at-garbage": m["created_at"] = "yesterday"; break;
            default: throw new ArgumentOutOfRangeException(nameof(breakage), breakage, null);
        }
    }

    [LibraryImport("libc", EntryPoint = "mkfifo", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkFifo(string path, uint mode);
}
