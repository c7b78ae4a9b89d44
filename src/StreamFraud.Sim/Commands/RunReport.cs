using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;
using StreamFraud.Core.Data;
using StreamFraud.Core.Labels;
using StreamFraud.Sim.Generation;

namespace StreamFraud.Sim.Commands;

/// <summary>The summary printed after a run: rows, cards, merchants, days, frauds per scenario, elapsed time and rate,
/// and the labels' summary when labels were made.</summary>
/// <param name="Simulator">The simulator that ran (configured populations, planned incidents, rates).</param>
/// <param name="Summary">What was actually produced.</param>
/// <param name="Elapsed">Wall time including world building and writing.</param>
/// <param name="Destination">Where the rows went, for the headline.</param>
public sealed record RunReport(TransactionSimulator Simulator, RunSummary Summary, TimeSpan Elapsed, string Destination)
{
    /// <summary>The labels made for the run, when any were.</summary>
    public LabelSummary? Labels { get; init; }

    /// <summary>Where the labels went, for the labels line.</summary>
    public string? LabelsDestination { get; init; }

    /// <summary>Rows per second over <see cref="Elapsed"/>.</summary>
    public double RowsPerSecond => Summary.Rows / Math.Max(Elapsed.TotalSeconds, 1e-9);

    /// <summary>Prints the report.</summary>
    public void Write(IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(console);
        var s = Summary;
        var o = Simulator.Options;
        var inv = CultureInfo.InvariantCulture;
        console.MarkupLine(string.Create(inv,
            $"[bold]{s.Rows:N0} rows[/] in {Elapsed.TotalSeconds:0.00} s — [bold]rate: {RowsPerSecond:N0} rows/s[/] → {Markup.Escape(Destination)}"));

        var table = new Table().Border(TableBorder.Rounded).HideHeaders().AddColumn("what").AddColumn("value");
        table.AddRow("rows", s.Rows.ToString("N0", inv));
        table.AddRow("cards", string.Create(inv, $"{Simulator.CardCount:N0} ({s.Cards:N0} with transactions)"));
        table.AddRow("merchants", string.Create(inv, $"{Simulator.MerchantCount:N0} ({s.Merchants:N0} with transactions)"));
        table.AddRow("days", string.Create(inv, $"{o.Days} ({FormatDay(s.FirstEventMs)} .. {FormatDay(s.LastEventMs)} UTC)"));
        table.AddRow("frauds", string.Create(inv, $"{s.Frauds:N0} ({s.FraudRate:0.000%} of rows)"));
        table.AddRow("seed", o.Seed.ToString(inv));
        table.AddRow("run tag", Simulator.RunTag);
        console.Write(table);

        var fraud = new Table().Border(TableBorder.Rounded)
            .AddColumn("scenario")
            .AddColumn(new TableColumn("incidents").RightAligned())
            .AddColumn(new TableColumn("fraud rows").RightAligned())
            .AddColumn(new TableColumn("share of rows").RightAligned())
            .AddColumn(new TableColumn("configured").RightAligned());
        foreach (var (scenario, rows) in s.FraudsByScenario)
        {
            fraud.AddRow(
                Markup.Escape(scenario),
                Simulator.PlannedIncidents.TryGetValue(scenario, out var n) ? n.ToString("N0", inv) : "-",
                rows.ToString("N0", inv),
                (s.Rows == 0 ? 0 : (double)rows / s.Rows).ToString("0.000%", inv),
                o.FraudRates.TryGetValue(scenario, out var r) ? r.ToString("0.000%", inv) : "-");
        }

        console.Write(fraud);
        if (Labels is { } l)
        {
            console.MarkupLine(string.Create(inv, $"[bold]{l.Labels:N0} labels[/] → {Markup.Escape(LabelsDestination ?? "-")}"));
            var labels = new Table().Border(TableBorder.Rounded).HideHeaders().AddColumn("what").AddColumn("value");
            labels.AddRow("frauds labelled", string.Create(inv, $"{l.FraudsLabelled:N0} of {l.Frauds:N0} ({l.FraudsLabelledShare:0.0%})"));
            labels.AddRow("delay to first verdict", string.Create(inv,
                $"median {FormatDays(l.MedianDelay)}, p90 {FormatDays(l.P90Delay)}, {l.LabelledWithin(TimeSpan.FromDays(4)):0%} within 4 days"));
            labels.AddRow("sources", string.Join(", ", Enum.GetValues<LabelOrigin>()
                .Where(o => l.BySource[(int)o] > 0)
                .Select(o => string.Create(inv, $"{TransactionLabel.OriginSymbol(o)} {l.BySource[(int)o]:N0}"))));
            labels.AddRow("duplicates", l.Duplicates.ToString("N0", inv));
            labels.AddRow("false claims", string.Create(inv, $"{l.FalseClaims:N0} ({l.Flips:N0} reversed by an is_fraud=false verdict)"));
            console.Write(labels);
        }
    }

