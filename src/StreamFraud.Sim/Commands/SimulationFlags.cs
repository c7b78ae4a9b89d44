using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;
using StreamFraud.Cli;
using StreamFraud.Sim.Generation;

namespace StreamFraud.Sim.Commands;

/// <summary>
/// The flags that describe a simulation, shared by every command that generates transactions (<c>generate</c> writes
/// them to CSV, <c>produce</c> sends <see cref="TransactionSimulator.Generate"/> to Kafka). Each is null when not given.
/// </summary>
public abstract class SimulationFlags : CommandSettings
{
    /// <summary><c>--cards</c>.</summary>
    [CommandOption("--cards <N>")]
    [Description("Cards in the portfolio (default 10000).")]
    [TypeConverter(typeof(WholeNumberConverter<int>))]
    [WholeNumber(1, SimulationOptions.MaxCards)]
    public int? Cards { get; init; }

    /// <summary><c>--days</c>.</summary>
    [CommandOption("--days <D>")]
    [Description("Days to simulate (default 30).")]
    [TypeConverter(typeof(WholeNumberConverter<int>))]
    [WholeNumber(1, SimulationOptions.MaxDays)]
    public int? Days { get; init; }

    /// <summary><c>--seed</c>.</summary>
    [CommandOption("--seed <S>")]
    [Description("Seed of every random choice; equal flags and seed give byte-identical output (default 1).")]
    [TypeConverter(typeof(WholeNumberConverter<ulong>))]
    public ulong? Seed { get; init; }

    /// <summary><c>--start</c>.</summary>
    [CommandOption("--start <YYYY-MM-DD>")]
    [Description("First simulated day, from 00:00 UTC (default 2026-01-01).")]
    [TypeConverter(typeof(DateConverter))]
    public DateOnly? Start { get; init; }

    /// <summary><c>--merchants</c>.</summary>
    [CommandOption("--merchants <M>")]
    [Description("Merchants in the world (default max(300, cards/4)).")]
    [TypeConverter(typeof(WholeNumberConverter<int>))]
    [WholeNumber(100, 10_000_000)]
    public int? Merchants { get; init; }

    /// <summary><c>--tx-per-day</c>.</summary>
    [CommandOption("--tx-per-day <X>")]
    [Description("Mean legitimate transactions per card per day (default 1.8).")]
    [TypeConverter(typeof(NumberConverter))]
    [Number(0, 100, ExclusiveMin = true)]
    public double? TxPerDay { get; init; }

    /// <summary><c>--currency</c>.</summary>
    [CommandOption("--currency <CODE>")]
    [Description("Billing currency written with every amount (default EUR).")]
    public string? Currency { get; init; }

    /// <summary><c>--fraud-rate</c>.</summary>
    [CommandOption("--fraud-rate <LIST>")]
    [FraudRateDescription]
    public string? FraudRate { get; init; }

    /// <summary><c>--no-fraud</c>.</summary>
    [CommandOption("--no-fraud")]
    [Description("Generate legitimate transactions only (all fraud rates 0).")]
    public bool NoFraud { get; init; }

    /// <summary>The simulation flags that were given, as typed (for commands where they do not apply).</summary>
    public IEnumerable<string> Given()
    {
        var given = new (string Flag, bool Set)[]
        {
            ("--cards", Cards is not null), ("--days", Days is not null), ("--seed", Seed is not null), ("--start", Start is not null),
            ("--merchants", Merchants is not null), ("--tx-per-day", TxPerDay is not null), ("--currency", Currency is not null),
            ("--fraud-rate", FraudRate is not null), ("--no-fraud", NoFraud),
        };
        return given.Where(g => g.Set).Select(g => g.Flag);
    }

    /// <inheritdoc/>
    public override ValidationResult Validate()
    {
        try
        {
            _ = ToOptions();
            return ValidationResult.Success();
        }
        catch (UsageException e)
        {
            return ValidationResult.Error(e.Message);
        }
    }

