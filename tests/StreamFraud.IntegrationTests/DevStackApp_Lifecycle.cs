using System.Diagnostics;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using Confluent.Kafka;
using StackExchange.Redis;

namespace StreamFraud.IntegrationTests;

/// <summary>The DevStack app as another program sees it: endpoints on stdout, a real broker, registry and Redis, clean SIGTERM.</summary>
public sealed class DevStackApp_Lifecycle
{
    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);

    private const int SigTerm = 15;

    [Fact]
    public async Task Start_EndpointsAnswer_SigTermStopsWithin5s()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "StreamFraud.DevStack.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: the test project references the DevStack app to run it.");
        var kafkaPort = FreePort();
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { dll, "--kafka-port", kafkaPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--topics", "demo:2", "--redis", "garnet" })
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var v in new[] { "STREAMFRAUD_KAFKA_BOOTSTRAP", "STREAMFRAUD_SCHEMA_REGISTRY_URL", "STREAMFRAUD_REDIS" })
        {
            psi.Environment.Remove(v);
        }

        using var process = Process.Start(psi)!;
        var endpoints = new Dictionary<string, string>();
        var output = new List<string>();
        var ready = new TaskCompletionSource();
        var stopped = new TaskCompletionSource();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (output)
            {
                output.Add(e.Data);
                var eq = e.Data.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0 && e.Data[..eq] is "kafka" or "schema-registry" or "redis")
                {
                    endpoints[e.Data[..eq]] = e.Data[(eq + 1)..];
                }
            }

            if (e.Data.StartsWith("ready", StringComparison.Ordinal))
            {
                ready.TrySetResult();
            }

            if (e.Data == "stopped")
            {
                stopped.TrySetResult();
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (output)
                {
                    output.Add("stderr: " + e.Data);
                }
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var first = await Task.WhenAny(ready.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
            Assert.True(ready.Task.IsCompleted, "DevStack did not print 'ready':\n" + string.Join('\n', output));

            Assert.Equal($"127.0.0.1:{kafkaPort}", endpoints["kafka"]);
            Assert.StartsWith("http://127.0.0.1:", endpoints["schema-registry"]);

            // Kafka: produce and consume through the fixed, forwarded port.
            using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = endpoints["kafka"] }).Build())
            {
                var r = await producer.ProduceAsync("demo", new Message<string, string> { Key = "k", Value = "hello" });
                Assert.Equal(PersistenceStatus.Persisted, r.Status);
            }

            using (var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
                   {
                       BootstrapServers = endpoints["kafka"], GroupId = "devstack-test", AutoOffsetReset = AutoOffsetReset.Earliest, FetchWaitMaxMs = 20,
                   }).Build())
            {
                consumer.Subscribe("demo");
                var got = consumer.Consume(TimeSpan.FromSeconds(30));
                Assert.Equal("hello", got?.Message.Value);
                consumer.Close();
            }

            // Registry: a REST call.
            using (var http = new HttpClient())
            {
                var subjects = await http.GetFromJsonAsync<string[]>($"{endpoints["schema-registry"]}/subjects");
                Assert.NotNull(subjects);
                var config = await http.GetStringAsync($"{endpoints["schema-registry"]}/config");
                Assert.Contains("BACKWARD", config);
            }

            // Redis: PING.
            await using (var mux = await ConnectionMultiplexer.ConnectAsync(endpoints["redis"]))
            {
                Assert.True((await mux.GetDatabase().PingAsync()) < TimeSpan.FromSeconds(5));
            }

            var clock = Stopwatch.StartNew();
            Assert.Equal(0, Kill(process.Id, SigTerm));
            var exited = process.WaitForExit(TimeSpan.FromSeconds(5));
            Assert.True(exited, "DevStack did not stop within 5 s of SIGTERM:\n" + string.Join('\n', output));
            Assert.Equal(0, process.ExitCode);
            process.WaitForExit(); // flush redirected output
            Assert.True(stopped.Task.IsCompleted, "no 'stopped' line:\n" + string.Join('\n', output));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    private static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }
}
