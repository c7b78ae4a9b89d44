using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StreamFraud.Core.Features;

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
}

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
    private (string Version, DateTime ManifestTime)? _refused;

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

    /// <summary>The version the manager should serve now: the pin, else <c>current.json</c>'s.</summary>
    public string? Target() => _pin() is { Length: > 0 } pinned ? pinned : _registry.ReadCurrent()?.Version;

    /// <summary>Loads what the pin or <c>current.json</c> names (startup: failures throw).</summary>
    /// <exception cref="BundleRejectedException">The bundle is refused.</exception>
    /// <exception cref="InvalidOperationException">Nothing to serve.</exception>
    public ModelBundle LoadInitial()
    {
        var target = Target() ?? throw new InvalidOperationException(
            $"{Path.Combine(_registry.Directory, BundleRegistry.CurrentFile)} does not exist and no pin is set: promote a bundle first.");
        var bundle = LoadCandidate(target);
        Install(bundle);
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

    /// <summary>Polls until cancelled; each poll may swap (see <see cref="CheckOnce"/>).</summary>
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
        var target = Target();
        var serving = Current?.Version;
        if (target is null || target == serving)
        {
            _pendingTarget = null;
            return false;
        }

        var now = _time.GetUtcNow();
        if (_pendingTarget != target)
        {
            _pendingTarget = target;
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
            if (_previous is { } kept && kept.Bundle.Version == target)
            {
                (_current, _previous) = (kept, _current);
                Swaps++;
                _swaps?.Add(1, new KeyValuePair<string, object?>("model.version", target));
                _log.LogInformation("Rolled back to {Version} (kept loaded); {Old} kept for roll-forward", target, serving);
                _pendingTarget = null;
                return true;
            }
        }

        var manifestTime = File.GetLastWriteTimeUtc(Path.Combine(_registry.PathOf(target), BundleManifest.FileName));
        if (_refused is { } r && r.Version == target && r.ManifestTime == manifestTime)
        {
            return false; // refused already and unchanged since: do not reload it every poll
        }

        ModelBundle candidate;
        try
        {
            candidate = LoadCandidate(target);
        }
        catch (BundleRejectedException e)
        {
            _refused = (target, manifestTime);
            LastRefusal = e;
            _refusals?.Add(1, new KeyValuePair<string, object?>("reason", Classify(e.Reason)));
            _log.LogError("Candidate bundle {Version} refused: {Reason}; still serving {Serving}", target, e.Reason, serving);
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

    private ModelBundle LoadCandidate(string version)
    {
        var bundle = ModelBundle.Load(_registry.PathOf(version), _spec, _options.Load);
        Loads++;
        if (bundle.Version != version)
        {
            bundle.Dispose();
            throw new BundleRejectedException(version, $"the manifest in {version}/ says version {bundle.Version}");
        }

        return bundle;
    }

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

        _log.LogInformation("Serving bundle {Version} (LSTM on {Provider})", bundle.Version, bundle.LstmProvider);
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

    private static string Classify(string reason) =>
        reason.Contains("checksum", StringComparison.Ordinal) ? "checksum"
        : reason.Contains("missing", StringComparison.Ordinal) || reason.Contains("still being written", StringComparison.Ordinal) ? "missing_file"
        : reason.Contains("feature spec", StringComparison.Ordinal) ? "feature_spec"
        : reason.Contains("golden", StringComparison.Ordinal) ? "golden_window"
        : reason.Contains("shape", StringComparison.Ordinal) || reason.Contains("ONNX", StringComparison.Ordinal) ? "model"
        : "other";

    private sealed class Slot(ModelBundle bundle)
    {
        public ModelBundle Bundle { get; } = bundle;

        public int Leases { get; set; }

        public bool Retired { get; set; }

        public bool Freed { get; set; }
    }
}
