namespace StreamFraud.Sim.Generation;

/// <summary>
/// Names (the <c>fraud_scenario</c> column) and default rates of the simulated fraud scenarios. A rate is the expected
/// share of all generated rows that are fraud of that scenario; the defaults add up to 0.61%.
/// </summary>
public static class FraudScenarios
{
    /// <summary>One transaction far above the card's usual amount at a high-value MCC it never uses, often abroad.
    /// Visible in a single transaction.</summary>
    public const string LargeAmount = "large_amount";

    /// <summary>A small online merchant whose every transaction is fraudulent for 2–5 days. Visible in a single
    /// transaction through the merchant.</summary>
    public const string CompromisedMerchant = "compromised_merchant";

    /// <summary>A stolen or counterfeit card emptied in a burst of 3–8 inflated purchases at merchants new to it
    /// within a few hours. Visible mainly in the sequence.</summary>
    public const string CompromisedCard = "compromised_card";

    /// <summary>2–4 tiny online amounts at merchants new to the card within minutes, then one large purchase. Visible
    /// only in the sequence.</summary>
    public const string CardTesting = "card_testing";

    /// <summary>Sudden switch to online purchases from a foreign country at high velocity (4–8 within about two hours)
    /// with ordinary amounts. Visible in the sequence.</summary>
    public const string AccountTakeover = "account_takeover";

    /// <summary>An ordinary physical merchant that the portfolio's cards already shop at is compromised for 7–21 days:
    /// most (60–100%) of the card-holders' own habitual purchases there are fraud. Ordinary amounts, times, channels and
    /// merchants: visible only in the merchant's label history.</summary>
    public const string CompromisedTerminal = "compromised_terminal";

    /// <summary>All scenario names in a fixed order (the order of the summary and of planning).</summary>
    public static IReadOnlyList<string> All { get; } =
        [LargeAmount, CompromisedMerchant, CompromisedCard, CardTesting, AccountTakeover, CompromisedTerminal];

    /// <summary>Default share of all rows per scenario (total 0.61%).</summary>
    public static IReadOnlyDictionary<string, double> DefaultRates { get; } = new Dictionary<string, double>
    {
        [LargeAmount] = 0.0010,
        [CompromisedMerchant] = 0.0015,
        [CompromisedCard] = 0.0012,
        [CardTesting] = 0.0010,
        [AccountTakeover] = 0.0010,
        [CompromisedTerminal] = 0.0004,
    };

    /// <summary>The code of a scenario name (1-based position in <see cref="All"/>), 0 when unknown.</summary>
    internal static byte Code(string name)
    {
        for (var i = 0; i < All.Count; i++)
        {
            if (All[i] == name)
            {
                return (byte)(i + 1);
            }
        }

        return 0;
    }

    /// <summary>The name of a scenario code, <see langword="null"/> for 0 (legitimate).</summary>
    internal static string? Name(byte code) => code == 0 ? null : All[code - 1];
}
