using System.ComponentModel;
using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.SyncOverAsync;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Spectre.Console;
using Spectre.Console.Cli;
using StackExchange.Redis;
using StreamFraud.Cli;
using StreamFraud.Clients;
using StreamFraud.Contracts;
using StreamFraud.Core;
using StreamFraud.Core.Features;
using StreamFraud.Core.Labels;
using StreamFraud.Core.Windows;
using StreamFraud.Kafka;
using StreamFraud.Redis;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Trees;

namespace StreamFraud.Replay;

/// <summary>A wrong flag: the message says which and what to do.</summary>
public sealed class ReplayUsageException(string message) : Exception(message);

/// <summary>The replay's flags (its command line, or set from code).</summary>
public sealed class ReplayArgs : CommandSettings
{
    /// <summary>Registry directory.</summary>
    [CommandOption("--registry <DIR>")]
    [Description("Required. Bundle registry; --version picks bundles from it.")]
    public required string Registry { get; init; }

    /// <summary>Versions to replay (first = baseline).</summary>
    [CommandOption("--version <V>")]
    [Description("Required. Bundle version to replay; repeat to compare versions (the first is the baseline).")]
    public required string[] Versions { get; init; }

    /// <summary>CSV input (else topic).</summary>
    [CommandOption("--input <FILE>")]
    [Description("Canonical CSV (in event-time order); --from/--to optional. Without it the topic is read.")]
    public string? Input { get; init; }

    /// <summary>Kafka bootstrap (null: the environment's, else the default).</summary>
    [CommandOption("--bootstrap <HOST:PORT>")]
    [Description($"Kafka of the input topic, --live-alerts-topic and --alerts-topic (default: STREAMFRAUD_Kafka__BootstrapServers, else {Endpoints.KafkaBootstrap}).")]
    public string? Bootstrap { get; init; }

    /// <summary>librdkafka properties of every Kafka client.</summary>
    [CommandOption("--kafka-config <KEY=VALUE>")]
    [Description(CommandLineClients.KafkaConfigHelp)]
    public string[] KafkaConfig { get; init; } = [];

    /// <summary>Schema Registry URL (null: the environment's, else the default).</summary>
    [CommandOption("--schema-registry <URL>")]
    [Description($"Schema Registry of those topics' Avro values (default: STREAMFRAUD_SchemaRegistry__Url, else {Endpoints.SchemaRegistryUrl}).")]
    public string? SchemaRegistry { get; init; }

    /// <summary>Schema Registry client properties.</summary>
    [CommandOption("--schema-registry-config <KEY=VALUE>")]
    [Description(CommandLineClients.SchemaRegistryConfigHelp)]
    public string[] SchemaRegistryConfig { get; init; } = [];

    /// <summary>Input topic.</summary>
    [CommandOption("--topic <NAME>")]
    [Description($"Input topic (default {Topics.Transactions}), read with a fresh consumer that never commits, positioned by timestamp; --from and --to required.")]
    public string Topic { get; init; } = Topics.Transactions;

    /// <summary>Range start.</summary>
    [CommandOption("--from <T1>")]
    [Description("Start of the replayed range (ISO date or date-time, UTC).")]
    [TypeConverter(typeof(InstantConverter))]
    public DateTimeOffset? From { get; init; }

    /// <summary>Range end (exclusive).</summary>
    [CommandOption("--to <T2>")]
    [Description("End of the replayed range, exclusive (ISO date or date-time, UTC).")]
    [TypeConverter(typeof(InstantConverter))]
    public DateTimeOffset? To { get; init; }

    /// <summary>History before the range used only to build windows; null = <see cref="DefaultWarmup"/> of the bundles' spec.</summary>
    [CommandOption("--warmup <DURATION>")]
    [Description("History before --from that only builds windows and entity risk (default 7.00:00:00; 31.00:00:00 for a card v2 bundle, whose label features read the 30 days before each event's day; e.g. 2.00:00:00).")]
    [TypeConverter(typeof(DurationConverter))]
    public TimeSpan? Warmup { get; init; }

    /// <summary>Labels CSV.</summary>
    [CommandOption("--labels <FILE>")]
    [Description("Labels CSV (transaction_id, card_id, merchant_id, event_time, label_time, is_fraud, source, amount): merged into the replay by label time for a card v2 bundle, and the truth of the label-based quality. Default: the --labels-topic for topic input; for a CSV, labels simulated from is_fraud (--label-delay) when the bundle reads labels.")]
    public string? Labels { get; init; }