    /// <summary>The options the flags describe; the rules that involve more than one flag name them.</summary>
    /// <exception cref="UsageException">The flags contradict each other or describe an impossible run.</exception>
    public SimulationOptions ToOptions()
    {
        var defaults = new SimulationOptions();
        var days = Days ?? defaults.Days;
        var start = Start ?? defaults.Start;
        if (start.Year < 1970)
        {
            throw new UsageException($"--start must be 1970-01-01 or later (got {start:yyyy-MM-dd})");
        }

        if ((long)start.DayNumber + days > DateOnly.MaxValue.DayNumber + 1L)
        {
            throw new UsageException($"--start {start:yyyy-MM-dd} with --days {days} would run past 9999-12-31; start earlier");
        }

        var currency = Currency ?? defaults.Currency;
        if (currency.Length != 3 || !currency.All(char.IsAsciiLetterUpper))
        {
            throw new UsageException($"--currency must be a three-letter upper-case ISO-4217 code such as EUR (got '{currency}')");
        }

        if (NoFraud && FraudRate is not null)
        {
            throw new UsageException("--no-fraud and --fraud-rate contradict each other; give one of them");
        }

        var options = new SimulationOptions
        {
            Cards = Cards ?? defaults.Cards,
            Days = days,
            Seed = Seed ?? defaults.Seed,
            Start = start,
            Merchants = Merchants,
            TransactionsPerCardPerDay = TxPerDay ?? defaults.TransactionsPerCardPerDay,
            Currency = currency,
            FraudRates = NoFraud ? FraudScenarios.All.ToDictionary(s => s, _ => 0.0) : ParseFraudRates(FraudRate),
        };

        // The checks above and the flags' own rules name flags; this catches any rule they do not repeat.
        var problems = options.Validate();
        if (problems.Count > 0)
        {
            throw new UsageException(string.Join(" ", problems));
        }

        return options;
    }

    /// <summary><c>--start</c>'s format.</summary>
    private sealed class DateConverter : FlagConverter
    {
        public override string Expectation => "a date as yyyy-MM-dd";

        protected override bool TryParse(string text, out object? value)
        {
            var ok = DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date);
            value = date;
            return ok;
        }
    }

    /// <summary><c>--fraud-rate</c>'s help, which lists the scenarios and their default rates.</summary>
    [AttributeUsage(AttributeTargets.Property)]
    private sealed class FraudRateDescriptionAttribute() : DescriptionAttribute(
        "Share of all rows per fraud scenario, e.g. large_amount=0.001,card_testing=0.2% ('all=R' sets every "
        + "scenario; unnamed scenarios keep their defaults). Scenarios and defaults: "
        + string.Join(", ", FraudScenarios.All.Select(s =>
            string.Create(CultureInfo.InvariantCulture, $"{s}={FraudScenarios.DefaultRates[s]}")))
        + $" (total {FraudScenarios.DefaultRates.Values.Sum():0.####}).");


    /// <summary>Parses <c>--fraud-rate</c>: comma-separated <c>scenario=rate</c> (a fraction or a percentage) over the
    /// defaults; <c>all=rate</c> sets every scenario.</summary>
    /// <exception cref="UsageException">Names the bad entry.</exception>
    public static IReadOnlyDictionary<string, double> ParseFraudRates(string? text)
    {
        var rates = new Dictionary<string, double>(FraudScenarios.DefaultRates, StringComparer.Ordinal);
        if (text is null)
        {
            return rates;
        }

        foreach (var entry in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = entry.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new UsageException($"--fraud-rate: entry '{entry}' must look like scenario=rate (e.g. card_testing=0.002)");
            }

            var name = entry[..eq].Trim();
            var valueText = entry[(eq + 1)..].Trim();
            if (name != "all" && FraudScenarios.Code(name) == 0)
            {
                throw new UsageException(
                    $"--fraud-rate: unknown scenario '{name}'; known: {string.Join(", ", FraudScenarios.All)} (or all)");
            }

            var percent = valueText.EndsWith('%');
            var numberText = percent ? valueText[..^1] : valueText;
            if (!double.TryParse(numberText, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate)
                || !double.IsFinite(rate))
            {
                throw new UsageException($"--fraud-rate: rate of {name} must be a number such as 0.001 or 0.1% (got '{valueText}')");
            }

            rate = percent ? rate / 100 : rate;
            if (rate < 0 || rate > SimulationOptions.MaxScenarioRate)
            {
                throw new UsageException(
                    $"--fraud-rate: rate of {name} must be from 0 to {SimulationOptions.MaxScenarioRate} (got '{valueText}')");
            }

            if (name == "all")
            {
                foreach (var s in FraudScenarios.All)
                {
                    rates[s] = rate;
                }
            }
            else
            {
                rates[name] = rate;
            }
        }

        var total = rates.Values.Sum();
        if (total > SimulationOptions.MaxTotalRate)
        {
            throw new UsageException(
                $"--fraud-rate: the rates add up to {total.ToString(CultureInfo.InvariantCulture)}, more than {SimulationOptions.MaxTotalRate}; lower some");
        }

        return rates;
    }
}
