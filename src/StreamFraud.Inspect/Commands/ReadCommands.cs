using System.ComponentModel;
using Confluent.SchemaRegistry;
using Spectre.Console;
using Spectre.Console.Cli;
using StreamFraud.Clients;
using StreamFraud.Core;
using StreamFraud.Inspect.Views;

namespace StreamFraud.Inspect.Commands;

/// <summary>What the commands write to.</summary>
/// <param name="Output">Records (standard output): written as plain lines, never wrapped.</param>
/// <param name="Error">Warnings and errors (standard error).</param>
public sealed record InspectConsoles(IAnsiConsole Output, IAnsiConsole Error);

/// <summary>The flags of <c>alerts</c>.</summary>
public sealed class AlertsSettings : ReadSettings
{
    /// <summary><c>--transactions-topic</c>.</summary>
    [CommandOption("--transactions-topic <NAME>")]
    [Description($"Where the scored transactions are looked up (the whole transaction in --json, the amount of an alert that does not carry its own): an alert names its transaction's partition and offset in the scorer's input topic (default {Topics.Transactions}).")]
    public string TransactionsTopic { get; init; } = Topics.Transactions;

    /// <summary><c>--no-lookup</c>.</summary>
    [CommandOption("--no-lookup")]
    [Description("Do not look up the scored transactions: --json shows no transaction, and the AMOUNT column shows '-' for an alert that does not carry its own amount (alerts of scorers before the amount was added).")]
    public bool NoLookup { get; init; }

    /// <inheritdoc />
    public override string DefaultTopic => Topics.FraudAlerts;

    /// <inheritdoc />
    public override ValidationResult Validate()
    {
        var common = base.Validate();
        return !common.Successful ? common
            : NoLookup && TransactionsTopic != Topics.Transactions ? ValidationResult.Error("--transactions-topic names where scored transactions are looked up, and --no-lookup turns the lookup off: give one of them")
            : ValidationResult.Success();
    }
}

/// <summary>The flags of <c>labels</c>.</summary>
public sealed class LabelsSettings : ReadSettings
{
    /// <inheritdoc />
    public override string DefaultTopic => Topics.FraudLabels;
}

/// <summary>The flags of <c>dlq</c>.</summary>
public sealed class DlqSettings : ReadSettings
{
    /// <inheritdoc />
    public override string DefaultTopic => Topics.TransactionsDlq;
}

/// <summary>
/// Reads a topic (<see cref="TopicReader"/>) and prints each record with a <see cref="RecordView"/>: a header and one
/// table row per record, or one JSON object per line.
/// </summary>
/// <typeparam name="TSettings">The command's flags.</typeparam>
/// <param name="consoles">Where records and warnings go.</param>
public abstract class ReadCommand<TSettings>(InspectConsoles consoles) : Command<TSettings>
    where TSettings : ReadSettings
{
    /// <inheritdoc />
    public override int Execute(CommandContext context, TSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var clients = settings.Clients();
        foreach (var warning in clients.Warnings)
        {
            consoles.Error.MarkupLineInterpolated($"[yellow]warning:[/] {warning}");
        }

        var output = consoles.Output.Profile.Out.Writer; // plain lines: a table row is never wrapped, JSON never marked up
        using var registry = new CachedSchemaRegistryClient(clients.SchemaRegistry.Config());
        using var view = CreateView(settings, clients, registry);
        var reader = new TopicReader(clients.Kafka, settings.TopicName, settings.Mode, Warn, view.OrderKey);
        var header = !settings.Json;
        long count = 0;
        foreach (var record in reader.Read(cancellationToken))
        {
            var line = view.Render(record, settings.Json);
            foreach (var warning in view.TakeWarnings())
            {
                Warn(warning);
            }

            if (line is not null)
            {
                if (header)
                {
                    output.WriteLine(view.Table.Header());
                    header = false;
                }

                output.WriteLine(line);
                output.Flush();
            }

            if (++count >= settings.Max)
            {
                break;
            }
        }

        if (count == 0 && !settings.Json)
        {
            consoles.Error.MarkupLineInterpolated($"[grey]no records in {settings.TopicName}{(settings.FromBeginning ? "" : " since the start (--from-beginning reads what is there)")}[/]");
        }

        return 0;

        void Warn(string text)
        {
            consoles.Error.Markup("[yellow]warning:[/] ");
            consoles.Error.Profile.Out.Writer.WriteLine(text);
        }
    }

    /// <summary>The view of this command's records.</summary>
    protected abstract RecordView CreateView(TSettings settings, ClientSettings clients, ISchemaRegistryClient registry);
}

/// <summary><c>alerts</c>: the alerts topic, one alert per row with its explanation and the transaction's amount.</summary>
/// <param name="consoles">Where records and warnings go.</param>
public sealed class AlertsCommand(InspectConsoles consoles) : ReadCommand<AlertsSettings>(consoles)
{
    /// <inheritdoc />
    protected override RecordView CreateView(AlertsSettings settings, ClientSettings clients, ISchemaRegistryClient registry)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(clients);
        return new AlertView(registry, settings.NoLookup ? null : new TransactionLookup(clients.Kafka, registry, settings.TransactionsTopic));
    }
}

/// <summary><c>labels</c>: the fraud labels topic, one verdict per row.</summary>
/// <param name="consoles">Where records and warnings go.</param>
public sealed class LabelsCommand(InspectConsoles consoles) : ReadCommand<LabelsSettings>(consoles)
{
    /// <inheritdoc />
    protected override RecordView CreateView(LabelsSettings settings, ClientSettings clients, ISchemaRegistryClient registry) => new LabelView(registry);
}

/// <summary><c>dlq</c>: a dead-letter topic, one refused message per row with its class, reason, source and content.</summary>
/// <param name="consoles">Where records and warnings go.</param>
public sealed class DlqCommand(InspectConsoles consoles) : ReadCommand<DlqSettings>(consoles)
{
    /// <inheritdoc />
    protected override RecordView CreateView(DlqSettings settings, ClientSettings clients, ISchemaRegistryClient registry) => new DlqView(registry);
}