    /// <summary>Labels topic (topic input).</summary>
    [CommandOption("--labels-topic <NAME>")]
    [Description($"Topic input: the fraud labels topic (default {Topics.FraudLabels}), read from 30 days before the warm-up to its end with a fresh consumer that never commits.")]
    public string LabelsTopic { get; init; } = Topics.FraudLabels;

    /// <summary>Delay of simulated labels.</summary>
    [CommandOption("--label-delay <DELAY>")]
    [Description("Simulate the labels from the input's is_fraud instead: each fraud labelled this long after it happened — a duration (7d, 36h), exp:MEAN or uniform:MIN..MAX, as 'StreamFraud.Trainer train --label-delay' (default 7d for a CSV without --labels and a card v2 bundle).")]
    public string? LabelDelay { get; init; }

    /// <summary>The default warm-up for <paramref name="spec"/>: 7 days, or 31 for a spec whose label features read 30 whole days back.</summary>
    public static TimeSpan DefaultWarmup(FeatureSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return TimeSpan.FromDays(spec.UsesEntityRisk ? CardFeatureSpecV2.HorizonDays + 1 : 7);
    }

    /// <summary>Report directory.</summary>
    [CommandOption("--out <DIR>")]
    [Description("Report directory: report.json, report.md, pr.png, roc.png (default replay-report).")]
    public string Out { get; init; } = "replay-report";

    /// <summary>Live alerts topic to compare with.</summary>
    [CommandOption("--live-alerts-topic <NAME>")]
    [Description("Compare with the alerts the live scorer emitted for the range (e.g. fraud-alerts).")]
    public string? LiveAlertsTopic { get; init; }

    /// <summary>Backtest topic receiving the first version's alerts.</summary>
    [CommandOption("--alerts-topic <NAME>")]
    [Description("Also write the first version's alerts there (never the live alerts topic).")]
    public string? AlertsTopic { get; init; }

    /// <summary>Redis for the replay's own state (else memory).</summary>
    [CommandOption("--redis <HOST:PORT>")]
    [Description("Keep the replay's windows in Redis under --redis-prefix (default: in memory).")]
    public string? Redis { get; init; }

    /// <summary>Redis credentials and TLS.</summary>
    [CommandOption("--redis-config <KEY=VALUE>")]
    [Description("With --redis: " + CommandLineClients.RedisConfigHelp)]
    public string[] RedisConfig { get; init; } = [];

    /// <summary>Key prefix of the replay's Redis state.</summary>
    [CommandOption("--redis-prefix <PREFIX>")]
    [Description("Key prefix of the replay's Redis state (never the live sf: prefix).")]
    public string? RedisPrefix { get; init; }

    /// <summary>Batch size.</summary>
    [CommandOption("--batch <N>")]
    [Description("Events scored per batch (default 512).")]
    [TypeConverter(typeof(WholeNumberConverter<int>))]
    [WholeNumber(1, 100_000)]
    public int Batch { get; init; } = 512;

    /// <summary>The LSTM serving path, as the scorer's <c>Scoring:LstmPath</c>.</summary>
    [CommandOption("--lstm-path <PATH>")]
    [Description("LSTM serving path, as the scorer's Scoring:LstmPath: auto (default, what a scorer on this machine serves: managed_bf16 where AMX-BF16 runs, else managed_int16 where AVX-512BW runs, when the bundle admits it), onnxruntime, managed_fp32 (the trainer's precision: reproduces its report's figures), managed_int16 or managed_bf16.")]
    public string LstmPath { get; init; } = "auto";

