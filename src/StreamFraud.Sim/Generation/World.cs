using StreamFraud.Core;

namespace StreamFraud.Sim.Generation;

/// <summary>A merchant of the simulated world.</summary>
internal sealed class Merchant
{
    public required int Index { get; init; }
    public required string Id { get; init; }
    public required int Country { get; init; }
    public required int Category { get; init; }
    public required bool Online { get; init; }

    /// <summary>Relative customer traffic (lognormal; a few large merchants take most of it).</summary>
    public required double Size { get; init; }

    /// <summary>Start of the compromise window (Unix ms); <see cref="long.MaxValue"/> when never compromised.</summary>
    public long CompromisedFromMs { get; set; } = long.MaxValue;

    /// <summary>End (exclusive) of the compromise window.</summary>
    public long CompromisedToMs { get; set; } = long.MinValue;

    public bool IsCompromisedAt(long timeMs) => timeMs >= CompromisedFromMs && timeMs < CompromisedToMs;

    public bool EverCompromised => CompromisedFromMs != long.MaxValue;

    /// <summary>Start of the terminal compromise (Unix ms); <see cref="long.MaxValue"/> when never compromised.</summary>
    public long TerminalFromMs { get; set; } = long.MaxValue;

    /// <summary>End (exclusive) of the terminal compromise.</summary>
    public long TerminalToMs { get; set; } = long.MinValue;

    /// <summary>Share of the transactions at the terminal inside its compromise that are fraud.</summary>
    public double TerminalFraudShare { get; set; }

    public bool IsTerminalCompromisedAt(long timeMs) => timeMs >= TerminalFromMs && timeMs < TerminalToMs;

    public bool EverTerminalCompromised => TerminalFromMs != long.MaxValue;
}

/// <summary>A trip abroad: days [<see cref="FromDay"/>, <see cref="ToDay"/>) spent in <see cref="Country"/>.</summary>
internal readonly record struct Trip(int FromDay, int ToDay, int Country);

/// <summary>A card and its spending profile.</summary>
internal sealed class Card
{
    public required int Index { get; init; }
    public required string Id { get; init; }
    public required int HomeCountry { get; init; }

    /// <summary>Multiplier of every category's typical ticket (lognormal around 1).</summary>
    public required double Scale { get; init; }

    /// <summary>Multiplier of every category's log-spread.</summary>
    public required double Spread { get; init; }

    /// <summary>Mean legitimate transactions per day (before weekday and travel factors).</summary>
    public required double Rate { get; init; }

    /// <summary>Hours the card-holder's day is shifted (early bird or night owl).</summary>
    public required int ChronoShiftHours { get; init; }

    /// <summary>Propensity to tap rather than insert for small card-present payments.</summary>
    public required double Contactless { get; init; }

    /// <summary>The card's usual merchants and cumulative preference weights.</summary>
    public required int[] Usual { get; init; }

    public required double[] UsualCumulative { get; init; }

    /// <summary>Expected share of legitimate transactions at online merchants.</summary>
    public required double OnlineShare { get; init; }

    public required Trip[] Trips { get; init; }

    /// <summary>Merchants of fraud planned on this card; legitimate exploration avoids them so they stay new.</summary>
    public int[] Avoid { get; set; } = [];

    /// <summary>The card's typical ticket, the reference for inflated fraud amounts.</summary>
    public double TypicalAmount => 40 * Scale;

    public int TripCountryOn(int day)
    {
        foreach (var trip in Trips)
        {
            if (day >= trip.FromDay && day < trip.ToDay)
            {
                return trip.Country;
            }
        }

        return -1;
    }

    public bool IsUsual(int merchant) => Array.IndexOf(Usual, merchant) >= 0;

    public bool Avoids(int merchant) => Avoid.Length > 0 && Array.IndexOf(Avoid, merchant) >= 0;
}

/// <summary>Items with weights, sampled by binary search over cumulative weights.</summary>
internal sealed class WeightedSet
{
    public static readonly WeightedSet Empty = new([], []);

    private WeightedSet(int[] items, double[] cumulative)
    {
        Items = items;
        Cumulative = cumulative;
    }

    public int[] Items { get; }

    public double[] Cumulative { get; }

    public bool IsEmpty => Items.Length == 0;

    public static WeightedSet Of(IEnumerable<int> items, Func<int, double> weight)
    {
        var list = items.ToArray();
        return list.Length == 0 ? Empty : new WeightedSet(list, Catalog.Cumulative(list.Select(weight).ToArray()));
    }

