using System.Globalization;

namespace StreamFraud.Core.Data;

/// <summary>
/// ISO-8601 UTC timestamps with millisecond precision (<c>2026-03-01T08:15:30.123Z</c>), formatted and parsed without
/// <see cref="DateTime"/> round trips or culture lookups: the canonical CSV writes one per row.
/// </summary>
public static class Iso8601
{
    /// <summary>Characters (and UTF-8 bytes) of the canonical form <c>yyyy-MM-ddTHH:mm:ss.fffZ</c>.</summary>
    public const int FormattedLength = 24;

    private const long MsPerDay = 86_400_000L;

    /// <summary>Smallest event time that formats with a four-digit year (0001-01-01T00:00:00.000Z).</summary>
    public static readonly long MinUnixMs = -62_135_596_800_000L;

    /// <summary>Largest event time that formats with a four-digit year (9999-12-31T23:59:59.999Z).</summary>
    public static readonly long MaxUnixMs = 253_402_300_799_999L;

    /// <summary>Formats Unix milliseconds as <c>yyyy-MM-ddTHH:mm:ss.fffZ</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The instant is outside years 1–9999.</exception>
    public static string Format(long unixMs) => string.Create(FormattedLength, unixMs, static (span, ms) => Write(span, ms));

    /// <summary>Writes the canonical form of <paramref name="unixMs"/> into <paramref name="destination"/> (24 chars).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The instant is outside years 1–9999.</exception>
    public static void Write(Span<char> destination, long unixMs)
    {
        Span<byte> bytes = stackalloc byte[FormattedLength];
        WriteUtf8(bytes, unixMs);
        for (var i = 0; i < FormattedLength; i++)
        {
            destination[i] = (char)bytes[i];
        }
    }

    /// <summary>Writes the canonical form of <paramref name="unixMs"/> as ASCII/UTF-8 bytes (24 bytes).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The instant is outside years 1–9999.</exception>
    public static void WriteUtf8(Span<byte> destination, long unixMs)
    {
        if (unixMs < MinUnixMs || unixMs > MaxUnixMs)
        {
            throw new ArgumentOutOfRangeException(nameof(unixMs), unixMs, "Event time must fall in years 0001-9999.");
        }

        var days = Math.DivRem(unixMs, MsPerDay, out var msOfDay);
        if (msOfDay < 0)
        {
            msOfDay += MsPerDay;
            days--;
        }

        CivilFromDays(days, out var year, out var month, out var day);
        var ms = (int)msOfDay;
        var hour = ms / 3_600_000;
        var minute = ms / 60_000 % 60;
        var second = ms / 1000 % 60;
        var milli = ms % 1000;

        var d = destination[..FormattedLength];
        Digits4(d, 0, year);
        d[4] = (byte)'-';
        Digits2(d, 5, month);
        d[7] = (byte)'-';
        Digits2(d, 8, day);
        d[10] = (byte)'T';
        Digits2(d, 11, hour);
        d[13] = (byte)':';
        Digits2(d, 14, minute);
        d[16] = (byte)':';
        Digits2(d, 17, second);
        d[19] = (byte)'.';
        d[20] = (byte)('0' + milli / 100);
        d[21] = (byte)('0' + milli / 10 % 10);
        d[22] = (byte)('0' + milli % 10);
        d[23] = (byte)'Z';
    }

    /// <summary>
    /// Parses an ISO-8601 timestamp: <c>yyyy-MM-dd[T| ]HH:mm[:ss[.fraction]]</c> followed by <c>Z</c>, an offset
    /// (<c>+hh:mm</c>, <c>+hhmm</c>, <c>+hh</c>) or nothing (read as UTC). Digits beyond milliseconds are truncated.
    /// As a convenience, a plain integer is read as Unix epoch milliseconds.
    /// </summary>
    /// <returns><see langword="false"/> when the text is not such a timestamp or names an invalid date/time.</returns>
    public static bool TryParse(ReadOnlySpan<char> s, out long unixMs)
    {
        unixMs = 0;
        s = s.Trim();
        if (s.Length == 0)
        {
            return false;
        }

        if (IsAllDigits(s) || (s.Length > 1 && s[0] == '-' && IsAllDigits(s[1..])))
        {
            return long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out unixMs)
                && unixMs >= MinUnixMs && unixMs <= MaxUnixMs;
        }

        // yyyy-MM-dd
        if (s.Length < 16 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':')
        {
            return false;
        }

