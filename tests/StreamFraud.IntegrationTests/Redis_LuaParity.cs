using StackExchange.Redis;
using StreamFraud.DevStack.Redis;
using StreamFraud.IntegrationTests.Infrastructure;

namespace StreamFraud.IntegrationTests;

/// <summary>The zero-install Redis (Garnet) runs the same server-side scripts as a real redis-server.</summary>
[Collection(StackCollection.Name)]
public sealed class Redis_LuaParity(StackFixture stack)
{
    // Binary-safe append to a bounded list kept in one string value, with TTL and an idempotence check — the shape of
    // the window-append script the scorer uses: GET, string ops on binary data, SET with expiry, multi-value return.
    private const string Script = """
        local key = KEYS[1]
        local entry = ARGV[1]
        local max = tonumber(ARGV[2])
        local size = #entry
        local cur = redis.call('GET', key)
        if not cur then cur = '' end
        for i = 1, #cur, size do
          if string.sub(cur, i, i + size - 1) == entry then
            return {0, cur, #cur / size}
          end
        end
        cur = cur .. entry
        if #cur > max * size then cur = string.sub(cur, #cur - max * size + 1) end
        redis.call('SET', key, cur, 'PX', tonumber(ARGV[3]))
        local n = redis.call('INCR', key .. ':n')
        return {1, cur, #cur / size, n, string.byte(cur, 1), redis.call('STRLEN', key)}
        """;

    [Fact]
    public async Task SameScript_RedisServerAndGarnet_SameResults()
    {
        await using var garnet = await GarnetHost.StartAsync();
        var fromRedis = await RunAsync(stack.Redis);
        var fromGarnet = await RunAsync(garnet.Endpoint);
        Assert.Equal(fromRedis, fromGarnet);
        Assert.Equal(14, fromRedis.Count); // 7 script calls + 7 checks: the scenario ran to the end
        // Independent expectation: window of 3 after the sequence, redeliveries ignored.
        Assert.Equal("070707070102030400000000", fromRedis[8]);
        Assert.StartsWith("0|", fromRedis[3]); // the redelivered entry was recognised
        Assert.StartsWith("0|", fromRedis[6]);
    }

    private static async Task<List<string>> RunAsync(string endpoint)
    {
        await using var mux = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions { EndPoints = { endpoint }, AbortOnConnectFail = true });
        var db = mux.GetDatabase();
        var key = $"window:{Guid.NewGuid():N}";
        var results = new List<string>();
        // 4-byte binary entries including 0x00 and 0xFF bytes; window of 3; one redelivery of an entry still in the window.
        byte[][] entries = [[0, 1, 2, 3], [255, 0, 9, 1], [7, 7, 7, 7], [255, 0, 9, 1], [1, 2, 3, 4], [0, 0, 0, 0], [0, 0, 0, 0]];
        foreach (var e in entries)
        {
            var r = (RedisResult[])(await db.ScriptEvaluateAsync(Script, [key], [e, 3, 60_000]))!;
            results.Add(string.Join("|", r.Select(x => x.Resp2Type == ResultType.BulkString ? Convert.ToHexString((byte[])x!) : x.ToString())));
        }

        var ttl = await db.KeyTimeToLiveAsync(key);
        results.Add(ttl is { TotalSeconds: > 50 and <= 60 } ? "ttl-ok" : $"ttl-bad:{ttl}");
        results.Add(Convert.ToHexString((byte[])(await db.StringGetAsync(key))!));
        results.Add((await db.StringGetAsync(key + ":n")).ToString());
        results.Add((await db.KeyExistsAsync(key + ":missing")).ToString());
        results.Add((await db.ScriptEvaluateAsync("return {tostring(1.5), math.floor(7/2), #KEYS, ARGV[1] .. 'x'}", [key], ["a"])).ToString());
        results.Add((await db.ScriptEvaluateAsync("return redis.call('GET', KEYS[1])", [key + ":none"])).IsNull.ToString());
        results.Add((await db.ScriptEvaluateAsync("return redis.call('DEL', KEYS[1], KEYS[2])", [key, key + ":n"])).ToString());
        return results;
    }
}