    public int Pick(ref Xoshiro256 rng) => Items[rng.Pick(Cumulative)];
}

/// <summary>The merchants and cards of one simulation and the indexes the generator samples from.</summary>
internal sealed class World
{
    public World(SimulationOptions options)
    {
        Options = options;
        Merchants = BuildMerchants(options);
        var countries = Catalog.Countries.Length;
        PhysicalByCountry = new WeightedSet[countries];
        OnlineByCountry = new WeightedSet[countries];
        for (var c = 0; c < countries; c++)
        {
            var country = c;
            PhysicalByCountry[c] = WeightedSet.Of(
                Merchants.Where(m => m.Country == country && !m.Online).Select(m => m.Index), Size);
            OnlineByCountry[c] = WeightedSet.Of(
                Merchants.Where(m => m.Country == country && m.Online).Select(m => m.Index), Size);
        }

        OnlineAll = WeightedSet.Of(Merchants.Where(m => m.Online).Select(m => m.Index), Size);
        ByCategory = Enumerable.Range(0, Catalog.Categories.Length)
            .Select(cat => WeightedSet.Of(Merchants.Where(m => m.Category == cat).Select(m => m.Index), Size))
            .ToArray();

        HomeCountryCumulative = Catalog.Cumulative(Catalog.Countries.Select(c => c.HomeWeight).ToArray());
        TravelCountryCumulative = Catalog.Cumulative(Catalog.Countries.Select(c => c.TravelWeight).ToArray());
        FraudCountryCumulative = Catalog.Cumulative(Catalog.Countries.Select(c => c.FraudWeight).ToArray());
        Cards = BuildCards(options);
    }

    public SimulationOptions Options { get; }
    public Merchant[] Merchants { get; }
    public Card[] Cards { get; }
    public WeightedSet[] PhysicalByCountry { get; }
    public WeightedSet[] OnlineByCountry { get; }
    public WeightedSet OnlineAll { get; }
    public WeightedSet[] ByCategory { get; }
    public double[] HomeCountryCumulative { get; }
    public double[] TravelCountryCumulative { get; }
    public double[] FraudCountryCumulative { get; }

    private double Size(int merchant) => Merchants[merchant].Size;

    private static Merchant[] BuildMerchants(SimulationOptions options)
    {
        var count = options.ResolvedMerchants;
        var countries = Catalog.Countries;
        var categories = Catalog.Categories;

        // Merchants sit where card-holders live (82%), travel (12%) and where fraud comes from (6%).
        var homeTotal = countries.Sum(c => c.HomeWeight);
        var travelTotal = countries.Sum(c => c.TravelWeight);
        var fraudTotal = countries.Sum(c => c.FraudWeight);
        var countryCumulative = Catalog.Cumulative(countries
            .Select(c => 0.82 * c.HomeWeight / homeTotal + 0.12 * c.TravelWeight / travelTotal + 0.06 * c.FraudWeight / fraudTotal)
            .ToArray());
        var physicalCategories = Enumerable.Range(0, categories.Length).Where(i => categories[i].Kind != MerchantKind.Online).ToArray();
        var onlineCategories = Enumerable.Range(0, categories.Length).Where(i => categories[i].Kind != MerchantKind.Physical).ToArray();
        var allCumulative = Catalog.Cumulative(categories.Select(c => c.Share).ToArray());
        var physicalCumulative = Catalog.Cumulative(physicalCategories.Select(i => categories[i].Share).ToArray());
        var onlineCumulative = Catalog.Cumulative(onlineCategories.Select(i => categories[i].Share).ToArray());

        var merchants = new Merchant[count];
        var digits = Math.Max(6, (count - 1).ToString(System.Globalization.CultureInfo.InvariantCulture).Length);
        for (var i = 0; i < count; i++)
        {
            var rng = Xoshiro256.For(options.Seed, Purpose.Merchant, (ulong)i);
            int country, category;
            bool online;
            if (i < 2 * countries.Length)
            {
                // Seed every country with one physical and one online merchant so that every trip, fraud origin and
                // home country has somewhere to pay.
                country = i / 2;
                online = i % 2 == 1;
                category = online ? onlineCategories[rng.Pick(onlineCumulative)] : physicalCategories[rng.Pick(physicalCumulative)];
            }
            else
            {
                country = rng.Pick(countryCumulative);
                category = rng.Pick(allCumulative);
                online = categories[category].Kind switch
                {
                    MerchantKind.Online => true,
                    MerchantKind.Physical => false,
                    _ => rng.Chance(0.4),
                };
            }

            merchants[i] = new Merchant
            {
                Index = i,
                Id = "M" + i.ToString("D" + digits, System.Globalization.CultureInfo.InvariantCulture),
                Country = country,
                Category = category,
                Online = online,
                Size = rng.LogNormal(1.0, 1.2),
            };
        }

        return merchants;
    }

