using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.SyncOverAsync;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Spectre.Console;
using StackExchange.Redis;
using StreamFraud.Contracts;
using StreamFraud.Core;
using StreamFraud.Core.Features;
using StreamFraud.Core.Windows;
using StreamFraud.Kafka;
using StreamFraud.Redis;
using StreamFraud.Scoring.Bundles;

namespace StreamFraud.Replay;

/// <summary>A wrong flag: the message says which and what to do.</summary>
public sealed class ReplayUsageException(string message) : Exception(message);

/// <summary>Parsed command line of the replay.</summary>
public sealed record ReplayArgs
{
    /// <summary>Registry directory.</summary>
    public required string Registry { get; init; }

    /// <summary>Versions to replay (first = baseline).</summary>
    public required IReadOnlyList<string> Versions { get; init; }

    /// <summary>CSV input (else topic).</summary>
    public string? Input { get; init; }

    /// <summary>Kafka bootstrap.</summary>
    public string Bootstrap { get; init; } = Endpoints.KafkaBootstrap;

    /// <summary>Schema Registry URL.</summary>
    public string SchemaRegistry { get; init; } = Endpoints.SchemaRegistryUrl;

    /// <summary>Input topic.</summary>
    public string Topic { get; init; } = Topics.Transactions;

    /// <summary>Range start.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Range end (exclusive).</summary>
    public DateTimeOffset? To { get; init; }

    /// <summary>History before the range used only to build windows.</summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromDays(7);

    /// <summary>Report directory.</summary>
    public string Out { get; init; } = "replay-report";

    /// <summary>Live alerts topic to compare with.</summary>
    public string? LiveAlertsTopic { get; init; }

    /// <summary>Backtest topic receiving the first version's alerts.</summary>
    public string? AlertsTopic { get; init; }

    /// <summary>Redis for the replay's own state (else memory).</summary>
    public string? Redis { get; init; }

    /// <summary>Key prefix of the replay's Redis state.</summary>
    public string? RedisPrefix { get; init; }

    /// <summary>Batch size.</summary>
    public int Batch { get; init; } = 512;

    /// <summary>Usage text.</summary>
    public const string Help = """
StreamFraud replay/backtest: runs a stretch of the transaction stream (or a CSV) through the scorer's own pipeline
with one or more bundles, isolated from live state and live topics, and writes a report.

Usage: dotnet run --project src/StreamFraud.Replay -c Release -- --registry DIR --version V [--version V2 ...]
         (--input FILE.csv | --bootstrap HOST:PORT --schema-registry URL --topic transactions --from T1 --to T2)
         [--warmup DURATION] [--out DIR] [--live-alerts-topic fraud-alerts] [--alerts-topic NAME]
         [--redis HOST:PORT --redis-prefix PREFIX] [--batch N]

  --registry DIR            bundle registry; --version picks bundles (repeat to compare; the first is the baseline)
  --input FILE.csv          canonical CSV (in event-time order); --from/--to optional
  --topic NAME              input topic (default transactions), read with a fresh consumer that never commits,
                            positioned by timestamp; --from and --to required (ISO date or date-time, UTC)
  --warmup DURATION         history before --from that only builds windows (default 7.00:00:00; e.g. 2.00:00:00)
  --out DIR                 report.json, report.md, pr.png, roc.png (default replay-report)
  --live-alerts-topic NAME  compare with the alerts the live scorer emitted for the range
  --alerts-topic NAME       also write the first version's alerts there (never the live alerts topic)
  --redis, --redis-prefix   keep the replay's windows in Redis under PREFIX (never the live sf:card: prefix);
                            default: in memory
""";

    /// <summary>Parses arguments.</summary>
    /// <exception cref="ReplayUsageException">A flag is missing or wrong.</exception>
    public static ReplayArgs Parse(IReadOnlyList<string> args)
    {
        var values = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Count)
            {
                throw new ReplayUsageException($"{args[i]}: expected --flag VALUE (see --help).");
            }

