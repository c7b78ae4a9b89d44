using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.SyncOverAsync;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Spectre.Console;
using Spectre.Console.Cli;
using StreamFraud.Cli;
using StreamFraud.Clients;
using StreamFraud.Core;
using StreamFraud.Core.Data;
using StreamFraud.Core.Labels;
using StreamFraud.Sim.Generation;

namespace StreamFraud.Sim.Commands;

/// <summary>The flags of <c>produce</c>.</summary>
public sealed class ProduceSettings : SimulationFlags
{
    /// <summary><c>--bootstrap</c> (null: the environment's, else the default).</summary>
    [CommandOption("--bootstrap <HOST:PORT>")]
    [Description($"Kafka bootstrap servers (default: STREAMFRAUD_Kafka__BootstrapServers, else {Endpoints.KafkaBootstrap}).")]
    public string? Bootstrap { get; init; }

    /// <summary><c>--kafka-config</c>.</summary>
    [CommandOption("--kafka-config <KEY=VALUE>")]
    [Description(CommandLineClients.KafkaConfigHelp)]
    public string[] KafkaConfig { get; init; } = [];

    /// <summary><c>--schema-registry</c> (null: the environment's, else the default).</summary>
    [CommandOption("--schema-registry <URL>")]
    [Description($"Schema Registry URL (default: STREAMFRAUD_SchemaRegistry__Url, else {Endpoints.SchemaRegistryUrl}).")]
    public string? SchemaRegistry { get; init; }

    /// <summary><c>--schema-registry-config</c>.</summary>
    [CommandOption("--schema-registry-config <KEY=VALUE>")]
    [Description(CommandLineClients.SchemaRegistryConfigHelp)]
    public string[] SchemaRegistryConfig { get; init; } = [];

    /// <summary><c>--topic</c>.</summary>
    [CommandOption("--topic <NAME>")]
    [Description($"Topic to produce to (default {Topics.Transactions}).")]
    public string Topic { get; init; } = Topics.Transactions;

    /// <summary><c>--input</c>.</summary>
    [CommandOption("--input <FILE>")]
    [Description("Canonical CSV to send, in file order. Without it, transactions are simulated with the simulation flags.")]
    public string? Input { get; init; }

    /// <summary><c>--rate</c>.</summary>
    [CommandOption("--rate <EVENTS_PER_S>")]
    [Description("Cap the send rate (default: as fast as the broker takes them).")]
    [TypeConverter(typeof(NumberConverter))]
    [Number(0, 1e9, ExclusiveMin = true)]
    public double? Rate { get; init; }

    /// <summary><c>--realtime</c>.</summary>
    [CommandOption("--realtime")]
    [Description("Pace sends by the gaps between event times (with --speed).")]
    public bool Realtime { get; init; }

    /// <summary><c>--speed</c>.</summary>
    [CommandOption("--speed <X>")]
    [Description("With --realtime: replay X times faster than real time (default 1).")]
    [TypeConverter(typeof(NumberConverter))]
    [Number(0, 1e9, ExclusiveMin = true)]
    public double Speed { get; init; } = 1;

    /// <summary><c>--limit</c>.</summary>
    [CommandOption("--limit <N>")]
    [Description("Stop after N transactions.")]
    [TypeConverter(typeof(WholeNumberConverter<long>))]
    [WholeNumber(1, long.MaxValue)]
    public long Limit { get; init; } = long.MaxValue;

    /// <summary><c>--labels</c>.</summary>
    [CommandOption("--labels")]
    [Description("Also send fraud labels, interleaved by time: each label goes out once the transaction stream has passed "
        + "its label_time, the rest after the last transaction. Simulated for the simulated transactions (as generate "
        + "--labels-out writes them); with --input, read from --labels-input.")]
    public bool Labels { get; init; }

    /// <summary><c>--labels-input</c>.</summary>
    [CommandOption("--labels-input <FILE>")]
    [Description("With --input: the labels CSV to send with it (e.g. written by generate --labels-out); implies --labels.")]
    public string? LabelsInput { get; init; }

    /// <summary><c>--labels-topic</c>.</summary>
    [CommandOption("--labels-topic <NAME>")]
    [Description($"Topic of the labels, Avro fraud-label records keyed by card id (default {Topics.FraudLabels}).")]
    public string? LabelsTopic { get; init; }

    /// <summary>Whether labels are sent.</summary>
    public bool SendsLabels => Labels || LabelsInput is not null;

    /// <summary>The Kafka and Schema Registry settings: the flags over the <c>STREAMFRAUD_*</c> environment.</summary>
    /// <exception cref="UsageException">A client flag or variable is wrong (each problem named).</exception>
    public ClientSettings Clients() => ClientFlags.Read(
        new ClientFlagValues { Bootstrap = Bootstrap, KafkaConfig = KafkaConfig, SchemaRegistry = SchemaRegistry, SchemaRegistryConfig = SchemaRegistryConfig },
        ClientKinds.Kafka | ClientKinds.SchemaRegistry);

