using StreamFraud.Core;

namespace StreamFraud.Sim.Generation;

/// <summary>The planned fraud: its rows bucketed by simulated day, and how many incidents each scenario got.</summary>
internal sealed class FraudPlan
{
    public required List<Row>[] RowsByDay { get; init; }
    public required IReadOnlyDictionary<string, int> Incidents { get; init; }

    /// <summary>Rows the run is expected to produce (legitimate estimate plus planned fraud share).</summary>
    public required double ExpectedTotalRows { get; init; }
}

/// <summary>
/// Plans every fraud incident before any legitimate row exists: picks victims, merchants, times and amounts, marks
/// compromised merchants' windows and tells each victim card which merchants its own spending must avoid, so the
/// scenarios keep their signatures (new merchants stay new). Incident counts are calibrated so that each scenario's
/// rows make up its configured share of the expected total.
/// </summary>
internal sealed class FraudPlanner
{
    private const double CompromisedRowsPerIncident = 120;

    /// <summary>Days a terminal stays compromised (inclusive range).</summary>
    private const int TerminalMinDays = 7, TerminalMaxDays = 21;

    /// <summary>Share of the purchases at a compromised terminal that are fraud (drawn per incident).</summary>
    private const double TerminalMinShare = 0.6, TerminalMaxShare = 1.0;

    /// <summary>Fraud rows aimed at per terminal incident: a sixth of the scenario's rows, within these bounds, so a run
    /// spreads them over several merchants and periods.</summary>
    private const double TerminalMinRowsPerIncident = 8, TerminalMaxRowsPerIncident = 60;

    /// <summary>Usual customers a terminal needs to count as an ordinary, established merchant.</summary>
    private const int TerminalMinUsualCustomers = 3;

    /// <summary>Share of a terminal's expected traffic its usual customers must bring.</summary>
    private const double TerminalMinUsualShare = 0.8;

    private readonly World _world;
    private readonly SimulationOptions _options;
    private readonly List<Row> _rows = [];
    private readonly Dictionary<int, HashSet<int>> _avoid = [];
    private readonly Dictionary<string, int> _incidents = [];
    private readonly int[] _cardOrder;
    private readonly int _firstDay;
    private readonly WeightedSet _all, _testing, _highValueOnline, _burst, _burstOnline;
    private readonly WeightedSet[] _burstPhysicalByCountry;
    private readonly int[] _highValueCategories;
    private int _cursor;

    public FraudPlanner(World world)
    {
        _world = world;
        _options = world.Options;
        var merchants = world.Merchants;
        var categories = Catalog.Categories;
        bool Has(Merchant m, CategoryRole role) => (categories[m.Category].Role & role) != 0;
        double Size(int i) => merchants[i].Size;
        _all = WeightedSet.Of(merchants.Select(m => m.Index), Size);
        _testing = WeightedSet.Of(merchants.Where(m => m.Online && Has(m, CategoryRole.Testing)).Select(m => m.Index), Size);
        _highValueOnline = WeightedSet.Of(merchants.Where(m => m.Online && Has(m, CategoryRole.HighValue)).Select(m => m.Index), Size);
        _burst = WeightedSet.Of(merchants.Where(m => Has(m, CategoryRole.Burst)).Select(m => m.Index), Size);
        _burstOnline = WeightedSet.Of(merchants.Where(m => m.Online && Has(m, CategoryRole.Burst)).Select(m => m.Index), Size);
        _burstPhysicalByCountry = Enumerable.Range(0, Catalog.Countries.Length)
            .Select(c => WeightedSet.Of(
                merchants.Where(m => !m.Online && m.Country == c && Has(m, CategoryRole.Burst)).Select(m => m.Index), Size))
            .ToArray();
        _highValueCategories = Enumerable.Range(0, categories.Length)
            .Where(i => (categories[i].Role & CategoryRole.HighValue) != 0).ToArray();

        // Leave the first tenth of the run (at least a day) as history before any incident, when there is room.
        _firstDay = Math.Min(_options.Days - 1, Math.Max(1, _options.Days / 10));

        var rng = Xoshiro256.For(_options.Seed, Purpose.Fraud);
        _cardOrder = Enumerable.Range(0, world.Cards.Length).ToArray();
        for (var i = _cardOrder.Length - 1; i > 0; i--)
        {
            var j = rng.NextInt(i + 1);
            (_cardOrder[i], _cardOrder[j]) = (_cardOrder[j], _cardOrder[i]);
        }
    }

