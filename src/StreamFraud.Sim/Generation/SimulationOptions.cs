using System.Globalization;
using System.Text;

namespace StreamFraud.Sim.Generation;

/// <summary>What to simulate. Equal options give byte-identical output.</summary>
public sealed record SimulationOptions
{
    /// <summary>Largest portfolio accepted.</summary>
    public const int MaxCards = 5_000_000;

    /// <summary>Longest simulation accepted (ten years).</summary>
    public const int MaxDays = 3660;

    /// <summary>Largest share of rows a single scenario may take.</summary>
    public const double MaxScenarioRate = 0.1;

    /// <summary>Largest total fraud share.</summary>
    public const double MaxTotalRate = 0.25;

    /// <summary>Number of cards in the portfolio (default 10,000).</summary>
    public int Cards { get; init; } = 10_000;

    /// <summary>Number of simulated days (default 30).</summary>
    public int Days { get; init; } = 30;

    /// <summary>Seed of every random choice (default 1).</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>First simulated day, from 00:00 UTC (default 2026-01-01).</summary>
    public DateOnly Start { get; init; } = new(2026, 1, 1);

    /// <summary>Number of merchants; <see langword="null"/> = max(300, cards / 4).</summary>
    public int? Merchants { get; init; }

    /// <summary>Mean legitimate transactions per card per day over the portfolio (default 1.8).</summary>
    public double TransactionsPerCardPerDay { get; init; } = 1.8;

    /// <summary>Billing currency of every amount (default EUR).</summary>
    public string Currency { get; init; } = "EUR";

    /// <summary>Share of all rows per fraud scenario; scenarios not named get rate 0 (default
    /// <see cref="FraudScenarios.DefaultRates"/>).</summary>
    public IReadOnlyDictionary<string, double> FraudRates { get; init; } = FraudScenarios.DefaultRates;

    /// <summary>The merchant count actually used.</summary>
    public int ResolvedMerchants => Merchants ?? Math.Max(300, Cards / 4);

    /// <summary>Unix milliseconds of the first simulated instant.</summary>
    public long StartUnixMs => new DateTimeOffset(Start.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero).ToUnixTimeMilliseconds();

    /// <summary>Unix milliseconds just after the last simulated instant.</summary>
    public long EndUnixMs => StartUnixMs + Days * Catalog.MsPerDay;

    /// <summary>The rate of one scenario (0 when not named).</summary>
    public double RateOf(string scenario) => FraudRates.TryGetValue(scenario, out var r) ? r : 0;

    /// <summary>Describes every problem, each naming the option; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Cards is < 1 or > MaxCards)
        {
            problems.Add($"{nameof(Cards)} must be between 1 and {MaxCards:N0} (got {Cards}).");
        }

        if (Days is < 1 or > MaxDays)
        {
            problems.Add($"{nameof(Days)} must be between 1 and {MaxDays} (got {Days}).");
        }

        if (Merchants is < 100 or > 10_000_000)
        {
            problems.Add($"{nameof(Merchants)} must be between 100 and 10,000,000 (got {Merchants}).");
        }

        if (!(TransactionsPerCardPerDay > 0 && TransactionsPerCardPerDay <= 100))
        {
            problems.Add($"{nameof(TransactionsPerCardPerDay)} must be above 0 and at most 100 (got {TransactionsPerCardPerDay}).");
        }

        if (Currency is null || Currency.Length != 3 || !Currency.All(char.IsAsciiLetterUpper))
        {
            problems.Add($"{nameof(Currency)} must be a three-letter upper-case ISO-4217 code (got '{Currency}').");
        }

        if (Start.Year < 1970 || (long)Start.DayNumber + Math.Max(0, Days) > DateOnly.MaxValue.DayNumber + 1L)
        {
            problems.Add($"{nameof(Start)} must be 1970-01-01 or later and the run must end by 9999-12-31 (got {Start:yyyy-MM-dd} and {Days} days).");
        }

        var total = 0.0;
        foreach (var (name, rate) in FraudRates ?? new Dictionary<string, double>())
        {
            if (FraudScenarios.Code(name) == 0)
            {
                problems.Add($"{nameof(FraudRates)}: unknown scenario '{name}' (known: {string.Join(", ", FraudScenarios.All)}).");
            }
            else if (!(rate >= 0 && rate <= MaxScenarioRate))
            {
                problems.Add($"{nameof(FraudRates)}: rate of {name} must be between 0 and {MaxScenarioRate} (got {rate}).");
            }
            else
            {
                total += rate;
            }
        }

        if (total > MaxTotalRate)
        {
            problems.Add($"{nameof(FraudRates)}: the rates add up to {total}, more than {MaxTotalRate}.");
        }

        return problems;
    }

    /// <summary>A canonical one-line description (also hashed into transaction ids so runs do not collide).</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"cards={Cards} days={Days} seed={Seed} start={Start:yyyy-MM-dd} ");
        sb.Append(CultureInfo.InvariantCulture, $"merchants={ResolvedMerchants} tx-per-day={TransactionsPerCardPerDay:R} currency={Currency} fraud-rate=");
        sb.AppendJoin(',', FraudScenarios.All.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s}={RateOf(s):R}")));
        return sb.ToString();
    }
}