    /// <inheritdoc/>
    public override ValidationResult Validate()
    {
        if (Input is not null && Given().FirstOrDefault() is { } flag)
        {
            return ValidationResult.Error($"{flag} describes a simulation and does not apply to --input; drop one of them");
        }

        var simulation = Input is null ? base.Validate() : ValidationResult.Success();
        return !simulation.Successful ? simulation
            : Rate is not null && Realtime ? ValidationResult.Error("--rate and --realtime both pace the sends; choose one")
            : Input is not null && !File.Exists(Input) ? ValidationResult.Error($"--input: file '{Input}' does not exist")
            : LabelsInput is not null && Input is null
                ? ValidationResult.Error("--labels-input goes with --input; simulated transactions get simulated labels with --labels")
            : LabelsInput is not null && !File.Exists(LabelsInput) ? ValidationResult.Error($"--labels-input: file '{LabelsInput}' does not exist")
            : Labels && Input is not null && LabelsInput is null
                ? ValidationResult.Error("--labels with --input needs --labels-input FILE (a labels CSV, e.g. from generate --labels-out)")
            : LabelsTopic is not null && !SendsLabels ? ValidationResult.Error("--labels-topic applies only with --labels")
            : ValidationResult.Success();
    }
}

/// <summary>
/// <c>produce</c>: the load driver. Sends transactions — from a canonical CSV or straight from the simulator — to
/// Kafka as Avro (Schema Registry), keyed by card id so each card's events stay in order on one partition; optional
/// rate limit or event-time pacing; with <c>--labels</c>, the fraud labels to their topic, interleaved by time;
/// progress while running and delivered/failed counts at the end.
/// </summary>
/// <param name="consoles">Where progress and counts go.</param>
public sealed class ProduceCommand(CommandConsoles consoles) : AsyncCommand<ProduceSettings>
{
    /// <inheritdoc/>
    public override async Task<int> ExecuteAsync(CommandContext context, ProduceSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var clients = settings.Clients();
        foreach (var warning in clients.Warnings)
        {
            consoles.Error.MarkupLineInterpolated($"[yellow]warning:[/] {warning}");
        }
        var (topic, input) = (settings.Topic, settings.Input);
        var (rate, realtime, speed, limit) = (settings.Rate, settings.Realtime, settings.Speed, settings.Limit);
        var labelsTopic = settings.LabelsTopic ?? Topics.FraudLabels;
        var options = input is null ? settings.ToOptions() : null;
        IEnumerable<Transaction> source;
        double? expected;
        if (input is not null)
        {
            source = CanonicalCsv.Read(input);
            expected = null;
        }
        else
        {
            var simulator = new TransactionSimulator(options!);
            source = simulator.Generate(cancellationToken);
            expected = simulator.ExpectedRows;
        }

        var labels = !settings.SendsLabels ? null
            : settings.LabelsInput is { } labelsFile ? LabelSchedule.FromFile(labelsFile)
            : LabelSchedule.Simulated(options!.Seed);

        using var registry = new CachedSchemaRegistryClient(clients.SchemaRegistry.Config());
        using var producer = new ProducerBuilder<string, Contracts.Transaction>(ProducerConfig(clients.Kafka))
            .SetValueSerializer(new AvroSerializer<Contracts.Transaction>(registry).AsSyncOverAsync())
            .SetLogHandler((_, m) =>
            {
                if (m.Level <= SyslogLevel.Warning)
                {
                    consoles.Error.MarkupLineInterpolated($"[yellow]kafka: {m.Message}[/]");
                }
            })
            .Build();

        // Labels share the transactions' producer (one connection, one idempotent sequence), with their own serializer.
        using var labelProducer = labels is null ? null
            : new DependentProducerBuilder<string, Contracts.FraudLabel>(producer.Handle)
                .SetValueSerializer(new AvroSerializer<Contracts.FraudLabel>(registry).AsSyncOverAsync())
                .Build();

        long sent = 0, labelsSent = 0;
        var transactions = new Deliveries();
        var labelDeliveries = new Deliveries();
        var clock = Stopwatch.StartNew();
        long? firstEventMs = null, lastEventMs = null;
        void SendLabel(TransactionLabel label)
        {
            Send(labelProducer!, labelsTopic, new Message<string, Contracts.FraudLabel>
            {
                Key = label.CardId,
                Value = Contracts.FraudLabel.FromDomain(label),
                Timestamp = new Timestamp(label.LabelTimeMs, TimestampType.CreateTime),
            }, labelDeliveries.OnDelivery);
            labelsSent++;
        }

        try
        {
            await consoles.Output.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async progress =>
                {
                    var task = progress.AddTask($"producing to {Markup.Escape(topic)}", maxValue: expected ?? 1);
                    task.IsIndeterminate = expected is null;
                    foreach (var tx in source)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        if (sent >= limit)
                        {
                            break;
                        }

                        firstEventMs ??= tx.EventTimeMs;
                        var due = realtime ? TimeSpan.FromMilliseconds((tx.EventTimeMs - firstEventMs.Value) / speed)
                            : rate is { } r ? TimeSpan.FromSeconds(sent / r) : TimeSpan.Zero;
                        var wait = due - clock.Elapsed;
                        if (wait > TimeSpan.FromMilliseconds(1))
                        {
                            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                        }

                        while (labels is not null && labels.TryTakeDue(tx.EventTimeMs, out var label))
                        {
                            SendLabel(label);
                        }

                        Send(producer, topic, new Message<string, Contracts.Transaction>
                        {
                            Key = tx.CardId,
                            Value = Contracts.Transaction.FromDomain(tx),
                            Timestamp = new Timestamp(tx.EventTimeMs, TimestampType.CreateTime),
                        }, transactions.OnDelivery);
                        labels?.Sent(tx);
                        lastEventMs = tx.EventTimeMs;
                        sent++;
                        if ((sent & 1023) == 0)
                        {
                            task.Value = expected is null ? 0 : Math.Min(sent, expected.Value);
                            task.Description = string.Create(CultureInfo.InvariantCulture,
                                $"producing to {Markup.Escape(topic)}: {sent:N0} sent, {transactions.Delivered:N0} delivered, {sent / clock.Elapsed.TotalSeconds:N0}/s")
                                + (labels is null ? "" : string.Create(CultureInfo.InvariantCulture, $"; {labelsSent:N0} labels"));
                        }
                    }

                    // Verdicts that come after the last transaction (a chargeback weeks later) close the stream.
                    foreach (var label in labels?.TakeRest(lastEventMs) ?? [])
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        SendLabel(label);
                    }

                    task.Description = string.Create(CultureInfo.InvariantCulture, $"flushing {producer.Flush(TimeSpan.Zero):N0} in flight");
                    while (producer.Flush(TimeSpan.FromMilliseconds(500)) > 0)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                    }