    public FraudPlan Plan()
    {
        // compromised_terminal relabels purchases that legitimate spending makes anyway, so it adds no rows: the total
        // (and with it every other scenario's calibration) does not depend on its rate.
        var legit = ExpectedLegitimateRows();
        var addedRate = FraudScenarios.All.Where(s => s != FraudScenarios.CompromisedTerminal).Sum(_options.RateOf);
        var expectedTotal = legit / (1 - addedRate);

        // Compromised merchants first: every other scenario then avoids their merchants, so a compromise window
        // holds that scenario's rows only. Compromised terminals come last (All order): they only relabel card-holders'
        // own purchases, so planning them changes no other scenario's choices.
        var order = FraudScenarios.All.OrderBy(s => s == FraudScenarios.CompromisedMerchant ? 0 : 1);
        foreach (var scenario in order)
        {
            var rate = _options.RateOf(scenario);
            var rng = Xoshiro256.For(_options.Seed, Purpose.Fraud, FraudScenarios.Code(scenario));
            var target = rate * expectedTotal;
            var incidents = 0;
            if (rate > 0)
            {
                incidents = scenario switch
                {
                    FraudScenarios.CompromisedMerchant => PlanCompromisedMerchants(target, ref rng),
                    FraudScenarios.LargeAmount => Repeat(Count(target, 1.0, ref rng), LargeAmount, ref rng),
                    FraudScenarios.CardTesting => Repeat(Count(target, 4.0, ref rng), CardTesting, ref rng),
                    FraudScenarios.CompromisedCard => Repeat(Count(target, 5.5, ref rng), CompromisedCard, ref rng),
                    FraudScenarios.AccountTakeover => Repeat(Count(target, 6.0, ref rng), AccountTakeover, ref rng),
                    FraudScenarios.CompromisedTerminal => PlanCompromisedTerminals(target, ref rng),
                    _ => throw new InvalidOperationException($"No planner for scenario {scenario}."),
                };
            }

            _incidents[scenario] = incidents;
        }

        foreach (var (card, merchants) in _avoid)
        {
            _world.Cards[card].Avoid = merchants.Order().ToArray();
        }

        var byDay = new List<Row>[_options.Days];
        for (var d = 0; d < byDay.Length; d++)
        {
            byDay[d] = [];
        }

        foreach (var row in _rows)
        {
            byDay[(int)((row.TimeMs - _options.StartUnixMs) / Catalog.MsPerDay)].Add(row);
        }

        var byScenario = FraudScenarios.All.ToDictionary(s => s, s => _incidents[s]);
        return new FraudPlan { RowsByDay = byDay, Incidents = byScenario, ExpectedTotalRows = expectedTotal };
    }

    private double ExpectedLegitimateRows()
    {
        var firstEpochDay = _options.StartUnixMs / Catalog.MsPerDay;
        var weekdaySum = 0.0;
        for (var d = 0; d < _options.Days; d++)
        {
            weekdaySum += Catalog.WeekdayFactors[Catalog.Weekday(firstEpochDay + d)];
        }

        var meanFactor = weekdaySum / _options.Days;
        var total = 0.0;
        foreach (var card in _world.Cards)
        {
            var tripDays = card.Trips.Sum(t => t.ToDay - t.FromDay);
            total += card.Rate * (weekdaySum + 0.2 * meanFactor * tripDays);
        }

        return total;
    }

    // Unbiased: a run expecting 0.3 incidents gets one 30% of the time, so small runs keep the configured rate.
    private static int Count(double targetRows, double rowsPerIncident, ref Xoshiro256 rng) =>
        rng.StochasticRound(targetRows / rowsPerIncident);

    private delegate void Incident(ref Xoshiro256 rng);

    private static int Repeat(int count, Incident incident, ref Xoshiro256 rng)
    {
        for (var i = 0; i < count; i++)
        {
            incident(ref rng);
        }

        return count;
    }

    // --- scenarios -------------------------------------------------------------------------------------------------

