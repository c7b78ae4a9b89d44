using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;
using StreamFraud.Cli;
using StreamFraud.Clients;
using StreamFraud.Core;

namespace StreamFraud.Inspect.Commands;

/// <summary>The flags every command shares: where to read, from where, until when, and how to print.</summary>
public abstract class ReadSettings : CommandSettings
{
    /// <summary><c>--topic</c> (null: the command's default topic).</summary>
    [CommandOption("--topic <NAME>")]
    [Description("Topic to read (default: the command's topic, see its description).")]
    public string? Topic { get; init; }

    /// <summary><c>--from-beginning</c>.</summary>
    [CommandOption("--from-beginning")]
    [Description("Start at the oldest record of every partition and stop at the end the topic had when the command started (add --follow to go on). Without it only records that arrive after the start are shown, so the command follows.")]
    public bool FromBeginning { get; init; }

    /// <summary><c>--follow</c>.</summary>
    [CommandOption("--follow")]
    [Description("Keep reading new records until Ctrl+C (exit code 0) or --max. Implied without --from-beginning.")]
    public bool Follow { get; init; }

    /// <summary><c>--max</c>.</summary>
    [CommandOption("--max <N>")]
    [Description("Stop after N records.")]
    [TypeConverter(typeof(WholeNumberConverter<long>))]
    [WholeNumber(1, long.MaxValue)]
    public long? Max { get; init; }

    /// <summary><c>--json</c>.</summary>
    [CommandOption("--json")]
    [Description("One JSON object per line (for jq) instead of the table: every field of the record, its Kafka position and what was looked up.")]
    public bool Json { get; init; }

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
    [Description($"Schema Registry of the topic's Avro values (default: STREAMFRAUD_SchemaRegistry__Url, else {Endpoints.SchemaRegistryUrl}).")]
    public string? SchemaRegistry { get; init; }

    /// <summary><c>--schema-registry-config</c>.</summary>
    [CommandOption("--schema-registry-config <KEY=VALUE>")]
    [Description(CommandLineClients.SchemaRegistryConfigHelp)]
    public string[] SchemaRegistryConfig { get; init; } = [];

    /// <summary>The topic the command reads by default.</summary>
    public abstract string DefaultTopic { get; }

    /// <summary>The topic read.</summary>
    public string TopicName => Topic ?? DefaultTopic;

    /// <summary>Where reading starts and stops.</summary>
    public ReadMode Mode => new(FromBeginning, Follow || !FromBeginning, Max);

    /// <summary>The Kafka and Schema Registry settings: the flags over the <c>STREAMFRAUD_*</c> environment.</summary>
    /// <exception cref="UsageException">A client flag or variable is wrong (each problem named).</exception>
    public ClientSettings Clients() => ClientFlags.Read(
        new ClientFlagValues { Bootstrap = Bootstrap, KafkaConfig = KafkaConfig, SchemaRegistry = SchemaRegistry, SchemaRegistryConfig = SchemaRegistryConfig },
        ClientKinds.Kafka | ClientKinds.SchemaRegistry);

    /// <inheritdoc/>
    public override ValidationResult Validate() =>
        Topic is { } t && string.IsNullOrWhiteSpace(t) ? ValidationResult.Error("--topic needs a topic name") : ValidationResult.Success();
}

/// <summary>Where reading starts and stops.</summary>
/// <param name="FromBeginning">Start at each partition's oldest record (else at its end).</param>
/// <param name="Follow">Keep reading past the end the topic had at the start.</param>
/// <param name="Max">Stop after this many records.</param>
public readonly record struct ReadMode(bool FromBeginning, bool Follow, long? Max);
