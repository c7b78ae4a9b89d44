using System.Buffers.Binary;
using StreamFraud.Core.Features;
using static StreamFraud.Core.Tests.Features.TestTx;

namespace StreamFraud.Core.Tests.Features;

/// <summary>
/// Issue 11 (idempotence half): the source identity in the position rule, state format 2 and the format-1 upgrade,
/// content hashes (a reused transaction id), and the id limits.
/// </summary>
public class SourceIdentityTests
{
    private static readonly CardFeatureSpecV1 Spec = FeatureSpec.CardV1;
    private static readonly uint TopicA = SourcePosition.SourceHash("transactions");
    private static readonly uint TopicB = SourcePosition.SourceHash("transactions-v2");

    private static Transaction Tx(string id, int i, double amount = 10, string merchant = "m1", string card = "c1") =>
        Make(id, T0 + (i * 7 * Minute), amount, merchant: merchant, card: card);

    [Fact]
    public void SourceHash_StableNonZeroAndDistinct()
    {
        Assert.Equal(TopicA, SourcePosition.SourceHash("transactions"));
        Assert.NotEqual(TopicA, TopicB);
        Assert.NotEqual(SourcePosition.UnknownSource, TopicA);
        Assert.NotEqual(SourcePosition.UnknownSource, SourcePosition.OfflineSource);
        Assert.False(new SourcePosition(0, 5, SourcePosition.UnknownSource).IsKnown);
        Assert.True(new SourcePosition(0, 5, TopicA).IsKnown);
    }

    [Fact]
    public void TopicSwitch_SamePartitionsAndOffsets_AllAppliedAndSameSourceRedeliveriesStillDuplicates()
    {
        // 40 cards over 4 partitions, 10 events each from topic A; then a new topic B whose offsets restart at 0 with
        // new transactions. Before the fix the position rule compared (partition, offset) only and skipped them.
        const int Cards = 40;
        var states = new Dictionary<string, CardState>();
        var window = new float[Spec.WindowSize];
        var offsets = new long[4];
        for (var round = 0; round < 2; round++)
        {
            var source = round == 0 ? TopicA : TopicB;
            Array.Clear(offsets);
            for (var k = 0; k < 10; k++)
            {
                for (var c = 0; c < Cards; c++)
                {
                    var card = $"card{c}";
                    if (!states.TryGetValue(card, out var state))
                    {
                        states[card] = state = new CardState(Spec);
                    }

                    var partition = c % 4;
                    var tx = Tx($"{(round == 0 ? "a" : "b")}-{c}-{k}", (round * 10) + k, 10 + k, card: card);
                    var result = state.TryApply(tx, new SourcePosition(partition, offsets[partition]++, source), window);
                    Assert.Equal(ApplyStatus.Applied, result.Status);
                }
            }
        }

        // A redelivery of topic B (same source, at or below the watermark) is a duplicate by position...
        var s0 = states["card0"];
        var before = s0.ToArray();
        var last = s0.HighWatermark;
        Assert.Equal(TopicB, last.Source);
        var redelivered = s0.TryApply(Tx("b-0-9", 19, 19, card: "card0"), last, window);
        Assert.Equal(ApplyStatus.DuplicatePosition, redelivered.Status);
        // ...and a late redelivery of topic A is not one by position (another source) but by its id while in the window.
        var old = s0.TryApply(Tx("a-0-9", 9, 19, card: "card0"), new SourcePosition(0, 0, TopicA), window);
        Assert.Equal(ApplyStatus.Applied, old.Status); // a-0-9 left the 7-entry window: only position could catch it
        s0.Load(before);
        var inWindow = s0.TryApply(Tx("b-0-5", 15, 15, card: "card0"), new SourcePosition(0, 3, TopicA), window);
        Assert.Equal(ApplyStatus.DuplicateTransactionId, inWindow.Status);
        Assert.Equal(before, s0.ToArray());
    }

