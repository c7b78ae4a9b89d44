using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using StackExchange.Redis;
using StreamFraud.Clients;
using StreamFraud.Core;
using StreamFraud.Core.Evaluation;
using StreamFraud.Core.Features;
using StreamFraud.Core.Quality;
using StreamFraud.Kafka;
using StreamFraud.Scorer.Labels;
using StreamFraud.Scorer.Loop;
using StreamFraud.Redis;
using StreamFraud.Scoring;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Scoring.Lstm;
using StreamFraud.Scoring.Onnx;
using StreamFraud.Scoring.Trees;

namespace StreamFraud.Scorer;

/// <summary>A configuration problem found at start; the message names the key and what to do.</summary>
public sealed class ScorerConfigurationException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Everything the scorer registers, in one place.</summary>
public static class ScorerHost
{
    /// <summary>The <c>--help</c> text.</summary>
    public const string Help = """
DESCRIPTION:
StreamFraud scorer: consumes transactions, keeps each card's window in Redis, scores it with the serving bundle
(LSTM + XGBoost) and produces alerts. Every option is a configuration key: appsettings.json,
STREAMFRAUD_Section__Key environment variables, or --Section:Key value on the command line.

USAGE:
    StreamFraud.Scorer [OPTIONS]

EXAMPLES:
    StreamFraud.Scorer --Models:Registry models --Kafka:BootstrapServers 127.0.0.1:9092 --urls http://0.0.0.0:8080
    StreamFraud.Scorer --Models:Registry models --Scorer:ExactlyOnce true --Kafka:Consumer:group.id scorer-eos

OPTIONS:
    -h, --help                      Prints help information
        --Kafka:BootstrapServers    Brokers (default localhost:9092); applied to every Kafka client
        --Kafka:Client:<setting>    Any librdkafka setting for every Kafka client (consumer, producer, label consumer and
                                    producer, model-updates listener): security.protocol, sasl.mechanism, sasl.username,
                                    sasl.password, ssl.ca.location, ssl.certificate.location, ssl.key.location,
                                    ssl.key.password... e.g. --Kafka:Client:security.protocol SASL_SSL
        --Kafka:Consumer:<setting>  Any librdkafka consumer setting, over Kafka:Client, e.g. --Kafka:Consumer:group.id
                                    streamfraud-scorer (the label consumer takes them too)
        --Kafka:Producer:<setting>  Any librdkafka producer setting, over Kafka:Client, e.g. --Kafka:Producer:linger.ms 5
        --SchemaRegistry:Url        Schema Registry (default http://localhost:8081)
        --SchemaRegistry:<setting>  Any Schema Registry client setting (schema.registry. prefix optional):
                                    basic.auth.user.info USER:PASSWORD, basic.auth.credentials.source SASL_INHERIT,
                                    ssl.ca.location, ssl.keystore.location (PKCS#12) and ssl.keystore.password
        --Redis:Configuration       StackExchange.Redis configuration (default localhost:6379), without secrets; for a
                                    Redis Cluster, some of its nodes (host:port,host:port): the rest are discovered
        --Redis:User                Redis ACL user; --Redis:Password its password (both replace user=/password= of
                                    Redis:Configuration)
        --Redis:Tls                 true: connect with TLS (default: ssl= of Redis:Configuration)
        --Redis:CaFile              PEM CA certificate(s) the server's certificate must chain to (default: the system's)
        --Redis:CertFile            PEM client certificate for servers with tls-auth-clients; --Redis:KeyFile its key
                                    Secrets: a value file:PATH of any Kafka:* or SchemaRegistry:* key or of the Redis
                                    keys above is read from that file (a mounted Kubernetes Secret); in environment
                                    variables '_' may stand for '.' in librdkafka and registry property names
                                    (STREAMFRAUD_Kafka__Client__SASL_PASSWORD). Credentials are masked in every log
                                    line and error
        --Redis:KeyPrefix           Card state key prefix (default sf:); keys are <prefix>c:<card>, undo <prefix>u:<card>;
                                    on a Redis Cluster (detected) <prefix>c:{hhhh}<card>, a per-card hash tag
        --Redis:LegacyKeyPrefix     Migration: read a card without state from its old key <prefix><card> (e.g. sf:card:)
        --Redis:IdleTtl             Idle card expiry (default 60.00:00:00)
        --Models:Registry           Required. Bundle registry directory; serves what current.json names
        --Models:Pin                Serve this version instead of current.json (re-read while running); a plain name
                                    ([A-Za-z0-9][A-Za-z0-9._-]*, no '..', at most 128 characters)
        --Models:PollInterval       How often current.json is checked for a new bundle (default 00:00:02)
        --Models:RequireDigest      Refuse a current.json entry without the manifest's SHA-256 (default true; 'models
                                    promote VERSION' records it). false: accept it with a warning
        --Models:MaxFileBytes       Largest bundle file accepted, checked before reading (default 536870912 = 512 MiB)
        --Models:LoadTimeout        Longest a bundle load may take; past it the bundle is refused (default 00:01:00)
        --Models:ListenAnnouncements  Check at once on a model-updates announcement (default true)
        --Models:Challenger         A second bundle scoring every batch on the same windows; its alerts go only to
                                    Scorer:ShadowTopic, agreement in metrics
        --Scoring:FeatureSpec       Feature spec the scorer runs: auto (default: the spec of the bundle it starts with),
                                    card:v2, card:v1 (also 'card'), or precomputed:N
        --Scoring:Policy            cost_min (default), best_f1, target_recall or fixed
        --Scoring:FixedThreshold    Threshold for the fixed policy
        --Scoring:Device            Where the LSTM runs: auto (default: CUDA when ONNX Runtime's CUDA provider loads,
                                    else CPU with the reason logged once), cpu, or cuda (fail at start without it);
                                    --Scoring:DeviceId (default 0). /readyz details and streamfraud_model_serving's
                                    lstm_device label show the choice
        --Scoring:LstmPath          LSTM serving path: auto (default: on CPU the fastest managed path the bundle's
                                    trainer admitted that reproduces the golden windows: managed_bf16 where AMX-BF16
                                    runs, then managed_int16 where AVX-512BW runs, then managed_fp32; else ONNX
                                    Runtime; paths skipped are logged with the reason), onnxruntime (always; the
                                    only path on CUDA), managed_bf16 (bf16 products on Intel AMX), managed_int16
                                    (int16 products) or managed_fp32 (refuse a bundle that does not admit the path;
                                    bf16 and int16 are admitted by validation AP; all three run on CPU, so
                                    Device=auto means cpu then and Device=cuda is refused)
        --Scoring:LstmThreads       Cores one LSTM run may use on CPU, any path (default 0: every core)
        --Scoring:Trees             XGBoost evaluator: auto (default: the managed one when it reproduces libxgboost
                                    within 1e-6 at bundle load and is faster), managed (refuse a bundle it cannot
                                    reproduce) or libxgboost
        --Scoring:TopFeatures       XGBoost features explained per alert (default 3)
        --Scorer:InputTopic         Input topic (default transactions); also AlertsTopic, DlqTopic, ShadowTopic,
                                    ScoresTopic (optional, every score as JSON)
        --Scorer:SourceId           Extra input identity (default empty: the topic name). Set a new value after the
                                    input topic is re-created or on failover to a cluster with a same-named topic
        --Scorer:BatchSize          Most events per batch (default 512); --Scorer:BatchTimeout (default 00:00:00.010)
        --Scorer:ExactlyOnce        Kafka transactions for alerts, DLQ and offsets (default false)
        --Scorer:RetryBaseDelay     First retry delay after a transient failure (default 00:00:00.200);
                                    --Scorer:RetryMaxDelay (default 00:00:10)
        --Scorer:MaxInputBytes      Larger input messages (key + value + headers) are not decoded: the DLQ gets a
                                    reference record (position, sizes, SHA-256) instead (default 262144)
        --Scorer:ReadinessGrace     How long a dependency may fail before /readyz turns false (default 00:00:30)
        --Scorer:Labels:Enabled     Consume fraud labels into the label store and join them with alerts for live
                                    quality metrics (default true); a labels outage never stops scoring
        --Scorer:Labels:Topic       Labels topic (default fraud-labels); --Scorer:Labels:DlqTopic (default
                                    fraud-labels.dlq)
        --Scorer:Labels:GroupId     The label consumer's own group (default <Kafka:Consumer:group.id>-labels)
        --Scorer:Labels:BatchSize   Most labels per batch (default 500); --Scorer:Labels:BatchTimeout (default
                                    00:00:00.200)
        --Scorer:Labels:DecisionTtl How long an alert's decision record <prefix>d:<transaction_id> is kept for the
                                    label join (default 40.00:00:00)
        --urls                      HTTP endpoints /healthz, /readyz, /metrics (Prometheus), e.g. http://0.0.0.0:8080
""";


