using System.Globalization;
using StreamFraud.Core.Features;

namespace StreamFraud.Core.Labels;

/// <summary>
/// How long after a fraud its simulated label arrives (<c>train --label-delay</c>): a fixed duration (<c>7d</c>),
/// an exponential distribution with a mean (<c>exp:3d</c>) or a uniform range (<c>uniform:1d..14d</c>). Durations
/// are a number with unit <c>ms</c>, <c>s</c>, <c>m</c>, <c>h</c> or <c>d</c>. A distribution draws from a hash of the
/// transaction id, so every run gives every transaction the same delay.
/// </summary>
public sealed class LabelDelay
{
    private const ulong Seed = 0x79616C6564UL; // "delay"
    private readonly Kind _kind;
    private readonly long _a;
    private readonly long _b;

    private LabelDelay(Kind kind, long a, long b, string text)
    {
        _kind = kind;
        _a = a;
        _b = b;
        Text = text;
    }

    private enum Kind
    {
        Fixed,
        Exponential,
        Uniform,
    }

    /// <summary>The default: every fraud is labelled 7 days after it happened.</summary>
    public static LabelDelay Default { get; } = new(Kind.Fixed, 7 * 86_400_000L, 0, "7d");

    /// <summary>The delay as written (<c>7d</c>, <c>exp:3d</c>, <c>uniform:1d..14d</c>).</summary>
    public string Text { get; }

    /// <summary>A sentence for reports.</summary>
    public string Description => _kind switch
    {
        Kind.Fixed => $"every fraud labelled {Text} after its event time",
        Kind.Exponential => $"fraud labels arrive after an exponentially distributed delay with mean {Text[4..]} (per transaction, from a hash of its id)",
        _ => $"fraud labels arrive after a delay uniform in {Text[8..]} (per transaction, from a hash of its id)",
    };

    /// <summary>Parses a delay; false with a message naming the accepted forms.</summary>
    public static bool TryParse(string? text, out LabelDelay delay, out string? error)
    {
        delay = Default;
        error = null;
        var value = text?.Trim() ?? "";
        const string Forms = "expected a duration such as 7d, 36h or 90m, 'exp:MEAN' (e.g. exp:3d) or 'uniform:MIN..MAX' (e.g. uniform:1d..14d)";
        if (value.StartsWith("exp:", StringComparison.Ordinal))
        {
            if (!TryDuration(value[4..], out var mean) || mean <= 0)
            {
                error = $"label delay '{text}': {Forms}, with a positive mean";
                return false;
            }

            delay = new LabelDelay(Kind.Exponential, mean, 0, value);
            return true;
        }

        if (value.StartsWith("uniform:", StringComparison.Ordinal))
        {
            var parts = value[8..].Split("..");
            if (parts.Length != 2 || !TryDuration(parts[0], out var min) || !TryDuration(parts[1], out var max) || min <= 0 || max < min)
            {
                error = $"label delay '{text}': {Forms}, with 0 < MIN ≤ MAX";
                return false;
            }

            delay = new LabelDelay(Kind.Uniform, min, max, value);
            return true;
        }

        if (!TryDuration(value, out var fixedMs) || fixedMs <= 0)
        {
            error = $"label delay '{text}': {Forms}; it must be positive";
            return false;
        }

        delay = new LabelDelay(Kind.Fixed, fixedMs, 0, value);
        return true;
    }

    /// <summary>The delay of <paramref name="transactionId"/>'s label, in ms (≥ 1).</summary>
    public long DelayMs(string transactionId)
    {
        if (_kind == Kind.Fixed)
        {
            return _a;
        }

        // u in (0, 1): 53 bits of the id's hash.
        var u = ((StableHash.Hash(Seed, transactionId) >> 11) + 0.5) / 9007199254740992.0;
        var ms = _kind == Kind.Exponential
            ? -_a * DeterministicMath.Log(u)
            : _a + (u * (_b - _a));
        return Math.Max(1L, (long)Math.Min(ms, 3650.0 * 86_400_000));
    }

    /// <inheritdoc/>
    public override string ToString() => Text;

    private static bool TryDuration(string text, out long ms)
    {
        ms = 0;
        text = text.Trim();
        var (unit, scale) = text.EndsWith("ms", StringComparison.Ordinal) ? (2, 1L)
            : text.EndsWith('s') ? (1, 1000L)
            : text.EndsWith('m') ? (1, 60_000L)
            : text.EndsWith('h') ? (1, 3_600_000L)
            : text.EndsWith('d') ? (1, 86_400_000L)
            : (0, 0L);
        if (unit == 0 || !double.TryParse(text[..^unit], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
        {
            return false;
        }

        var value = number * scale;
        if (!double.IsFinite(value) || value > 3650.0 * 86_400_000)
        {
            return false;
        }

        ms = (long)Math.Round(value);
        return true;
    }
}
