using StackExchange.Redis;
using StreamFraud.DevStack.Redis;
using StreamFraud.IntegrationTests.Infrastructure;
using StreamFraud.Redis;

namespace StreamFraud.IntegrationTests;

/// <summary>
/// The commit script's compare-and-set (<see cref="RedisScripts.CompareAndSet"/>) card by card on a real redis-server and
/// on Garnet, read back from the server: a card is written (with the TTL, and in undo mode its undo key set or deleted)
/// only when its expected version equals the stored value's first 8 bytes — the whole value when it is shorter, and ''
/// only for a missing key; any other card is left as it was and answered with its full stored value ('' when missing).
/// </summary>
[Collection(StackCollection.Name)]
public sealed class Redis_CompareAndSetLua(StackFixture stack)
{
    private const long TtlMs = 600_000;

    private static readonly byte[] Version = [1, 0, 0, 0, 0, 0, 0xFF, 0];
    private static readonly byte[] OtherVersion = [2, 0, 0, 0, 0, 0, 0xFF, 0];

    [Fact]
    public async Task MissingShortEmptyAndFullValues_WrittenOnlyOnTheirVersion_ConflictsAnswerTheFullValue()
    {
        var full = new byte[2_500];
        new Random(5).NextBytes(full);
        Version.CopyTo(full, 0);
        byte[] abc = "abc"u8.ToArray();
        // Stored value (null: missing), expected version, and whether the card is written — decided by hand.
        (byte[]? Stored, byte[] Expected, bool Writes)[] cases =
        [
            (null, [], true),
            (null, Version, false),
            (full, Version, true),
            (full, OtherVersion, false),
            (full, [], false),
            (full, Version[..7], false),
            (abc, abc, true),
            (abc, "abd"u8.ToArray(), false),
            (abc, [], false),
            ([], [], true),
            ([], Version[..1], false),
            (Version[..7], Version[..7], true),
            (Version, Version, true),
        ];

        await using var garnet = await GarnetHost.StartAsync();
        foreach (var endpoint in new[] { stack.Redis, garnet.Endpoint })
        {
            await using var mux = await ConnectionMultiplexer.ConnectAsync(endpoint);
            var db = mux.GetDatabase();
            foreach (var undo in new[] { false, true })
            {
                var prefix = $"cas:{Guid.NewGuid():N}:";
                var n = cases.Length;
                var keys = new List<RedisKey>();
                var args = new List<RedisValue> { TtlMs, undo ? "1" : "0", n };
                for (var i = 0; i < n; i++)
                {
                    if (cases[i].Stored is { } stored)
                    {
                        await db.StringSetAsync(prefix + i, stored);
                    }

                    await db.StringSetAsync(prefix + i + ":undo", "old undo");
                    keys.Add(prefix + i);
                    args.Add(cases[i].Expected);
                    args.Add(NewValue(i));
                    if (undo)
                    {
                        // Every other written card has no undo value: its undo key is deleted.
                        args.Add(i % 2 == 0 ? RedisValue.EmptyString : (RedisValue)$"undo {i}");
                    }
                }

                if (undo)
                {
                    keys.AddRange(Enumerable.Range(0, n).Select(i => (RedisKey)(prefix + i + ":undo")));
                }

                var result = (RedisResult[])(await db.ScriptEvaluateAsync(RedisScripts.CompareAndSet, [.. keys], [.. args]))!;

                var conflicts = new List<string>();
                for (var c = 0; c < result.Length; c += 2)
                {
                    conflicts.Add($"{(int)result[c]}:{Convert.ToHexString((byte[])result[c + 1]!)}");
                }

                var expectedConflicts = Enumerable.Range(0, n).Where(i => !cases[i].Writes)
                    .Select(i => $"{i + 1}:{Convert.ToHexString(cases[i].Stored ?? [])}");
                Assert.Equal(expectedConflicts, conflicts);
                for (var i = 0; i < n; i++)
                {
                    var (stored, _, writes) = cases[i];
                    var value = await db.StringGetAsync(prefix + i);
                    var ttl = await db.KeyTimeToLiveAsync(prefix + i);
                    var undoValue = await db.StringGetAsync(prefix + i + ":undo");
                    var undoTtl = await db.KeyTimeToLiveAsync(prefix + i + ":undo");
                    if (writes)
                    {
                        Assert.Equal(NewValue(i), (byte[])value!);
                        Assert.InRange(ttl!.Value, TimeSpan.FromMilliseconds(TtlMs - 60_000), TimeSpan.FromMilliseconds(TtlMs));
                    }
                    else
                    {
                        Assert.Equal(stored is null ? null : Convert.ToHexString(stored), value.IsNull ? null : Convert.ToHexString((byte[])value!));
                        Assert.Null(ttl);
                    }

                    if (writes && undo && i % 2 == 0)
                    {
                        Assert.True(undoValue.IsNull, $"case {i}: undo key deleted");
                    }
                    else if (writes && undo)
                    {
                        Assert.Equal($"undo {i}", (string?)undoValue);
                        Assert.InRange(undoTtl!.Value, TimeSpan.FromMilliseconds(TtlMs - 60_000), TimeSpan.FromMilliseconds(TtlMs));
                    }
                    else
                    {
                        Assert.Equal("old undo", (string?)undoValue);
                        Assert.Null(undoTtl);
                    }
                }
            }
        }
    }

    private static byte[] NewValue(int i) => [9, 9, 9, 9, 9, 9, 9, (byte)i, .. "new state"u8];
}