    /// <summary>Registers configuration, clients, the serving bundle, the scoring loop, metrics and health checks.</summary>
    /// <exception cref="ScorerConfigurationException">A setting is missing or wrong.</exception>
    public static void AddScorer(this WebApplicationBuilder builder)
    {
        var config = builder.Configuration;
        var settings = Settings.Read(config);
        // Secrets read from files (file:PATH values) are known only now: mask them too.
        SecretRedactor.AddToCurrent(settings.Clients.Secrets);
        builder.Services.AddSingleton(settings);
        // Counters are recorded at 0 when created (ScorerMetrics, BundleManager), and a measurement made before the meter
        // provider listens is lost: both resolve the provider first (it is otherwise started with the hosted services,
        // after the bundle loaded).
        builder.Services.AddSingleton<ScorerMetrics>(sp =>
        {
            sp.GetRequiredService<MeterProvider>();
            return new ScorerMetrics(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>());
        });
        builder.Services.AddSingleton(sp =>
        {
            sp.GetRequiredService<MeterProvider>();
            return new BundleManager(
                new BundleRegistry(settings.ModelRegistry), settings.Spec,
                new BundleManagerOptions
                {
                    PollInterval = settings.PollInterval,
                    Load = settings.LoadOptions,
                    RequireDigest = settings.RequireDigest,
                },
                () => config["Models:Pin"], // re-read on every poll: a pin set in appsettings.json takes effect while running
                sp.GetRequiredService<ILoggerFactory>().CreateLogger<BundleManager>(),
                sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>().Create(new System.Diagnostics.Metrics.MeterOptions(ScorerMetrics.MeterName)));
        });
        builder.Services.AddSingleton<ScorerResources>();
        builder.Services.AddHostedService<BundleWatcher>();
        builder.Services.AddSingleton<ScorerWorker>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ScorerWorker>());
        builder.Services.AddSingleton<LabelWorker>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LabelWorker>());
        builder.Services.AddHealthChecks()
            .AddCheck("live", () => HealthCheckResult.Healthy(), tags: ["live"])
            .AddCheck<ReadinessCheck>("ready", tags: ["ready"]);
        // Runtime (GC, JIT, thread pool, exceptions: the runtime's System.Runtime meter, dotnet_*) and process (CPU,
        // memory, threads: process_*) metrics beside the scorer's own.
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("streamfraud-scorer")) // target_info's service_name
            .WithMetrics(m => m
                .AddMeter(ScorerMetrics.MeterName)
                .AddRuntimeInstrumentation()
                .AddProcessInstrumentation()
                .AddPrometheusExporter());
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
    }

    /// <summary>Maps <c>/healthz</c>, <c>/readyz</c> and <c>/metrics</c>.</summary>
    public static void MapScorerEndpoints(this WebApplication app)
    {
        app.MapHealthChecks("/healthz", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions { Predicate = c => c.Tags.Contains("live") });
        app.MapHealthChecks("/readyz", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions
        {
            Predicate = c => c.Tags.Contains("ready"),
            ResponseWriter = WriteReadiness,
        });
        app.MapPrometheusScrapingEndpoint("/metrics");
    }

    /// <summary>
    /// <c>/readyz</c>'s body: the status, the reason when not ready, and the details of every check (the label
    /// consumer's state, which never makes the scorer unready), as JSON.
    /// </summary>
    private static Task WriteReadiness(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new Dictionary<string, object?> { ["status"] = report.Status.ToString() };
        foreach (var (name, entry) in report.Entries)
        {
            body[name] = new Dictionary<string, object?>
            {
                ["status"] = entry.Status.ToString(),
                ["reason"] = entry.Description,
                ["details"] = entry.Data,
            };
        }

        return context.Response.WriteAsync(System.Text.Json.JsonSerializer.Serialize(body));
    }
}

