using System.Globalization;
using StreamFraud.Sim.Cli;
using StreamFraud.Sim.Generation;

namespace StreamFraud.Sim.Commands;

/// <summary>
/// The flags that describe a simulation, shared by every command that generates transactions (<c>generate</c> writes
/// them to CSV; a <c>produce</c> command can bind the same flags and send <see cref="TransactionSimulator.Generate"/>
/// to Kafka).
/// </summary>
public static class SimulationFlags
{
    /// <summary>Help rows of the simulation flags.</summary>
    public static IReadOnlyList<FlagHelp> Help { get; } =
    [
        new("cards", "N", "Cards in the portfolio (default 10000)."),
        new("days", "D", "Days to simulate (default 30)."),
        new("seed", "S", "Seed of every random choice; equal flags and seed give byte-identical output (default 1)."),
        new("start", "YYYY-MM-DD", "First simulated day, from 00:00 UTC (default 2026-01-01)."),
        new("merchants", "M", "Merchants in the world (default max(300, cards/4))."),
        new("tx-per-day", "X", "Mean legitimate transactions per card per day (default 1.8)."),
        new("currency", "CODE", "Billing currency written with every amount (default EUR)."),
        new("fraud-rate", "LIST",
            "Share of all rows per fraud scenario, e.g. large_amount=0.001,card_testing=0.2% ('all=R' sets every "
            + "scenario; unnamed scenarios keep their defaults). Scenarios and defaults: "
            + string.Join(", ", FraudScenarios.All.Select(s =>
                string.Create(CultureInfo.InvariantCulture, $"{s}={FraudScenarios.DefaultRates[s]}")))
            + $" (total {FraudScenarios.DefaultRates.Values.Sum():0.####})."),
        new("no-fraud", "", "Generate legitimate transactions only (all fraud rates 0)."),
    ];

    /// <summary>Reads the simulation flags into options; errors name the flag.</summary>
    /// <exception cref="UsageException">A flag value is malformed or out of range.</exception>
    public static SimulationOptions Bind(CommandArgs args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var defaults = new SimulationOptions();
        var cards = args.Int("cards", defaults.Cards, 1, SimulationOptions.MaxCards);
        var days = args.Int("days", defaults.Days, 1, SimulationOptions.MaxDays);
        var seed = args.ULong("seed", defaults.Seed);
        var start = args.Date("start", defaults.Start);
        if (start.Year < 1970)
        {
            throw new UsageException($"--start must be 1970-01-01 or later (got {start:yyyy-MM-dd})");
        }

        if ((long)start.DayNumber + days > DateOnly.MaxValue.DayNumber + 1L)
        {
            throw new UsageException($"--start {start:yyyy-MM-dd} with --days {days} would run past 9999-12-31; start earlier");
        }

        int? merchants = args.Has("merchants") ? args.Int("merchants", 0, 100, 10_000_000) : null;
        var txPerDay = args.Double("tx-per-day", defaults.TransactionsPerCardPerDay, 0, 100);
        var currency = args.String("currency", defaults.Currency)!;
        if (currency.Length != 3 || !currency.All(char.IsAsciiLetterUpper))
        {
            throw new UsageException($"--currency must be a three-letter upper-case ISO-4217 code such as EUR (got '{currency}')");
        }

        var noFraud = args.Switch("no-fraud");
        var rateText = args.String("fraud-rate");
        if (noFraud && rateText is not null)
        {
            throw new UsageException("--no-fraud and --fraud-rate contradict each other; give one of them");
        }

        var rates = noFraud
            ? FraudScenarios.All.ToDictionary(s => s, _ => 0.0)
            : ParseFraudRates(rateText);

        var options = new SimulationOptions
        {
            Cards = cards,
            Days = days,
            Seed = seed,
            Start = start,
            Merchants = merchants,
            TransactionsPerCardPerDay = txPerDay,
            Currency = currency,
            FraudRates = rates,
        };

        // The checks above name flags; this catches any rule they do not repeat.
        var problems = options.Validate();
        if (problems.Count > 0)
        {
            throw new UsageException(string.Join(" ", problems));
        }

        return options;
    }

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
