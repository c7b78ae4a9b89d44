using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.SyncOverAsync;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Spectre.Console;
using StreamFraud.Core;
using StreamFraud.Core.Data;
using StreamFraud.Sim.Cli;
using StreamFraud.Sim.Generation;

namespace StreamFraud.Sim.Commands;

/// <summary>
/// <c>produce</c>: the load driver. Sends transactions — from a canonical CSV or straight from the simulator — to
/// Kafka as Avro (Schema Registry), keyed by card id so each card's events stay in order on one partition; optional
/// rate limit or event-time pacing; progress while running and delivered/failed counts at the end.
/// </summary>
public sealed class ProduceCommand : ICommand
{
    /// <inheritdoc/>
    public string Name => "produce";

    /// <inheritdoc/>
    public string Summary => "Send transactions (from a CSV or simulated) to Kafka as Avro, keyed by card id.";

    /// <inheritdoc/>
    public IReadOnlyList<FlagHelp> Flags { get; } =
    [
        new("bootstrap", "HOST:PORT", $"Kafka bootstrap servers (default {Endpoints.KafkaBootstrap})."),
        new("schema-registry", "URL", $"Schema Registry URL (default {Endpoints.SchemaRegistryUrl})."),
        new("topic", "NAME", $"Topic to produce to (default {Topics.Transactions})."),
        new("input", "FILE", "Canonical CSV to send, in file order. Without it, transactions are simulated with the flags below."),
        new("rate", "EVENTS_PER_S", "Cap the send rate (default: as fast as the broker takes them)."),
        new("realtime", "", "Pace sends by the gaps between event times (with --speed)."),
        new("speed", "X", "With --realtime: replay X times faster than real time (default 1)."),
        new("limit", "N", "Stop after N transactions."),
        .. SimulationFlags.Help,
    ];

    /// <inheritdoc/>
    public IReadOnlyList<string> Examples { get; } =
    [
        "produce --bootstrap 127.0.0.1:9092 --schema-registry http://127.0.0.1:8081 --topic transactions --input transactions.csv",
        "produce --cards 2000 --days 7 --rate 5000",
        "produce --input transactions.csv --realtime --speed 3600",
    ];

    /// <inheritdoc/>
    public async Task<int> RunAsync(CommandArgs args, CommandContext context)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(context);
        var bootstrap = args.String("bootstrap", Endpoints.KafkaBootstrap)!;
        var registryUrl = args.String("schema-registry", Endpoints.SchemaRegistryUrl)!;
        var topic = args.String("topic", Topics.Transactions)!;
        var input = args.String("input");
        var rate = args.Has("rate") ? args.Double("rate", 0, 0, 1e9) : (double?)null;
        var realtime = args.Switch("realtime");
        var speed = args.Double("speed", 1, 0, 1e9);
        var limit = args.Long("limit", long.MaxValue, 1, long.MaxValue);
        var options = input is null ? SimulationFlags.Bind(args) : null;
        args.RejectUnknown(Name);
        if (rate is not null && realtime)
        {
            throw new UsageException("--rate and --realtime both pace the sends; choose one");
        }

        if (input is not null && !File.Exists(input))
        {
            throw new UsageException($"--input: file '{input}' does not exist");
        }

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
            source = simulator.Generate(context.CancellationToken);
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
                    context.Error.MarkupLineInterpolated($"[yellow]kafka: {m.Message}[/]");
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
            await context.Output.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async progress =>
                {
                    var task = progress.AddTask($"producing to {Markup.Escape(topic)}", maxValue: expected ?? 1);
                    task.IsIndeterminate = expected is null;
                    foreach (var tx in source)
                    {
                        context.CancellationToken.ThrowIfCancellationRequested();
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
                            await Task.Delay(wait, context.CancellationToken).ConfigureAwait(false);
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
                        context.CancellationToken.ThrowIfCancellationRequested();
                    }

                    task.Value = task.MaxValue;
                    task.Description = $"produced to {Markup.Escape(topic)}";
                }).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            producer.Flush(TimeSpan.FromSeconds(10));
            context.Error.MarkupLineInterpolated($"cancelled after {sent:N0} sent, {delivered:N0} delivered");
            return 130;
        }

        var seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
        context.Output.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"[bold]{delivered:N0} delivered[/], {failed:N0} failed, to {Markup.Escape(topic)} in {seconds:0.00} s ({delivered / seconds:N0} events/s)"));
        if (failed > 0)
        {
            context.Error.MarkupLineInterpolated($"[red]{failed:N0} transactions were not delivered; first error: {firstError}[/]");
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
