using System.Buffers.Binary;
using StreamFraud.Core.Features;
using static StreamFraud.Core.Tests.Features.TestTx;

namespace StreamFraud.Core.Tests.Features;

public class CardStateTests
{
    private static readonly CardFeatureSpecV1 Spec = FeatureSpec.CardV1;
    private const int D = 56;

    /// <summary>The source of the tests' positions (a topic).</summary>
    private static readonly uint S = SourcePosition.SourceHash("transactions");

    private static Transaction Nth(int i, long? time = null) =>
        Make($"t{i}", time ?? (T0 + (i * 7 * Minute)), 10 + i, merchant: $"m{i % 3}");

    /// <summary>A state with events 1..count applied at partition 3, offsets 100+i.</summary>
    private static CardState Build(int count)
    {
        var state = new CardState(Spec);
        var window = new float[Spec.WindowSize];
        for (var i = 1; i <= count; i++)
        {
            Assert.True(state.TryApply(Nth(i), new SourcePosition(3, 100 + i, S), window).IsApplied);
        }

        return state;
    }

    [Fact]
    public void Load_Empty_FreshState()
    {
        var state = Build(3);
        Assert.Equal(StateLoadStatus.Empty, state.Load(ReadOnlySpan<byte>.Empty));
        Assert.Equal(0, state.Count);
        Assert.Equal(0, state.AppliedCount);
        Assert.Equal(SourcePosition.None, state.HighWatermark);
        Assert.Equal(new CardState(Spec).ToArray(), state.ToArray());
    }

    [Fact]
    public void WriteLoad_RoundTrip_SameBytesAndSameWindow()
    {
        var state = Build(10);
        var bytes = state.ToArray();
        Assert.Equal(Spec.MaxStateSize, bytes.Length);
        var copy = new CardState(Spec);
        Assert.Equal(StateLoadStatus.Loaded, copy.Load(bytes));
        Assert.Equal(bytes, copy.ToArray());

        var w1 = new float[Spec.WindowSize];
        var w2 = new float[Spec.WindowSize];
        Assert.Equal(7, state.CopyWindow(w1));
        Assert.Equal(7, copy.CopyWindow(w2));
        Assert.True(BitEqual(w1, w2));

        // Both continue identically.
        var n1 = new float[Spec.WindowSize];
        var n2 = new float[Spec.WindowSize];
        state.TryApply(Nth(11), new SourcePosition(3, 111, S), n1);
        copy.TryApply(Nth(11), new SourcePosition(3, 111, S), n2);
        Assert.True(BitEqual(n1, n2));
        Assert.Equal(state.ToArray(), copy.ToArray());
    }