/// <summary>Validated settings.</summary>
public sealed record Settings(
    ConsumerConfig Consumer,
    ProducerConfig Producer,
    string RegistryUrl,
    string RedisConfiguration,
    RedisWindowStoreOptions Redis,
    string ModelRegistry,
    string? Pin,
    FeatureSpec Spec,
    ScoringOptions Scoring,
    InferenceDevice Device,
    int DeviceId,
    ScorerOptions Scorer,
    TimeSpan PollInterval,
    string? Challenger)
{
    /// <summary>Refuse current.json entries without a manifest digest (<c>Models:RequireDigest</c>).</summary>
    public bool RequireDigest { get; init; } = true;

    /// <summary>Largest bundle file (<c>Models:MaxFileBytes</c>).</summary>
    public long MaxFileBytes { get; init; } = BundleLoadOptions.DefaultMaxFileBytes;

    /// <summary>Longest bundle load (<c>Models:LoadTimeout</c>).</summary>
    public TimeSpan LoadTimeout { get; init; } = BundleLoadOptions.DefaultLoadTimeout;

    /// <summary>Which evaluator scores the trees (<c>Scoring:Trees</c>).</summary>
    public TreeEvaluator Trees { get; init; } = TreeEvaluator.Auto;

    /// <summary>The label consumer (<c>Scorer:Labels:*</c>).</summary>
    public LabelOptions Labels { get; init; } = new();

    /// <summary>The LSTM serving path asked for (<c>Scoring:LstmPath</c>).</summary>
    public LstmPathChoice LstmPath { get; init; } = LstmPathChoice.Auto;

    /// <summary>Cores per LSTM run on CPU (<c>Scoring:LstmThreads</c>; 0: every core).</summary>
    public int LstmThreads { get; init; }

    /// <summary>Every client's settings (<c>Kafka:*</c>, <c>SchemaRegistry:*</c>, <c>Redis:*</c> connection keys);
    /// <see cref="Consumer"/> and <see cref="Producer"/> are built from them.</summary>
    public ClientSettings Clients { get; init; } = ClientSettings.Defaults;

    /// <summary>How the serving bundle and the challenger are loaded.</summary>
    public BundleLoadOptions LoadOptions => new()
    {
        Device = Device, DeviceId = DeviceId, WarmupBatch = Scorer.BatchSize, MaxFileBytes = MaxFileBytes, LoadTimeout = LoadTimeout,
        LstmPath = LstmPath, LstmThreads = LstmThreads, Trees = Trees,
    };

    /// <summary>Reads and validates every key; all problems are reported at once.</summary>
    public static Settings Read(IConfiguration config)
    {
        var problems = new List<string>();
        var clients = ClientSettings.FromConfiguration(config.AsEnumerable(), problems);
        var consumer = clients.Kafka.Consumer();
        consumer.GroupId ??= "streamfraud-scorer";
        var producer = clients.Kafka.Producer();

        var registry = config["Models:Registry"];
        if (string.IsNullOrWhiteSpace(registry))
        {
            problems.Add("Models:Registry is not set: point it at the bundle registry directory the trainer publishes to (--Models:Registry DIR).");
        }
        else if (!Directory.Exists(registry))
        {
            problems.Add($"Models:Registry '{registry}' does not exist: train and publish a bundle there first (StreamFraud.Trainer train --registry DIR --promote).");
        }

        var specName = config["Scoring:FeatureSpec"] ?? "auto";
        FeatureSpec? spec = null;
        if (!TryResolveSpec(specName, registry, config["Models:Pin"], out spec, out var specError))
        {
            problems.Add($"Scoring:FeatureSpec '{specName}': {specError}");
        }

        var policyText = config["Scoring:Policy"] ?? ThresholdPolicyNames.CostMin;
        if (!ThresholdPolicyNames.TryParse(policyText, out var policy))
        {
            problems.Add($"Scoring:Policy '{policyText}': use cost_min, best_f1, target_recall or fixed.");
        }

        double? fixedThreshold = null;
        if (config["Scoring:FixedThreshold"] is { } ft)
        {
            if (double.TryParse(ft, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var t) && t is >= 0 and <= 1)
            {
                fixedThreshold = t;
            }
            else
            {
                problems.Add($"Scoring:FixedThreshold '{ft}': a number between 0 and 1.");
            }
        }

        if (policy == ThresholdPolicy.Fixed && fixedThreshold is null)
        {
            problems.Add("Scoring:Policy is fixed but Scoring:FixedThreshold is not set.");
        }

        // GPU by default: auto takes CUDA when its provider loads (CUDA 13, cuDNN 9) and falls back to CPU with the reason
        // logged once; the choice is in /readyz's details and on streamfraud.model.serving (tag lstm.device).
        var deviceText = config["Scoring:Device"] ?? "auto";
        if (!Enum.TryParse<InferenceDevice>(deviceText, ignoreCase: true, out var device))
        {
            problems.Add($"Scoring:Device '{deviceText}': use auto, cpu or cuda.");
        }

        var lstmPathText = config["Scoring:LstmPath"] ?? "auto";
        if (!LstmPaths.TryParseChoice(lstmPathText, out var lstmPath))
        {
            problems.Add($"Scoring:LstmPath '{lstmPathText}': use {LstmPaths.ChoiceList}.");
        }
        else if (lstmPath is LstmPathChoice.ManagedFp32 or LstmPathChoice.ManagedInt16 or LstmPathChoice.ManagedBf16 && device == InferenceDevice.Cuda)
        {
            problems.Add($"Scoring:LstmPath {LstmPaths.Name(lstmPath)} runs on CPU but Scoring:Device is {deviceText}: set Scoring:Device=cpu or auto, or Scoring:LstmPath=auto (ONNX Runtime on CUDA when present).");
        }
        else if (lstmPath is LstmPathChoice.ManagedFp32 or LstmPathChoice.ManagedInt16 or LstmPathChoice.ManagedBf16)
        {
            device = InferenceDevice.Cpu; // a CPU path asked for: Device=auto does not try CUDA
        }

        var lstmThreads = Int(config, "Scoring:LstmThreads", 0, problems);
        if (lstmThreads is < 0 or > 1024)
        {
            problems.Add($"Scoring:LstmThreads '{lstmThreads}': 0 (every core) or a number of cores up to 1024.");
        }

        var treesText = config["Scoring:Trees"] ?? "auto";
        if (!TreeEvaluatorNames.TryParse(treesText, out var trees))
        {
            problems.Add($"Scoring:Trees '{treesText}': use auto, managed or libxgboost.");
        }

        var scorer = new ScorerOptions
        {
            InputTopic = config["Scorer:InputTopic"] ?? Topics.Transactions,
            SourceId = config["Scorer:SourceId"],
            AlertsTopic = config["Scorer:AlertsTopic"] ?? Topics.FraudAlerts,
            DlqTopic = config["Scorer:DlqTopic"] ?? Topics.TransactionsDlq,
            ScoresTopic = config["Scorer:ScoresTopic"],
            ShadowTopic = config["Scorer:ShadowTopic"] ?? Topics.FraudAlertsShadow,
            BatchSize = Int(config, "Scorer:BatchSize", 512, problems),
            BatchTimeout = Time(config, "Scorer:BatchTimeout", new ScorerOptions().BatchTimeout, problems),
            RetryBaseDelay = Time(config, "Scorer:RetryBaseDelay", TimeSpan.FromMilliseconds(200), problems),
            RetryMaxDelay = Time(config, "Scorer:RetryMaxDelay", TimeSpan.FromSeconds(10), problems),
            ReadinessGrace = Time(config, "Scorer:ReadinessGrace", TimeSpan.FromSeconds(30), problems),
            ExactlyOnce = Bool(config, "Scorer:ExactlyOnce", false, problems),
            MaxInputBytes = Int(config, "Scorer:MaxInputBytes", 256 * 1024, problems),
        };
        problems.AddRange(scorer.Validate());
        var labels = new LabelOptions
        {
            Enabled = Bool(config, "Scorer:Labels:Enabled", true, problems),
            Topic = config["Scorer:Labels:Topic"] ?? Topics.FraudLabels,
            DlqTopic = config["Scorer:Labels:DlqTopic"] ?? Topics.FraudLabelsDlq,
            GroupId = config["Scorer:Labels:GroupId"] is { Length: > 0 } labelGroup ? labelGroup : null,
            BatchSize = Int(config, "Scorer:Labels:BatchSize", 500, problems),
            BatchTimeout = Time(config, "Scorer:Labels:BatchTimeout", TimeSpan.FromMilliseconds(200), problems),
            DecisionTtl = Time(config, "Scorer:Labels:DecisionTtl", TimeSpan.FromDays(40), problems),
        };
        problems.AddRange(labels.Validate(scorer, consumer.GroupId));
        var redis = new RedisWindowStoreOptions
        {
            KeepUndo = scorer.ExactlyOnce,
            KeyPrefix = config["Redis:KeyPrefix"] ?? new RedisWindowStoreOptions().KeyPrefix,
            LegacyKeyPrefix = config["Redis:LegacyKeyPrefix"],
            IdleTtl = Time(config, "Redis:IdleTtl", TimeSpan.FromDays(60), problems),
        };
        if (redis.LegacyKeyPrefix is { Length: > 0 } legacy && legacy == redis.KeyPrefix)
        {
            problems.Add($"Redis:LegacyKeyPrefix '{legacy}' equals Redis:KeyPrefix: old keys must live under another prefix (e.g. the previous default sf:card:).");
        }

        var topFeatures = Int(config, "Scoring:TopFeatures", 3, problems);
        var deviceId = Int(config, "Scoring:DeviceId", 0, problems);
        var pollInterval = Time(config, "Models:PollInterval", TimeSpan.FromSeconds(2), problems);
        foreach (var key in new[] { "Models:Pin", "Models:Challenger" })
        {
            if (config[key] is { Length: > 0 } name && BundleNames.Problem(name) is { } nameProblem)
            {
                problems.Add($"{key}: version {nameProblem}; name a version directory of the registry ('models list').");
            }
        }

        var requireDigest = Bool(config, "Models:RequireDigest", true, problems);
        var maxFileBytes = BundleLoadOptions.DefaultMaxFileBytes;
        if (config["Models:MaxFileBytes"] is { } maxText)
        {
            if (long.TryParse(maxText, System.Globalization.CultureInfo.InvariantCulture, out var max) && max > 0)
            {
                maxFileBytes = max;
            }
            else
            {
                problems.Add($"Models:MaxFileBytes '{maxText}': a positive number of bytes, e.g. 536870912 (512 MiB).");
            }
        }

        var loadTimeout = Time(config, "Models:LoadTimeout", BundleLoadOptions.DefaultLoadTimeout, problems);
        if (loadTimeout <= TimeSpan.Zero)
        {
            problems.Add($"Models:LoadTimeout '{config["Models:LoadTimeout"]}': a positive duration like 00:01:00.");
        }

        if (problems.Count > 0)
        {
            throw new ScorerConfigurationException("invalid configuration:\n  " + string.Join("\n  ", problems));
        }

        return new Settings(
            consumer, producer, clients.SchemaRegistry.Url, clients.Redis.Configuration,
            redis, registry!, config["Models:Pin"], spec!,
            new ScoringOptions { Policy = policy, FixedThreshold = fixedThreshold, TopFeatures = topFeatures },
            device, deviceId, scorer, pollInterval, config["Models:Challenger"] is { Length: > 0 } challenger ? challenger : null)
        {
            RequireDigest = requireDigest,
            MaxFileBytes = maxFileBytes,
            LoadTimeout = loadTimeout,
            Trees = trees,
            Labels = labels,
            Clients = clients,
            LstmPath = lstmPath,
            LstmThreads = lstmThreads,
        };
    }

    /// <summary>
    /// One line describing the effective configuration for the start-up log, with every credential masked (by key
    /// name and by <see cref="SecretRedactor.Current"/>).
    /// </summary>
    public string Describe()
    {
        static string Client(IEnumerable<KeyValuePair<string, string>> config) => KafkaClientSettings.Describe(config);

        var text = $"consumer[{Client(Consumer)}] producer[{Client(Producer)}] registry[{Clients.SchemaRegistry.Describe()}] redis[{Clients.Redis.Describe()}] " +
            $"keyPrefix={Redis.KeyPrefix} models={ModelRegistry} pin={Pin ?? "-"} challenger={Challenger ?? "-"} spec={Spec.Name} " +
            $"policy={Scoring.Policy} device={Device} lstmPath={LstmPath} trees={TreeEvaluatorNames.Name(Trees)} mode={(Scorer.ExactlyOnce ? "exactly-once" : "at-least-once")} input={Scorer.InputTopic} " +
            $"alerts={Scorer.AlertsTopic} dlq={Scorer.DlqTopic} batch={Scorer.BatchSize} maxInputBytes={Scorer.MaxInputBytes} " +
            (Labels.Enabled
                ? $"labels={Labels.Topic} labelsDlq={Labels.DlqTopic} labelsGroup={Labels.Group(Consumer.GroupId ?? "streamfraud-scorer")} labelsBatch={Labels.BatchSize}"
                : "labels=off");
        return SecretRedactor.Current.With(Clients.Secrets).Redact(text);
    }

    /// <summary>
    /// The spec of <c>Scoring:FeatureSpec</c>: <c>card</c>/<c>card:v1</c>, <c>card:v2</c> and <c>precomputed:N</c> name
    /// one; <c>auto</c> takes the spec recorded in the manifest of the bundle the scorer starts with (<c>Models:Pin</c>,
    /// else current.json's version, else its previous one). When none of them can be read, auto is <c>card</c> v2 and
    /// the bundle loader then reports what is wrong with the bundle. A hot reload to a bundle of another spec is refused
    /// by the loader, naming both specs.
    /// </summary>
    private static bool TryResolveSpec(string text, string? registry, string? pin, out FeatureSpec? spec, out string? error)
    {
        if (!string.Equals(text, "auto", StringComparison.Ordinal))
        {
            var (name, version) = text switch
            {
                "card:v1" => ("card", 1),
                "card:v2" => ("card", 2),
                _ => (text, 1),
            };
            return FeatureSpec.TryResolve(name, version, out spec, out error);
        }

        spec = FeatureSpec.CardV2;
        error = null;
        if (string.IsNullOrWhiteSpace(registry) || !Directory.Exists(registry))
        {
            return true; // the registry problem is reported on its own
        }

        try
        {
            var bundles = new BundleRegistry(registry);
            var current = pin is null ? bundles.ReadCurrent() : null;
            foreach (var version in new[] { pin, current?.Version, current?.Previous }.OfType<string>())
            {
                try
                {
                    var f = BundleManifest.Read(Path.Combine(bundles.PathOf(version), "manifest.json")).FeatureSpec;
                    if (FeatureSpec.TryResolve(f.Name, f.Version, out var recorded, out _))
                    {
                        spec = recorded;
                        return true;
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException or System.Text.Json.JsonException)
                {
                    // Unreadable: the next candidate; the loader reports this bundle's problem.
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException or System.Text.Json.JsonException)
        {
            // current.json unreadable: reported by the bundle manager.
        }

        return true;
    }

    private static int Int(IConfiguration c, string key, int fallback, List<string> problems)
    {
        var text = c[key];
        if (text is null)
        {
            return fallback;
        }

        if (int.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var v))
        {
            return v;
        }

        problems.Add($"{key} '{text}': expected an integer.");
        return fallback;
    }

    private static bool Bool(IConfiguration c, string key, bool fallback, List<string> problems)
    {
        var text = c[key];
        if (text is null)
        {
            return fallback;
        }

        if (bool.TryParse(text, out var v))
        {
            return v;
        }

        problems.Add($"{key} '{text}': expected true or false.");
        return fallback;
    }

    private static TimeSpan Time(IConfiguration c, string key, TimeSpan fallback, List<string> problems)
    {
        var text = c[key];
        if (text is null)
        {
            return fallback;
        }

        if (TimeSpan.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, out var v))
        {
            return v;
        }

        problems.Add($"{key} '{text}': expected a duration like 00:00:00.050.");
        return fallback;
    }
}

/// <summary>
/// Hot reload: polls <c>current.json</c> and <c>Models:Pin</c> and swaps verified bundles between batches; an
/// announcement on <c>model-updates</c> triggers the check at once (<c>Models:ListenAnnouncements</c>, default true).
/// </summary>
public sealed class BundleWatcher(BundleManager manager, Settings settings, IConfiguration config, ILogger<BundleWatcher> log) : BackgroundService
{
    /// <inheritdoc />
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!string.Equals(config["Models:ListenAnnouncements"], "false", StringComparison.OrdinalIgnoreCase))
        {
            var listener = new ModelUpdateListener(settings.Clients.Kafka.Client(), manager, log);
            new Thread(() => listener.Run(stoppingToken)) { Name = "model-updates", IsBackground = true }.Start();
        }

        return Task.Run(
            async () =>
            {
                try
                {
                    await manager.RunAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // RunAsync logs and goes on after every failed poll; reaching here is a bug. Stop with exit code 1
                    // (the orchestrator restarts the scorer) rather than score on without hot reload, or exit 0.
                    log.LogCritical(e, "The bundle watcher stopped; stopping the scorer");
                    Environment.ExitCode = 1;
                    throw;
                }
            },
            stoppingToken);
    }
}