    private int PlanCompromisedMerchants(double targetRows, ref Xoshiro256 rng)
    {
        // Small online merchants (below the median size): their own customers are few, so the window's rows are
        // mostly the fraud pushed through them.
        var online = _world.Merchants.Where(m => m.Online).OrderBy(m => m.Size).ThenBy(m => m.Index).ToArray();
        var eligible = online.Take(Math.Max(1, online.Length / 2)).ToArray();

        // Incidents of about 120 rows; a run too small for one gets a single, smaller incident.
        var incidents = targetRows < 1
            ? 0
            : Math.Min(eligible.Length, Math.Max(1, (int)Math.Round(targetRows / CompromisedRowsPerIncident)));
        if (incidents == 0)
        {
            return 0;
        }

        var perIncident = targetRows / incidents;
        var chosen = new HashSet<int>();
        for (var i = 0; i < incidents; i++)
        {
            Merchant merchant;
            do
            {
                merchant = eligible[rng.NextInt(eligible.Length)];
            }
            while (!chosen.Add(merchant.Index));

            var days = Math.Min(_options.Days, rng.Between(2, 5));
            var startDay = _options.Days - days < _firstDay ? 0 : rng.Between(_firstDay, _options.Days - days);
            var from = DayStart(startDay) + rng.NextInt((int)Catalog.MsPerDay);
            var to = Math.Min(from + days * Catalog.MsPerDay, _options.EndUnixMs);
            merchant.CompromisedFromMs = from;
            merchant.CompromisedToMs = to;

            var category = Catalog.Categories[merchant.Category];
            var rows = Math.Max(1, rng.StochasticRound(perIncident));
            for (var k = 0; k < rows; k++)
            {
                _rows.Add(new Row
                {
                    TimeMs = from + (long)(rng.NextDouble() * (to - from)),
                    Card = rng.NextInt(_world.Cards.Length),
                    Merchant = merchant.Index,
                    Amount = Catalog.Cents(category.MedianAmount * rng.LogNormal(1.8, 0.5)),
                    Channel = Channel.Ecom,
                    Scenario = FraudScenarios.Code(FraudScenarios.CompromisedMerchant),
                    Seq = (ushort)(1000 + k % 60000),
                });
            }
        }

        return incidents;
    }

    private int PlanCompromisedTerminals(double targetRows, ref Xoshiro256 rng)
    {
        // An ordinary shop: physical, with regular customers who bring at least 80% of its expected traffic. Only their
        // purchases turn to fraud, so the fraud rows are habitual purchases at a merchant the victims already know.
        var (usual, customers, total) = ExpectedPhysicalTraffic();
        var eligible = _world.Merchants
            .Where(m => !m.Online && !m.EverCompromised && customers[m.Index] >= TerminalMinUsualCustomers
                && usual[m.Index] >= TerminalMinUsualShare * total[m.Index])
            .Select(m => m.Index)
            .ToList();
        if (eligible.Count == 0 || targetRows <= 0)
        {
            return 0;
        }

        // Incidents are added until their expected fraud rows reach the target; the last one is kept with the
        // probability that makes the expected total exactly the target. Window starts follow a golden-ratio sequence
        // over the run (after the history tenth), so the incidents spread over its whole range, the end included.
        var perIncident = Math.Clamp(targetRows / 6, TerminalMinRowsPerIncident, TerminalMaxRowsPerIncident);
        var phase = rng.NextDouble();
        var lastStartDay = Math.Max(_firstDay, _options.Days - 4);
        var remaining = targetRows;
        var incidents = 0;
        while (remaining > 0 && eligible.Count > 0)
        {
            var days = rng.Between(TerminalMinDays, TerminalMaxDays);
            var share = rng.Uniform(TerminalMinShare, TerminalMaxShare);
            var position = (phase + incidents * 0.6180339887498949) % 1.0;
            var startDay = Math.Min(lastStartDay, _firstDay + (int)(position * (lastStartDay - _firstDay + 1)));
            var from = DayStart(startDay) + rng.NextInt((int)Catalog.MsPerDay);
            var to = Math.Min(from + days * Catalog.MsPerDay, _options.EndUnixMs);
            var windowDays = (to - from) / (double)Catalog.MsPerDay;

            // A merchant whose traffic gives about the rows aimed at: one of those within a factor of two, else the nearest.
            var wantDaily = perIncident / (windowDays * share);
            var band = eligible.Where(m => usual[m] >= wantDaily / 2 && usual[m] <= wantDaily * 2).ToList();
            var merchantIndex = band.Count > 0
                ? band[rng.NextInt(band.Count)]
                : eligible.MinBy(m => Math.Abs(Math.Log(usual[m] / wantDaily)));
            var expected = usual[merchantIndex] * windowDays * share;
            if (expected > remaining && !rng.Chance(remaining / expected))
            {
                break;
            }

            eligible.Remove(merchantIndex);
            var merchant = _world.Merchants[merchantIndex];
            merchant.TerminalFromMs = from;
            merchant.TerminalToMs = to;
            merchant.TerminalFraudShare = share;
            remaining -= expected;
            incidents++;
        }

        return incidents;
    }