    /// <summary>The rules between flags: what is required, and never touching live state or live topics.</summary>
    public override ValidationResult Validate()
    {
        var problem = (string?)null;
        if (!Scoring.Lstm.LstmPaths.TryParseChoice(LstmPath, out _))
        {
            problem = $"--lstm-path '{LstmPath}': use {Scoring.Lstm.LstmPaths.ChoiceList}.";
        }
        else if (Registry is null)
        {
            problem = "--registry DIR is required: the bundle registry the trainer publishes to.";
        }
        else if (Versions is null or [])
        {
            problem = "--version V is required (repeat it to compare versions).";
        }
        else if (Input is null && (From is null || To is null))
        {
            problem = "topic input needs --from and --to (or give --input FILE.csv).";
        }
        else if (From is { } f && To is { } t && t <= f)
        {
            problem = $"--to {t:O} is not after --from {f:O}.";
        }
        else if (AlertsTopic is { } at && (at == Topics.FraudAlerts || at == LiveAlertsTopic))
        {
            problem = $"--alerts-topic {at} is a live alerts topic; a backtest writes to its own topic (e.g. fraud-alerts.backtest).";
        }
        else if (Redis is not null && (string.IsNullOrEmpty(RedisPrefix) || RedisPrefix == new RedisWindowStoreOptions().KeyPrefix))
        {
            problem = "--redis needs --redis-prefix with a prefix of its own (not the live 'sf:'), so the replay never touches live state.";
        }
        else if (Redis is null && RedisConfig is { Length: > 0 })
        {
            problem = "--redis-config applies to --redis: give --redis HOST:PORT too (without it the replay keeps its state in memory).";
        }
        else if (Labels is not null && LabelDelay is not null)
        {
            problem = "--label-delay simulates labels from is_fraud; --labels gives them with their own label times: give one of them.";
        }
        else if (LabelDelay is not null && !Core.Labels.LabelDelay.TryParse(LabelDelay, out _, out var delayError))
        {
            problem = $"--label-delay: {delayError}.";
        }

        return problem is null ? ValidationResult.Success() : ValidationResult.Error(problem);
    }

    /// <summary>
    /// The clients' settings: the flags over the <c>STREAMFRAUD_*</c> environment (<see cref="CommandLineClients"/>), Redis only
    /// with <c>--redis</c>.
    /// </summary>
    /// <exception cref="ReplayUsageException">A client flag or variable is wrong (each problem named).</exception>
    public ClientSettings Clients()
    {
        try
        {
            return CommandLineClients.Read(
                new ClientFlagValues
                {
                    Bootstrap = Bootstrap, KafkaConfig = KafkaConfig, SchemaRegistry = SchemaRegistry, SchemaRegistryConfig = SchemaRegistryConfig,
                    Redis = Redis, RedisConfig = RedisConfig,
                },
                ClientKinds.Kafka | ClientKinds.SchemaRegistry | (Redis is null ? ClientKinds.None : ClientKinds.Redis));
        }
        catch (ClientSettingsException e)
        {
            throw new ReplayUsageException(e.Message.Replace("\n", "; ", StringComparison.Ordinal));
        }
    }

    /// <summary><c>--from</c> and <c>--to</c>: an ISO date or date-time, UTC unless it says otherwise.</summary>
    private sealed class InstantConverter : FlagConverter
    {
        public override string Expectation => "an ISO date or date-time, e.g. 2026-01-15 or 2026-01-15T08:00:00Z";

        protected override bool TryParse(string text, out object? value)
        {
            var ok = DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var instant);
            value = instant;
            return ok;
        }
    }

    /// <summary><c>--warmup</c>: a non-negative duration.</summary>
    private sealed class DurationConverter : FlagConverter
    {
        public override string Expectation => "a duration like 7.00:00:00 or 12:00:00";

        protected override bool TryParse(string text, out object? value)
        {
            var ok = TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span) && span >= TimeSpan.Zero;
            value = span;
            return ok;
        }
    }
}

/// <summary>Runs a replay end to end: bundles, source, isolated state, report, optional backtest topic.</summary>
public static class ReplayCommand
{
    /// <summary>Runs and returns the report (written to <see cref="ReplayArgs.Out"/>).</summary>
    public static async Task<ReplayReport> RunAsync(ReplayArgs a, IAnsiConsole console, CancellationToken cancellationToken = default)
    {
        var clients = a.Clients(); // wrong client flags fail before bundles load
        foreach (var warning in clients.Warnings)
        {
            console.MarkupLine($"[yellow]warning:[/] {Markup.Escape(warning)}");
        }
        var registry = new BundleRegistry(a.Registry);
        var bundles = new List<ModelBundle>();
        try
        {
            FeatureSpec? spec = null;
            foreach (var version in a.Versions)
            {
                if (BundleNames.Problem(version) is { } nameProblem)
                {
                    throw new ReplayUsageException($"--version: {nameProblem}; see 'StreamFraud.Trainer models list'.");
                }

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
                Scoring.Lstm.LstmPaths.TryParseChoice(a.LstmPath, out var lstmPath);
                var bundle = ModelBundle.Load(registry.PathOf(version), s, new BundleLoadOptions { WarmupBatch = a.Batch, LstmPath = lstmPath });
                bundles.Add(bundle);
                console.MarkupLine($"  {Markup.Escape(version)}: LSTM on {bundle.LstmPath}, trees on {TreeEvaluatorNames.Name(bundle.Trees)} ([grey]{Markup.Escape(bundle.TreeChoice.Reason)}[/]), explanations on {bundle.Explainer.Name}");
                if (bundle.LstmPathNote is { } note)
                {
                    console.MarkupLine($"  [grey]{Markup.Escape(note)}[/]");
                }
            }

            using var schemaRegistry = new CachedSchemaRegistryClient(clients.SchemaRegistry.Config());
            var warmup = a.Warmup ?? ReplayArgs.DefaultWarmup(spec!);
            if (spec!.UsesEntityRisk && warmup < ReplayArgs.DefaultWarmup(spec) && a.From is not null)
            {
                console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
                    $"[yellow]warning:[/] --warmup {warmup} is shorter than {ReplayArgs.DefaultWarmup(spec).TotalDays:0} days: the label features of {Markup.Escape(spec.ToString())} read the 30 days before each event's day, so early in the range they lack history the live scorer had."));
            }

