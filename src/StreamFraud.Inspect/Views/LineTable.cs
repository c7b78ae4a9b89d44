using System.Globalization;
using System.Text;

namespace StreamFraud.Inspect.Views;

/// <summary>
/// A table printed one row at a time (a follow cannot wait for the last row to size its columns): fixed column
/// widths, two spaces between columns, a value wider than its column pushes the rest right rather than being cut, and
/// the last column takes whatever is left.
/// </summary>
/// <param name="columns">Column names and widths; the last one's width is ignored.</param>
public sealed class LineTable(params (string Name, int Width)[] columns)
{
    /// <summary>The header line.</summary>
    public string Header() => Row([.. columns.Select(c => c.Name)]);

    /// <summary>One row; <paramref name="values"/> in column order.</summary>
    public string Row(params string[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Length != columns.Length)
        {
            throw new ArgumentException($"{values.Length} values for {columns.Length} columns", nameof(values));
        }

        var line = new StringBuilder();
        for (var i = 0; i < values.Length; i++)
        {
            var value = Clean(values[i]);
            line.Append(i == values.Length - 1 ? value : value.PadRight(columns[i].Width) + "  ");
        }

        return line.ToString().TrimEnd();
    }

    /// <summary>A UTC time as <c>yyyy-MM-dd HH:mm:ss</c>.</summary>
    public static string Time(long unixMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    /// <summary>A number with <paramref name="digits"/> decimals, or <c>n/a</c>.</summary>
    public static string Number(double value, int digits = 4) =>
        double.IsFinite(value) ? value.ToString("0." + new string('0', digits), CultureInfo.InvariantCulture) : "n/a";

    /// <summary>A money amount with thousands separators and two decimals, and its currency.</summary>
    public static string Money(double amount, string? currency) =>
        string.Create(CultureInfo.InvariantCulture, $"{amount:N2}{(string.IsNullOrEmpty(currency) ? "" : " " + currency)}");

    /// <summary>Control characters (a line break in an id or a reason) would break the one-line-per-record layout.</summary>
    private static string Clean(string value)
    {
        if (!value.Any(char.IsControl))
        {
            return value;
        }

        var b = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            b.Append(char.IsControl(c) ? ' ' : c);
        }

        return b.ToString();
    }
}
