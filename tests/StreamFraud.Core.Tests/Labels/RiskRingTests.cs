using StreamFraud.Core.Labels;

namespace StreamFraud.Core.Tests.Labels;

public class RiskRingTests
{
    private static readonly uint Day0 = RiskRing.Stamp(1_704_067_200_000); // 2024-01-01

    [Fact]
    public void Stamp_IsTheUtcDay_AlsoBefore1970()
    {
        Assert.Equal(RiskRing.StampBias + 19723u, RiskRing.Stamp(1_704_067_200_000));
        Assert.Equal(RiskRing.StampBias + 19722u, RiskRing.Stamp(1_704_067_199_999));
        Assert.Equal(RiskRing.StampBias, RiskRing.Stamp(0));
        Assert.Equal(RiskRing.StampBias - 1, RiskRing.Stamp(-1));
        Assert.Equal(RiskRing.StampBias - 1, RiskRing.Stamp(-86_400_000));
        Assert.Equal(RiskRing.StampBias - 2, RiskRing.Stamp(-86_400_001));
    }

    [Fact]
    public void Bumps_InAnyOrder_GiveTheSameBytes_AndTheBruteForceCounts()
    {
        var rng = new Random(7);
        for (var trial = 0; trial < 200; trial++)
        {
            // Increments over 100 days (so slots are recycled), and decrements that each follow one of their
            // increments, as the label rules guarantee.
            var bumps = new List<(uint Stamp, int Txn, int Fraud)>();
            for (var i = 0; i < 60; i++)
            {
                var stamp = Day0 + (uint)rng.Next(100);
                bumps.Add((stamp, rng.Next(3) == 0 ? 0 : 1, rng.Next(4) == 0 ? 1 : 0));
            }

            bumps.RemoveAll(b => b.Txn == 0 && b.Fraud == 0);
            var reference = Apply(bumps);
            for (var order = 0; order < 5; order++)
            {
                var shuffled = bumps.OrderBy(_ => rng.Next()).ToList();
                Assert.Equal(reference, Apply(shuffled));
            }

            // Brute force: a day's slot holds its counts iff no newer day that maps to the same slot was bumped.
            var ring = new RiskRing();
            ring.Load(reference);
            foreach (var stamp in bumps.Select(b => b.Stamp).Distinct())
            {
                var kept = !bumps.Any(b => b.Stamp > stamp && b.Stamp % RiskRing.Days == stamp % RiskRing.Days);
                var txns = kept ? bumps.Where(b => b.Stamp == stamp).Sum(b => b.Txn) : 0;
                var frauds = kept ? bumps.Where(b => b.Stamp == stamp).Sum(b => b.Fraud) : 0;
                Assert.Equal((uint)txns, ring.Transactions(stamp));
                Assert.Equal((uint)frauds, ring.Frauds(stamp));
            }
        }
    }

    [Fact]
    public void Decrement_AfterItsIncrement_CommutesWithOtherBumps_AndNeverGoesNegative()
    {
        var a = new RiskRing();
        a.Bump(Day0, 0, 1);
        a.Bump(Day0, 1, 0);
        a.Bump(Day0, 0, -1);
        var b = new RiskRing();
        b.Bump(Day0, 1, 0);
        b.Bump(Day0, 0, 1);
        b.Bump(Day0, 0, -1);
        Assert.Equal(a.ToArray(), b.ToArray());
        Assert.Equal(0u, a.Frauds(Day0));
        Assert.Equal(1u, a.Transactions(Day0));

        a.Bump(Day0, 0, -1); // never below zero
        Assert.Equal(0u, a.Frauds(Day0));
        a.Bump(Day0 + 1, 0, -1); // a decrement never creates a day
        Assert.Equal(0u, a.Frauds(Day0 + 1));
        Assert.Equal(b.ToArray(), a.ToArray());
    }

    [Fact]
    public void OlderDay_ThanTheSlotHolds_IsDropped_NewerReplaces()
    {
        var ring = new RiskRing();
        ring.Bump(Day0 + RiskRing.Days, 1, 0);
        ring.Bump(Day0, 1, 1);
        Assert.Equal(0u, ring.Transactions(Day0));
        Assert.Equal(1u, ring.Transactions(Day0 + RiskRing.Days));
        ring.Bump(Day0 + (2 * RiskRing.Days), 0, 1);
        Assert.Equal(0u, ring.Transactions(Day0 + RiskRing.Days));
        Assert.Equal(1u, ring.Frauds(Day0 + (2 * RiskRing.Days)));
    }

    [Fact]
    public void Layout_IsLittleEndianStampTxnsFrauds_PerSlot_AndForeignValuesReadEmpty()
    {
        var ring = new RiskRing();
        ring.Bump(Day0, 1, 0);
        ring.Bump(Day0, 1, 1);
        var bytes = ring.ToArray();
        Assert.Equal(480, bytes.Length);
        var at = (int)(Day0 % RiskRing.Days) * RiskRing.SlotSize;
        Assert.Equal(Day0, BitConverter.ToUInt32(bytes, at));
        Assert.Equal(2u, BitConverter.ToUInt32(bytes, at + 4));
        Assert.Equal(1u, BitConverter.ToUInt32(bytes, at + 8));
        Assert.All(bytes.Take(at).Concat(bytes.Skip(at + 12)), b => Assert.Equal(0, b));

        var copy = new RiskRing();
        Assert.True(copy.Load(bytes));
        Assert.Equal(bytes, copy.ToArray());
        Assert.True(copy.Load([]));
        Assert.Equal(new byte[480], copy.ToArray());
        Assert.False(copy.Load(new byte[479]));
        Assert.Equal(new byte[480], copy.ToArray());
    }

    private static byte[] Apply(IEnumerable<(uint Stamp, int Txn, int Fraud)> bumps)
    {
        var ring = new RiskRing();
        foreach (var (stamp, txn, fraud) in bumps)
        {
            ring.Bump(stamp, txn, fraud);
        }

        return ring.ToArray();
    }
}
