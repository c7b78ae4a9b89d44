using System.Buffers.Binary;

namespace StreamFraud.Core.Labels;

/// <summary>Which entity a <see cref="RiskRing"/> belongs to.</summary>
public enum RiskEntity
{
    /// <summary>A merchant (or terminal), by <c>merchant_id</c>.</summary>
    Merchant = 0,

    /// <summary>A card, by <c>card_id</c>.</summary>
    Card = 1,
}

/// <summary>
/// One entity's risk history (<c>FEATURES.md</c> "Entity risk state"): per UTC day of the transactions' event times,
/// how many transactions the scorer applied and how many of them are currently confirmed fraud by labels. A ring of
/// <see cref="Days"/> day slots; a slot holds one day (its stamp) and is taken over by a newer day that maps to it.
/// </summary>
/// <remarks>
/// Every change is a <see cref="Bump"/> of one day by a signed delta, and bumps commute: a slot keeps the newest day
/// that reached it, with the sum of that day's deltas (a bump for an older day than the slot's is dropped, a newer day
/// replaces it, a decrement never creates a slot or goes below zero). So the ring's content depends only on which bumps
/// happened, not on their order — many writers (scorers, label consumers) can add to one merchant with atomic bumps and
/// nothing is lost. The same rule runs in Redis as Lua (<c>RedisWindowStore</c>); a test holds the two equal.
/// Binary layout (<see cref="Size"/> bytes, little-endian): per slot <c>uint32 stamp, uint32 transactions,
/// uint32 frauds</c>; stamp = UTC day number + <see cref="StampBias"/>, 0 = empty. Any other length reads as empty.
/// </remarks>
public sealed class RiskRing
{
    /// <summary>Day slots kept: the 30-day horizon plus ten days of slack for late events.</summary>
    public const int Days = 40;

    /// <summary>Bytes per slot.</summary>
    public const int SlotSize = 12;

    /// <summary>Serialised size.</summary>
    public const int Size = Days * SlotSize;

    /// <summary>Added to the UTC day number so every stamp from 1900 to 2200 is positive (0 marks an empty slot).</summary>
    public const uint StampBias = 1u << 20;

    /// <summary>Largest count kept in a slot (counts saturate).</summary>
    public const uint MaxCount = int.MaxValue;

    private const long DayMs = 86_400_000;

    private readonly uint[] _stamp = new uint[Days];
    private readonly uint[] _txns = new uint[Days];
    private readonly uint[] _frauds = new uint[Days];

    /// <summary>The stamp of the UTC day holding <paramref name="eventTimeMs"/>.</summary>
    public static uint Stamp(long eventTimeMs) =>
        (uint)((eventTimeMs >= 0 ? eventTimeMs / DayMs : ((eventTimeMs + 1) / DayMs) - 1) + StampBias);

    /// <summary>Empties every slot.</summary>
    public void Clear()
    {
        Array.Clear(_stamp);
        Array.Clear(_txns);
        Array.Clear(_frauds);
    }

    /// <summary>Loads <paramref name="data"/>; anything but <see cref="Size"/> bytes (absent, foreign) is an empty ring.</summary>
    /// <returns>False when <paramref name="data"/> was not empty and not a ring (it was replaced by an empty one).</returns>
    public bool Load(ReadOnlySpan<byte> data)
    {
        if (data.Length != Size)
        {
            Clear();
            return data.IsEmpty;
        }

        for (var s = 0; s < Days; s++)
        {
            var at = s * SlotSize;
            _stamp[s] = BinaryPrimitives.ReadUInt32LittleEndian(data[at..]);
            _txns[s] = BinaryPrimitives.ReadUInt32LittleEndian(data[(at + 4)..]);
            _frauds[s] = BinaryPrimitives.ReadUInt32LittleEndian(data[(at + 8)..]);
        }

        return true;
    }

    /// <summary>Copies another ring's content.</summary>
    public void CopyFrom(RiskRing other)
    {
        ArgumentNullException.ThrowIfNull(other);
        other._stamp.CopyTo(_stamp, 0);
        other._txns.CopyTo(_txns, 0);
        other._frauds.CopyTo(_frauds, 0);
    }

    /// <summary>Writes the <see cref="Size"/>-byte layout.</summary>
    public void Write(Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            throw new ArgumentException($"A risk ring needs {Size} bytes.", nameof(destination));
        }

        for (var s = 0; s < Days; s++)
        {
            var at = s * SlotSize;
            BinaryPrimitives.WriteUInt32LittleEndian(destination[at..], _stamp[s]);
            BinaryPrimitives.WriteUInt32LittleEndian(destination[(at + 4)..], _txns[s]);
            BinaryPrimitives.WriteUInt32LittleEndian(destination[(at + 8)..], _frauds[s]);
        }
    }

    /// <summary>The serialised ring.</summary>
    public byte[] ToArray()
    {
        var bytes = new byte[Size];
        Write(bytes);
        return bytes;
    }

    /// <summary>
    /// Adds <paramref name="transactions"/> and <paramref name="frauds"/> (each −1, 0 or +1 in practice) to day
    /// <paramref name="stamp"/>, by the commutative rule of the remarks: same day → added (never below 0); the slot holds
    /// an older day or nothing → an increment takes it over, a decrement is dropped; a newer day → dropped.
    /// </summary>
    public void Bump(uint stamp, int transactions, int frauds)
    {
        var s = (int)(stamp % Days);
        var current = _stamp[s];
        if (current == stamp)
        {
            _txns[s] = Add(_txns[s], transactions);
            _frauds[s] = Add(_frauds[s], frauds);
        }
        else if (current < stamp && transactions >= 0 && frauds >= 0 && (transactions | frauds) != 0)
        {
            _stamp[s] = stamp;
            _txns[s] = Add(0, transactions);
            _frauds[s] = Add(0, frauds);
        }
    }

    /// <summary>Transactions counted for day <paramref name="stamp"/> (0 when its slot holds another day).</summary>
    public uint Transactions(uint stamp)
    {
        var s = (int)(stamp % Days);
        return _stamp[s] == stamp ? _txns[s] : 0;
    }

    /// <summary>Confirmed frauds counted for day <paramref name="stamp"/> (0 when its slot holds another day).</summary>
    public uint Frauds(uint stamp)
    {
        var s = (int)(stamp % Days);
        return _stamp[s] == stamp ? _frauds[s] : 0;
    }

    private static uint Add(uint value, int delta)
    {
        var sum = (long)value + delta;
        return sum <= 0 ? 0u : sum >= MaxCount ? MaxCount : (uint)sum;
    }
}
