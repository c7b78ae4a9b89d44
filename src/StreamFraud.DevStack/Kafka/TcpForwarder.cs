using System.Net;
using System.Net.Sockets;

namespace StreamFraud.DevStack.Kafka;

/// <summary>
/// Forwards a fixed loopback port to another address. The mock brokers listen on ephemeral ports chosen by
/// librdkafka; a forwarder gives a broker the well-known port (9092) that other programs expect.
/// </summary>
internal sealed class TcpForwarder : IDisposable
{
    private readonly TcpListener _listener;
    private readonly string _targetHost;
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _open = [];

    private TcpForwarder(TcpListener listener, string targetHost, int targetPort)
    {
        _listener = listener;
        _targetHost = targetHost;
        _targetPort = targetPort;
    }

    /// <summary>The bound local port.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Binds 127.0.0.1:<paramref name="port"/> (0: any free port) and starts accepting.</summary>
    /// <exception cref="IOException">The port is taken; the message names it.</exception>
    public static TcpForwarder Start(int port, string targetHost, int targetPort)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        try
        {
            listener.Start();
        }
        catch (SocketException e)
        {
            throw new IOException($"Cannot listen on 127.0.0.1:{port} ({e.SocketErrorCode}); choose another port or stop what uses it.", e);
        }

        var forwarder = new TcpForwarder(listener, targetHost, targetPort);
        _ = forwarder.AcceptLoopAsync();
        return forwarder;
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }

            _ = PumpAsync(client);
        }
    }

    private async Task PumpAsync(TcpClient client)
    {
        using var upstream = new TcpClient { NoDelay = true };
        client.NoDelay = true;
        lock (_open)
        {
            _open.Add(client);
            _open.Add(upstream);
        }

        try
        {
            await upstream.ConnectAsync(_targetHost, _targetPort, _stop.Token).ConfigureAwait(false);
            var a = client.GetStream();
            var b = upstream.GetStream();
            // Whichever side closes first ends the pair.
            await Task.WhenAny(a.CopyToAsync(b, _stop.Token), b.CopyToAsync(a, _stop.Token)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
        {
            // A peer went away (or the broker is down); the client sees a closed connection and retries.
        }
        finally
        {
            lock (_open)
            {
                _open.Remove(client);
                _open.Remove(upstream);
            }

            client.Dispose();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_open)
        {
            foreach (var c in _open)
            {
                c.Dispose();
            }

            _open.Clear();
        }

        _stop.Dispose();
    }
}