    [Fact]
    public void Write_Layout_MatchesDocumentedOffsets()
    {
        var state = Build(2);
        var b = state.ToArray();
        Assert.Equal(28 + (2 * (40 + (4 * D))) + 344, b.Length);
        Assert.Equal(2, b[0]);                                              // format
        Assert.Equal(2, b[1]);                                              // count
        Assert.Equal(D, BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(2)));
        Assert.Equal(Convert.FromHexString(Spec.ContentHash[..8]), b[4..8]); // fingerprint = first 4 hash bytes
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(8)));
        Assert.Equal(3, BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(12)));
        Assert.Equal(102L, BinaryPrimitives.ReadInt64LittleEndian(b.AsSpan(16)));
        Assert.Equal(S, BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(24)));   // watermark source

        // Entry 0 (oldest) at 28, entry 1 at 28 + 264.
        for (var e = 0; e < 2; e++)
        {
            var p = 28 + (e * (40 + (4 * D)));
            Assert.Equal(CardState.TransactionIdHash($"t{e + 1}"), BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(p)));
            Assert.Equal(CardState.TransactionContentHash(Nth(e + 1)), BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(p + 8)));
            Assert.Equal(Nth(e + 1).EventTimeMs, BinaryPrimitives.ReadInt64LittleEndian(b.AsSpan(p + 16)));
            Assert.Equal(101L + e, BinaryPrimitives.ReadInt64LittleEndian(b.AsSpan(p + 24)));
            Assert.Equal(3, BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(p + 32)));
            Assert.Equal(S, BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(p + 36)));
            for (var f = 0; f < D; f++)
            {
                Assert.Equal(state.GetVector(e)[f], BinaryPrimitives.ReadSingleLittleEndian(b.AsSpan(p + 40 + (4 * f))));
            }
        }

        // Aggregates after the entries: oldest and newest event time, then the Welford mean of ln(1 + amount).
        var a = 28 + (2 * (40 + (4 * D)));
        Assert.Equal(Nth(1).EventTimeMs, BinaryPrimitives.ReadInt64LittleEndian(b.AsSpan(a)));
        Assert.Equal(Nth(2).EventTimeMs, BinaryPrimitives.ReadInt64LittleEndian(b.AsSpan(a + 8)));
        Assert.Equal((Math.Log(12) + Math.Log(13)) / 2, BinaryPrimitives.ReadDoubleLittleEndian(b.AsSpan(a + 16)), 14);
        Assert.Equal(12.0, BinaryPrimitives.ReadDoubleLittleEndian(b.AsSpan(a + 32)));     // largest amount
        Assert.Equal(2, BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(a + 152)));       // distinct merchants
    }

    [Fact]
    public void TryApply_SameTransactionAgain_DuplicateAndBytesUnchanged()
    {
        var state = Build(5);
        var before = state.ToArray();
        var original = new float[Spec.WindowSize];
        state.CopyWindow(original);

        var window = new float[Spec.WindowSize];
        // Same id at a newer offset (a producer retry): caught by the id rule.
        var r = state.TryApply(Nth(5), new SourcePosition(3, 500, S), window);
        Assert.Equal(ApplyStatus.DuplicateTransactionId, r.Status);
        Assert.True(r.IsDuplicate);
        Assert.Equal(before, state.ToArray());
        // The window it had when first applied comes back, for re-scoring a redelivered event.
        Assert.Equal(5, r.RealSteps);
        Assert.True(r.WindowComplete);
        Assert.True(BitEqual(original, window));
    }

    [Fact]
    public void TryApply_RedeliveredOffset_DuplicatePositionAndBytesUnchanged()
    {
        var state = Build(5);
        var before = state.ToArray();
        var window = new float[Spec.WindowSize];

        // The exact redelivery of offset 104 (event 4): position rule; its window is recovered.
        var r = state.TryApply(Nth(4), new SourcePosition(3, 104, S), window);
        Assert.Equal(ApplyStatus.DuplicatePosition, r.Status);
        Assert.Equal(4, r.RealSteps);
        Assert.True(r.WindowComplete);
        Assert.True(window.AsSpan(0, 3 * D).ToArray().All(x => x == 0f));
        Assert.True(BitEqual(state.GetVector(3), window.AsSpan(6 * D, D)));

        // Any event at or below the watermark of partition 3 is a duplicate, even an unknown id.
        r = state.TryApply(Make("never-seen", T0, 1), new SourcePosition(3, 105, S), window);
        Assert.Equal(ApplyStatus.DuplicatePosition, r.Status);
        Assert.Equal(0, r.RealSteps);
        Assert.Equal(before, state.ToArray());
    }

    [Fact]
    public void TryApply_OtherPartitionLowerOffset_AppliedAndWatermarkMoves()
    {
        // After a repartitioning the card's events come from another partition: offsets there are unrelated.
        var state = Build(3);
        var r = state.TryApply(Make("moved", T0 + Day, 1), new SourcePosition(5, 7, S), new float[Spec.WindowSize]);
        Assert.Equal(ApplyStatus.Applied, r.Status);
        Assert.Equal(new SourcePosition(5, 7, S), state.HighWatermark);
    }

    [Fact]
    public void TryApply_UnknownPosition_OnlyIdRuleAndWatermarkKept()
    {
        var state = Build(3);
        var window = new float[Spec.WindowSize];
        Assert.True(state.TryApply(Make("x", T0 + Day, 1), SourcePosition.None, window).IsApplied);
        Assert.Equal(new SourcePosition(3, 103, S), state.HighWatermark);
        Assert.Equal(ApplyStatus.DuplicateTransactionId, state.TryApply(Make("x", T0 + Day, 1), SourcePosition.None, window).Status);
        Assert.Equal(SourcePosition.None, state.GetEntry(3).Position);
    }

    [Fact]
    public void TryApply_DuplicateOfOldestEntry_PartialWindowFlaggedIncomplete()
    {
        var state = Build(9); // window holds events 3..9
        var window = new float[Spec.WindowSize];
        var r = state.TryApply(Nth(3), new SourcePosition(3, 103, S), window);
        Assert.Equal(ApplyStatus.DuplicatePosition, r.Status);
        Assert.Equal(1, r.RealSteps);           // only event 3 itself is left of its original window
        Assert.False(r.WindowComplete);         // it originally had events 1..3

        r = state.TryApply(Nth(9), new SourcePosition(3, 109, S), window);
        Assert.Equal(7, r.RealSteps);
        Assert.True(r.WindowComplete);
    }

    [Fact]
    public void TryApply_EvictedIdAtNewPosition_AppliedAgain()
    {
        // Documented limit: the id rule covers the 7 ids in the window; older redeliveries are caught by position.
        var state = Build(9);
        var window = new float[Spec.WindowSize];
        Assert.Equal(ApplyStatus.DuplicatePosition, state.TryApply(Nth(1), new SourcePosition(3, 101, S), window).Status);
        Assert.Equal(ApplyStatus.Applied, state.TryApply(Nth(1), new SourcePosition(3, 200, S), window).Status);
    }

    [Fact]
    public void TryApply_Window_LeftPaddedOldestFirstNewestLast()
    {
        var state = new CardState(Spec);
        var window = new float[Spec.WindowSize];
        for (var i = 1; i <= 9; i++)
        {
            var r = state.TryApply(Nth(i), new SourcePosition(0, i, S), window);
            Assert.Equal(Math.Min(i, 7), r.RealSteps);
            for (var step = 0; step < 7; step++)
            {
                var isReal = step >= 7 - r.RealSteps;
                Assert.Equal(isReal ? 1f : 0f, window[(step * D) + CardFeatureSpecV1.IsReal]);
                if (!isReal)
                {
                    Assert.True(window.AsSpan(step * D, D).ToArray().All(x => x == 0f));
                }
            }

            // The newest step is event i: its amount is 10 + i.
            Near(Math.Log(11 + i), window[(6 * D) + CardFeatureSpecV1.AmtLog], "amt_log of newest");
            Assert.Equal(CardState.TransactionIdHash($"t{i}"), state.GetEntry(state.Count - 1).TransactionIdHash);
        }

        // After 9 events the oldest step is event 3.
        Near(Math.Log(14), window[CardFeatureSpecV1.AmtLog], "amt_log of oldest"); // amount 13
    }

    [Fact]
    public void TryApply_OutOfOrderEvent_AppendedInArrivalOrderAndNewestTimeKept()
    {
        var state = Build(4);
        var window = new float[Spec.WindowSize];
        var late = Make("late", T0 - Hour, 99);
        Assert.True(state.TryApply(late, new SourcePosition(3, 105, S), window).IsApplied);
        Assert.Equal(T0 - Hour, state.GetEntry(4).EventTimeMs);   // last in the window although oldest in time
        Assert.Equal(1f, window[(6 * D) + CardFeatureSpecV1.IsLate]);
        Assert.Equal(0f, window[(6 * D) + CardFeatureSpecV1.DtPrevLog]);

        // The next in-order event measures time since the newest event time (event 4), not since the late one.
        var next = Make("next", Nth(4).EventTimeMs + (5 * Minute), 5);
        state.TryApply(next, new SourcePosition(3, 106, S), window);
        Near(Math.Log(1 + 300), window[(6 * D) + CardFeatureSpecV1.DtPrevLog], "dt_prev_log");
        Assert.Equal(0f, window[(6 * D) + CardFeatureSpecV1.IsLate]);
    }

    [Fact]
    public void TryApply_InvalidEvent_StateBytesUnchanged()
    {
        var state = Build(3);
        var before = state.ToArray();
        var r = state.TryApply(Make("nan", T0, double.NaN), new SourcePosition(3, 200, S), new float[Spec.WindowSize]);
        Assert.Equal(ApplyStatus.Invalid, r.Status);
        Assert.Equal(before, state.ToArray());
        Assert.Equal(new SourcePosition(3, 103, S), state.HighWatermark); // the offset was not consumed
    }

    [Fact]
    public void TryApply_WindowTooSmall_Throws()
    {
        var state = new CardState(Spec);
        Assert.Throws<ArgumentException>(() => state.TryApply(Nth(1), SourcePosition.None, new float[Spec.WindowSize - 1]));
    }

    [Fact]
    public void Load_Truncated_CorruptAndReset()
    {
        var bytes = Build(3).ToArray();
        var state = Build(2);
        Assert.Equal(StateLoadStatus.Corrupt, state.Load(bytes.AsSpan(0, bytes.Length - 1)));
        Assert.Equal(0, state.Count);
        Assert.Equal(StateLoadStatus.Corrupt, state.Load(bytes.AsSpan(0, 10)));
        Assert.Equal(StateLoadStatus.Corrupt, state.Load([.. bytes, 0]));
    }

    [Theory]
    [InlineData(0, 3)]    // unknown format version
    [InlineData(0, 0)]    // unknown format version
    [InlineData(1, 8)]    // more than 7 entries
    [InlineData(8, 1)]    // applied count below entry count (3 → 1)
    [InlineData(12, 0xFE)] // partition -2
    public void Load_BadHeaderField_Corrupt(int offset, byte value)
    {
        var bytes = Build(3).ToArray();
        bytes[offset] = value;
        if (offset == 12)
        {
            bytes[13] = bytes[14] = bytes[15] = 0xFF;
        }

        Assert.Equal(StateLoadStatus.Corrupt, new CardState(Spec).Load(bytes));
    }

    [Fact]
    public void Load_OtherSpecWithSameDimension_SpecMismatch()
    {
        var other = PrecomputedFeatureSpec.Create(D);
        var state = new CardState(other);
        var window = new float[other.WindowSize];
        Assert.True(state.TryApply(Make("p", T0, 1, features: new float[D]), SourcePosition.None, window).IsApplied);
        Assert.Equal(StateLoadStatus.SpecMismatch, new CardState(Spec).Load(state.ToArray()));
        Assert.Equal(StateLoadStatus.SpecMismatch, new CardState(PrecomputedFeatureSpec.Create(80)).Load(state.ToArray()));
    }

    [Fact]
    public void HotPath_LoadApplyWrite_AllocatesNothing()
    {
        var state = Build(7);
        var stored = state.ToArray();
        var buffer = new byte[Spec.MaxStateSize];
        var window = new float[Spec.WindowSize];
        var events = Enumerable.Range(0, 2000).Select(i => Make($"h{i}", T0 + Day + (i * Minute), 12.5, merchant: $"m{i % 50}")).ToArray();

        void Run()
        {
            for (var i = 0; i < events.Length; i++)
            {
                state.Load(stored);
                var r = state.TryApply(events[i], new SourcePosition(3, 1000 + i, S), window);
                state.Write(buffer);
                state.TryApply(events[i], new SourcePosition(3, 1000 + i, S), window); // duplicate path too
                Assert.True(r.IsApplied);
            }
        }

        Run(); // warm up (JIT, static constructors)
        var before = GC.GetAllocatedBytesForCurrentThread();
        Run();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
