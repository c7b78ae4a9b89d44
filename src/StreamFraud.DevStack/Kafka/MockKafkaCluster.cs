using System.Runtime.InteropServices;
using System.Text;
using Confluent.Kafka;

namespace StreamFraud.DevStack.Kafka;

/// <summary>Options of <see cref="MockKafkaCluster.Start"/>.</summary>
public sealed record MockKafkaClusterOptions
{
    /// <summary>Number of mock brokers (ids 1..N).</summary>
    public int Brokers { get; init; } = 1;

    /// <summary>
    /// Fixed client-facing ports, one per broker in id order (empty: the brokers' own ephemeral ports). Each is a
    /// TCP forwarder on 127.0.0.1 to the broker's real listener, advertised in metadata with
    /// <c>rd_kafka_mock_broker_set_host_port</c>, because the mock API cannot bind a chosen port.
    /// </summary>
    public IReadOnlyList<int> AdvertisedPorts { get; init; } = [];

    /// <summary>Topics created at start (<c>name:partitions</c>).</summary>
    public IReadOnlyList<(string Name, int Partitions)> Topics { get; init; } = [];

    /// <summary>
    /// Delay before a new consumer group's first rebalance. The mock's default (3 s) only slows tests and demos.
    /// </summary>
    public TimeSpan GroupInitialRebalanceDelay { get; init; } = TimeSpan.FromMilliseconds(200);
}

/// <summary>
/// A Kafka-protocol broker cluster inside this process: librdkafka's mock cluster
/// (<see href="https://github.com/confluentinc/librdkafka/blob/master/src/rdkafka_mock.h">rdkafka_mock.h</see>),
/// hosted by a bare producer handle from the same librdkafka file Confluent.Kafka loaded. Real clients connect to it
/// over TCP, so Confluent.Kafka, kcat or a Java client see an ordinary broker.
/// </summary>
/// <remarks>
/// Limits, all from librdkafka's mock implementation; fine for tests and demos, not for throughput numbers:
/// <list type="bullet">
/// <item>each partition keeps only about 5 MB of log; older batches are dropped (low watermark advances);</item>
/// <item>fetch is slow (fetch requests are served on the mock's own poll cycle);</item>
/// <item>no CreateTopics admin API ("not supported by broker"): create topics here with <see cref="CreateTopic"/>
/// (unknown topics are auto-created on produce); the controller id is set so admin clients do not wait for one;</item>
/// <item>produce (idempotent and transactional), fetch, consumer groups and offset commits work; group listing is
/// unreliable, so lag is computed from a consumer's own watermarks.</item>
/// </list>
/// Dispose destroys the cluster before the handle that hosts it (librdkafka requires that order).
/// </remarks>
public sealed unsafe class MockKafkaCluster : IDisposable
{
    private readonly object _gate = new();
    private readonly List<TcpForwarder> _forwarders = [];
    private nint _host;
    private nint _cluster;

    private MockKafkaCluster(nint host, nint cluster, int brokers, string bootstrap)
    {
        _host = host;
        _cluster = cluster;
        Brokers = brokers;
        BootstrapServers = bootstrap;
    }

    /// <summary>Comma-separated <c>host:port</c> list for <c>bootstrap.servers</c>.</summary>
    public string BootstrapServers { get; private set; }

    /// <summary>Number of brokers; their ids are 1..<see cref="Brokers"/>.</summary>
    public int Brokers { get; }

    /// <summary>The librdkafka file hosting the cluster (the one Confluent.Kafka loaded).</summary>
    public static string LibraryPath => LibRdKafka.Path;

    /// <summary>Starts a mock cluster, creates the requested topics and, if asked, forwards fixed ports.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Broker count outside 1..16, or a port list of the wrong length.</exception>
    public static MockKafkaCluster Start(MockKafkaClusterOptions? options = null)
    {
        options ??= new MockKafkaClusterOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Brokers, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.Brokers, 16);
        if (options.AdvertisedPorts.Count != 0 && options.AdvertisedPorts.Count != options.Brokers)
        {
            throw new ArgumentOutOfRangeException(
                nameof(options), $"{options.AdvertisedPorts.Count} fixed ports for {options.Brokers} brokers: give one per broker or none.");
        }

        var api = LibRdKafka.Functions;
        var host = CreateHostHandle(api);
        var cluster = api.MockClusterNew(host, options.Brokers);
        if (cluster == 0)
        {
            api.Destroy(host);
            throw new InvalidOperationException("rd_kafka_mock_cluster_new failed (see librdkafka log above).");
        }

