using StreamFraud.Clients;
using StreamFraud.Core;
using StreamFraud.Core.Features;
using StreamFraud.Core.Windows;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Redis;
using StreamFraud.Scoring.Tests.Pipeline;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// The Redis connection every app builds (<see cref="RedisClientSettings"/>: <c>Redis:Password</c>, <c>Redis:Tls</c>,
/// <c>Redis:CaFile</c>, <c>Redis:CertFile</c>/<c>KeyFile</c>) against a real redis-server with <c>requirepass</c>, TLS
/// only and client certificates required: the window store works through it, and each wrong setting fails with a
/// message naming the setting to fix and never the password.
/// </summary>
public sealed class Redis_SecuredConnection(SecuredRedis redis, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<SecuredRedis>
{
    private const string WrongPassword = "Wrong-pa55word-for-redis";

    /// <summary>A connection that is refused waits out its connect timeout (StackExchange.Redis retries until then).</summary>
    private static readonly TimeSpan Refused = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task Connect_PasswordFileAndMutualTls_StoreReadsBackWhatItWrote()
    {
        var settings = Read(redis.Settings());
        Assert.True(settings.Redis.Tls);
        Assert.Contains(SecuredRedis.Password, settings.Secrets); // read from the file, without its line break, and known to the redactor
        Assert.DoesNotContain(SecuredRedis.Password, settings.Describe());
        Assert.Contains("password=***", settings.Redis.Describe());

        var spec = FeatureSpec.CardV1;
        var prefix = $"sec:{Guid.NewGuid():N}:";
        var events = TinyBundle.Stream(seed: 5, cards: 12, count: 240);
        var expected = new float[events.Count][];
        var offline = new OfflineFeaturizer(spec); // independent: every event in order, in memory
        for (var i = 0; i < events.Count; i++)
        {
            expected[i] = new float[spec.WindowSize];
            Assert.True(offline.Apply(events[i], expected[i]).IsApplied);
        }

        // One connection writes the first 200 events; a second connection's store (nothing cached) applies the rest on
        // the states it reads back, so its windows equal the offline ones only if the first one's writes are there.
        const int Split = 200;
        await using (var writer = await settings.Redis.ConnectAsync(TimeSpan.FromSeconds(5)))
        {
            await Apply(new RedisWindowStore(writer.GetDatabase(), spec, new RedisWindowStoreOptions { KeyPrefix = prefix }), spec, events, 0, Split, expected);
        }

        await using var reader = await Read(redis.Settings()).Redis.ConnectAsync(TimeSpan.FromSeconds(5));
        await Apply(new RedisWindowStore(reader.GetDatabase(), spec, new RedisWindowStoreOptions { KeyPrefix = prefix }), spec, events, Split, events.Count, expected);
    }

    [Fact]
    public async Task Connect_WrongPassword_FailsNamingRedisPassword_WithoutPrintingIt()
    {
        var values = redis.Settings();
        values["Redis:Password"] = WrongPassword;

        var e = await Assert.ThrowsAsync<RedisConnectException>(() => Read(values).Redis.ConnectAsync(Refused));
        output.WriteLine(e.Message);

        Assert.Contains("refused the credentials", e.Message);
        Assert.Contains("Redis:Password", e.Message);
        Assert.Contains(redis.Endpoint, e.Message);
        Assert.DoesNotContain(WrongPassword, e.Message);
        Assert.DoesNotContain(SecuredRedis.Password, e.Message);
    }

    [Fact]
    public async Task Connect_NoPassword_FailsAskingForRedisPassword()
    {
        var values = redis.Settings();
        values.Remove("Redis:Password");

        var e = await Assert.ThrowsAsync<RedisConnectException>(() => Read(values).Redis.ConnectAsync(Refused));
        output.WriteLine(e.Message);

        Assert.Contains("requires a password", e.Message);
        Assert.Contains("Redis:Password", e.Message);
    }

    [Fact]
    public async Task Connect_ServerCertificateFromAnotherCa_FailsNamingRedisCaFile()
    {
        var values = redis.Settings();
        values["Redis:CaFile"] = redis.OtherCaFile;

        var e = await Assert.ThrowsAsync<RedisConnectException>(() => Read(values).Redis.ConnectAsync(Refused));
        output.WriteLine(e.Message);

        Assert.Contains("TLS handshake failed", e.Message);
        Assert.Contains("not signed by a CA of Redis:CaFile", e.Message);
        Assert.Contains("CN=streamfraud-test-server", e.Message);
        Assert.DoesNotContain(SecuredRedis.Password, e.Message);
    }

    [Fact]
    public void Read_TlsFilesWithoutTls_AndMissingPasswordFile_EveryProblemNamed()
    {
        var problems = new List<string>();
        ClientSettings.Read(
            [
                new("Redis:Configuration", redis.Endpoint), new("Redis:CaFile", redis.CaFile), new("Redis:Password", "file:" + Path.Combine(redis.Directory, "absent")),
            ],
            problems);

        Assert.Equal(2, problems.Count);
        Assert.Contains(problems, p => p.Contains("Redis:Password: file ", StringComparison.Ordinal) && p.Contains("does not exist", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("Redis:CaFile is set but TLS is off: set Redis:Tls true", StringComparison.Ordinal));
    }

    private static ClientSettings Read(Dictionary<string, string> values) =>
        ClientSettings.Read(values.Select(kv => new ClientSetting(kv.Key, kv.Value)));

    private static async Task Apply(RedisWindowStore store, FeatureSpec spec, List<Transaction> events, int from, int to, float[][] expected)
    {
        var batch = new WindowBatch(spec, to - from);
        for (var i = from; i < to; i++)
        {
            batch.Add(events[i], new SourcePosition(0, i, SourcePosition.OfflineSource));
        }

        await store.ApplyAsync(batch);
        for (var j = 0; j < batch.Count; j++)
        {
            Assert.Equal(ApplyStatus.Applied, batch.Result(j).Status);
            Assert.True(expected[from + j].AsSpan().SequenceEqual(batch.Window(j)), $"window of event {from + j}");
        }
    }
}
