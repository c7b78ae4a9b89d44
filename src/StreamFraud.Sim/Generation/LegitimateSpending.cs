using StreamFraud.Core;

namespace StreamFraud.Sim.Generation;

/// <summary>
/// A card-holder's own transactions for one day: a Poisson count around the card's rate (weekday-adjusted), local
/// times from the diurnal curve, mostly at usual merchants, lognormal amounts around the card's scale of each
/// category's typical ticket, card-present channels by the card's contactless habit, and trips abroad.
/// </summary>
internal static class LegitimateSpending
{
    public static void Generate(World world, Card card, int day, List<Row> output)
    {
        var options = world.Options;
        var rng = Xoshiro256.For(options.Seed, Purpose.Legit, (ulong)card.Index, (ulong)day);
        var dayStart = options.StartUnixMs + day * Catalog.MsPerDay;
        var weekday = Catalog.Weekday(dayStart / Catalog.MsPerDay);
        var trip = card.Trips.Length == 0 ? -1 : card.TripCountryOn(day);
        var lambda = card.Rate * Catalog.WeekdayFactors[weekday] * (trip >= 0 ? 1.2 : 1.0);
        var count = rng.Poisson(lambda);
        if (count == 0)
        {
            return;
        }

        var localCountry = trip >= 0 ? trip : card.HomeCountry;
        var offsetMs = Catalog.Countries[localCountry].UtcOffsetMinutes * 60_000L;
        var merchants = world.Merchants;
        for (var k = 0; k < count; k++)
        {
            // Local hour from the diurnal curve, shifted by the card-holder's habits; wrapping by whole days keeps the
            // local hour right at the cost of a few rows near midnight landing on the neighbouring weekday.
            var hour = (rng.Pick(Catalog.LegitHourCumulative) + card.ChronoShiftHours + 24) % 24;
            var localMs = hour * Catalog.MsPerHour + rng.NextInt((int)Catalog.MsPerHour);
            var utcMs = ((localMs - offsetMs) % Catalog.MsPerDay + Catalog.MsPerDay) % Catalog.MsPerDay;

            var merchantIndex = PickMerchant(world, card, trip, ref rng);
            var merchant = merchants[merchantIndex];
            var category = Catalog.Categories[merchant.Category];

            var amount = rng.LogNormal(category.MedianAmount * card.Scale, category.Sigma * card.Spread);
            Channel channel;
            if ((category.Role & CategoryRole.Atm) != 0)
            {
                amount = Math.Clamp(Math.Round(amount / 20) * 20, 20, 1000); // cash comes in notes
                channel = Channel.Atm;
            }
            else
            {
                if (rng.Chance(0.004))
                {
                    amount *= rng.Uniform(3, 8); // the occasional legitimate big-ticket purchase
                }

                channel = merchant.Online ? Channel.Ecom
                    : amount <= 50 && rng.Chance(card.Contactless * category.ContactlessAffinity) ? Channel.Contactless
                    : Channel.Pos;
            }

            var time = dayStart + utcMs;
            output.Add(new Row
            {
                TimeMs = time,
                Card = card.Index,
                Merchant = merchantIndex,
                Amount = Catalog.Cents(amount),
                Channel = channel,
                Scenario = merchant.IsCompromisedAt(time) ? CompromisedMerchantCode
                    : merchant.IsTerminalCompromisedAt(time) && card.IsUsual(merchantIndex) && TerminalDraw(options.Seed, card.Index, day, k) < merchant.TerminalFraudShare ? CompromisedTerminalCode
                    : (byte)0,
                Seq = (ushort)k,
            });
        }
    }

    private static readonly byte CompromisedMerchantCode = FraudScenarios.Code(FraudScenarios.CompromisedMerchant);
    private static readonly byte CompromisedTerminalCode = FraudScenarios.Code(FraudScenarios.CompromisedTerminal);

    // At a compromised terminal, a regular customer's purchase is fraud with the incident's share. The draw comes from a
    // hash of the purchase, not from the card-day's stream, so compromising a terminal changes labels only, never rows.
    private static double TerminalDraw(ulong seed, int card, int day, int k) =>
        (Xoshiro256.Combine(seed ^ Xoshiro256.Mix(Purpose.Terminal), (ulong)card, (ulong)day, (ulong)k) >> 11) * (1.0 / (1UL << 53));

    private static int PickMerchant(World world, Card card, int trip, ref Xoshiro256 rng)
    {
        if (trip >= 0)
        {
            // Abroad: local shops mostly, the usual online services now and then.
            if (rng.Chance(0.2) && TryPickUsualOnline(world, card, ref rng, out var online))
            {
                return online;
            }

            for (var attempt = 0; attempt < 6; attempt++)
            {
                var local = world.PhysicalByCountry[trip].Pick(ref rng);
                if (!card.Avoids(local))
                {
                    return local;
                }
            }

            return card.Usual[rng.Pick(card.UsualCumulative)];
        }

        if (!rng.Chance(World.UsualShare))
        {
            // Exploring: another shop near home or any online merchant, never one planned for fraud on this card.
            for (var attempt = 0; attempt < 4; attempt++)
            {
                var set = rng.Chance(World.ExploreOnlineShare) ? world.OnlineAll : world.PhysicalByCountry[card.HomeCountry];
                var m = set.Pick(ref rng);
                if (!card.Avoids(m))
                {
                    return m;
                }
            }
        }

        return card.Usual[rng.Pick(card.UsualCumulative)];
    }

    private static bool TryPickUsualOnline(World world, Card card, ref Xoshiro256 rng, out int merchant)
    {
        for (var attempt = 0; attempt < 6; attempt++)
        {
            merchant = card.Usual[rng.Pick(card.UsualCumulative)];
            if (world.Merchants[merchant].Online)
            {
                return true;
            }
        }

        merchant = -1;
        return false;
    }
}