    /// <summary>Expected legitimate rows per day at each physical merchant: from its usual customers (and how many they
    /// are), and in all, adding card-holders exploring shops in their home country and travellers paying locally.</summary>
    private (double[] Usual, int[] Customers, double[] Total) ExpectedPhysicalTraffic()
    {
        var merchants = _world.Merchants;
        var days = (double)_options.Days;
        var usual = new double[merchants.Length];
        var customers = new int[merchants.Length];
        var local = new double[Catalog.Countries.Length];
        foreach (var card in _world.Cards)
        {
            var tripDays = card.Trips.Sum(t => t.ToDay - t.FromDay);
            var atHome = card.Rate * Math.Max(0, 1 - tripDays / days);
            var cumulative = card.UsualCumulative;
            for (var k = 0; k < card.Usual.Length; k++)
            {
                var preference = (cumulative[k] - (k == 0 ? 0 : cumulative[k - 1])) / cumulative[^1];
                usual[card.Usual[k]] += atHome * World.UsualShare * preference;
                customers[card.Usual[k]]++;
            }

            local[card.HomeCountry] += atHome * (1 - World.UsualShare) * (1 - World.ExploreOnlineShare);
            foreach (var trip in card.Trips)
            {
                local[trip.Country] += card.Rate * 1.2 * 0.8 * (trip.ToDay - trip.FromDay) / days;
            }
        }

        var sizeByCountry = new double[Catalog.Countries.Length];
        foreach (var m in merchants.Where(m => !m.Online))
        {
            sizeByCountry[m.Country] += m.Size;
        }

        var total = new double[merchants.Length];
        foreach (var m in merchants.Where(m => !m.Online))
        {
            total[m.Index] = usual[m.Index] + local[m.Country] * m.Size / sizeByCountry[m.Country];
        }

        return (usual, customers, total);
    }

    private void LargeAmount(ref Xoshiro256 rng)
    {
        var card = NextCard(static _ => true);
        var usualCategories = card.Usual.Select(m => _world.Merchants[m].Category).ToHashSet();
        var categories = _highValueCategories.Where(c => !usualCategories.Contains(c)).ToArray();
        if (categories.Length == 0)
        {
            categories = _highValueCategories;
        }

        var abroad = rng.Chance(0.6);
        var merchant = -1;
        for (var attempt = 0; attempt < 4 && merchant < 0; attempt++)
        {
            var category = categories[rng.NextInt(categories.Length)];
            merchant = PickFresh(_world.ByCategory[category], card, [], m => abroad == (m.Country != card.HomeCountry), ref rng);
        }

        if (merchant < 0)
        {
            merchant = PickFresh(_highValueOnline, card, [], static _ => true, ref rng);
        }

        if (merchant < 0)
        {
            merchant = PickFresh(_all, card, [], static _ => true, ref rng);
        }

        var m = _world.Merchants[merchant];
        var amount = Math.Max(250, card.TypicalAmount * rng.Uniform(6, 25));
        var time = LocalTime(IncidentDay(ref rng), m.Country, Catalog.FraudHourCumulative, ref rng);
        Emit(card, FraudScenarios.LargeAmount, [(time, merchant, amount, m.Online ? Channel.Ecom : Channel.Pos)]);
    }