            (values.TryGetValue(args[i][2..], out var list) ? list : values[args[i][2..]] = []).Add(args[++i]);
        }

        string? One(string name) => values.TryGetValue(name, out var v) ? v[^1] : null;
        var known = new HashSet<string> { "registry", "version", "input", "bootstrap", "schema-registry", "topic", "from", "to", "warmup", "out", "live-alerts-topic", "alerts-topic", "redis", "redis-prefix", "batch" };
        foreach (var key in values.Keys.Where(k => !known.Contains(k)))
        {
            throw new ReplayUsageException($"--{key} is not a replay flag (see --help).");
        }

        DateTimeOffset? Date(string name)
        {
            var text = One(name);
            if (text is null)
            {
                return null;
            }

            return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var d)
                ? d
                : throw new ReplayUsageException($"--{name} '{text}': expected an ISO date or date-time, e.g. 2026-01-15 or 2026-01-15T08:00:00Z.");
        }

        var parsed = new ReplayArgs
        {
            Registry = One("registry") ?? throw new ReplayUsageException("--registry DIR is required: the bundle registry the trainer publishes to."),
            Versions = values.TryGetValue("version", out var versions) ? versions : throw new ReplayUsageException("--version V is required (repeat it to compare versions)."),
            Input = One("input"),
            Bootstrap = One("bootstrap") ?? Endpoints.KafkaBootstrap,
            SchemaRegistry = One("schema-registry") ?? Endpoints.SchemaRegistryUrl,
            Topic = One("topic") ?? Topics.Transactions,
            From = Date("from"),
            To = Date("to"),
            Warmup = One("warmup") is { } w
                ? TimeSpan.TryParse(w, CultureInfo.InvariantCulture, out var span) && span >= TimeSpan.Zero ? span : throw new ReplayUsageException($"--warmup '{w}': expected a duration like 7.00:00:00 or 12:00:00.")
                : TimeSpan.FromDays(7),
            Out = One("out") ?? "replay-report",
            LiveAlertsTopic = One("live-alerts-topic"),
            AlertsTopic = One("alerts-topic"),
            Redis = One("redis"),
            RedisPrefix = One("redis-prefix"),
            Batch = One("batch") is { } b ? int.TryParse(b, CultureInfo.InvariantCulture, out var n) && n is > 0 and <= 100_000 ? n : throw new ReplayUsageException($"--batch '{b}': 1..100000.") : 512,
        };
        if (parsed.Input is null && (parsed.From is null || parsed.To is null))
        {
            throw new ReplayUsageException("topic input needs --from and --to (or give --input FILE.csv).");
        }

        if (parsed.From is { } f && parsed.To is { } t && t <= f)
        {
            throw new ReplayUsageException($"--to {t:O} is not after --from {f:O}.");
        }

        if (parsed.AlertsTopic is { } at && (at == Topics.FraudAlerts || at == parsed.LiveAlertsTopic))
        {
            throw new ReplayUsageException($"--alerts-topic {at} is a live alerts topic; a backtest writes to its own topic (e.g. fraud-alerts.backtest).");
        }

        if (parsed.Redis is not null && (string.IsNullOrEmpty(parsed.RedisPrefix) || parsed.RedisPrefix == new RedisWindowStoreOptions().KeyPrefix))
        {
            throw new ReplayUsageException("--redis needs --redis-prefix with a prefix of its own (not the live 'sf:card:'), so the replay never touches live state.");
        }

        return parsed;
    }
}

/// <summary>Runs a replay end to end: bundles, source, isolated state, report, optional backtest topic.</summary>
public static class ReplayCommand
{
    /// <summary>Runs and returns the report (written to <see cref="ReplayArgs.Out"/>).</summary>
    public static async Task<ReplayReport> RunAsync(ReplayArgs a, IAnsiConsole console, CancellationToken cancellationToken = default)
    {
        var registry = new BundleRegistry(a.Registry);
        var bundles = new List<ModelBundle>();
        try
        {
            FeatureSpec? spec = null;
            foreach (var version in a.Versions)
            {
                var manifestPath = Path.Combine(registry.PathOf(version), BundleManifest.FileName);
                if (!File.Exists(manifestPath))
                {
                    throw new ReplayUsageException($"--version {version}: no bundle in {registry.Directory} (published: {string.Join(", ", registry.Versions())}).");
                }

                var m = BundleManifest.Read(manifestPath);
                if (!FeatureSpec.TryResolve(m.FeatureSpec.Name, m.FeatureSpec.Version, out var s, out var error))
                {
                    throw new ReplayUsageException($"--version {version}: {error}");
                }

                if (spec is not null && spec.ContentHash != s.ContentHash)
                {
                    throw new ReplayUsageException($"--version {version} uses feature spec {s.Name}, {a.Versions[0]} uses {spec.Name}: versions compared in one pass must share a spec.");
                }

                spec = s;
                bundles.Add(ModelBundle.Load(registry.PathOf(version), s, new BundleLoadOptions { WarmupBatch = a.Batch }));
            }

            using var schemaRegistry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = a.SchemaRegistry });
            IReplaySource source = a.Input is not null
                ? new CsvReplaySource(a.Input, a.From, a.To, a.Warmup)
                : new TopicReplaySource(a.Bootstrap, schemaRegistry, a.Topic, a.From!.Value, a.To!.Value, a.Warmup);
            IWindowStore store;
            ConnectionMultiplexer? mux = null;
            if (a.Redis is not null)
            {
                mux = await ConnectionMultiplexer.ConnectAsync(a.Redis).ConfigureAwait(false);
                store = new RedisWindowStore(mux.GetDatabase(), spec!, new RedisWindowStoreOptions { KeyPrefix = a.RedisPrefix! });
            }
            else
            {
                store = new InMemoryWindowStore(spec!);
            }