/// <summary>
/// What the scorer needs before it consumes anything, connected and verified at start (fail fast): the serving
/// bundle, Redis and the registry client.
/// </summary>
public sealed class ScorerResources : IDisposable
{
    /// <summary>Connects Redis and loads the serving bundle.</summary>
    /// <exception cref="ScorerConfigurationException">Redis unreachable, or no acceptable bundle.</exception>
    public ScorerResources(Settings settings, BundleManager bundles, ILogger<ScorerResources> log)
    {
        try
        {
            var bundle = bundles.LoadInitial();
            if (bundle.CudaUnavailableReason is { } reason)
            {
                Log.CudaUnavailable(log, reason);
            }
        }
        catch (BundleRejectedException e)
        {
            throw new ScorerConfigurationException($"{e.Message}. Fix the bundle, promote another version, or set Models:Pin.", e);
        }
        catch (InvalidOperationException e)
        {
            throw new ScorerConfigurationException($"{e.Message} (StreamFraud.Trainer models promote VERSION --registry {settings.ModelRegistry}), or set Models:Pin.", e);
        }
        catch (InvalidDataException e)
        {
            throw new ScorerConfigurationException($"{e.Message} No bundle is served until it is fixed (StreamFraud.Trainer models promote VERSION --registry {settings.ModelRegistry}), or set Models:Pin.", e);
        }

        try
        {
            // Redis:User/Password/Tls/CaFile/CertFile/KeyFile applied; the error names the setting to fix.
            Redis = settings.Clients.Redis.Connect(TimeSpan.FromSeconds(5));
        }
        catch (RedisConnectException e)
        {
            throw new ScorerConfigurationException(SecretRedactor.Current.Redact(e.Message), e);
        }

        if (settings.Challenger is { } challenger)
        {
            try
            {
                Challenger = ModelBundle.Load(new BundleRegistry(settings.ModelRegistry).PathOf(challenger), settings.Spec, settings.LoadOptions);
                Log.ChallengerServing(log, Challenger.Version, settings.Scorer.ShadowTopic, TreeEvaluatorNames.Name(Challenger.Trees), Challenger.TreeChoice.Reason, Challenger.Explainer.Name);
            }
            catch (BundleRejectedException e)
            {
                throw new ScorerConfigurationException($"Models:Challenger: {e.Message}. Fix it or remove Models:Challenger.", e);
            }
        }

        // After start, Redis outages are retried by the scoring loop instead of failing.
        Registry = new CachedSchemaRegistryClient(settings.Clients.SchemaRegistry.Config());
        if (settings.Labels.Enabled)
        {
            Decisions = new RedisDecisionLog(Redis.GetDatabase(), new RedisDecisionLogOptions { KeyPrefix = settings.Redis.KeyPrefix, Ttl = settings.Labels.DecisionTtl });
        }
    }

