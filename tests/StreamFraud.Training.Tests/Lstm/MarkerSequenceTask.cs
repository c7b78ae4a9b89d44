namespace StreamFraud.Training.Tests.Lstm;

/// <summary>
/// A small sequence task that only a sequence model can solve: a window is fraud if and only if feature
/// <see cref="MarkerFeature"/> is 1 at one of the first two real steps. The last step is drawn the same way for both
/// classes (including a decoy marker with probability ½), so a model that sees only the last step — XGBoost on the
/// newest transaction — cannot beat the base rate, while an LSTM reaches an AP near 1.
/// </summary>
/// <remarks>
/// Windows are [count, steps, features] row-major with 0–2 leading all-zero padding steps, like short card
/// histories. Features other than the marker are uniform noise in [−1, 1]. Deterministic for a seed.
/// </remarks>
public static class MarkerSequenceTask
{
    /// <summary>Index of the marker feature.</summary>
    public const int MarkerFeature = 0;

    /// <summary>Generates <paramref name="count"/> windows and their 0/1 labels.</summary>
    public static (float[] Windows, byte[] Labels) Generate(int count, int steps = 7, int features = 4, double fraudRate = 0.2, int seed = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 5);
        ArgumentOutOfRangeException.ThrowIfLessThan(features, 2);
        var rng = new Random(seed);
        var windows = new float[count * steps * features];
        var labels = new byte[count];
        for (var i = 0; i < count; i++)
        {
            var fraud = rng.NextDouble() < fraudRate;
            labels[i] = (byte)(fraud ? 1 : 0);
            var padding = rng.Next(0, 3);
            var window = windows.AsSpan(i * steps * features, steps * features);
            for (var t = padding; t < steps; t++)
            {
                var step = window.Slice(t * features, features);
                for (var f = 0; f < features; f++)
                {
                    step[f] = f == MarkerFeature ? 0f : (float)((rng.NextDouble() * 2) - 1);
                }
            }

            if (fraud)
            {
                window[((padding + rng.Next(0, 2)) * features) + MarkerFeature] = 1f;
            }

            // Decoy: the newest step carries a marker half the time, whatever the label.
            if (rng.NextDouble() < 0.5)
            {
                window[((steps - 1) * features) + MarkerFeature] = 1f;
            }
        }

        return (windows, labels);
    }

    /// <summary>The last step of every window, [count, features] (what a last-step model sees).</summary>
    public static float[] LastSteps(float[] windows, int steps, int features)
    {
        var count = windows.Length / (steps * features);
        var last = new float[count * features];
        for (var i = 0; i < count; i++)
        {
            windows.AsSpan(((i * steps) + steps - 1) * features, features).CopyTo(last.AsSpan(i * features, features));
        }

        return last;
    }
}
