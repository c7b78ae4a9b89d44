using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StreamFraud.Core.Features;
using StreamFraud.Scoring.Trees;

namespace StreamFraud.Scoring.Bundles;

/// <summary>Where a batch gets its bundle: a lease keeps the bundle alive until the batch is done with it.</summary>
public interface IBundleSource
{
    /// <summary>The serving bundle, leased until the returned value is disposed.</summary>
    BundleLease Acquire();
}

/// <summary>A bundle in use by one batch; disposing it lets a retired bundle be freed.</summary>
public readonly struct BundleLease(ModelBundle bundle, Action? release) : IDisposable
{
    /// <summary>The leased bundle.</summary>
    public ModelBundle Bundle { get; } = bundle;

    /// <inheritdoc />
    public void Dispose() => release?.Invoke();
}

/// <summary>A fixed bundle (tests, tools); never swapped, never freed by the source.</summary>
public sealed class FixedBundleSource(Func<ModelBundle> bundle) : IBundleSource
{
    /// <inheritdoc />
    public BundleLease Acquire() => new(bundle(), null);
}

/// <summary>Options of <see cref="BundleManager"/>.</summary>
public sealed record BundleManagerOptions
{
    /// <summary>How often <c>current.json</c> (and the pin) is read.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>A new target must be seen unchanged for this long before it is loaded (a burst of promotions loads only the last).</summary>
    public TimeSpan Debounce { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How candidates are loaded and verified.</summary>
    public BundleLoadOptions Load { get; init; } = new();

    /// <summary>
    /// Refuse a version from <c>current.json</c> that has no recorded manifest digest (<c>Models:RequireDigest</c>,
    /// default true). False accepts such a pointer (written before digests were recorded) with a warning.
    /// </summary>
    public bool RequireDigest { get; init; } = true;
}

/// <summary>What the manager should serve, where that comes from, and what to fall back to at start.</summary>
/// <param name="Version">The version, as written (checked when loaded).</param>
/// <param name="ManifestSha256">The manifest digest recorded for it, when there is one.</param>
/// <param name="Source"><c>current.json</c>, <c>Models:Pin</c>, ...; for messages.</param>
/// <param name="Fallback">The version to serve instead when this one is refused at start (current.json's previous).</param>
public sealed record BundleTarget(string Version, string? ManifestSha256, string Source, BundleTarget? Fallback = null);

/// <summary>
/// Serves model bundles with hot reload (docs/ARCHITECTURE.md "Hot reload"): learns of a new target from <c>current.json</c>
/// (or a configured pin), debounced; loads and verifies the candidate off the hot path (checksums, feature spec, ONNX
/// shapes, golden windows, warm-up); swaps the reference between batches, as one unit; keeps the previous bundle
/// loaded for instant rollback; frees a retired bundle once the last batch leasing it is done. A refused candidate
/// is logged and counted, and the serving bundle keeps serving.
/// </summary>
public sealed class BundleManager : IBundleSource, IDisposable
{
    private readonly object _gate = new();
    private readonly BundleRegistry _registry;
    private readonly FeatureSpec _spec;
    private readonly BundleManagerOptions _options;
    private readonly Func<string?> _pin;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly Counter<long>? _swaps;
    private readonly Counter<long>? _refusals;
    private readonly SemaphoreSlim _wake = new(0);
    private Slot? _current;
    private Slot? _previous;
    private string? _pendingTarget;
    private DateTimeOffset _pendingSince;
    private string? _refused;
    private string? _warnedUndigested;

    /// <summary>Creates a manager over a registry; call <see cref="LoadInitial"/> before serving.</summary>
    public BundleManager(BundleRegistry registry, FeatureSpec spec, BundleManagerOptions? options = null, Func<string?>? pin = null, ILogger? logger = null, Meter? meter = null, TimeProvider? time = null)
    {
        _registry = registry;
        _spec = spec;
        _options = options ?? new BundleManagerOptions();
        _pin = pin ?? (() => null);
        _log = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _swaps = meter?.CreateCounter<long>("streamfraud.model.swaps", "{swap}", "Bundles swapped in (promotions, rollbacks, pins).");
        _refusals = meter?.CreateCounter<long>("streamfraud.model.refusals", "{bundle}", "Candidate bundles refused, by reason.");
        meter?.CreateObservableGauge("streamfraud.model.trees", ServingTrees, "1",
            "1 for the serving bundle's tree evaluator: tags evaluator (managed or libxgboost, chosen at load; docs/ARCHITECTURE.md \"Tree evaluation\"), explainer (what computes alert explanations: managed or libxgboost) and model.version.");
        // Every reason at 0 from the start, so alert rules and dashboards have a series before the first refusal.
        foreach (var kind in RefusalKinds.All)
        {
            _refusals?.Add(0, new KeyValuePair<string, object?>("reason", kind));
        }
    }