    private void CardTesting(ref Xoshiro256 rng)
    {
        var card = NextCard(static _ => true);
        var tests = rng.Between(2, 4);
        var used = new List<int>();
        var rows = new List<(long, int, double, Channel)>();
        var offset = 0L;
        for (var k = 0; k < tests; k++)
        {
            var merchant = PickFresh(_testing, card, used, static _ => true, ref rng);
            if (merchant < 0)
            {
                merchant = PickFresh(_world.OnlineAll, card, used, static _ => true, ref rng);
            }

            used.Add(merchant);
            var tiny = rng.Chance(0.3) ? 1.00 : rng.Uniform(0.5, 2.99);
            rows.Add((offset, merchant, tiny, Channel.Ecom));
            offset += (long)rng.Uniform(15_000, 240_000);
        }

        var big = PickFresh(_highValueOnline, card, used, static _ => true, ref rng);
        if (big < 0)
        {
            big = PickFresh(_world.OnlineAll, card, used, static _ => true, ref rng);
        }

        offset += (long)rng.Uniform(5 * 60_000, 90 * 60_000);
        rows.Add((offset, big, Math.Max(200, card.TypicalAmount * rng.Uniform(6, 20)), Channel.Ecom));

        var start = LocalTime(IncidentDay(ref rng), card.HomeCountry, Catalog.FraudHourCumulative, ref rng);
        Emit(card, FraudScenarios.CardTesting, Shift(rows, start));
    }

    private void CompromisedCard(ref Xoshiro256 rng)
    {
        // Mostly a counterfeit or stolen card used in shops (at home, or abroad where the data was sold), otherwise
        // card details emptied online; either way on goods that resell, at merchants the card never used.
        var card = NextCard(static _ => true);
        var count = rng.Between(3, 8);
        var cardPresent = rng.Chance(0.65);
        var country = rng.Chance(0.75) ? card.HomeCountry : rng.Pick(_world.FraudCountryCumulative);
        if (_burstPhysicalByCountry[country].IsEmpty)
        {
            country = card.HomeCountry;
        }

        var set = cardPresent ? _burstPhysicalByCountry[country] : _burstOnline;
        var used = new List<int>();
        var rows = new List<(long, int, double, Channel)>();
        var offset = 0L;
        for (var k = 0; k < count; k++)
        {
            var merchant = PickFresh(set, card, used, static _ => true, ref rng);
            if (merchant < 0)
            {
                merchant = PickFresh(_burst, card, used, static _ => true, ref rng);
            }

            if (merchant < 0)
            {
                merchant = PickFresh(_all, card, used, static _ => true, ref rng);
            }

            used.Add(merchant);
            var amount = Math.Max(60, card.TypicalAmount * rng.Uniform(3, 10));
            rows.Add((offset, merchant, amount, _world.Merchants[merchant].Online ? Channel.Ecom : Channel.Pos));
            offset += (long)rng.Uniform(3 * 60_000, 30 * 60_000);
        }

        var start = cardPresent
            ? LocalTime(IncidentDay(ref rng), country, Catalog.LegitHourCumulative, ref rng)
            : LocalTime(IncidentDay(ref rng), card.HomeCountry, Catalog.FraudHourCumulative, ref rng);
        Emit(card, FraudScenarios.CompromisedCard, Shift(rows, start));
    }

    private void AccountTakeover(ref Xoshiro256 rng)
    {
        // Victims shop mostly in person and regularly, so going online abroad at speed is a change from their habit
        // that their history shows.
        var card = NextCard(static c => c.OnlineShare < 0.12 && c.Rate is >= 1.2 and <= 8);

        // One foreign country for the whole takeover, one that has an online merchant new to the card.
        var country = -1;
        var first = -1;
        for (var attempt = 0; attempt < 20 && first < 0; attempt++)
        {
            country = rng.Pick(_world.FraudCountryCumulative);
            first = country == card.HomeCountry ? -1 : PickFresh(_world.OnlineByCountry[country], card, [], static _ => true, ref rng);
        }

        if (first < 0)
        {
            first = PickFresh(_world.OnlineAll, card, [], m => m.Country != card.HomeCountry, ref rng);
            first = first >= 0 ? first : PickFresh(_all, card, [], m => m.Country != card.HomeCountry, ref rng);
            country = _world.Merchants[first].Country;
        }

        var count = rng.Between(4, 8);
        var used = new List<int> { first };
        var rows = new List<(long, int, double, Channel)>();
        var offset = 0L;
        for (var k = 0; k < count; k++)
        {
            var merchant = k == 0 ? first : PickFresh(_world.OnlineByCountry[country], card, used, static _ => true, ref rng);
            if (merchant < 0)
            {
                merchant = used[rng.NextInt(used.Count)]; // a small market: buy again where it worked
            }
            else if (k > 0)
            {
                used.Add(merchant);
            }

            rows.Add((offset, merchant, card.TypicalAmount * rng.Uniform(1, 4), Channel.Ecom));
            offset += (long)rng.Uniform(2 * 60_000, 20 * 60_000);
        }

        var start = LocalTime(IncidentDay(ref rng), country, Catalog.FraudHourCumulative, ref rng);
        Emit(card, FraudScenarios.AccountTakeover, Shift(rows, start));
    }

