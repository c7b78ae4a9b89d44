using System.Diagnostics;
using System.Globalization;
using StackExchange.Redis;

namespace StreamFraud.DevStack.Redis;

/// <summary>
/// A real Redis Cluster of Debian's <c>redis-server</c> processes on 127.0.0.1: <c>primaries</c> primaries with
/// <c>replicasPerPrimary</c> replicas each, every node with <c>cluster-enabled yes</c> and its own bus port, joined by
/// <c>redis-cli --cluster create</c> (package <c>redis-tools</c>, installed with <c>redis-server</c>). Slots can be moved
/// (<see cref="ReshardAsync"/>) and primaries failed over (<see cref="FailoverAsync"/>) while clients run. Every process
/// is stopped on dispose.
/// </summary>
public sealed class RedisClusterProcess : IAsyncDisposable
{
    private readonly List<RedisServerProcess> _nodes;

    private RedisClusterProcess(List<RedisServerProcess> nodes) => _nodes = nodes;

    /// <summary>Every node, primaries first (as created; roles change with failovers).</summary>
    public IReadOnlyList<RedisServerProcess> Nodes => _nodes;

    /// <summary>A StackExchange.Redis configuration naming every node.</summary>
    public string Configuration => string.Join(',', _nodes.Select(n => n.Endpoint));