    /// <summary>Redis connection.</summary>
    public ConnectionMultiplexer Redis { get; }

    /// <summary>Alerts' decision records, joined with labels for live quality (null when labels are off).</summary>
    public IDecisionLog? Decisions { get; }

    /// <summary>Schema Registry client.</summary>
    public ISchemaRegistryClient Registry { get; }

    /// <summary>The challenger bundle (shadow scoring), when configured.</summary>
    public ModelBundle? Challenger { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        Challenger?.Dispose();
        Registry.Dispose();
        Redis.Dispose();
    }
}

/// <summary>
/// Runs the scoring loop on a dedicated thread until the host stops. Graceful: a healthy batch in flight finishes; a
/// batch waiting out an outage is abandoned uncommitted, so SIGTERM ends the process within the host's shutdown
/// timeout even while Redis or Kafka is down.
/// </summary>
public sealed class ScorerWorker(Settings settings, BundleManager bundles, ScorerResources resources, ScorerMetrics metrics, ILogger<ScorerWorker> log, IHostApplicationLifetime lifetime) : BackgroundService
{
    private ScoringLoop? _loop;

    /// <summary>Dependency outages seen by the loop.</summary>
    public DependencyHealth Health { get; } = new(TimeProvider.System);

    /// <summary>Why the scorer is not ready, or null when it is: partitions assigned, a bundle loaded, no dependency down past the grace.</summary>
    public string? NotReadyReason =>
        bundles.Current is null ? "no bundle loaded"
        : _loop is not { Assignment.Count: > 0 } ? "no partitions assigned"
        : Health.FailingLongerThan(settings.Scorer.ReadinessGrace) is { } failing ? $"{failing.Dependency} unavailable for {failing.For.TotalSeconds:0} s"
        : null;

