using StreamFraud.Core.Features;

namespace StreamFraud.Core.Tests.Features;

/// <summary>Small helpers for building transactions and applying them in tests.</summary>
internal static class TestTx
{
    /// <summary>2024-01-01T00:00:00Z, a Monday.</summary>
    public const long T0 = 1_704_067_200_000;

    public const long Minute = 60_000;
    public const long Hour = 3_600_000;
    public const long Day = 86_400_000;

    public static Transaction Make(
        string id,
        long timeMs,
        double amount,
        string merchant = "m1",
        string? mcc = "5411",
        string? country = "US",
        string? channel = "pos",
        string currency = "USD",
        string card = "c1",
        float[]? features = null,
        bool? isFraud = null,
        string? scenario = null) =>
        new(id, card, merchant, amount, currency, timeMs, mcc, country, channel, features, isFraud, scenario);

    /// <summary>Applies <paramref name="tx"/> (position unknown), asserts it was applied, returns its vector.</summary>
    public static float[] Apply(CardState state, Transaction tx)
    {
        var window = new float[state.Spec.WindowSize];
        var result = state.TryApply(tx, SourcePosition.None, window);
        Assert.Equal(ApplyStatus.Applied, result.Status);
        return window[^state.Spec.Dimension..];
    }

    /// <summary>Float feature equals a double expectation to float precision.</summary>
    public static void Near(double expected, float actual, string what, double tolerance = 2e-7)
    {
        var scale = Math.Max(1.0, Math.Abs(expected));
        Assert.True(Math.Abs(expected - actual) <= tolerance * scale, $"{what}: expected {expected:R}, got {actual:R}");
    }

    public static bool BitEqual(ReadOnlySpan<float> a, ReadOnlySpan<float> b) =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(a).SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(b));
}
