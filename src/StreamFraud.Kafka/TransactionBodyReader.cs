using System.Buffers.Binary;
using System.Text;

namespace StreamFraud.Kafka;

/// <summary>
/// The decoder's fast path: reads the Avro body of a transaction written with exactly the contract's own schema
/// (<c>schemas/transaction.avsc</c>, same Parsing Canonical Form) straight from the bytes — no reflection, no boxing,
/// no generic record. It accepts only what it can read unambiguously: the body must end exactly at the end of the
/// value, union indices must be 0 or 1, booleans 0 or 1, lengths non-negative and in range, and the event time one a
/// <see cref="DateTime"/> can hold. Anything else returns false and the message takes the general path
/// (Confluent's deserializer), which decides its DLQ class and reason; a value it accepts decodes to the same record as
/// the general path (tested on random and edge-case records against Confluent's serializer and deserializer).
/// </summary>
internal static class TransactionBodyReader
{
    private const long MinDateMs = -62_135_596_800_000; // 0001-01-01
    private const long MaxDateMs = 253_402_300_799_999; // 9999-12-31T23:59:59.999

    /// <summary>Reads one body (the value after the 5-byte Confluent header); false when the general path must decide.</summary>
    public static bool TryRead(ReadOnlySpan<byte> body, out Core.Transaction? transaction)
    {
        transaction = null;
        var at = 0;
        if (!String(body, ref at, out var transactionId) || !String(body, ref at, out var cardId) || !String(body, ref at, out var merchantId)
            || at + 8 > body.Length)
        {
            return false;
        }

        var amount = BinaryPrimitives.ReadDoubleLittleEndian(body[at..]);
        at += 8;
        if (!String(body, ref at, out var currency) || !Long(body, ref at, out var eventTime) || eventTime is < MinDateMs or > MaxDateMs
            || !OptionalString(body, ref at, out var mcc) || !OptionalString(body, ref at, out var country) || !OptionalString(body, ref at, out var channel)
            || !Features(body, ref at, out var features) || !OptionalBoolean(body, ref at, out var isFraud)
            || !OptionalString(body, ref at, out var scenario) || at != body.Length)
        {
            return false;
        }

        transaction = new Core.Transaction(transactionId, cardId, merchantId, amount, currency, eventTime, mcc, country, channel, features, isFraud, scenario);
        return true;
    }

    /// <summary>An Avro long (<see cref="AvroBodyWalker.ReadLong"/>), refusing a tenth byte that carries more than 64 bits.</summary>
    private static bool Long(ReadOnlySpan<byte> body, ref int at, out long value)
    {
        var start = at;
        return AvroBodyWalker.ReadLong(body, ref at, out value) && (at - start < 10 || body[at - 1] <= 1);
    }

    private static bool String(ReadOnlySpan<byte> body, ref int at, out string value)
    {
        value = "";
        if (!Long(body, ref at, out var length) || length < 0 || length > body.Length - at)
        {
            return false;
        }

        value = Encoding.UTF8.GetString(body.Slice(at, (int)length));
        at += (int)length;
        return true;
    }

    private static bool Union(ReadOnlySpan<byte> body, ref int at, out bool present)
    {
        present = false;
        if (!Long(body, ref at, out var index) || index is < 0 or > 1)
        {
            return false;
        }

        present = index == 1;
        return true;
    }

    private static bool OptionalString(ReadOnlySpan<byte> body, ref int at, out string? value)
    {
        value = null;
        if (!Union(body, ref at, out var present))
        {
            return false;
        }

        if (!present)
        {
            return true;
        }

        var ok = String(body, ref at, out var s);
        value = s;
        return ok;
    }

    private static bool OptionalBoolean(ReadOnlySpan<byte> body, ref int at, out bool? value)
    {
        value = null;
        if (!Union(body, ref at, out var present))
        {
            return false;
        }

        if (!present)
        {
            return true;
        }

        if (at >= body.Length || body[at] > 1)
        {
            return false;
        }

        value = body[at++] == 1;
        return true;
    }

    /// <summary>The optional float array, in Avro blocks (a negative count is followed by the block's byte size).</summary>
    private static bool Features(ReadOnlySpan<byte> body, ref int at, out float[]? value)
    {
        value = null;
        if (!Union(body, ref at, out var present))
        {
            return false;
        }

        if (!present)
        {
            return true;
        }

        var items = new List<float>();
        while (true)
        {
            if (!Long(body, ref at, out var count))
            {
                return false;
            }

            if (count == 0)
            {
                break;
            }

            if (count < 0)
            {
                if (count == long.MinValue || !Long(body, ref at, out _))
                {
                    return false;
                }

                count = -count;
            }

            if (count > (body.Length - at) / 4)
            {
                return false;
            }

            for (var i = 0; i < count; i++, at += 4)
            {
                items.Add(BinaryPrimitives.ReadSingleLittleEndian(body[at..]));
            }
        }

        value = [.. items];
        return true;
    }
}
