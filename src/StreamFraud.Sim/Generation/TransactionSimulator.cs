using System.Runtime.CompilerServices;
using StreamFraud.Core;

namespace StreamFraud.Sim.Generation;

/// <summary>
/// Simulates a card portfolio and streams its transactions in event-time order. Construction builds the world
/// (merchants, cards and their profiles) and plans every fraud incident; <see cref="Generate"/> then produces one
/// simulated day at a time (the next day is built on another core while the current one is consumed), sorts it and
/// yields it. Every random choice comes from a seeded stream, so equal <see cref="SimulationOptions"/> give equal
/// output, and <see cref="Generate"/> may be enumerated any number of times.
/// </summary>
/// <remarks>
/// Transaction ids are <c>{run tag}-{row number}</c>: eight hex digits derived from all options (so runs with different
/// options or seeds do not collide) and a zero-padded sequence number in output order, which makes (event time,
/// transaction id) order equal to output order.
/// </remarks>
public sealed class TransactionSimulator
{
    private readonly World _world;
    private readonly FraudPlan _plan;

    /// <summary>Builds the world and the fraud plan.</summary>
    /// <exception cref="ArgumentException">The options are invalid (the message lists every problem).</exception>
    public TransactionSimulator(SimulationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.Validate();
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", problems), nameof(options));
        }

        Options = options;
        _world = new World(options);
        _plan = new FraudPlanner(_world).Plan();
        RunTag = ComputeRunTag(options);
    }

    /// <summary>The options simulated.</summary>
    public SimulationOptions Options { get; }

    /// <summary>Cards in the portfolio.</summary>
    public int CardCount => _world.Cards.Length;

    /// <summary>Merchants in the world.</summary>
    public int MerchantCount => _world.Merchants.Length;

    /// <summary>Rows the run is expected to produce (the fraud calibration's estimate).</summary>
    public double ExpectedRows => _plan.ExpectedTotalRows;

    /// <summary>Incidents planned per scenario (a compromised merchant is one incident, however many rows).</summary>
    public IReadOnlyDictionary<string, int> PlannedIncidents => _plan.Incidents;

    /// <summary>Eight hex digits identifying the options; the prefix of every transaction id.</summary>
    public string RunTag { get; }

    internal World World => _world;

    /// <summary>Streams the transactions sorted by event time (ties in id order).</summary>
    /// <param name="cancellationToken">Checked between days.</param>
    public IEnumerable<Transaction> Generate(CancellationToken cancellationToken = default)
    {
        long index = 0;
        foreach (var day in Days(cancellationToken))
        {
            foreach (var row in day)
            {
                yield return ToTransaction(row, index++);
            }
        }
    }

    /// <summary>Each day's rows, sorted; the following day is built in the background meanwhile.</summary>
    internal IEnumerable<Row[]> Days(CancellationToken cancellationToken = default)
    {
        var days = Options.Days;
        var next = Task.Run(() => BuildDay(0), cancellationToken);
        for (var day = 0; day < days; day++)
        {
            var rows = next.GetAwaiter().GetResult();
            if (day + 1 < days)
            {
                var following = day + 1;
                next = Task.Run(() => BuildDay(following), cancellationToken);
            }

            cancellationToken.ThrowIfCancellationRequested();
            yield return rows;
        }
    }

    internal Row[] BuildDay(int day)
    {
        var fraud = _plan.RowsByDay[day];
        var expected = (int)Math.Min(int.MaxValue / 2, _plan.ExpectedTotalRows / Options.Days * 1.3) + fraud.Count + 16;
        var rows = new List<Row>(expected);
        rows.AddRange(fraud);
        foreach (var card in _world.Cards)
        {
            LegitimateSpending.Generate(_world, card, day, rows);
        }

        var array = rows.ToArray();
        Array.Sort(array);
        return array;
    }

    internal Transaction ToTransaction(in Row row, long index)
    {
        var merchant = _world.Merchants[row.Merchant];
        var fraud = row.Scenario != 0;
        return new Transaction(
            TransactionId(index),
            _world.Cards[row.Card].Id,
            merchant.Id,
            row.Amount,
            Options.Currency,
            row.TimeMs,
            Catalog.Categories[merchant.Category].Mcc,
            Catalog.Countries[merchant.Country].Code,
            Catalog.ChannelNames[(int)row.Channel],
            Features: null,
            IsFraud: fraud,
            FraudScenario: FraudScenarios.Name(row.Scenario));
    }

    private string TransactionId(long index)
    {
        var digits = Math.Max(10, CountDigits(index));
        return string.Create(RunTag.Length + 1 + digits, (RunTag, index), static (span, state) =>
        {
            state.RunTag.CopyTo(span);
            span[state.RunTag.Length] = '-';
            var n = state.index;
            for (var i = span.Length - 1; i > state.RunTag.Length; i--)
            {
                span[i] = (char)('0' + n % 10);
                n /= 10;
            }
        });
    }

    private static int CountDigits(long n)
    {
        var digits = 1;
        while (n >= 10)
        {
            n /= 10;
            digits++;
        }

        return digits;
    }

    [SkipLocalsInit]
    private static string ComputeRunTag(SimulationOptions options)
    {
        // FNV-1a over the canonical description, then SplitMix's finaliser.
        var hash = 0xCBF29CE484222325UL;
        foreach (var c in options.Describe())
        {
            hash = (hash ^ c) * 0x100000001B3UL;
        }

        return ((uint)Xoshiro256.Mix(hash)).ToString("x8", System.Globalization.CultureInfo.InvariantCulture);
    }
}