    // --- helpers ---------------------------------------------------------------------------------------------------

    /// <summary>The next card of a seeded shuffle that qualifies, so incidents spread over distinct cards.</summary>
    private Card NextCard(Func<Card, bool> eligible)
    {
        var cards = _world.Cards;
        for (var tries = 0; tries < cards.Length; tries++)
        {
            var card = cards[_cardOrder[_cursor++ % cards.Length]];
            if (eligible(card))
            {
                return card;
            }
        }

        return cards[_cardOrder[_cursor++ % cards.Length]];
    }

    /// <summary>A merchant of <paramref name="set"/> that is not the card's usual one, not compromised, not in
    /// <paramref name="used"/> and passes <paramref name="filter"/>; -1 when none turns up.</summary>
    private int PickFresh(WeightedSet set, Card card, List<int> used, Func<Merchant, bool> filter, ref Xoshiro256 rng)
    {
        if (set.IsEmpty)
        {
            return -1;
        }

        for (var attempt = 0; attempt < 200; attempt++)
        {
            var index = set.Pick(ref rng);
            var m = _world.Merchants[index];
            if (!m.EverCompromised && !card.IsUsual(index) && !used.Contains(index) && filter(m))
            {
                return index;
            }
        }

        return -1;
    }

    private int IncidentDay(ref Xoshiro256 rng) => rng.Between(_firstDay, _options.Days - 1);

    private long DayStart(int day) => _options.StartUnixMs + day * Catalog.MsPerDay;

    private long LocalTime(int day, int country, double[] hourCumulative, ref Xoshiro256 rng)
    {
        var localMs = rng.Pick(hourCumulative) * Catalog.MsPerHour + rng.NextInt((int)Catalog.MsPerHour);
        var utcMs = localMs - Catalog.Countries[country].UtcOffsetMinutes * 60_000L;
        return DayStart(day) + ((utcMs % Catalog.MsPerDay) + Catalog.MsPerDay) % Catalog.MsPerDay;
    }

    /// <summary>Places an incident's relative offsets at <paramref name="start"/>, moved earlier if it would run past
    /// the end of the simulation.</summary>
    private List<(long, int, double, Channel)> Shift(List<(long Offset, int Merchant, double Amount, Channel Channel)> rows, long start)
    {
        var span = rows[^1].Offset;
        if (start + span >= _options.EndUnixMs)
        {
            start = _options.EndUnixMs - 1 - span;
        }

        start = Math.Max(start, _options.StartUnixMs);
        return rows.Select(r => (start + r.Offset, r.Merchant, r.Amount, r.Channel)).ToList();
    }

    private void Emit(Card card, string scenario, List<(long Time, int Merchant, double Amount, Channel Channel)> rows)
    {
        if (!_avoid.TryGetValue(card.Index, out var avoid))
        {
            _avoid[card.Index] = avoid = [];
        }

        var code = FraudScenarios.Code(scenario);
        for (var k = 0; k < rows.Count; k++)
        {
            var (time, merchant, amount, channel) = rows[k];
            avoid.Add(merchant);
            _rows.Add(new Row
            {
                TimeMs = time,
                Card = card.Index,
                Merchant = merchant,
                Amount = Catalog.Cents(amount),
                Channel = channel,
                Scenario = code,
                Seq = (ushort)(1000 + _rows.Count % 60000),
            });
        }
    }
}