    /// <inheritdoc />
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Log.Configuration(log, settings.Describe());
        foreach (var warning in settings.Clients.Warnings)
        {
            Log.ConfigurationWarning(log, warning);
        }
        if (bundles.Current is { } serving)
        {
            metrics.SetModelVersion(serving.Version, serving.LstmPath); // the serving gauge and the version's counters before the first batch
        }

        metrics.LstmDevice = () => bundles.Current?.LstmProvider.ToLowerInvariant() ?? "none";

        var store = new RedisWindowStore(resources.Redis.GetDatabase(), settings.Spec, settings.Redis);
        Log.StoreLayout(log, store.IsCluster ? "Redis Cluster (card keys over all slots, one pipelined script per slot)" : "one Redis server",
            string.Join(", ", resources.Redis.GetEndPoints().Select(e => e.ToString())));
        _loop = new ScoringLoop(
            new ScoringLoopClients(settings.Consumer, settings.Producer, resources.Registry, store, bundles, settings.Spec)
            {
                Challenger = resources.Challenger,
                Decisions = resources.Decisions,
            },
            settings.Scorer, settings.Scoring, log, metrics, Health);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                _loop.Run(stoppingToken);
                done.SetResult();
            }
            catch (Exception e)
            {
                Log.LoopCrashed(log, e);
                done.SetException(e);
                Environment.ExitCode = 1; // unexpected: the orchestrator restarts the process
                lifetime.StopApplication();
            }
            finally
            {
                _loop.Dispose();
            }
        })
        { Name = "scoring-loop", IsBackground = true }; // the host waits for it (done) within its shutdown timeout
        thread.Start();
        return done.Task;
    }
}