    /// <summary>The serving bundle (null before <see cref="LoadInitial"/>).</summary>
    public ModelBundle? Current => Volatile.Read(ref _current)?.Bundle;

    /// <summary>The bundle kept for instant rollback.</summary>
    public ModelBundle? Previous
    {
        get
        {
            lock (_gate)
            {
                return _previous?.Bundle;
            }
        }
    }

    /// <summary>Bundles loaded from disk (a rollback to the kept previous bundle loads nothing).</summary>
    public int Loads { get; private set; }

    /// <summary>Swaps performed.</summary>
    public int Swaps { get; private set; }

    /// <summary>The last refusal, for operators and tests.</summary>
    public BundleRejectedException? LastRefusal { get; private set; }

    /// <summary>
    /// What the manager should serve now: the pin, else what <c>current.json</c> names, with the manifest digest
    /// recorded for it (a pinned version gets the digest <c>current.json</c> records for it as current or previous).
    /// </summary>
    /// <exception cref="InvalidDataException"><c>current.json</c> exists but cannot be read as a pointer.</exception>
    public BundleTarget? Target()
    {
        if (_pin() is { Length: > 0 } pinned)
        {
            CurrentPointer? known = null;
            try
            {
                known = _registry.ReadCurrent();
            }
            catch (InvalidDataException)
            {
                // a broken pointer does not stop a pin; only its digests are unavailable
            }

            var digest = known?.Version == pinned ? known.ManifestSha256 : known?.Previous == pinned ? known.PreviousManifestSha256 : null;
            return new BundleTarget(pinned, digest, "Models:Pin");
        }

        return _registry.ReadCurrent() is { } current
            ? new BundleTarget(current.Version, current.ManifestSha256, BundleRegistry.CurrentFile,
                current.Previous is { } previous ? new BundleTarget(previous, current.PreviousManifestSha256, $"{BundleRegistry.CurrentFile} (previous)") : null)
            : null;
    }

    /// <summary>
    /// Loads what the pin or <c>current.json</c> names (startup). When <c>current.json</c>'s version is refused and
    /// its previous version (the last one promoted before it) loads, that one is served and the refusal logged; the
    /// refused version is not retried until <c>current.json</c> or its manifest changes. A refused pin has no fallback.
    /// </summary>
    /// <exception cref="BundleRejectedException">The bundle is refused (and so is the previous one, when there is one).</exception>
    /// <exception cref="InvalidOperationException">Nothing to serve.</exception>
    /// <exception cref="InvalidDataException"><c>current.json</c> cannot be read.</exception>
    public ModelBundle LoadInitial()
    {
        var target = Target() ?? throw new InvalidOperationException(
            $"{Path.Combine(_registry.Directory, BundleRegistry.CurrentFile)} does not exist and no pin is set: promote a bundle first.");
        ModelBundle bundle;
        try
        {
            bundle = LoadCandidate(target);
        }
        catch (BundleRejectedException refused) when (target.Fallback is { } fallback)
        {
            CountRefusal(refused);
            try
            {
                bundle = LoadCandidate(fallback);
            }
            catch (BundleRejectedException alsoRefused)
            {
                CountRefusal(alsoRefused);
                throw new BundleRejectedException(target.Version,
                    $"{refused.Reason}; the previous version {BundleNames.Printable(fallback.Version)} cannot stand in: {alsoRefused.Reason}", refused.Kind, refused);
            }

            _refused = Fingerprint(target);
            LastRefusal = refused;
            _log.LogCritical(
                "Current bundle {Version} refused at start ({Kind}): {Reason}. Serving the previous version {Fallback} from {Source} instead, until a good bundle is promoted",
                BundleNames.Printable(target.Version), refused.Kind, refused.Reason, bundle.Version, BundleRegistry.CurrentFile);
        }

        Install(bundle);
        _swaps?.Add(0, new KeyValuePair<string, object?>("model.version", bundle.Version)); // a series before the first swap
        return bundle;
    }

    /// <inheritdoc />
    public BundleLease Acquire()
    {
        lock (_gate)
        {
            var slot = _current ?? throw new InvalidOperationException("No bundle is loaded.");
            slot.Leases++;
            return new BundleLease(slot.Bundle, () => Release(slot));
        }
    }

