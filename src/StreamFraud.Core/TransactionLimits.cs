namespace StreamFraud.Core;

/// <summary>
/// Bounds on a transaction's identifiers (README "Bad input"; <c>schemas/transaction.avsc</c>). A card id becomes part
/// of a Redis key and every id travels in logs, DLQ headers and alerts, so they are bounded and free of control
/// characters. Checked by the decoder (DLQ class <c>invalid_value</c>) and again by <c>CardState.TryApply</c>, so
/// offline paths (CSV replay, training) refuse the same events.
/// </summary>
public static class TransactionLimits
{
    /// <summary>Longest card, transaction and merchant id, in UTF-8 bytes.</summary>
    public const int MaxIdBytes = 128;

    /// <summary>
    /// Why <paramref name="tx"/>'s ids are unusable, or null: <c>card_id</c> and <c>transaction_id</c> must have
    /// 1..<see cref="MaxIdBytes"/> UTF-8 bytes and not be only white space; <c>merchant_id</c> may be empty but not
    /// longer; none may hold a control character (U+0000–U+001F, U+007F–U+009F). Allocates only for a reason.
    /// </summary>
    public static string? Check(Transaction tx)
    {
        ArgumentNullException.ThrowIfNull(tx);
        return CheckId("card_id", tx.CardId, required: true)
            ?? CheckId("transaction_id", tx.TransactionId, required: true)
            ?? CheckId("merchant_id", tx.MerchantId, required: false);
    }

    /// <summary>Why the id <paramref name="value"/> of field <paramref name="field"/> is unusable, or null.</summary>
    public static string? CheckId(string field, string? value, bool required)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return required ? $"{field} is missing or empty" : null;
        }

        var bytes = 0;
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c < 0x20 || c is >= '\u007F' and <= '\u009F')
            {
                return $"{field} contains control character U+{(int)c:X4} at index {i}; ids must be printable text";
            }

            // UTF-8 length: a valid surrogate pair is 4 bytes, a lone surrogate is written as U+FFFD (3 bytes).
            if (c < 0x80)
            {
                bytes += 1;
            }
            else if (c < 0x800)
            {
                bytes += 2;
            }
            else if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                bytes += 4;
                i++;
            }
            else
            {
                bytes += 3;
            }
        }

        return bytes > MaxIdBytes
            ? $"{field} is {bytes} UTF-8 bytes long; the limit is {MaxIdBytes} (starts '{Preview(value)}')"
            : null;
    }

    private static string Preview(string value) => value.Length <= 32 ? value : string.Concat(value.AsSpan(0, 32), "...");
}
