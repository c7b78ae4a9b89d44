using System.Globalization;
using System.Runtime.InteropServices;
using StreamFraud.Core;
using StreamFraud.DevStack;

const string Help = """
StreamFraud DevStack: Kafka protocol (librdkafka mock cluster), a development Schema Registry and Redis, in one
process, for demos and for programs that expect a real broker (the scorer, kcat, a Python or Java client).

Usage: dotnet run --project src/StreamFraud.DevStack -- [options]

  --kafka-port PORT       first fixed Kafka port (broker i listens on PORT+i-1); default: ephemeral ports
  --brokers N             mock Kafka brokers (default 1)
  --registry-port PORT    Schema Registry port (default: a free port)
  --redis-port PORT       Redis port (default: a free port)
  --redis KIND            garnet (in-process, default) or redis-server (needs the Debian package redis-server)
  --topics LIST           topics to create, name:partitions,... (default: the StreamFraud topics)
  -h, --help              this text

Prints one line per endpoint (kafka=..., schema-registry=..., redis=...), then "ready", and runs until SIGINT or
SIGTERM. Limits of the mock broker: about 5 MB kept per partition, slow fetch, no CreateTopics admin API (topics are
created here, or auto-created on first produce). Not for production: use docker-compose.yml.
""";

var options = new LocalStackOptions { UseEnvironment = false };
try
{
    for (var i = 0; i < args.Length; i++)
    {
        string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value (see --help).");
        int Port()
        {
            var name = args[i];
            var text = Value();
            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p is > 0 and < 65536
                ? p
                : throw new ArgumentException($"{name} {text}: expected a port number between 1 and 65535.");
        }

        switch (args[i])
        {
            case "-h" or "--help":
                Console.WriteLine(Help);
                return 0;
            case "--kafka-port":
                options = options with { KafkaPort = Port() };
                break;
            case "--registry-port":
                options = options with { RegistryPort = Port() };
                break;
            case "--redis-port":
                options = options with { RedisPort = Port() };
                break;
            case "--brokers":
                var b = Value();
                options = options with
                {
                    KafkaBrokers = int.TryParse(b, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 16
                        ? n
                        : throw new ArgumentException($"--brokers {b}: expected a number from 1 to 16."),
                };
                break;
            case "--redis":
                var kind = Value();
                options = options with
                {
                    Redis = kind switch
                    {
                        "garnet" => RedisKind.Garnet,
                        "redis-server" => RedisKind.RedisServer,
                        _ => throw new ArgumentException($"--redis {kind}: expected garnet or redis-server."),
                    },
                };
                break;
            case "--topics":
                options = options with { Topics = Topics.ParseList(Value()) };
                break;
            default:
                throw new ArgumentException($"Unknown option {args[i]} (see --help).");
        }
    }
}
catch (Exception e) when (e is ArgumentException or FormatException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

using var stop = new CancellationTokenSource();
void OnSignal(PosixSignalContext context)
{
    context.Cancel = true; // we shut down ourselves, cleanly
    stop.Cancel();
}

using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);

LocalStack stack;
try
{
    stack = await LocalStack.StartAsync(options, stop.Token);
}
catch (Exception e) when (e is IOException or InvalidOperationException or FileNotFoundException or DllNotFoundException)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}

await using (stack)
{
    Console.WriteLine($"kafka={stack.KafkaBootstrap}");
    Console.WriteLine($"schema-registry={stack.SchemaRegistryUrl}");
    Console.WriteLine($"redis={stack.RedisEndpoint}");
    Console.WriteLine($"topics={string.Join(',', options.Topics)}");
    Console.WriteLine("ready (Ctrl+C or SIGTERM to stop)");
    try
    {
        await Task.Delay(Timeout.Infinite, stop.Token);
    }
    catch (OperationCanceledException)
    {
        Console.WriteLine("stopping");
    }
}

Console.WriteLine("stopped");
return 0;