            BacktestResult result;
            try
            {
                var started = DateTime.UtcNow;
                result = await Backtest.RunAsync(source, bundles, store, spec!, a.Batch, seen =>
                {
                    if (seen % (a.Batch * 20) == 0)
                    {
                        console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"  {seen:N0} events, {seen / Math.Max(0.001, (DateTime.UtcNow - started).TotalSeconds):N0}/s"));
                    }
                }, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                mux?.Dispose();
            }

            IReadOnlyList<FraudAlert>? live = a.LiveAlertsTopic is { } liveTopic ? ReadLiveAlerts(a, schemaRegistry, liveTopic) : null;
            var report = ReplayReport.Build(result, a.Input ?? $"{a.Topic}@{a.Bootstrap}", a.From, a.To, a.Warmup, live);
            report.Write(a.Out, result);
            if (a.AlertsTopic is { } backtestTopic)
            {
                await WriteAlerts(a, schemaRegistry, backtestTopic, result).ConfigureAwait(false);
            }

            console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"[bold]{result.Events.Count:N0} events replayed[/] in {result.Elapsed.TotalSeconds:F1} s; report in {Markup.Escape(Path.GetFullPath(a.Out))}"));
            foreach (var v in report.Versions)
            {
                console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"  {Markup.Escape(v.Version)}: {v.Alerts:N0} alerts, AP {v.AveragePrecision?.ToString("F4", CultureInfo.InvariantCulture) ?? "-"}"));
            }

            if (report.Live is { } l)
            {
                console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"  live vs {Markup.Escape(l.Version)}: {l.Identical:N0} identical, {l.Missing:N0} missing, {l.Extra:N0} extra, {l.Different:N0} different"));
            }

            return report;
        }
        catch (BundleRejectedException e)
        {
            throw new ReplayUsageException($"{e.Message}.");
        }
        finally
        {
            bundles.ForEach(b => b.Dispose());
        }
    }

    private static List<FraudAlert> ReadLiveAlerts(ReplayArgs a, ISchemaRegistryClient registry, string topic)
    {
        using var consumer = new ConsumerBuilder<string, FraudAlert>(new ConsumerConfig
            {
                BootstrapServers = a.Bootstrap, GroupId = $"streamfraud-replay-live-{Guid.NewGuid():N}", EnableAutoCommit = false,
                IsolationLevel = IsolationLevel.ReadCommitted, FetchWaitMaxMs = 50,
            })
            .SetValueDeserializer(new AvroDeserializer<FraudAlert>(registry).AsSyncOverAsync())
            .SetLogHandler((_, _) => { })
            .Build();
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = a.Bootstrap }).SetLogHandler((_, _) => { }).Build();
        var partitions = admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics.Single().Partitions.Select(p => new TopicPartition(topic, p.PartitionId)).ToList();
        var ends = partitions.ToDictionary(p => p.Partition.Value, p => consumer.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10)).High.Value);
        consumer.Assign(partitions.Where(p => ends[p.Partition.Value] > 0).Select(p => new TopicPartitionOffset(p, Offset.Beginning)));
        var from = a.From?.ToUnixTimeMilliseconds() ?? long.MinValue;
        var to = a.To?.ToUnixTimeMilliseconds() ?? long.MaxValue;
        var result = new List<FraudAlert>();
        var remaining = ends.Where(e => e.Value > 0).Select(e => e.Key).ToHashSet();
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (remaining.Count > 0 && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromSeconds(1));
            if (r is null)
            {
                remaining.RemoveWhere(p => consumer.Position(new TopicPartition(topic, p)).Value >= ends[p]);
                continue;
            }

            if (r.Offset.Value + 1 >= ends[r.Partition.Value])
            {
                remaining.Remove(r.Partition.Value);
            }

            if (r.Message.Value.EventTimeMs >= from && r.Message.Value.EventTimeMs < to)
            {
                result.Add(r.Message.Value);
            }
        }

        return result;
    }

    private static async Task WriteAlerts(ReplayArgs a, ISchemaRegistryClient registry, string topic, BacktestResult result)
    {
        using var producer = new ProducerBuilder<string, FraudAlert>(new ProducerConfig { BootstrapServers = a.Bootstrap, EnableIdempotence = true })
            .SetValueSerializer(new AvroSerializer<FraudAlert>(registry))
            .Build();
        foreach (var alert in result.Versions[0].Alerts.Values.OrderBy(x => x.EventTimeMs))
        {
            await producer.ProduceAsync(topic, new Message<string, FraudAlert> { Key = alert.CardId, Value = AlertRecords.ToRecord(alert) }).ConfigureAwait(false);
        }
    }
}
