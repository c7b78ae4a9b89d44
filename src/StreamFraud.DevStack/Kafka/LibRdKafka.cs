using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace StreamFraud.DevStack.Kafka;

/// <summary>
/// P/Invoke into the librdkafka file that Confluent.Kafka itself loaded. The mock-cluster API lives in that library,
/// and a cluster must be created by an <c>rd_kafka_t</c> from the same copy the clients use, so the file is found in
/// the process's memory map after Confluent has loaded it rather than by guessing a name. (On Debian 12 Confluent
/// skips the default <c>librdkafka.so</c>, which needs <c>libsasl2.so.3</c>, and loads <c>centos8-librdkafka.so</c>.)
/// </summary>
internal static unsafe class LibRdKafka
{
    private static readonly Lazy<Api> Loaded = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Path of the loaded librdkafka file.</summary>
    public static string Path => Loaded.Value.Path;

    public static Api Functions => Loaded.Value;

    internal sealed class Api
    {
        public required string Path { get; init; }
        public required delegate* unmanaged<nint> ConfNew { get; init; }
        public required delegate* unmanaged<nint, byte*, byte*, byte*, nuint, int> ConfSet { get; init; }
        public required delegate* unmanaged<int, nint, byte*, nuint, nint> New { get; init; }
        public required delegate* unmanaged<nint, void> Destroy { get; init; }
        public required delegate* unmanaged<nint, int, nint> MockClusterNew { get; init; }
        public required delegate* unmanaged<nint, void> MockClusterDestroy { get; init; }
        public required delegate* unmanaged<nint, byte*> MockClusterBootstraps { get; init; }
        public required delegate* unmanaged<nint, byte*, int, int, int> MockTopicCreate { get; init; }
        public required delegate* unmanaged<nint, int, int> MockBrokerSetDown { get; init; }
        public required delegate* unmanaged<nint, int, int> MockBrokerSetUp { get; init; }
        public required delegate* unmanaged<nint, int, byte*, int, int> MockBrokerSetHostPort { get; init; }
        public required delegate* unmanaged<nint, int, int> MockSetControllerId { get; init; }
        public required delegate* unmanaged<nint, int, int> MockGroupInitialRebalanceDelayMs { get; init; }
        public required delegate* unmanaged<int, byte*> Err2Str { get; init; }
    }

    private static Api Load()
    {
        // Makes Confluent.Kafka resolve and load its native library (it tries its candidates in order).
        _ = Library.Version;
        var path = FindLoadedLibrary()
            ?? throw new DllNotFoundException(
                "Confluent.Kafka reports librdkafka as loaded, but no librdkafka file appears in /proc/self/maps. " +
                "The mock Kafka cluster needs the same librdkafka file the clients use; set STREAMFRAUD_KAFKA_BOOTSTRAP " +
                "to use an external broker instead.");
        var lib = NativeLibrary.Load(path);

        nint Get(string name)
        {
            if (!NativeLibrary.TryGetExport(lib, name, out var p))
            {
                throw new EntryPointNotFoundException(
                    $"{path} does not export {name}; the mock cluster needs librdkafka >= 2.3 built with mock support.");
            }

            return p;
        }

        return new Api
        {
            Path = path,
            ConfNew = (delegate* unmanaged<nint>)Get("rd_kafka_conf_new"),
            ConfSet = (delegate* unmanaged<nint, byte*, byte*, byte*, nuint, int>)Get("rd_kafka_conf_set"),
            New = (delegate* unmanaged<int, nint, byte*, nuint, nint>)Get("rd_kafka_new"),
            Destroy = (delegate* unmanaged<nint, void>)Get("rd_kafka_destroy"),
            MockClusterNew = (delegate* unmanaged<nint, int, nint>)Get("rd_kafka_mock_cluster_new"),
            MockClusterDestroy = (delegate* unmanaged<nint, void>)Get("rd_kafka_mock_cluster_destroy"),
            MockClusterBootstraps = (delegate* unmanaged<nint, byte*>)Get("rd_kafka_mock_cluster_bootstraps"),
            MockTopicCreate = (delegate* unmanaged<nint, byte*, int, int, int>)Get("rd_kafka_mock_topic_create"),
            MockBrokerSetDown = (delegate* unmanaged<nint, int, int>)Get("rd_kafka_mock_broker_set_down"),
            MockBrokerSetUp = (delegate* unmanaged<nint, int, int>)Get("rd_kafka_mock_broker_set_up"),
            MockBrokerSetHostPort = (delegate* unmanaged<nint, int, byte*, int, int>)Get("rd_kafka_mock_broker_set_host_port"),
            MockSetControllerId = (delegate* unmanaged<nint, int, int>)Get("rd_kafka_mock_set_controller_id"),
            MockGroupInitialRebalanceDelayMs =
                (delegate* unmanaged<nint, int, int>)Get("rd_kafka_mock_group_initial_rebalance_delay_ms"),
            Err2Str = (delegate* unmanaged<int, byte*>)Get("rd_kafka_err2str"),
        };
    }

    /// <summary>The first mapped file whose name contains "librdkafka" (Linux); null elsewhere.</summary>
    private static string? FindLoadedLibrary()
    {
        const string maps = "/proc/self/maps";
        if (!File.Exists(maps))
        {
            return null;
        }

        foreach (var line in File.ReadLines(maps))
        {
            var slash = line.IndexOf('/', StringComparison.Ordinal);
            if (slash < 0)
            {
                continue;
            }

            var path = line[slash..].Trim();
            if (System.IO.Path.GetFileName(path).Contains("librdkafka", StringComparison.Ordinal) && File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }

    public static string ErrorText(int err) => Marshal.PtrToStringUTF8((nint)Functions.Err2Str(err)) ?? $"error {err}";

    /// <summary>Throws when a librdkafka call returned a non-zero <c>rd_kafka_resp_err_t</c>.</summary>
    public static void Check(int err, string what)
    {
        if (err != 0)
        {
            throw new InvalidOperationException($"{what} failed: {ErrorText(err)} (librdkafka error {err}).");
        }
    }
}
