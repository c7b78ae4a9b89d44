using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Garnet;

namespace StreamFraud.DevStack.Redis;

/// <summary>A Redis-protocol server started for tests or the demo.</summary>
public interface ILocalRedis : IAsyncDisposable
{
    /// <summary><c>host:port</c> for StackExchange.Redis.</summary>
    string Endpoint { get; }

    /// <summary><c>redis-server</c> or <c>garnet</c>.</summary>
    string Kind { get; }
}

/// <summary>Free-port and readiness helpers.</summary>
internal static class Ports
{
    /// <summary>A port that was free a moment ago on 127.0.0.1.</summary>
    public static int Free()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>
    /// Sends RESP <c>PING</c> until <c>+PONG</c> (or <c>-NOAUTH</c>: a server with a password answers too) or the
    /// deadline. With <paramref name="tls"/>, an accepted TCP connection is enough (the handshake may need a client
    /// certificate the caller does not have).
    /// </summary>
    public static async Task<bool> WaitForPongAsync(int port, TimeSpan timeout, Func<bool>? stillAlive = null, bool tls = false)
    {
        var deadline = Stopwatch.StartNew();
        var ping = "*1\r\n$4\r\nPING\r\n"u8.ToArray();
        while (deadline.Elapsed < timeout && (stillAlive?.Invoke() ?? true))
        {
            try
            {
                using var c = new TcpClient();
                await c.ConnectAsync(IPAddress.Loopback, port).ConfigureAwait(false);
                if (tls)
                {
                    return true;
                }

                var s = c.GetStream();
                await s.WriteAsync(ping).ConfigureAwait(false);
                var buf = new byte[64];
                using var readTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                var n = await s.ReadAsync(buf, readTimeout.Token).ConfigureAwait(false);
                var answer = Encoding.ASCII.GetString(buf, 0, n);
                if (answer.StartsWith("+PONG", StringComparison.Ordinal) || answer.StartsWith("-NOAUTH", StringComparison.Ordinal))
                {
                    return true;
                }
            }
            catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
            {
                // not listening yet
            }

            await Task.Delay(50).ConfigureAwait(false);
        }

        return false;
    }
}

/// <summary>
/// A secured <c>redis-server</c>: a password (<c>requirepass</c>) and/or TLS only (no plain-text port), with the
/// server's certificate and key and the CA that client certificates must chain to (PEM files).
/// </summary>
public sealed record RedisServerSecurity
{
    /// <summary>The default user's password (<c>requirepass</c>), or null.</summary>
    public string? Password { get; init; }

    /// <summary>The server's certificate (PEM); with <see cref="TlsKeyFile"/> and <see cref="TlsCaFile"/>: TLS only.</summary>
    public string? TlsCertFile { get; init; }

    /// <summary>The server's private key (PEM, unencrypted).</summary>
    public string? TlsKeyFile { get; init; }

    /// <summary>The CA certificate(s) client certificates must chain to (PEM).</summary>
    public string? TlsCaFile { get; init; }

    /// <summary>Require a client certificate (<c>tls-auth-clients yes</c>); else optional.</summary>
    public bool RequireClientCertificates { get; init; }

    /// <summary>Whether the server speaks TLS.</summary>
    public bool Tls => TlsCertFile is not null;

    internal IEnumerable<string> Arguments(int port)
    {
        if (Password is not null)
        {
            yield return "--requirepass";
            yield return Password;
        }

        if (Tls)
        {
            foreach (var a in new[]
                     {
                         "--port", "0", "--tls-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                         "--tls-cert-file", TlsCertFile!, "--tls-key-file", TlsKeyFile ?? throw new InvalidOperationException("TlsKeyFile is required with TlsCertFile."),
                         "--tls-ca-cert-file", TlsCaFile ?? throw new InvalidOperationException("TlsCaFile is required with TlsCertFile."),
                         "--tls-auth-clients", RequireClientCertificates ? "yes" : "optional",
                     })
            {
                yield return a;
            }
        }
    }
}

/// <summary>
/// A real <c>redis-server</c> (Debian package <c>redis-server</c>) as a child process on 127.0.0.1, in a temporary
/// directory, with persistence off, optionally with a password and TLS (<see cref="RedisServerSecurity"/>). Stopped
/// (and the directory removed) on dispose.
/// </summary>
public sealed class RedisServerProcess : ILocalRedis
{
    private readonly Process _process;
    private readonly string _directory;
    private readonly StringBuilder _output = new();

    private RedisServerProcess(Process process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        Endpoint = $"127.0.0.1:{port}";
    }

    /// <inheritdoc />
    public string Endpoint { get; }

    /// <inheritdoc />
    public string Kind => "redis-server";