        var bootstrap = Marshal.PtrToStringUTF8((nint)api.MockClusterBootstraps(cluster))
            ?? throw new InvalidOperationException("rd_kafka_mock_cluster_bootstraps returned nothing.");
        var result = new MockKafkaCluster(host, cluster, options.Brokers, bootstrap);
        try
        {
            LibRdKafka.Check(api.MockSetControllerId(cluster, 1), "rd_kafka_mock_set_controller_id");
            LibRdKafka.Check(
                api.MockGroupInitialRebalanceDelayMs(cluster, (int)options.GroupInitialRebalanceDelay.TotalMilliseconds),
                "rd_kafka_mock_group_initial_rebalance_delay_ms");
            foreach (var (name, partitions) in options.Topics)
            {
                result.CreateTopic(name, partitions);
            }

            if (options.AdvertisedPorts.Count > 0)
            {
                result.ForwardFixedPorts(options.AdvertisedPorts);
            }
        }
        catch
        {
            result.Dispose();
            throw;
        }

        return result;
    }

    /// <summary>Creates a topic with a replication factor of min(3, brokers).</summary>
    /// <exception cref="InvalidOperationException">librdkafka refused (e.g. the topic exists).</exception>
    public void CreateTopic(string name, int partitions)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        var cluster = Handle();
        var utf8 = Utf8(name);
        fixed (byte* p = utf8)
        {
            LibRdKafka.Check(
                LibRdKafka.Functions.MockTopicCreate(cluster, p, partitions, Math.Min(3, Brokers)),
                $"Creating topic '{name}' with {partitions} partitions");
        }
    }

    /// <summary>Takes a broker down: its connections close and it refuses new ones until <see cref="SetBrokerUp"/>.</summary>
    public void SetBrokerDown(int brokerId) =>
        LibRdKafka.Check(LibRdKafka.Functions.MockBrokerSetDown(Handle(), CheckBroker(brokerId)), $"Taking broker {brokerId} down");

    /// <summary>Brings a broker back up.</summary>
    public void SetBrokerUp(int brokerId) =>
        LibRdKafka.Check(LibRdKafka.Functions.MockBrokerSetUp(Handle(), CheckBroker(brokerId)), $"Bringing broker {brokerId} up");

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var f in _forwarders)
            {
                f.Dispose();
            }

            _forwarders.Clear();
            var api = LibRdKafka.Functions;
            if (_cluster != 0)
            {
                api.MockClusterDestroy(_cluster); // before the handle that hosts it
                _cluster = 0;
            }

            if (_host != 0)
            {
                api.Destroy(_host);
                _host = 0;
            }
        }
    }

    private static nint CreateHostHandle(LibRdKafka.Api api)
    {
        var conf = api.ConfNew();
        Set(api, conf, "client.id", "streamfraud-mock-cluster-host");
        // The hosting handle never connects anywhere (no bootstrap.servers); keep its log to errors.
        Set(api, conf, "log_level", "3");
        var err = new byte[512];
        fixed (byte* e = err)
        {
            var rk = api.New(0 /* RD_KAFKA_PRODUCER */, conf, e, (nuint)err.Length);
            if (rk == 0)
            {
                throw new InvalidOperationException($"rd_kafka_new failed: {Encoding.UTF8.GetString(err).TrimEnd('\0')}");
            }

            return rk;
        }
    }

    private static void Set(LibRdKafka.Api api, nint conf, string name, string value)
    {
        var err = new byte[512];
        var n = Utf8(name);
        var v = Utf8(value);
        fixed (byte* pn = n, pv = v, pe = err)
        {
            if (api.ConfSet(conf, pn, pv, pe, (nuint)err.Length) != 0)
            {
                throw new InvalidOperationException($"rd_kafka_conf_set({name}): {Encoding.UTF8.GetString(err).TrimEnd('\0')}");
            }
        }
    }

    private void ForwardFixedPorts(IReadOnlyList<int> ports)
    {
        // The mock API does not say which ephemeral port belongs to which broker id; the cluster's own metadata does.
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = BootstrapServers })
            .SetLogHandler((_, _) => { })
            .Build();
        var brokers = admin.GetMetadata(TimeSpan.FromSeconds(10)).Brokers.ToDictionary(b => b.BrokerId);
        var advertised = new List<string>();
        for (var id = 1; id <= Brokers; id++)
        {
            var real = brokers[id];
            var port = ports[id - 1];
            var forwarder = TcpForwarder.Start(port, real.Host, real.Port);
            _forwarders.Add(forwarder);
            var host = Utf8("127.0.0.1");
            fixed (byte* h = host)
            {
                LibRdKafka.Check(
                    LibRdKafka.Functions.MockBrokerSetHostPort(Handle(), id, h, forwarder.Port),
                    $"Advertising broker {id} as 127.0.0.1:{forwarder.Port}");
            }

            advertised.Add($"127.0.0.1:{forwarder.Port}");
        }

        BootstrapServers = string.Join(',', advertised);
    }

    private int CheckBroker(int brokerId)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokerId, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(brokerId, Brokers);
        return brokerId;
    }

    private nint Handle() => _cluster != 0 ? _cluster : throw new ObjectDisposedException(nameof(MockKafkaCluster));

    private static byte[] Utf8(string s)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, bytes);
        return bytes;
    }
}
