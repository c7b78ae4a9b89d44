using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace StreamFraud.Core.Data;

/// <summary>
/// Streaming reader of the canonical CSV (see <see cref="CanonicalCsv"/>). It parses RFC 4180 records straight out of a
/// reusable character buffer, maps columns by header name, and pools the strings that repeat (card and merchant ids,
/// currency, MCC, country, channel, scenario) so that reading millions of rows allocates little beyond the records.
/// </summary>
/// <remarks>
/// Rules: the first record is the header; names are matched case-insensitively, in any order; unknown columns are
/// ignored; blank lines are skipped; line endings may be LF, CRLF or CR; a quoted field may contain commas, doubled
/// quotes and line breaks. Every problem raises <see cref="CanonicalCsvException"/> naming the line where the record
/// starts and, for a bad value, the column.
/// </remarks>
public sealed class CanonicalCsvReader : IDisposable
{
    private readonly CsvRecordReader _csv;
    private readonly int _iTransactionId, _iCardId, _iMerchantId, _iAmount, _iCurrency, _iEventTime;
    private readonly int _iMcc, _iCountry, _iChannel, _iIsFraud, _iFraudScenario, _iFeatures;
    private readonly CsvStringPool _cards = new(), _merchants = new(), _small = new();

    /// <summary>Opens a reader over CSV text and reads the header.</summary>
    /// <param name="reader">Source text.</param>
    /// <param name="leaveOpen">Whether <see cref="Dispose"/> leaves <paramref name="reader"/> open.</param>
    /// <exception cref="CanonicalCsvException">The input is empty or the header lacks a required column.</exception>
    public CanonicalCsvReader(TextReader reader, bool leaveOpen = false)
    {
        _csv = new CsvRecordReader(reader, leaveOpen, CanonicalCsv.Header, CanonicalCsv.RequiredColumns);
        _iTransactionId = _csv.Column(CanonicalCsv.TransactionId);
        _iCardId = _csv.Column(CanonicalCsv.CardId);
        _iMerchantId = _csv.Column(CanonicalCsv.MerchantId);
        _iAmount = _csv.Column(CanonicalCsv.Amount);
        _iCurrency = _csv.Column(CanonicalCsv.Currency);
        _iEventTime = _csv.Column(CanonicalCsv.EventTime);
        _iMcc = _csv.Column(CanonicalCsv.Mcc);
        _iCountry = _csv.Column(CanonicalCsv.Country);
        _iChannel = _csv.Column(CanonicalCsv.Channel);
        _iIsFraud = _csv.Column(CanonicalCsv.IsFraud);
        _iFraudScenario = _csv.Column(CanonicalCsv.FraudScenario);
        _iFeatures = _csv.Column(CanonicalCsv.Features);
    }

    /// <summary>Column names as they appear in the header, in file order.</summary>
    public IReadOnlyList<string> HeaderColumns => _csv.Header;

    /// <summary>Whether the input has an <c>is_fraud</c> column.</summary>
    public bool HasLabels => _iIsFraud >= 0;

    /// <summary>Whether the input has a <c>features</c> column.</summary>
    public bool HasFeatures => _iFeatures >= 0;

    /// <summary>1-based line where the most recently read record starts (1 = the header).</summary>
    public long LineNumber => _csv.RecordLine;

    /// <summary>Reads the next transaction.</summary>
    /// <returns><see langword="false"/> at the end of the input.</returns>
    /// <exception cref="CanonicalCsvException">A structural problem or a bad value, naming line and column.</exception>
    // Hot loop: compile optimised at once rather than after tier-0 warm-up (a one-pass read of a file never warms up).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryRead([NotNullWhen(true)] out Transaction? transaction)
    {
        if (!_csv.NextRow())
        {
            transaction = null;
            return false;
        }

        transaction = Convert();
        return true;
    }

    /// <summary>Releases the underlying reader unless it was opened with <c>leaveOpen</c>.</summary>
    public void Dispose() => _csv.Dispose();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private Transaction Convert()
    {
        var csv = _csv;
        var transactionId = csv.Required(_iTransactionId, null);
        var cardId = csv.Required(_iCardId, _cards);
        var merchantId = csv.Required(_iMerchantId, _merchants);
        var currency = csv.Required(_iCurrency, _small);
        var amount = csv.Amount(_iAmount);
        var eventTimeMs = csv.Time(_iEventTime);
        var isFraud = _iIsFraud >= 0 ? csv.Boolean(_iIsFraud) : null;

        return new Transaction(
            transactionId,
            cardId,
            merchantId,
            amount,
            currency,
            eventTimeMs,
            csv.Optional(_iMcc, _small),
            csv.Optional(_iCountry, _small),
            csv.Optional(_iChannel, _small),
            _iFeatures >= 0 ? ParseFeatures() : null,
            isFraud,
            csv.Optional(_iFraudScenario, _small));
    }

    private float[]? ParseFeatures()
    {
        var text = _csv.FieldSpan(_iFeatures).Trim();
        if (text.IsEmpty)
        {
            return null;
        }

        var count = text.Count(';') + 1;
        var result = new float[count];
        var i = 0;
        foreach (var range in text.Split(';'))
        {
            var item = text[range];
            if (!float.TryParse(item, NumberStyles.Float, CultureInfo.InvariantCulture, out result[i]))
            {
                throw _csv.Bad(_iFeatures, $"is not a list of numbers separated by ';' (item {i + 1}: '{CsvRecordReader.Shorten(item)}')");
            }

            i++;
        }

        return result;
    }
}