            IReplaySource source = a.Input is not null
                ? new CsvReplaySource(a.Input, a.From, a.To, warmup)
                : new TopicReplaySource(clients.Kafka, schemaRegistry, a.Topic, a.From!.Value, a.To!.Value, warmup);
            var labels = ReadLabels(a, clients.Kafka, spec, warmup, schemaRegistry, cancellationToken);
            IWindowStore store;
            ConnectionMultiplexer? mux = null;
            if (a.Redis is not null)
            {
                mux = await clients.Redis.ConnectAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
                store = new RedisWindowStore(mux.GetDatabase(), spec!, new RedisWindowStoreOptions { KeyPrefix = a.RedisPrefix! });
            }
            else
            {
                store = new InMemoryWindowStore(spec!);
            }

            var feedLabels = spec.UsesEntityRisk && labels is not null;
            if (feedLabels && store is not ILabelStore)
            {
                mux?.Dispose();
                throw new ReplayUsageException($"--redis: this build's Redis window store cannot apply labels, which spec {spec} reads; drop --redis (the replay then keeps its state in memory).");
            }

            BacktestResult result;
            try
            {
                var started = DateTime.UtcNow;
                var every = a.Batch * 20L;
                var reported = 0L;
                result = await Backtest.RunAsync(source, bundles, store, spec, feedLabels ? labels!.NewFeed() : null, a.Batch, seen =>
                {
                    if (seen / every > reported) // batches cut at labels are shorter: report each multiple crossed
                    {
                        reported = seen / every;
                        console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"  {seen:N0} events, {seen / Math.Max(0.001, (DateTime.UtcNow - started).TotalSeconds):N0}/s"));
                    }
                }, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                mux?.Dispose();
            }

            IReadOnlyList<FraudAlert>? live = a.LiveAlertsTopic is { } liveTopic ? ReadLiveAlerts(a, clients.Kafka, schemaRegistry, liveTopic) : null;
            var report = ReplayReport.Build(result, a.Input ?? $"{a.Topic}@{clients.Kafka.BootstrapServers}", a.From, a.To, warmup, live, labels, feedLabels);
            report.Write(a.Out, result);
            if (a.AlertsTopic is { } backtestTopic)
            {
                await WriteAlerts(clients.Kafka, schemaRegistry, backtestTopic, result).ConfigureAwait(false);
            }

            console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"[bold]{result.Events.Count:N0} events replayed[/] in {result.Elapsed.TotalSeconds:F1} s; report in {Markup.Escape(Path.GetFullPath(a.Out))}"));
            foreach (var v in report.Versions)
            {
                console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"  {Markup.Escape(v.Version)}: {v.Alerts:N0} alerts, AP {v.AveragePrecision?.ToString("F4", CultureInfo.InvariantCulture) ?? "-"}"));
            }

            if (report.Labels is { } rl)
            {
                console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"  labels: {Markup.Escape(rl.Description)}{(rl.FedToFeatures ? ", merged into the windows by label time" : "")}"));
                foreach (var v in report.Versions)
                {
                    foreach (var q in v.ByLabels)
                    {
                        var c = q.Policies[Core.Evaluation.ThresholdPolicyNames.CostMin];
                        console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"  {Markup.Escape(v.Version)} by labels ({q.Basis}): {q.Positives:N0} frauds, precision {c.Precision:F4}, recall {c.Recall:F4}, cost {c.Cost:F0}"));
                    }
                }
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

    /// <summary>
    /// The replay's labels: <c>--labels</c>, else simulated with <c>--label-delay</c>, else the labels topic for topic
    /// input, else — a CSV and a spec that reads labels — simulated with the default delay (as the trainer does).
    /// </summary>
    private static ReplayLabels? ReadLabels(ReplayArgs a, KafkaClientSettings kafka, FeatureSpec spec, TimeSpan warmup, ISchemaRegistryClient registry, CancellationToken cancellationToken)
    {
        if (a.Labels is { } file)
        {
            return ReplayLabels.FromFile(file);
        }

        if (a.LabelDelay is { } text)
        {
            _ = Core.Labels.LabelDelay.TryParse(text, out var delay, out _); // validated with the flags
            return ReplayLabels.Simulated(delay);
        }

        if (a.Input is null)
        {
            // Labels that arrived during the warm-up shape its entity risk; those of the 30 days before it may still
            // name transactions inside the features' horizon.
            var since = a.From!.Value - warmup - TimeSpan.FromDays(CardFeatureSpecV2.HorizonDays);
            var labels = ReplayLabels.FromTopic(kafka, registry, a.LabelsTopic, since, cancellationToken);
            if (labels is null && spec.UsesEntityRisk)
            {
                throw new ReplayUsageException($"--labels-topic {a.LabelsTopic}: no such topic on {kafka.BootstrapServers}, and spec {spec} reads labels; name the labels topic, or give --labels FILE.");
            }

            // A spec without label features uses labels only to judge decisions: none read, nothing to report.
            return labels is { Read.Count: 0 } && !spec.UsesEntityRisk ? null : labels;
        }

        return spec.UsesEntityRisk ? ReplayLabels.Simulated(Core.Labels.LabelDelay.Default) : null;
    }

    private static List<FraudAlert> ReadLiveAlerts(ReplayArgs a, KafkaClientSettings kafka, ISchemaRegistryClient registry, string topic)
    {
        using var consumer = new ConsumerBuilder<string, FraudAlert>(ReplayClients.Reader(kafka, "streamfraud-replay-live"))
            .SetValueDeserializer(new AvroDeserializer<FraudAlert>(registry).AsSyncOverAsync())
            .SetLogHandler((_, _) => { })
            .Build();
        using var admin = new AdminClientBuilder(ReplayClients.Admin(kafka)).SetLogHandler((_, _) => { }).Build();
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

    private static async Task WriteAlerts(KafkaClientSettings kafka, ISchemaRegistryClient registry, string topic, BacktestResult result)
    {
        using var producer = new ProducerBuilder<string, FraudAlert>(ReplayClients.AlertsProducer(kafka))
            .SetValueSerializer(new AvroSerializer<FraudAlert>(registry))
            .Build();
        foreach (var alert in result.Versions[0].Alerts.Values.OrderBy(x => x.EventTimeMs))
        {
            await producer.ProduceAsync(topic, new Message<string, FraudAlert> { Key = alert.CardId, Value = AlertRecords.ToRecord(alert) }).ConfigureAwait(false);
        }
    }
}

