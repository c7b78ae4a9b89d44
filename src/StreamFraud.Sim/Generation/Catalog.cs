namespace StreamFraud.Sim.Generation;

/// <summary>Where a merchant trades: at a terminal, online, or (drawn per merchant) either.</summary>
internal enum MerchantKind
{
    Physical,
    Online,
    Either,
}

/// <summary>Payment channel of a transaction; <see cref="Catalog.ChannelNames"/> holds the CSV spelling.</summary>
internal enum Channel : byte
{
    Pos,
    Contactless,
    Ecom,
    Atm,
}

/// <summary>A merchant category: MCC, typical ticket (EUR) and how it is paid.</summary>
/// <param name="Mcc">ISO 18245 merchant category code.</param>
/// <param name="Name">Short name, for documentation.</param>
/// <param name="MedianAmount">Median ticket for a card of scale 1.</param>
/// <param name="Sigma">Log-scale spread of the ticket.</param>
/// <param name="Share">Relative number of merchants of this category.</param>
/// <param name="Kind">Physical, online or either.</param>
/// <param name="ContactlessAffinity">How often a card-present payment here is contactless (scaled by the card's habit).</param>
/// <param name="Role">What fraud scenarios use it for.</param>
internal sealed record Category(
    string Mcc,
    string Name,
    double MedianAmount,
    double Sigma,
    double Share,
    MerchantKind Kind,
    double ContactlessAffinity,
    CategoryRole Role = CategoryRole.None);

/// <summary>How fraud scenarios use a category.</summary>
[Flags]
internal enum CategoryRole
{
    None = 0,

    /// <summary>High-value goods that resell well: large-amount fraud and cash-outs.</summary>
    HighValue = 1,

    /// <summary>Cheap online purchases and donations where stolen numbers are tested.</summary>
    Testing = 2,

    /// <summary>Goods a counterfeit or stolen card is emptied on in a burst.</summary>
    Burst = 4,

    /// <summary>Cash withdrawal.</summary>
    Atm = 8,
}

/// <summary>A country: UTC offset (no daylight saving) and its weight as a home, travel and fraud origin.</summary>
internal sealed record Country(string Code, int UtcOffsetMinutes, double HomeWeight, double TravelWeight, double FraudWeight);

/// <summary>
/// The fixed world the simulator draws from: merchant categories with typical tickets, countries, channels and the
/// daily/weekly rhythm of spending. Numbers are plausible European card-portfolio shapes, not calibrated statistics.
/// </summary>
internal static class Catalog
{
    public const long MsPerHour = 3_600_000L;
    public const long MsPerDay = 86_400_000L;

    public static readonly string[] ChannelNames = ["pos", "contactless", "ecom", "atm"];

    public static readonly Category[] Categories =
    [
        new("5411", "grocery", 42, 0.65, 22, MerchantKind.Physical, 0.9),
        new("5812", "restaurant", 38, 0.55, 10, MerchantKind.Physical, 0.8),
        new("5814", "fast_food", 11, 0.5, 9, MerchantKind.Physical, 1.0),
        new("5541", "fuel", 55, 0.4, 7, MerchantKind.Physical, 0.5),
        new("5912", "pharmacy", 19, 0.7, 5, MerchantKind.Physical, 0.9),
        new("5311", "department_store", 65, 0.8, 4, MerchantKind.Either, 0.6, CategoryRole.Burst),
        new("5651", "clothing", 58, 0.7, 5, MerchantKind.Either, 0.6, CategoryRole.Burst),
        new("5732", "electronics", 160, 0.9, 2.5, MerchantKind.Either, 0.3, CategoryRole.HighValue | CategoryRole.Burst),
        new("5944", "jewelry", 260, 0.9, 0.8, MerchantKind.Either, 0.2, CategoryRole.HighValue | CategoryRole.Burst),
        new("4111", "transit", 4.5, 0.6, 5, MerchantKind.Physical, 1.0),
        new("4121", "taxi_rideshare", 17, 0.5, 3, MerchantKind.Online, 0),
        new("5815", "digital_goods", 9, 0.8, 5, MerchantKind.Online, 0, CategoryRole.Testing | CategoryRole.Burst),
        new("5999", "misc_retail_online", 35, 0.9, 7, MerchantKind.Online, 0, CategoryRole.Testing),
        new("8398", "charity", 20, 0.8, 0.8, MerchantKind.Online, 0, CategoryRole.Testing),
        new("4511", "airline", 240, 0.7, 0.8, MerchantKind.Online, 0, CategoryRole.HighValue),
        new("7011", "hotel", 140, 0.6, 1.2, MerchantKind.Either, 0.3),
        new("6011", "atm_cash", 100, 0.6, 4, MerchantKind.Physical, 0, CategoryRole.Atm),
        new("4900", "utilities", 75, 0.5, 2, MerchantKind.Online, 0),
        new("7995", "gambling", 45, 1.0, 0.5, MerchantKind.Online, 0),
        new("6051", "crypto_quasi_cash", 180, 1.0, 0.4, MerchantKind.Online, 0, CategoryRole.HighValue),
        new("4829", "money_transfer", 150, 0.9, 0.5, MerchantKind.Online, 0, CategoryRole.HighValue),
    ];