    /// <summary>Asks the watcher to look now (e.g. on a model-updates announcement).</summary>
    public void RequestCheck()
    {
        try
        {
            _wake.Release();
        }
        catch (ObjectDisposedException)
        {
            // shutting down: nothing to check any more
        }
    }

    /// <summary>Polls until cancelled; each poll may swap (see <see cref="CheckOnce"/>). Never throws: a failed poll is logged and the serving bundle kept.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                CheckOnce();
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                _log.LogWarning("Reading the model registry failed: {Reason}; serving {Version} unchanged", e.Message, Current?.Version);
            }
            catch (Exception e)
            {
                // A poll must not end the watcher: later promotions would be ignored without a word.
                _log.LogError(e, "Checking for a new bundle failed unexpectedly; serving {Version} unchanged, checking again at the next poll", Current?.Version);
            }

            // A target seen but still inside its debounce window is checked again as soon as the window ends.
            var wait = _pendingTarget is null
                ? _options.PollInterval
                : TimeSpan.FromTicks(Math.Clamp((_options.Debounce - (_time.GetUtcNow() - _pendingSince)).Ticks, TimeSpan.FromMilliseconds(10).Ticks, _options.PollInterval.Ticks));
            try
            {
                await _wake.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>
    /// One poll: when the target differs from the serving version and has been stable for the debounce time, swap to
    /// it — instantly when it is the kept previous bundle, else after loading and verifying it. Returns true on a swap.
    /// </summary>
    public bool CheckOnce()
    {
        var resolved = Target();
        var serving = Current;
        if (resolved is null || (resolved.Version == serving?.Version && (resolved.ManifestSha256 is null || Same(resolved.ManifestSha256, serving.ManifestSha256))))
        {
            _pendingTarget = null;
            return false;
        }

        var target = resolved.Version;
        var now = _time.GetUtcNow();
        var key = Fingerprint(resolved);
        if (_pendingTarget != key)
        {
            _pendingTarget = key;
            _pendingSince = now;
            if (_options.Debounce > TimeSpan.Zero)
            {
                return false;
            }
        }

        if (now - _pendingSince < _options.Debounce)
        {
            return false;
        }

        lock (_gate)
        {
            if (_previous is { } kept && kept.Bundle.Version == target && (resolved.ManifestSha256 is null || Same(resolved.ManifestSha256, kept.Bundle.ManifestSha256)))
            {
                (_current, _previous) = (kept, _current);
                Swaps++;
                _swaps?.Add(1, new KeyValuePair<string, object?>("model.version", target));
                _log.LogInformation("Rolled back to {Version} (kept loaded); {Old} kept for roll-forward", target, serving?.Version);
                _pendingTarget = null;
                return true;
            }
        }

        if (_refused == key)
        {
            return false; // refused already and unchanged since: do not reload it every poll
        }

        ModelBundle candidate;
        try
        {
            candidate = LoadCandidate(resolved);
        }
        catch (BundleRejectedException e)
        {
            _refused = key;
            LastRefusal = e;
            CountRefusal(e);
            _log.LogError("Candidate bundle {Version} from {Source} refused ({Kind}): {Reason}; still serving {Serving}",
                BundleNames.Printable(target), resolved.Source, e.Kind, e.Reason, serving?.Version);
            return false;
        }

        Install(candidate);
        _pendingTarget = null;
        return true;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var slot in new[] { _current, _previous })
            {
                if (slot is not null)
                {
                    slot.Retired = true;
                    TryFree(slot);
                }
            }

            _current = _previous = null;
        }