/// <summary>
/// Every Kafka client of a replay, built from the same settings (<see cref="KafkaClientSettings.Common"/>: bootstrap and
/// security from <c>--bootstrap</c>, <c>--kafka-config</c> and the environment) with each role's own on top.
/// </summary>
public static class ReplayClients
{
    /// <summary>A reader of a topic range: a fresh group that never commits, read_committed, short fetch waits.</summary>
    public static ConsumerConfig Reader(KafkaClientSettings kafka, string groupPrefix)
    {
        ArgumentNullException.ThrowIfNull(kafka);
        return new ConsumerConfig(kafka.Client().ToDictionary(kv => kv.Key, kv => kv.Value))
        {
            GroupId = $"{groupPrefix}-{Guid.NewGuid():N}", // never used for commits
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            IsolationLevel = IsolationLevel.ReadCommitted,
            FetchWaitMaxMs = 50,
        };
    }

    /// <summary>The admin client (topic metadata).</summary>
    public static AdminClientConfig Admin(KafkaClientSettings kafka)
    {
        ArgumentNullException.ThrowIfNull(kafka);
        return kafka.Admin();
    }

    /// <summary>The producer of <c>--alerts-topic</c>: idempotent.</summary>
    public static ProducerConfig AlertsProducer(KafkaClientSettings kafka)
    {
        ArgumentNullException.ThrowIfNull(kafka);
        return new ProducerConfig(kafka.Client().ToDictionary(kv => kv.Key, kv => kv.Value)) { EnableIdempotence = true };
    }
}