    public static readonly Country[] Countries =
    [
        new("DE", 60, 22, 6, 0),
        new("FR", 60, 18, 8, 0),
        new("GB", 0, 14, 6, 0),
        new("ES", 60, 11, 10, 0),
        new("IT", 60, 11, 9, 0),
        new("NL", 60, 7, 3, 0),
        new("PL", 60, 6, 2, 0),
        new("BE", 60, 4, 2, 0),
        new("AT", 60, 3, 3, 0),
        new("PT", 0, 2, 5, 0),
        new("SE", 60, 2, 1, 0),
        new("GR", 120, 0, 5, 0),
        new("HR", 60, 0, 3, 0),
        new("US", -300, 0, 4, 4),
        new("TR", 180, 0, 3, 2),
        new("AE", 240, 0, 2, 2),
        new("TH", 420, 0, 2, 1),
        new("BR", -180, 0, 0, 4),
        new("NG", 60, 0, 0, 4),
        new("RU", 180, 0, 0, 3),
        new("CN", 480, 0, 0, 3),
        new("RO", 120, 0, 0, 3),
        new("UA", 120, 0, 0, 2),
        new("ID", 420, 0, 0, 2),
        new("VN", 420, 0, 0, 2),
        new("IN", 330, 0, 0, 2),
        new("MX", -360, 0, 0, 2),
    ];

    /// <summary>Card-holder activity by local hour: quiet at night, peaks at lunch and early evening.</summary>
    public static readonly double[] LegitHourWeights =
    [
        0.6, 0.35, 0.2, 0.15, 0.15, 0.3, 0.8, 1.8, 2.8, 3.4, 3.8, 4.3,
        5.0, 4.8, 4.2, 4.0, 4.3, 5.0, 5.2, 4.6, 3.8, 3.0, 2.0, 1.2,
    ];

    /// <summary>Fraudster activity by local hour: much flatter, with proportionally more at night.</summary>
    public static readonly double[] FraudHourWeights =
    [
        2.6, 3.0, 3.0, 2.8, 2.2, 1.6, 1.3, 1.5, 2.0, 2.5, 2.8, 3.0,
        3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 2.8,
    ];

    /// <summary>Activity by weekday, Monday first: busier Friday and Saturday, quiet Sunday.</summary>
    public static readonly double[] WeekdayFactors = [0.95, 0.95, 1.0, 1.0, 1.15, 1.2, 0.75];

    public static readonly double[] LegitHourCumulative = Cumulative(LegitHourWeights);
    public static readonly double[] FraudHourCumulative = Cumulative(FraudHourWeights);

    /// <summary>Monday = 0 for a day counted from the Unix epoch (1970-01-01 was a Thursday).</summary>
    public static int Weekday(long epochDay) => (int)(((epochDay + 3) % 7 + 7) % 7);

    public static double[] Cumulative(ReadOnlySpan<double> weights)
    {
        var result = new double[weights.Length];
        var sum = 0.0;
        for (var i = 0; i < weights.Length; i++)
        {
            sum += weights[i];
            result[i] = sum;
        }

        return result;
    }

    /// <summary>Rounds an amount to cents, never below one cent.</summary>
    public static double Cents(double amount) => Math.Max(0.01, Math.Round(amount, 2, MidpointRounding.AwayFromZero));
}