    [Fact]
    public void FormatOneState_LoadsWithUnknownSource_AndReserialisesAsFormatTwo()
    {
        var state = new CardState(Spec);
        var window = new float[Spec.WindowSize];
        for (var i = 1; i <= 3; i++)
        {
            Assert.True(state.TryApply(Tx($"t{i}", i, 10 + i), new SourcePosition(3, 100 + i, TopicA), window).IsApplied);
        }

        var v2 = state.ToArray();
        var v1 = ToFormatOne(v2, state.Count);
        Assert.Equal(24 + (3 * (28 + (4 * 56))) + 344, v1.Length);

        var loaded = new CardState(Spec);
        Assert.Equal(StateLoadStatus.Loaded, loaded.Load(v1));
        Assert.Equal(3, loaded.Count);
        Assert.Equal(3, loaded.AppliedCount);
        Assert.Equal(new SourcePosition(3, 103, SourcePosition.UnknownSource), loaded.HighWatermark);
        for (var i = 0; i < 3; i++)
        {
            var e = loaded.GetEntry(i);
            Assert.Equal(CardState.TransactionIdHash($"t{i + 1}"), e.TransactionIdHash);
            Assert.Equal(0UL, e.ContentHash);
            Assert.Equal(new SourcePosition(3, 101 + i, SourcePosition.UnknownSource), e.Position);
            Assert.True(BitEqual(state.GetVector(i), loaded.GetVector(i)));
        }

        // Re-serialised in format 2: the same state with the unknown source and content hashes as zeros.
        var expected = (byte[])v2.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(expected.AsSpan(24), 0);
        for (var i = 0; i < 3; i++)
        {
            var p = 28 + (i * (40 + (4 * 56)));
            BinaryPrimitives.WriteUInt64LittleEndian(expected.AsSpan(p + 8), 0);
            BinaryPrimitives.WriteUInt32LittleEndian(expected.AsSpan(p + 36), 0);
        }

        var upgraded = loaded.ToArray();
        Assert.Equal(FeatureSpec.StateFormatVersion, upgraded[0]);
        Assert.Equal(expected, upgraded);
        var again = new CardState(Spec);
        Assert.Equal(StateLoadStatus.Loaded, again.Load(upgraded));
        Assert.Equal(upgraded, again.ToArray()); // format 2 is canonical

        // Upgrade rule: the first new event skips the position rule (source unknown), the id rule still holds.
        var redeliveredInWindow = loaded.TryApply(Tx("t2", 2, 12), new SourcePosition(3, 102, TopicA), window);
        Assert.Equal(ApplyStatus.DuplicateTransactionId, redeliveredInWindow.Status);
        Assert.Equal(upgraded, loaded.ToArray());
        // A format-1 entry has no content hash: the same id with other content is still taken as a duplicate.
        Assert.Equal(ApplyStatus.DuplicateTransactionId, loaded.TryApply(Tx("t3", 3, 999), new SourcePosition(3, 200, TopicA), window).Status);
        Assert.Equal(ApplyStatus.Applied, loaded.TryApply(Tx("t4", 4, 14), new SourcePosition(3, 104, TopicA), window).Status);
        Assert.Equal(new SourcePosition(3, 104, TopicA), loaded.HighWatermark);
        Assert.Equal(ApplyStatus.DuplicatePosition, loaded.TryApply(Tx("t4", 4, 14), new SourcePosition(3, 104, TopicA), window).Status);
    }