    private Card[] BuildCards(SimulationOptions options)
    {
        var cards = new Card[options.Cards];
        var digits = Math.Max(7, (options.Cards - 1).ToString(System.Globalization.CultureInfo.InvariantCulture).Length);
        const double rateSigma = 0.6;
        var rateMedian = options.TransactionsPerCardPerDay / Math.Exp(rateSigma * rateSigma / 2); // mean = requested
        Span<int> picked = stackalloc int[24];
        var preference = new List<double>(24);
        for (var i = 0; i < cards.Length; i++)
        {
            var rng = Xoshiro256.For(options.Seed, Purpose.Card, (ulong)i);
            var home = rng.Pick(HomeCountryCumulative);

            // Usual merchants: 3-12 shops near home and 1-4 online merchants, bigger ones more likely; the first picked
            // is preferred most (Zipf-like), and an online-affinity factor makes some card-holders mostly shop online.
            var physicalCount = rng.Between(3, 12);
            var onlineCount = rng.Between(1, 4);
            var n = 0;
            var onlineAffinity = rng.LogNormal(0.9, 0.8);
            preference.Clear();
            for (var k = 0; k < physicalCount + onlineCount; k++)
            {
                var online = k >= physicalCount;
                var set = online
                    ? (rng.Chance(0.7) && !OnlineByCountry[home].IsEmpty ? OnlineByCountry[home] : OnlineAll)
                    : PhysicalByCountry[home];
                for (var attempt = 0; attempt < 8; attempt++)
                {
                    var m = set.Pick(ref rng);
                    if (!picked[..n].Contains(m))
                    {
                        picked[n++] = m;
                        preference.Add(Math.Pow(preference.Count + 1, -0.8) * (online ? onlineAffinity : 1.0));
                        break;
                    }
                }
            }

            var usual = picked[..n].ToArray();
            var prefs = preference.ToArray();
            var onlinePreference = 0.0;
            for (var k = 0; k < usual.Length; k++)
            {
                onlinePreference += Merchants[usual[k]].Online ? prefs[k] : 0;
            }

            var onlineShare = UsualShare * onlinePreference / prefs.Sum() + (1 - UsualShare) * ExploreOnlineShare;

            var trips = new List<Trip>();
            var tripCount = rng.Poisson(options.Days * 0.01 * rng.LogNormal(1, 0.8));
            for (var t = 0; t < tripCount; t++)
            {
                var from = rng.NextInt(options.Days);
                var length = rng.Between(2, 9);
                var country = rng.Pick(TravelCountryCumulative);
                if (country != home && !PhysicalByCountry[country].IsEmpty)
                {
                    trips.Add(new Trip(from, Math.Min(options.Days, from + length), country));
                }
            }

            cards[i] = new Card
            {
                Index = i,
                Id = "C" + i.ToString("D" + digits, System.Globalization.CultureInfo.InvariantCulture),
                HomeCountry = home,
                Scale = rng.LogNormal(1.0, 0.45),
                Spread = rng.Uniform(0.8, 1.2),
                Rate = Math.Clamp(rng.LogNormal(rateMedian, rateSigma), 0.03, 40),
                ChronoShiftHours = rng.Between(-2, 2),
                Contactless = rng.Uniform(0.2, 0.95),
                Usual = usual,
                UsualCumulative = Catalog.Cumulative(prefs),
                OnlineShare = onlineShare,
                Trips = trips.ToArray(),
            };
        }

        return cards;
    }

    /// <summary>Share of legitimate transactions at home that go to a usual merchant (the rest explore).</summary>
    public const double UsualShare = 0.82;

    /// <summary>Share of exploring transactions that go to an online merchant.</summary>
    public const double ExploreOnlineShare = 0.35;
}

/// <summary>Stream tags of <see cref="Xoshiro256.For"/>: every purpose draws from its own sequence.</summary>
internal static class Purpose
{
    public const ulong Merchant = 1;
    public const ulong Card = 2;
    public const ulong Legit = 3;
    public const ulong Fraud = 4;
    public const ulong Terminal = 5;
    public const ulong Label = 6;
}