    /// <summary>Finds <c>redis-server</c> on PATH (or in /usr/bin, /usr/local/bin, /usr/sbin); null when absent.</summary>
    public static string? FindExecutable()
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/bin", "/usr/local/bin", "/usr/sbin"]);
        return dirs.Select(d => Path.Combine(d, "redis-server")).FirstOrDefault(File.Exists);
    }

    /// <summary>Starts redis-server on <paramref name="port"/> (0: a free port) and waits for PING.</summary>
    /// <param name="port">The port (the TLS port when <paramref name="security"/> has TLS).</param>
    /// <param name="timeout">How long to wait for it to answer.</param>
    /// <param name="security">A password and/or TLS, or null for neither.</param>
    /// <exception cref="FileNotFoundException">redis-server is not installed; the message names the package.</exception>
    /// <param name="extraArguments">More redis-server arguments (e.g. <c>--cluster-enabled yes</c>).</param>
    public static async Task<RedisServerProcess> StartAsync(int port = 0, TimeSpan? timeout = null, RedisServerSecurity? security = null, IEnumerable<string>? extraArguments = null)
    {
        var exe = FindExecutable() ?? throw new FileNotFoundException(
            "redis-server was not found on PATH. Install the Debian package: apt-get install redis-server " +
            "(or use the in-process Garnet server, or point STREAMFRAUD_REDIS at a running Redis).");
        var actualPort = port == 0 ? Ports.Free() : port;
        var dir = Directory.CreateTempSubdirectory("streamfraud-redis-").FullName;
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = dir,
        };
        foreach (var a in new[]
                 {
                     "--port", actualPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
                     "--dir", dir, "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes",
                     "--loglevel", "warning",
                 })
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var a in (security?.Arguments(actualPort) ?? []).Concat(extraArguments ?? []))
        {
            psi.ArgumentList.Add(a);
        }

        var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {exe}.");
        var server = new RedisServerProcess(process, dir, actualPort);
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!await Ports.WaitForPongAsync(actualPort, timeout ?? TimeSpan.FromSeconds(15), () => !process.HasExited, security?.Tls ?? false).ConfigureAwait(false))
        {
            var output = server.Output;
            await server.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException($"redis-server did not answer PING on 127.0.0.1:{actualPort}. Its output:\n{output}");
        }

        return server;
    }

    /// <summary>The server's port.</summary>
    public int Port => int.Parse(Endpoint[(Endpoint.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Whether the process is still running.</summary>
    public bool IsRunning => !_process.HasExited;

    /// <summary>Freezes the server (SIGSTOP): connections stay open but nothing answers, like a hung host. For outage tests.</summary>
    public void Freeze() => Signal(19);

    /// <summary>Resumes a frozen server (SIGCONT); queued commands then run.</summary>
    public void Thaw() => Signal(18);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    private void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed with errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}.");
        }
    }

    private string Output
    {
        get { lock (_output) { return _output.ToString(); } }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length < 64 * 1024)
            {
                _output.AppendLine(line);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // a leftover temp directory is harmless
        }
    }
}

/// <summary>
/// Microsoft Garnet (a Redis-protocol server) hosted in this process, with Lua scripting enabled and no persistence:
/// the zero-install Redis of the demo.
/// </summary>
public sealed class GarnetHost : ILocalRedis
{
    private readonly GarnetServer _server;

    private GarnetHost(GarnetServer server, int port)
    {
        _server = server;
        Endpoint = $"127.0.0.1:{port}";
    }

    /// <inheritdoc />
    public string Endpoint { get; }

    /// <inheritdoc />
    public string Kind => "garnet";

    /// <summary>Starts Garnet on <paramref name="port"/> (0: a free port) and waits for PING.</summary>
    public static async Task<GarnetHost> StartAsync(int port = 0)
    {
        var actualPort = port == 0 ? Ports.Free() : port;
        GarnetServer server;
        try
        {
            server = new GarnetServer(
        [
            "--bind", "127.0.0.1", "--port", actualPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--lua", "--memory", "256m", "--index", "16m", "--logger-level", "Warning",
        ]);
        }
        catch (Garnet.common.GarnetException e)
        {
            throw new InvalidOperationException($"Garnet could not start on 127.0.0.1:{actualPort}: {e.Message}", e);
        }

        server.Start();
        var host = new GarnetHost(server, actualPort);
        if (!await Ports.WaitForPongAsync(actualPort, TimeSpan.FromSeconds(15)).ConfigureAwait(false))
        {
            await host.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException($"Garnet did not answer PING on 127.0.0.1:{actualPort}.");
        }

        return host;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _server.Dispose();
        return ValueTask.CompletedTask;
    }
}