    [Fact]
    public void FormatTwo_SourceWithoutWatermark_Corrupt()
    {
        var bytes = new CardState(Spec).ToArray(); // fresh: no watermark
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(24), TopicA);
        Assert.Equal(StateLoadStatus.Corrupt, new CardState(Spec).Load(bytes));
    }

    [Fact]
    public void ReusedTransactionId_DifferentContent_Conflict_IdenticalContent_Duplicate()
    {
        var state = new CardState(Spec);
        var window = new float[Spec.WindowSize];
        Assert.True(state.TryApply(Tx("t1", 1, 10), new SourcePosition(0, 1, TopicA), window).IsApplied);
        Assert.True(state.TryApply(Tx("t2", 2, 20), new SourcePosition(0, 2, TopicA), window).IsApplied);
        var before = state.ToArray();

        // Same id and content at a new offset: a producer retry.
        var retry = state.TryApply(Tx("t1", 1, 10), new SourcePosition(0, 3, TopicA), window);
        Assert.Equal(ApplyStatus.DuplicateTransactionId, retry.Status);
        // Only the labels differ: labels are not content.
        var labelled = Tx("t1", 1, 10) with { IsFraud = true, FraudScenario = "spree" };
        Assert.Equal(ApplyStatus.DuplicateTransactionId, state.TryApply(labelled, new SourcePosition(0, 4, TopicA), window).Status);

        // Same id, another amount / merchant / time / channel / features: another transaction under a reused id.
        Transaction[] others =
        [
            Tx("t1", 1, 10.01),
            Tx("t1", 1, 10, merchant: "m2"),
            Tx("t1", 2, 10),
            Tx("t1", 1, 10) with { Channel = "ecom" },
            Tx("t1", 1, 10) with { Currency = "EUR" },
            Tx("t1", 1, 10) with { Features = [1f] },
        ];
        foreach (var other in others)
        {
            var conflict = state.TryApply(other, new SourcePosition(0, 5, TopicA), window);
            Assert.Equal(ApplyStatus.ConflictingTransactionId, conflict.Status);
            Assert.True(conflict.IsRejected);
            Assert.False(conflict.IsDuplicate);
            Assert.Equal(0, conflict.RealSteps);
            Assert.Contains("transaction_id 't1'", conflict.Error, StringComparison.Ordinal);
            Assert.Contains("different content", conflict.Error, StringComparison.Ordinal);
            Assert.Equal(before, state.ToArray()); // nothing changed, the watermark did not move
        }

        // A redelivery of its own position is still a duplicate by position (the first version stays).
        Assert.Equal(ApplyStatus.DuplicatePosition, state.TryApply(Tx("t1", 1, 99), new SourcePosition(0, 1, TopicA), window).Status);
    }

    [Fact]
    public void ContentHash_IgnoresIdsAndLabels_SignOfZero()
    {
        var a = Tx("t1", 1, 0.0);
        Assert.Equal(CardState.TransactionContentHash(a), CardState.TransactionContentHash(a with { Amount = -0.0 }));
        Assert.Equal(CardState.TransactionContentHash(a), CardState.TransactionContentHash(a with { TransactionId = "x", IsFraud = false }));
        Assert.NotEqual(CardState.TransactionContentHash(a), CardState.TransactionContentHash(a with { Mcc = "5999" }));
        Assert.NotEqual(CardState.TransactionContentHash(a), CardState.TransactionContentHash(a with { Country = "DE" }));
        Assert.NotEqual(CardState.TransactionContentHash(a with { Features = [] }), CardState.TransactionContentHash(a));
    }

    [Theory]
    [InlineData(128, true)]
    [InlineData(129, false)]
    public void CardIdLength_LimitIs128Utf8Bytes(int length, bool ok)
    {
        var card = new string('x', length);
        Assert.Equal(ok, TransactionLimits.CheckId("card_id", card, required: true) is null);
        var state = new CardState(Spec);
        var result = state.TryApply(Tx("t1", 1, card: card), new SourcePosition(0, 1, TopicA), new float[Spec.WindowSize]);
        Assert.Equal(ok ? ApplyStatus.Applied : ApplyStatus.Invalid, result.Status);
        if (!ok)
        {
            Assert.Contains("card_id is 129 UTF-8 bytes long; the limit is 128", result.Error, StringComparison.Ordinal);
            Assert.Equal(SourcePosition.None, state.HighWatermark); // an invalid event does not advance the watermark
        }
    }

    [Fact]
    public void IdLimits_CountUtf8Bytes_RefuseControlCharacters_AndBoundEveryId()
    {
        Assert.Null(TransactionLimits.CheckId("card_id", new string('é', 64), required: true));               // 128 bytes
        Assert.NotNull(TransactionLimits.CheckId("card_id", new string('é', 65), required: true));            // 130 bytes
        Assert.Null(TransactionLimits.CheckId("card_id", string.Concat(Enumerable.Repeat("😀", 32)), required: true)); // 4 bytes each
        Assert.NotNull(TransactionLimits.CheckId("card_id", string.Concat(Enumerable.Repeat("😀", 33)), required: true));
        Assert.Contains("control character U+000A", TransactionLimits.CheckId("card_id", "a\nb", required: true), StringComparison.Ordinal);
        Assert.Contains("missing", TransactionLimits.CheckId("card_id", " ", required: true), StringComparison.Ordinal);
        Assert.Null(TransactionLimits.CheckId("merchant_id", "", required: false));

        Assert.Contains("transaction_id", TransactionLimits.Check(Tx(new string('t', 129), 1)), StringComparison.Ordinal);
        Assert.Contains("merchant_id", TransactionLimits.Check(Tx("t1", 1, merchant: new string('m', 129))), StringComparison.Ordinal);
        Assert.Null(TransactionLimits.Check(Tx("t1", 1)));
    }

    /// <summary>The documented format-1 layout of a format-2 state (FEATURES.md): what an older scorer wrote.</summary>
    private static byte[] ToFormatOne(byte[] v2, int count)
    {
        const int Dim = 56;
        var v1 = new List<byte>();
        var header = v2[..24];
        header[0] = 1;
        v1.AddRange(header);
        for (var i = 0; i < count; i++)
        {
            var p = 28 + (i * (40 + (4 * Dim)));
            v1.AddRange(v2[p..(p + 8)]);                  // id hash
            v1.AddRange(v2[(p + 16)..(p + 24)]);          // event time
            v1.AddRange(v2[(p + 24)..(p + 32)]);          // offset
            v1.AddRange(v2[(p + 32)..(p + 36)]);          // partition
            v1.AddRange(v2[(p + 40)..(p + 40 + (4 * Dim))]); // vector
        }

        v1.AddRange(v2[(28 + (count * (40 + (4 * Dim))))..]); // aggregates
        return [.. v1];
    }
}