    /// <summary>The report as JSON (snake_case keys, invariant numbers).</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            var s = Summary;
            json.WriteStartObject();
            json.WriteString("options", Simulator.Options.Describe());
            json.WriteString("run_tag", Simulator.RunTag);
            json.WriteNumber("rows", s.Rows);
            json.WriteNumber("cards", Simulator.CardCount);
            json.WriteNumber("cards_with_transactions", s.Cards);
            json.WriteNumber("merchants", Simulator.MerchantCount);
            json.WriteNumber("merchants_with_transactions", s.Merchants);
            json.WriteNumber("days", Simulator.Options.Days);
            json.WriteString("first_event_time", s.FirstEventMs is { } f ? Iso8601.Format(f) : null);
            json.WriteString("last_event_time", s.LastEventMs is { } l ? Iso8601.Format(l) : null);
            json.WriteNumber("frauds", s.Frauds);
            json.WriteNumber("fraud_rate", s.FraudRate);
            json.WriteStartObject("scenarios");
            foreach (var (scenario, rows) in s.FraudsByScenario)
            {
                json.WriteStartObject(scenario);
                json.WriteNumber("incidents", Simulator.PlannedIncidents.GetValueOrDefault(scenario));
                json.WriteNumber("rows", rows);
                json.WriteNumber("rate", s.Rows == 0 ? 0 : (double)rows / s.Rows);
                json.WriteNumber("configured_rate", Simulator.Options.RateOf(scenario));
                json.WriteEndObject();
            }

            json.WriteEndObject();
            if (Labels is { } labels)
            {
                json.WriteStartObject("labels");
                json.WriteNumber("labels", labels.Labels);
                json.WriteNumber("fraud_verdicts", labels.FraudVerdicts);
                json.WriteNumber("legitimate_verdicts", labels.LegitimateVerdicts);
                json.WriteNumber("frauds", labels.Frauds);
                json.WriteNumber("frauds_labelled", labels.FraudsLabelled);
                json.WriteNumber("frauds_labelled_share", labels.FraudsLabelledShare);
                json.WriteNumber("median_delay_days", Math.Round(labels.MedianDelay.TotalDays, 3));
                json.WriteNumber("p90_delay_days", Math.Round(labels.P90Delay.TotalDays, 3));
                json.WriteNumber("duplicates", labels.Duplicates);
                json.WriteNumber("false_claims", labels.FalseClaims);
                json.WriteNumber("flips", labels.Flips);
                json.WriteStartObject("sources");
                foreach (var origin in Enum.GetValues<LabelOrigin>())
                {
                    json.WriteNumber(TransactionLabel.OriginSymbol(origin), labels.BySource[(int)origin]);
                }

                json.WriteEndObject();
                json.WriteEndObject();
            }

            json.WriteNumber("elapsed_seconds", Math.Round(Elapsed.TotalSeconds, 3));
            json.WriteNumber("rows_per_second", Math.Round(RowsPerSecond));
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static string FormatDays(TimeSpan t) => t.TotalDays.ToString("0.0", CultureInfo.InvariantCulture) + " d";

    private static string FormatDay(long? ms) => ms is { } v ? Iso8601.Format(v)[..10] : "-";
}
