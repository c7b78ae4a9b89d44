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
using StreamFraud.Core;
using StreamFraud.Core.Data;
using StreamFraud.Sim.Generation;

namespace StreamFraud.Sim.Commands;

/// <summary>The flags of <c>produce</c>.</summary>
public sealed class ProduceSettings : SimulationFlags
{
    /// <summary><c>--bootstrap</c>.</summary>
    [CommandOption("--bootstrap <HOST:PORT>")]
    [Description($"Kafka bootstrap servers (default {Endpoints.KafkaBootstrap}).")]
    public string Bootstrap { get; init; } = Endpoints.KafkaBootstrap;

    /// <summary><c>--schema-registry</c>.</summary>
    [CommandOption("--schema-registry <URL>")]
    [Description($"Schema Registry URL (default {Endpoints.SchemaRegistryUrl}).")]
    public string SchemaRegistry { get; init; } = Endpoints.SchemaRegistryUrl;

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
            : ValidationResult.Success();
    }
}

/// <summary>
/// <c>produce</c>: the load driver. Sends transactions — from a canonical CSV or straight from the simulator — to
/// Kafka as Avro (Schema Registry), keyed by card id so each card's events stay in order on one partition; optional
/// rate limit or event-time pacing; progress while running and delivered/failed counts at the end.
/// </summary>
/// <param name="consoles">Where progress and counts go.</param>
public sealed class ProduceCommand(CommandConsoles consoles) : AsyncCommand<ProduceSettings>
{
    /// <inheritdoc/>
    public override async Task<int> ExecuteAsync(CommandContext context, ProduceSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var (bootstrap, registryUrl, topic, input) = (settings.Bootstrap, settings.SchemaRegistry, settings.Topic, settings.Input);
        var (rate, realtime, speed, limit) = (settings.Rate, settings.Realtime, settings.Speed, settings.Limit);
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

        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registryUrl });
        using var producer = new ProducerBuilder<string, Contracts.Transaction>(new ProducerConfig
            {
                BootstrapServers = bootstrap,
                EnableIdempotence = true,
                Acks = Acks.All,
                LingerMs = 20,
                CompressionType = CompressionType.Lz4,
                MessageTimeoutMs = 120_000,
            })
            .SetValueSerializer(new AvroSerializer<Contracts.Transaction>(registry).AsSyncOverAsync())
            .SetLogHandler((_, m) =>
            {
                if (m.Level <= SyslogLevel.Warning)
                {
                    consoles.Error.MarkupLineInterpolated($"[yellow]kafka: {m.Message}[/]");
                }
            })
            .Build();

        long sent = 0, delivered = 0, failed = 0;
        string? firstError = null;
        void OnDelivery(DeliveryReport<string, Contracts.Transaction> r)
        {
            if (r.Error.IsError)
            {
                Interlocked.Increment(ref failed);
                Interlocked.CompareExchange(ref firstError, r.Error.Reason, null);
            }
            else
            {
                Interlocked.Increment(ref delivered);
            }
        }

        var clock = Stopwatch.StartNew();
        long? firstEventMs = null;
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

                        Send(producer, topic, tx, OnDelivery);
                        sent++;
                        if ((sent & 1023) == 0)
                        {
                            task.Value = expected is null ? 0 : Math.Min(sent, expected.Value);
                            task.Description = string.Create(CultureInfo.InvariantCulture,
                                $"producing to {Markup.Escape(topic)}: {sent:N0} sent, {Interlocked.Read(ref delivered):N0} delivered, {sent / clock.Elapsed.TotalSeconds:N0}/s");
                        }
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
            consoles.Error.MarkupLineInterpolated($"cancelled after {sent:N0} sent, {delivered:N0} delivered");
            return 130;
        }

        var seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
        consoles.Output.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"[bold]{delivered:N0} delivered[/], {failed:N0} failed, to {Markup.Escape(topic)} in {seconds:0.00} s ({delivered / seconds:N0} events/s)"));
        if (failed > 0)
        {
            consoles.Error.MarkupLineInterpolated($"[red]{failed:N0} transactions were not delivered; first error: {firstError}[/]");
            return 1;
        }

        return 0;
    }

    private static void Send(IProducer<string, Contracts.Transaction> producer, string topic, Transaction tx, Action<DeliveryReport<string, Contracts.Transaction>> onDelivery)
    {
        var message = new Message<string, Contracts.Transaction>
        {
            Key = tx.CardId,
            Value = Contracts.Transaction.FromDomain(tx),
            Timestamp = new Timestamp(tx.EventTimeMs, TimestampType.CreateTime),
        };
        while (true)
        {
            try
            {
                producer.Produce(topic, message, onDelivery);
                return;
            }
            catch (ProduceException<string, Contracts.Transaction> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                producer.Poll(TimeSpan.FromMilliseconds(100)); // let deliveries drain, then try again
            }
        }
    }
}