        _wake.Dispose();
    }

    private ModelBundle LoadCandidate(BundleTarget target)
    {
        var version = target.Version;
        if (BundleNames.Problem(version) is { } problem)
        {
            throw new BundleRejectedException(version, $"{target.Source} names version {problem}; a version is a directory directly inside the registry", RefusalKinds.VersionName);
        }

        if (target.ManifestSha256 is null && target.Source != "Models:Pin")
        {
            if (_options.RequireDigest)
            {
                throw new BundleRejectedException(version,
                    $"{BundleRegistry.CurrentFile} records no manifest digest for {version} (written before digests were recorded, or by hand): " +
                    $"promote it again with 'StreamFraud.Trainer models promote {version} --registry DIR', which verifies it and records the digest, " +
                    "or set Models:RequireDigest=false to accept pointers without one",
                    RefusalKinds.ManifestDigest);
            }

            if (_warnedUndigested != version)
            {
                _warnedUndigested = version;
                _log.LogWarning("{File} records no manifest digest for {Version}; loading it without one because Models:RequireDigest is false", BundleRegistry.CurrentFile, version);
            }
        }

        var bundle = ModelBundle.Load(_registry.PathOf(version), _spec, _options.Load, target.ManifestSha256);
        Loads++;
        if (bundle.Version != version)
        {
            bundle.Dispose();
            throw new BundleRejectedException(version, $"the manifest in {version}/ says version {BundleNames.Printable(bundle.Version)}", RefusalKinds.VersionName);
        }

        return bundle;
    }

    private void CountRefusal(BundleRejectedException e)
    {
        if (_refusals is { Enabled: true } counter)
        {
            counter.Add(1, new KeyValuePair<string, object?>("reason", e.Kind));
        }

        if (e.Kind == RefusalKinds.Timeout)
        {
            _log.LogError("Loading bundle {Version} was abandoned after Models:LoadTimeout; its thread may stay blocked in a read that cannot be cancelled", BundleNames.Printable(e.Version));
        }
    }

    /// <summary>What identifies a target for debouncing and for not retrying a refusal: version, digest, manifest time.</summary>
    private string Fingerprint(BundleTarget target)
    {
        var manifestTime = DateTime.MinValue;
        if (BundleNames.IsValid(target.Version))
        {
            try
            {
                manifestTime = File.GetLastWriteTimeUtc(Path.Combine(_registry.PathOf(target.Version), BundleManifest.FileName));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // unreadable: the load says why
            }
        }

        return $"{target.Version}\n{target.ManifestSha256}\n{manifestTime.Ticks}";
    }

    private static bool Same(string? a, string? b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

    private void Install(ModelBundle bundle)
    {
        lock (_gate)
        {
            var old = _current;
            if (_previous is { } dropped && !ReferenceEquals(dropped, old))
            {
                dropped.Retired = true;
                TryFree(dropped);
            }

            _previous = old;
            Volatile.Write(ref _current, new Slot(bundle));
            Swaps += old is null ? 0 : 1;
            if (old is not null)
            {
                _swaps?.Add(1, new KeyValuePair<string, object?>("model.version", bundle.Version));
            }
        }

        var trees = bundle.TreeChoice;
        var explainer = bundle.Explainer;
        if (trees.FellBack || explainer.FellBack)
        {
            _log.LogWarning("Serving bundle {Version} (LSTM path {LstmPath} on {Provider}, trees on {Trees}): {TreesReason}; explanations on {Explainer}: {ExplainerReason}",
                bundle.Version, bundle.LstmPath, bundle.LstmProvider, TreeEvaluatorNames.Name(trees.Evaluator), trees.Reason, explainer.Name, explainer.Reason);
        }
        else
        {
            _log.LogInformation("Serving bundle {Version} (LSTM path {LstmPath} on {Provider}, trees on {Trees}): {TreesReason}; explanations on {Explainer}: {ExplainerReason}",
                bundle.Version, bundle.LstmPath, bundle.LstmProvider, TreeEvaluatorNames.Name(trees.Evaluator), trees.Reason, explainer.Name, explainer.Reason);
        }

        if (bundle.LstmPathNote is { } note)
        {
            _log.LogWarning("Bundle {Version}: {LstmPathNote}", bundle.Version, note);
        }
    }

    /// <summary>The <c>streamfraud.model.trees</c> series: one, for the serving bundle, once there is one.</summary>
    private IEnumerable<Measurement<int>> ServingTrees()
    {
        if (Current is { } bundle)
        {
            yield return new Measurement<int>(1,
                new KeyValuePair<string, object?>("model.version", bundle.Version),
                new KeyValuePair<string, object?>("evaluator", TreeEvaluatorNames.Name(bundle.Trees)),
                new KeyValuePair<string, object?>("explainer", bundle.Explainer.Name));
        }
    }

    private void Release(Slot slot)
    {
        lock (_gate)
        {
            slot.Leases--;
            TryFree(slot);
        }
    }

    private static void TryFree(Slot slot)
    {
        if (slot.Retired && slot.Leases == 0 && !slot.Freed)
        {
            slot.Freed = true;
            slot.Bundle.Dispose();
        }
    }

    private sealed class Slot(ModelBundle bundle)
    {
        public ModelBundle Bundle { get; } = bundle;

        public int Leases { get; set; }

        public bool Retired { get; set; }

        public bool Freed { get; set; }
    }
}