    /// <summary>Finds <c>redis-cli</c> next to redis-server or on PATH; null when absent.</summary>
    public static string? FindCli()
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/bin", "/usr/local/bin"]);
        return dirs.Select(d => Path.Combine(d, "redis-cli")).FirstOrDefault(File.Exists);
    }

    /// <summary>Starts the nodes, creates the cluster and waits until every node reports <c>cluster_state:ok</c>.</summary>
    /// <exception cref="FileNotFoundException">redis-server or redis-cli is not installed; the message names the package.</exception>
    public static async Task<RedisClusterProcess> StartAsync(int primaries = 3, int replicasPerPrimary = 1, TimeSpan? timeout = null)
    {
        var cli = FindCli() ?? throw new FileNotFoundException("redis-cli was not found on PATH. Install the Debian package: apt-get install redis-tools (it comes with redis-server).");
        var nodes = new List<RedisServerProcess>();
        var cluster = new RedisClusterProcess(nodes);
        try
        {
            var starts = Enumerable.Range(0, primaries * (1 + replicasPerPrimary)).Select(_ => RedisServerProcess.StartAsync(extraArguments:
            [
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "3000",
                "--cluster-port", Ports.Free().ToString(CultureInfo.InvariantCulture), "--cluster-announce-ip", "127.0.0.1",
            ]));
            nodes.AddRange(await Task.WhenAll(starts).ConfigureAwait(false));
            var args = new List<string> { "--cluster", "create" };
            args.AddRange(nodes.Select(n => n.Endpoint));
            args.AddRange(["--cluster-replicas", replicasPerPrimary.ToString(CultureInfo.InvariantCulture), "--cluster-yes"]);
            await RunCliAsync(cli, args, TimeSpan.FromSeconds(60)).ConfigureAwait(false);
            await cluster.WaitHealthyAsync(timeout ?? TimeSpan.FromSeconds(60)).ConfigureAwait(false);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Moves <paramref name="slots"/> slots from primary <paramref name="from"/> to primary <paramref name="to"/>
    /// (endpoints) with <c>redis-cli --cluster reshard</c>, key by key (MIGRATE), while clients keep running.
    /// </summary>
    public async Task ReshardAsync(string from, string to, int slots, CancellationToken cancellationToken = default)
    {
        var fromId = await NodeIdAsync(from).ConfigureAwait(false);
        var toId = await NodeIdAsync(to).ConfigureAwait(false);
        await RunCliAsync(FindCli()!,
        [
            "--cluster", "reshard", from, "--cluster-from", fromId, "--cluster-to", toId,
            "--cluster-slots", slots.ToString(CultureInfo.InvariantCulture), "--cluster-yes", "--cluster-pipeline", "10",
        ], TimeSpan.FromMinutes(3), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The current primaries' endpoints.</summary>
    public async Task<IReadOnlyList<string>> PrimariesAsync()
    {
        var result = new List<string>();
        foreach (var node in _nodes.Where(n => n.IsRunning))
        {
            if ((await InfoAsync(node.Endpoint, "replication").ConfigureAwait(false)).Contains("role:master", StringComparison.Ordinal))
            {
                result.Add(node.Endpoint);
            }
        }

        return result;
    }

    /// <summary>How many slots <paramref name="primary"/> serves (its <c>CLUSTER NODES</c> line's slot ranges).</summary>
    public async Task<int> SlotCountAsync(string primary)
    {
        var id = await NodeIdAsync(primary).ConfigureAwait(false);
        await using var mux = await ConnectionMultiplexer.ConnectAsync(Direct(primary)).ConfigureAwait(false);
        var nodes = (await mux.GetServer(primary).ExecuteAsync("CLUSTER", "NODES").ConfigureAwait(false)).ToString();
        var count = 0;
        foreach (var line in nodes.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(' ');
            if (parts[0] != id)
            {
                continue;
            }

            foreach (var range in parts.Skip(8).Where(p => !p.StartsWith('[')))
            {
                var dash = range.IndexOf('-', StringComparison.Ordinal);
                count += dash < 0 ? 1 : int.Parse(range[(dash + 1)..], CultureInfo.InvariantCulture) - int.Parse(range[..dash], CultureInfo.InvariantCulture) + 1;
            }
        }

        return count;
    }

    /// <summary>
    /// A graceful failover of primary <paramref name="primary"/> (<c>CLUSTER FAILOVER</c> on one of its replicas: the
    /// replica catches up, then takes over); waits until the replica is primary and the cluster is healthy again.
    /// Returns the new primary's endpoint.
    /// </summary>
    public async Task<string> FailoverAsync(string primary, CancellationToken cancellationToken = default)
    {
        var primaryId = await NodeIdAsync(primary).ConfigureAwait(false);
        string? replica = null;
        foreach (var node in _nodes.Where(n => n.IsRunning && n.Endpoint != primary))
        {
            var info = await InfoAsync(node.Endpoint, "replication").ConfigureAwait(false);
            var masterPort = primary[(primary.LastIndexOf(':') + 1)..];
            if (info.Contains("role:slave", StringComparison.Ordinal) && info.Contains($"master_port:{masterPort}", StringComparison.Ordinal))
            {
                replica = node.Endpoint;
                break;
            }
        }

        if (replica is null)
        {
            throw new InvalidOperationException($"Primary {primary} ({primaryId}) has no replica to fail over to.");
        }

        await using (var mux = await ConnectionMultiplexer.ConnectAsync(Direct(replica)).ConfigureAwait(false))
        {
            await mux.GetServer(replica).ExecuteAsync("CLUSTER", "FAILOVER").ConfigureAwait(false);
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!(await InfoAsync(replica, "replication").ConfigureAwait(false)).Contains("role:master", StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Replica {replica} did not take over from {primary} within 60 s.");
            }

            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }

        await WaitHealthyAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        return replica;
    }

    /// <summary>Waits until every running node reports <c>cluster_state:ok</c> and agrees on the slot owners.</summary>
    public async Task WaitHealthyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var last = "";
        while (true)
        {
            var states = new List<string>();
            foreach (var node in _nodes.Where(n => n.IsRunning))
            {
                states.Add(await ClusterInfoAsync(node.Endpoint).ConfigureAwait(false));
            }

            var check = await TryRunCliAsync(FindCli()!, ["--cluster", "check", _nodes.First(n => n.IsRunning).Endpoint], strict: true).ConfigureAwait(false);
            if (states.All(s => s.Contains("cluster_state:ok", StringComparison.Ordinal)) && check.Ok)
            {
                return;
            }

            last = check.Output;
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The Redis Cluster did not become healthy within {timeout.TotalSeconds:0} s. Last check:\n{last}");
            }

            await Task.Delay(200).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static string Direct(string endpoint) => endpoint + ",allowAdmin=true,abortConnect=false";

    private static async Task<string> InfoAsync(string endpoint, string section)
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(Direct(endpoint) + ",connectTimeout=2000").ConfigureAwait(false);
        var result = await mux.GetServer(endpoint).ExecuteAsync("INFO", section).ConfigureAwait(false);
        return result.ToString();
    }

    private static async Task<string> ClusterInfoAsync(string endpoint)
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(Direct(endpoint) + ",connectTimeout=2000").ConfigureAwait(false);
        var result = await mux.GetServer(endpoint).ExecuteAsync("CLUSTER", "INFO").ConfigureAwait(false);
        return result.ToString();
    }

    private static async Task<string> NodeIdAsync(string endpoint)
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(Direct(endpoint)).ConfigureAwait(false);
        return (await mux.GetServer(endpoint).ExecuteAsync("CLUSTER", "MYID").ConfigureAwait(false)).ToString();
    }

    private static async Task RunCliAsync(string cli, IEnumerable<string> args, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var (ok, output) = await TryRunCliAsync(cli, args, timeout, cancellationToken).ConfigureAwait(false);
        if (!ok)
        {
            throw new InvalidOperationException($"redis-cli {string.Join(' ', args)} failed:\n{output}");
        }
    }

    private static async Task<(bool Ok, string Output)> TryRunCliAsync(string cli, IEnumerable<string> args, TimeSpan? timeout = null, CancellationToken cancellationToken = default, bool strict = false)
    {
        var psi = new ProcessStartInfo(cli) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {cli}.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken).WaitAsync(timeout ?? TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        var output = await stdout.ConfigureAwait(false) + await stderr.ConfigureAwait(false);
        // "--cluster check" exits 0 even with open slots; strict: "[ERR]" or "[WARNING]" lines mean not settled yet.
        var ok = process.ExitCode == 0 && (!strict || (!output.Contains("[ERR]", StringComparison.Ordinal) && !output.Contains("[WARNING]", StringComparison.Ordinal)));
        return (ok, output);
    }
}