        if (!Num(s, 0, 4, out var year) || !Num(s, 5, 2, out var month) || !Num(s, 8, 2, out var day)
            || !Num(s, 11, 2, out var hour) || !Num(s, 14, 2, out var minute))
        {
            return false;
        }

        var p = 16;
        var second = 0;
        var milli = 0;
        if (p < s.Length && s[p] == ':')
        {
            if (!Num(s, p + 1, 2, out second))
            {
                return false;
            }

            p += 3;
            if (p < s.Length && (s[p] == '.' || s[p] == ','))
            {
                p++;
                var digits = 0;
                while (p < s.Length && char.IsAsciiDigit(s[p]))
                {
                    if (digits < 3)
                    {
                        milli = milli * 10 + (s[p] - '0');
                    }

                    digits++;
                    p++;
                }

                if (digits == 0)
                {
                    return false;
                }

                for (var i = digits; i < 3; i++)
                {
                    milli *= 10;
                }
            }
        }

        var offsetMinutes = 0;
        if (p < s.Length)
        {
            var c = s[p];
            if ((c == 'Z' || c == 'z') && p == s.Length - 1)
            {
                p++;
            }
            else if (c == '+' || c == '-')
            {
                if (!TryParseOffset(s[(p + 1)..], out var offset))
                {
                    return false;
                }

                offsetMinutes = c == '-' ? -offset : offset;
                p = s.Length;
            }
            else
            {
                return false;
            }
        }

        if (p != s.Length || year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month)
            || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        var days = DaysFromCivil(year, month, day);
        var result = days * MsPerDay + hour * 3_600_000L + minute * 60_000L + second * 1000L + milli
            - offsetMinutes * 60_000L;
        if (result < MinUnixMs || result > MaxUnixMs)
        {
            return false;
        }

        unixMs = result;
        return true;
    }

    private static bool TryParseOffset(ReadOnlySpan<char> rest, out int minutes)
    {
        minutes = 0;
        var hours = 0;
        var mins = 0;
        var ok = rest.Length switch
        {
            2 => Num(rest, 0, 2, out hours),
            4 => Num(rest, 0, 2, out hours) && Num(rest, 2, 2, out mins),
            5 => rest[2] == ':' && Num(rest, 0, 2, out hours) && Num(rest, 3, 2, out mins),
            _ => false,
        };
        if (!ok || hours > 23 || mins > 59)
        {
            return false;
        }

        minutes = hours * 60 + mins;
        return true;
    }

    private static bool IsAllDigits(ReadOnlySpan<char> s) => s.Length > 0 && !s.ContainsAnyExceptInRange('0', '9');

    private static bool Num(ReadOnlySpan<char> s, int start, int count, out int value)
    {
        value = 0;
        if (start + count > s.Length)
        {
            return false;
        }

        for (var i = start; i < start + count; i++)
        {
            var c = s[i];
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }

            value = value * 10 + (c - '0');
        }

        return true;
    }

    private static void Digits2(Span<byte> d, int at, int v)
    {
        d[at] = (byte)('0' + v / 10);
        d[at + 1] = (byte)('0' + v % 10);
    }

    private static void Digits4(Span<byte> d, int at, int v)
    {
        d[at] = (byte)('0' + v / 1000);
        d[at + 1] = (byte)('0' + v / 100 % 10);
        d[at + 2] = (byte)('0' + v / 10 % 10);
        d[at + 3] = (byte)('0' + v % 10);
    }

    // Days since 1970-01-01 <-> proleptic Gregorian date; H. Hinnant, "chrono-Compatible Low-Level Date Algorithms"
    // (https://howardhinnant.github.io/date_algorithms.html).
    private static long DaysFromCivil(int y, int m, int d)
    {
        y -= m <= 2 ? 1 : 0;
        var era = (y >= 0 ? y : y - 399) / 400;
        var yoe = y - era * 400;
        var doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        var doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097L + doe - 719468;
    }

    private static void CivilFromDays(long z, out int year, out int month, out int day)
    {
        z += 719468;
        var era = (z >= 0 ? z : z - 146096) / 146097;
        var doe = (int)(z - era * 146097);
        var yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        var doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        var mp = (5 * doy + 2) / 153;
        day = doy - (153 * mp + 2) / 5 + 1;
        month = mp < 10 ? mp + 3 : mp - 9;
        year = (int)(yoe + era * 400) + (month <= 2 ? 1 : 0);
    }
}
