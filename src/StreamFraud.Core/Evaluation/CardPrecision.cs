using System.Diagnostics.CodeAnalysis;

namespace StreamFraud.Core.Evaluation;

/// <summary>
/// Card precision@k per day: how many of the cards an investigation team would review each day (the k highest-scored
/// cards) are really compromised, averaged over days.
/// </summary>
/// <remarks>
/// <para>Definition, per UTC calendar day of <c>event_time</c>:</para>
/// <list type="number">
/// <item>a card's score is the maximum score of its events that day, and it is a fraud card when any of its events
/// that day is labelled fraud;</item>
/// <item>cards are ranked by that score, highest first; equal scores are ordered by card id (ordinal), so the result is
/// deterministic;</item>
/// <item>the day's precision is the fraud cards among the top <c>k_d = min(k, cards active that day)</c> divided by
/// <c>k_d</c> (a quiet day with fewer than k cards is not penalised for the reviews it could not fill).</item>
/// </list>
/// <para>The result is the unweighted mean over days that have events; days with no fraud count as 0.</para>
/// <para>
/// Cost: one O(n log n) sort of the events by (day, card), then one sort per day of that day's cards.
/// </para>
/// </remarks>
public static class CardPrecision
{
    /// <summary>The k the reports use (<c>card_precision_at_100</c>).</summary>
    public const int DefaultK = 100;

    private const long MsPerDay = 86_400_000;
    private static readonly int UnixEpochDayNumber = DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber;

    /// <summary>Card precision@k per day for double scores.</summary>
    /// <param name="scores">Per event, the model score (finite).</param>
    /// <param name="labels">Per event, <see langword="true"/> = fraud.</param>
    /// <param name="cardIds">Per event, the card id.</param>
    /// <param name="eventTimesMs">Per event, event time in Unix epoch milliseconds (UTC).</param>
    /// <param name="k">Cards reviewed per day; at least 1.</param>
    /// <returns>The mean and the per-day breakdown; with no events, a mean of NaN and no days.</returns>
    /// <exception cref="ArgumentException">The spans differ in length, a score is not finite, or a card id is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is less than 1.</exception>
    public static CardPrecisionResult AtK(
        ReadOnlySpan<double> scores,
        ReadOnlySpan<bool> labels,
        ReadOnlySpan<string> cardIds,
        ReadOnlySpan<long> eventTimesMs,
        int k = DefaultK) =>
        Compute(scores.ToArray(), labels, cardIds, eventTimesMs, k);

    /// <summary>Card precision@k per day for float scores (see the double overload).</summary>
    /// <exception cref="ArgumentException">The spans differ in length, a score is not finite, or a card id is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="k"/> is less than 1.</exception>
    public static CardPrecisionResult AtK(
        ReadOnlySpan<float> scores,
        ReadOnlySpan<bool> labels,
        ReadOnlySpan<string> cardIds,
        ReadOnlySpan<long> eventTimesMs,
        int k = DefaultK)
    {
        var copy = new double[scores.Length];
        for (var i = 0; i < copy.Length; i++)
        {
            copy[i] = scores[i];
        }

        return Compute(copy, labels, cardIds, eventTimesMs, k);
    }

    /// <summary>The UTC calendar day (days since 1970-01-01) of a Unix-millisecond time; floor division, so before 1970 works too.</summary>
    public static long UtcDay(long unixMs) => Math.DivRem(unixMs, MsPerDay, out var rem) - (rem < 0 ? 1 : 0);

    private static CardPrecisionResult Compute(
        double[] scores,
        ReadOnlySpan<bool> labels,
        ReadOnlySpan<string> cardIds,
        ReadOnlySpan<long> eventTimesMs,
        int k)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        var n = scores.Length;
        if (labels.Length != n || cardIds.Length != n || eventTimesMs.Length != n)
        {
            throw new ArgumentException(
                $"scores ({n}), labels ({labels.Length}), card ids ({cardIds.Length}) and event times ({eventTimesMs.Length}) must have the same length");
        }

        for (var i = 0; i < n; i++)
        {
            if (!double.IsFinite(scores[i]))
            {
                ThrowInvalid($"score {i} is {scores[i]}; scores must be finite");
            }
        }

        if (n == 0)
        {
            return new CardPrecisionResult(k, double.NaN, []);
        }

        // Dense card ranks in ordinal id order, so comparing ranks compares ids.
        var cardRank = RankCards(cardIds, out var cardCount);

        // Dense day indices in calendar order (few distinct days: hash them, sort the distinct ones).
        var dayOf = new int[n];
        var dayIndex = new Dictionary<long, int>();
        for (var i = 0; i < n; i++)
        {
            var day = UtcDay(eventTimesMs[i]);
            if (!dayIndex.TryGetValue(day, out var d))
            {
                d = dayIndex.Count;
                dayIndex.Add(day, d);
            }

            dayOf[i] = d;
        }

        var dayCount = dayIndex.Count;
        var distinctDays = new long[dayCount];
        var provisionalDay = new int[dayCount];
        foreach (var (day, d) in dayIndex)
        {
            distinctDays[d] = day;
            provisionalDay[d] = d;
        }

