using StreamFraud.Core.Features;
using static StreamFraud.Core.Tests.Features.TestTx;

namespace StreamFraud.Core.Tests.Features;

public class PrecomputedFeatureSpecTests
{
    private static readonly PrecomputedFeatureSpec Spec = PrecomputedFeatureSpec.Create(4);

    [Fact]
    public void TryApply_FeaturesArray_IsTheVectorAndWindowIsLeftPadded()
    {
        var state = new CardState(Spec);
        var window = new float[Spec.WindowSize];
        state.TryApply(Make("a", T0, 1, features: [1f, 2f, 3f, 4f]), new SourcePosition(0, 0, SourcePosition.OfflineSource), window);
        var r = state.TryApply(Make("b", T0 + 1, 1, features: [-1.5f, 0f, 1e30f, 7f]), new SourcePosition(0, 1, SourcePosition.OfflineSource), window);
        Assert.Equal(2, r.RealSteps);
        Assert.Equal(new float[20], window[..20]);
        Assert.Equal([1f, 2f, 3f, 4f, -1.5f, 0f, 1e30f, 7f], window[20..]);
        Assert.Equal(28 + (2 * (40 + 16)), state.SerializedSize); // no aggregates block
    }

    [Theory]
    [InlineData(3)]
    [InlineData(5)]
    public void TryApply_WrongLength_InvalidWithReasonAndStateUnchanged(int length)
    {
        var state = new CardState(Spec);
        var before = state.ToArray();
        var r = state.TryApply(Make("a", T0, 1, features: new float[length]), new SourcePosition(0, 0, SourcePosition.OfflineSource), new float[Spec.WindowSize]);
        Assert.Equal(ApplyStatus.Invalid, r.Status);
        Assert.Equal($"features has {length} values; spec precomputed:4 needs 4", r.Error);
        Assert.Equal(before, state.ToArray());
    }

    [Fact]
    public void TryApply_MissingFeatures_Invalid()
    {
        var r = new CardState(Spec).TryApply(Make("a", T0, 1), SourcePosition.None, new float[Spec.WindowSize]);
        Assert.Equal(ApplyStatus.Invalid, r.Status);
        Assert.Contains("no features", r.Error);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.NegativeInfinity)]
    public void TryApply_NonFiniteFeature_Invalid(float bad)
    {
        var r = new CardState(Spec).TryApply(Make("a", T0, 1, features: [0f, bad, 0f, 0f]), SourcePosition.None, new float[Spec.WindowSize]);
        Assert.Equal(ApplyStatus.Invalid, r.Status);
        Assert.Equal("features[1] is not a finite number", r.Error);
    }

    [Fact]
    public void TryApply_DuplicateId_IgnoredLikeCardSpec_OtherFeaturesAConflict()
    {
        var state = new CardState(Spec);
        var window = new float[Spec.WindowSize];
        state.TryApply(Make("a", T0, 1, features: [1f, 2f, 3f, 4f]), new SourcePosition(0, 0, SourcePosition.OfflineSource), window);
        var before = state.ToArray();
        Assert.Equal(ApplyStatus.DuplicateTransactionId, state.TryApply(Make("a", T0, 1, features: [1f, 2f, 3f, 4f]), new SourcePosition(0, 9, SourcePosition.OfflineSource), window).Status);
        // The same id with other features is another transaction under a reused id: refused, never silently dropped.
        var conflict = state.TryApply(Make("a", T0, 1, features: [9f, 9f, 9f, 9f]), new SourcePosition(0, 10, SourcePosition.OfflineSource), window);
        Assert.Equal(ApplyStatus.ConflictingTransactionId, conflict.Status);
        Assert.True(conflict.IsRejected);
        Assert.Equal(before, state.ToArray());
    }
}