                    task.Value = task.MaxValue;
                    task.Description = $"produced to {Markup.Escape(topic)}";
                }).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            producer.Flush(TimeSpan.FromSeconds(10));
            consoles.Error.MarkupLineInterpolated($"cancelled after {sent:N0} sent, {transactions.Delivered:N0} delivered");
            return 130;
        }

        var seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
        consoles.Output.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"[bold]{transactions.Delivered:N0} delivered[/], {transactions.Failed:N0} failed, to {Markup.Escape(topic)} in {seconds:0.00} s ({transactions.Delivered / seconds:N0} events/s)"));
        if (labels is not null)
        {
            consoles.Output.MarkupLine(string.Create(CultureInfo.InvariantCulture,
                $"[bold]{labelDeliveries.Delivered:N0} labels delivered[/], {labelDeliveries.Failed:N0} failed, to {Markup.Escape(labelsTopic)}")
                + (labels.Skipped > 0 ? string.Create(CultureInfo.InvariantCulture, $" ({labels.Skipped:N0} labels of transactions not sent were left out)") : ""));
        }

        var failed = false;
        foreach (var (what, deliveries) in new[] { ("transactions", transactions), ("labels", labelDeliveries) })
        {
            if (deliveries.Failed > 0)
            {
                consoles.Error.MarkupLineInterpolated($"[red]{deliveries.Failed:N0} {what} were not delivered; first error: {deliveries.FirstError}[/]");
                failed = true;
            }
        }

        return failed ? 1 : 0;
    }

    /// <summary>
    /// The load driver's producer: every Kafka client's settings (bootstrap and security from <c>--bootstrap</c>,
    /// <c>--kafka-config</c> and the environment), idempotent with acks=all, batched and LZ4-compressed.
    /// </summary>
    public static ProducerConfig ProducerConfig(KafkaClientSettings kafka)
    {
        ArgumentNullException.ThrowIfNull(kafka);
        return new ProducerConfig(kafka.Client().ToDictionary(kv => kv.Key, kv => kv.Value))
        {
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 20,
            CompressionType = CompressionType.Lz4,
            MessageTimeoutMs = 120_000,
        };
    }

    private static void Send<T>(IProducer<string, T> producer, string topic, Message<string, T> message, Action<DeliveryReport<string, T>> onDelivery)
    {
        while (true)
        {
            try
            {
                producer.Produce(topic, message, onDelivery);
                return;
            }
            catch (ProduceException<string, T> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                producer.Poll(TimeSpan.FromMilliseconds(100)); // let deliveries drain, then try again
            }
        }
    }

    /// <summary>Delivery reports of one kind of message, counted from librdkafka's delivery thread.</summary>
    private sealed class Deliveries
    {
        private long _delivered;
        private long _failed;
        private string? _firstError;

        public long Delivered => Interlocked.Read(ref _delivered);

        public long Failed => Interlocked.Read(ref _failed);

        public string? FirstError => Volatile.Read(ref _firstError);

        public void OnDelivery<T>(DeliveryReport<string, T> report)
        {
            if (report.Error.IsError)
            {
                Interlocked.Increment(ref _failed);
                Interlocked.CompareExchange(ref _firstError, report.Error.Reason, null);
            }
            else
            {
                Interlocked.Increment(ref _delivered);
            }
        }
    }
}