        Array.Sort(distinctDays, provisionalDay);
        var denseDay = new int[dayCount];
        for (var r = 0; r < dayCount; r++)
        {
            denseDay[provisionalDay[r]] = r;
        }

        // Sort events by (day, card): key = dayIndex * cardCount + rank < n², no overflow for n < 2^31.
        var keys = new long[n];
        var order = new int[n];
        for (var i = 0; i < n; i++)
        {
            keys[i] = ((long)denseDay[dayOf[i]] * cardCount) + cardRank[i];
            order[i] = i;
        }

        Array.Sort(keys, order);

        var perDay = new List<DailyCardPrecision>(dayCount);

        // The day's k best cards in a heap whose root is the worst kept: O(cards · log k) instead of sorting the day.
        var top = new PriorityQueue<CardDay, CardDay>(Math.Min(k, n) + 1, WorseFirst.Instance);
        var cardsToday = 0;
        var sum = 0.0;
        for (var i = 0; i < n;)
        {
            var day = keys[i] / cardCount;

            // One (day, card) group: max score, any fraud.
            var key = keys[i];
            var e = order[i];
            var best = scores[e];
            var fraud = labels[e];
            for (i++; i < n && keys[i] == key; i++)
            {
                e = order[i];
                best = Math.Max(best, scores[e]);
                fraud |= labels[e];
            }

            var card = new CardDay(best, (int)(key % cardCount), fraud);
            cardsToday++;
            if (top.Count < k)
            {
                top.Enqueue(card, card);
            }
            else if (WorseFirst.Instance.Compare(top.Peek(), card) < 0)
            {
                top.EnqueueDequeue(card, card);
            }

            if (i == n || keys[i] / cardCount != day)
            {
                var reviewed = top.Count;
                var frauds = 0;
                foreach (var (kept, _) in top.UnorderedItems)
                {
                    if (kept.Fraud)
                    {
                        frauds++;
                    }
                }

                var precision = (double)frauds / reviewed;
                sum += precision;
                var date = DateOnly.FromDayNumber(UnixEpochDayNumber + checked((int)distinctDays[(int)day]));
                perDay.Add(new DailyCardPrecision(date, cardsToday, reviewed, frauds, precision));
                top.Clear();
                cardsToday = 0;
            }
        }

        return new CardPrecisionResult(k, sum / perDay.Count, perDay);
    }

    private static int[] RankCards(ReadOnlySpan<string> cardIds, out int cardCount)
    {
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        var provisional = new int[cardIds.Length];
        for (var i = 0; i < cardIds.Length; i++)
        {
            var id = cardIds[i];
            if (id is null)
            {
                ThrowInvalid($"card id {i} is null");
            }

            if (!ids.TryGetValue(id, out var p))
            {
                p = ids.Count;
                ids.Add(id, p);
            }

            provisional[i] = p;
        }

        var names = new string[ids.Count];
        var provisionalOfName = new int[ids.Count];
        foreach (var (name, p) in ids)
        {
            names[p] = name;
            provisionalOfName[p] = p;
        }

        Array.Sort(names, provisionalOfName, StringComparer.Ordinal);
        var rankOfProvisional = new int[ids.Count];
        for (var r = 0; r < provisionalOfName.Length; r++)
        {
            rankOfProvisional[provisionalOfName[r]] = r;
        }

        for (var i = 0; i < provisional.Length; i++)
        {
            provisional[i] = rankOfProvisional[provisional[i]];
        }

        cardCount = ids.Count;
        return provisional;
    }

    [DoesNotReturn]
    private static void ThrowInvalid(string message) => throw new ArgumentException(message);

    private readonly record struct CardDay(double Score, int Rank, bool Fraud);

    /// <summary>Orders cards worst first: lower score, then (equal scores) the larger card id.</summary>
    private sealed class WorseFirst : IComparer<CardDay>
    {
        public static readonly WorseFirst Instance = new();

        public int Compare(CardDay a, CardDay b) =>
            a.Score != b.Score ? a.Score.CompareTo(b.Score) : b.Rank.CompareTo(a.Rank);
    }
}

/// <summary>Card precision@k averaged over days, with the per-day figures.</summary>
/// <param name="K">Cards reviewed per day.</param>
/// <param name="Mean">Unweighted mean of the daily precisions; NaN when there were no events.</param>
/// <param name="Days">One entry per UTC day with events, in date order.</param>
public sealed record CardPrecisionResult(int K, double Mean, IReadOnlyList<DailyCardPrecision> Days);

/// <summary>One day of card precision@k.</summary>
/// <param name="Day">UTC calendar day.</param>
/// <param name="Cards">Distinct cards with events that day.</param>
/// <param name="Reviewed"><c>min(k, Cards)</c>: the cards ranked highest, the denominator.</param>
/// <param name="FraudCards">Fraud cards among the reviewed ones.</param>
/// <param name="Precision"><c>FraudCards / Reviewed</c>.</param>
public readonly record struct DailyCardPrecision(DateOnly Day, int Cards, int Reviewed, int FraudCards, double Precision);
