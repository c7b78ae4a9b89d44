using StreamFraud.Core;
using StreamFraud.Core.Data;
using StreamFraud.Core.Labels;
using StreamFraud.Sim.Generation;

namespace StreamFraud.Sim.Tests;

/// <summary>
/// One medium run (3,000 cards × 30 days, default fraud rates, about 160k rows) written to canonical CSV and read
/// back, with its labels through the labels CSV, so the tests judge the data exactly as the trainer will see it, not the
/// simulator's internals.
/// </summary>
public sealed class MediumRunFixture
{
    public MediumRunFixture()
    {
        Options = new SimulationOptions { Cards = 3000, Days = 30, Seed = 7 };
        var stream = new MemoryStream();
        CanonicalCsv.Write(stream, new TransactionSimulator(Options).Generate());
        CsvBytes = stream.ToArray();
        stream.Position = 0;
        Rows = CanonicalCsv.Read(stream).ToList();
        ByCard = Rows.GroupBy(r => r.CardId).ToDictionary(g => g.Key, g => g.ToList());

        // The labels of the same run, through the labels CSV as the generator writes them.
        var labels = new LabelSimulator(Options.Seed);
        foreach (var row in Rows)
        {
            labels.Observe(row);
        }

        LabelSummary = labels.Summary;
        var labelStream = new MemoryStream();
        LabelCsv.Write(labelStream, labels.TakeAll());
        labelStream.Position = 0;
        Labels = LabelCsv.Read(labelStream).ToList();
    }

    public SimulationOptions Options { get; }

    public byte[] CsvBytes { get; }

    public IReadOnlyList<Transaction> Rows { get; }

    /// <summary>The run's labels, read back from the labels CSV.</summary>
    public IReadOnlyList<TransactionLabel> Labels { get; }

    public LabelSummary LabelSummary { get; }

    /// <summary>Each card's rows in event order.</summary>
    public IReadOnlyDictionary<string, List<Transaction>> ByCard { get; }

    public IEnumerable<IGrouping<string, Transaction>> FraudByCard(string scenario) =>
        Rows.Where(r => r.FraudScenario == scenario).GroupBy(r => r.CardId);

    public List<Transaction> Legit(string card) => ByCard[card].Where(r => r.IsFraud == false).ToList();

    /// <summary>The value that occurs most often (ties: ordinal first).</summary>
    public static string Mode(IEnumerable<string?> values) =>
        values.GroupBy(v => v ?? "").OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).First().Key;

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN
            : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2]
            : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    /// <summary>Whether the card used <paramref name="merchant"/> in any row before <paramref name="row"/>.</summary>
    public bool UsedBefore(Transaction row, string merchant)
    {
        foreach (var r in ByCard[row.CardId])
        {
            if (ReferenceEquals(r, row))
            {
                return false;
            }

            if (r.MerchantId == merchant)
            {
                return true;
            }
        }

        throw new InvalidOperationException("row not found in its card's history");
    }
}