/// <summary>
/// Runs the label consumer (<see cref="LabelLoop"/>) on its own thread until the host stops. Whatever happens to it —
/// labels topic missing, broker or Redis errors, an unexpected failure — is logged, metered and reported in
/// <c>/readyz</c>'s details; it never stops the host nor makes it unready.
/// </summary>
public sealed class LabelWorker(Settings settings, BundleManager bundles, ScorerResources resources, ScorerMetrics metrics, ILogger<LabelWorker> log) : BackgroundService
{
    /// <summary>How the label consumer is doing.</summary>
    public LabelStatus Status { get; } = new(TimeProvider.System);

    /// <inheritdoc />
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!settings.Labels.Enabled)
        {
            Status.Disable("Scorer:Labels:Enabled is false");
            return Task.CompletedTask;
        }

        // A store instance of its own: the scoring loop's caches and scratch are its thread's alone.
        var store = new RedisWindowStore(resources.Redis.GetDatabase(), settings.Spec, settings.Redis);
        var loop = new LabelLoop(
            new LabelLoopClients(settings.Consumer, settings.Producer, resources.Registry, store)
            {
                Decisions = resources.Decisions,
                ServingVersion = () => bundles.Current?.Version ?? "none",
            },
            settings.Labels, settings.Scorer, log, metrics, Status);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                loop.Run(stoppingToken);
            }
            catch (Exception e)
            {
                // LabelLoop.Run restarts its consumer after failures and returns at stop; reaching here is a bug (or an
                // error while stopping). Labels stop, scoring goes on: nothing escapes this thread.
                Status.Failed(e);
                Log.LabelConsumerStoppedForGood(log, e);
            }
            finally
            {
                done.TrySetResult();
            }
        })
        { Name = "label-consumer", IsBackground = true };
        thread.Start();
        return done.Task;
    }
}

/// <summary>
/// Readiness: partitions assigned, a bundle loaded, and no dependency failing for longer than <c>Scorer:ReadinessGrace</c>.
/// The label consumer's state and where the LSTM runs are reported in the details only: neither makes the scorer unready.
/// </summary>
public sealed class ReadinessCheck(ScorerWorker worker, LabelWorker labels, BundleManager bundles, Settings settings) : IHealthCheck
{
    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var serving = bundles.Current;
        var details = new Dictionary<string, object>
        {
            ["labels"] = labels.Status.Report(),
            // Scoring:Device as configured, the provider the serving bundle's LSTM got, and why not CUDA when auto fell back.
            ["lstm"] = new Dictionary<string, object?>
            {
                ["requested"] = settings.Device.ToString().ToLowerInvariant(),
                ["device"] = serving?.LstmProvider.ToLowerInvariant(),
                ["cuda_unavailable"] = serving?.CudaUnavailableReason,
            },
        };
        return Task.FromResult(worker.NotReadyReason is { } reason
            ? HealthCheckResult.Unhealthy(reason, data: details)
            : HealthCheckResult.Healthy(data: details));
    }
}
