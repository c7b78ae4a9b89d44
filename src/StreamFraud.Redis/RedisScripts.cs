using StackExchange.Redis;

namespace StreamFraud.Redis;

/// <summary>
/// The server-side scripts of <see cref="RedisWindowStore"/>. Written for Lua 5.1 (Redis) and 5.4 (Garnet) alike:
/// binary values are handled with <c>string.byte</c>, <c>string.char</c> and <c>string.sub</c>
/// only (no <c>struct</c> or <c>bit</c>; <c>unpack</c> is 5.4's <c>table.unpack</c>), numbers stay below 2^53, and numbers that go back into values
/// are the caller's own strings, never <c>tostring</c> of a number (5.4 would write <c>3.0</c>).
/// </summary>
internal static class RedisScripts
{
    /// <summary>
    /// <see cref="Core.Labels.RiskRing"/> in Lua, byte for byte: a ring is read once per script (a value that is not
    /// 480 bytes, or not a string, reads as empty), each bump rewrites its 12-byte slot (<c>uint32 stamp, transactions,
    /// frauds</c>, little-endian) by the same commutative rule, and each changed ring is written once at the end with a
    /// fresh TTL (<c>flush</c>).
    /// </summary>
    internal const string RingLibrary = """
        local EMPTY_RING = string.rep(string.char(0), 480)
        local rings, ring_order, ring_dirty = {}, {}, {}
        local function ring(key)
          local v = rings[key]
          if v then return v end
          v = redis.pcall('GET', key)
          if type(v) ~= 'string' or #v ~= 480 then v = EMPTY_RING end
          rings[key] = v
          ring_order[#ring_order + 1] = key
          return v
        end
        local unpack_ = unpack or table.unpack
        -- Reads rings with one MGET per 200 keys instead of one GET each (a non-string value reads as nil).
        local function prefetch(keys)
          for from = 1, #keys, 200 do
            local chunk = {}
            for i = from, math.min(from + 199, #keys) do chunk[#chunk + 1] = keys[i] end
            local values = redis.call('MGET', unpack_(chunk))
            for i, key in ipairs(chunk) do
              if not rings[key] then
                local v = values[i]
                if type(v) ~= 'string' or #v ~= 480 then v = EMPTY_RING end
                rings[key] = v
                ring_order[#ring_order + 1] = key
              end
            end
          end
        end
        local function add(v, d)
          local s = v + d
          if s <= 0 then return 0 end
          if s >= 2147483647 then return 2147483647 end
          return s
        end
        local function le32(v)
          return v % 256, math.floor(v / 256) % 256, math.floor(v / 65536) % 256, math.floor(v / 16777216) % 256
        end
        local function bump(key, stamp, dt, df)
          local v = ring(key)
          local at = (stamp % 40) * 12 + 1
          local s0, s1, s2, s3, t0, t1, t2, t3, f0, f1, f2, f3 = string.byte(v, at, at + 11)
          local cur = s0 + s1 * 256 + s2 * 65536 + s3 * 16777216
          local t, f
          if cur == stamp then
            t = add(t0 + t1 * 256 + t2 * 65536 + t3 * 16777216, dt)
            f = add(f0 + f1 * 256 + f2 * 65536 + f3 * 16777216, df)
          elseif cur < stamp and dt >= 0 and df >= 0 and (dt ~= 0 or df ~= 0) then
            t = add(0, dt)
            f = add(0, df)
          else
            return
          end
          local a0, a1, a2, a3 = le32(stamp)
          local b0, b1, b2, b3 = le32(t)
          local c0, c1, c2, c3 = le32(f)
          rings[key] = string.sub(v, 1, at - 1) .. string.char(a0, a1, a2, a3, b0, b1, b2, b3, c0, c1, c2, c3) .. string.sub(v, at + 12)
          ring_dirty[key] = true
        end
        local function flush(ttl)
          for _, key in ipairs(ring_order) do
            if ring_dirty[key] then redis.call('SET', key, rings[key], 'PX', ttl) end
          end
        end
        local function le32s(v)
          return string.char(le32(v))
        end
        -- Adds dt > 0 transactions on a day to a ring in place, by the same rule as bump: reads and writes only the
        -- day's 12-byte slot (GETRANGE/SETRANGE, no 480-byte strings built). The TTL is refreshed when a day takes
        -- over its slot; a value that is not a 480-byte ring string is replaced by an empty ring with the count.
        -- A slot's byte offsets as strings (start, start + 4, start + 11), made once per slot per script: a number
        -- passed to redis.call is formatted with printf each time, which showed in the script's profile.
        local slot_offsets = {}
        local function offsets(slot)
          local o = slot_offsets[slot]
          if not o then
            local at = slot * 12
            o = { string.format('%d', at), string.format('%d', at + 4), string.format('%d', at + 11) }
            slot_offsets[slot] = o
          end
          return o
        end
        local function count_in_place(key, stamp, dt, ttl)
          local at = (stamp % 40) * 12
          local o = offsets(stamp % 40)
          local slot = redis.pcall('GETRANGE', key, o[1], o[3])
          local cur, t = 0, 0
          if type(slot) == 'string' and #slot == 12 then
            local s0, s1, s2, s3, t0, t1, t2, t3 = string.byte(slot, 1, 8)
            cur = s0 + s1 * 256 + s2 * 65536 + s3 * 16777216
            t = t0 + t1 * 256 + t2 * 65536 + t3 * 16777216
          end
          local len, fresh
          if cur == stamp then
            len = redis.pcall('SETRANGE', key, o[2], le32s(add(t, dt)))
          elseif cur < stamp then
            len = redis.pcall('SETRANGE', key, o[1], le32s(stamp) .. le32s(add(0, dt)) .. le32s(0))
            fresh = true
          else
            len = redis.pcall('STRLEN', key)
            if len == 480 then return end
          end
          if len ~= 480 then
            local v = string.sub(EMPTY_RING, 1, at) .. le32s(stamp) .. le32s(add(0, dt)) .. le32s(0) .. string.sub(EMPTY_RING, at + 13)
            redis.call('SET', key, v, 'PX', ttl)
          elseif fresh then
            redis.call('PEXPIRE', key, ttl)
          end
        end

        """;

    /// <summary>
    /// One compare-and-set over a batch's changed cards, and (spec <c>card</c> v2) the merchant ring bumps of the
    /// cards whose write succeeded. KEYS: n card keys, then (undo mode) their n undo keys, then the batch's merchant
    /// ring keys. ARGV[1] TTL ms; ARGV[2] '1' in undo mode; ARGV[3] n; then per card: expected 8-byte version ('' =
    /// absent), new value and (undo mode) the undo value ('' = delete); then, when rings are counted, one binary
    /// argument: <c>uint32 m</c> and m × <c>uint32 ring (0-based after the card and undo keys), uint32 day stamp,
    /// uint32 transactions</c> summed over all the cards, then per card in order <c>uint32 k</c> and k such triples
    /// of its own (read only for a card whose write failed, whose bumps are taken off the sums). Each summed bump is
    /// counted in place (<c>count_in_place</c>). Returns <c>{i, current value, ...}</c> for each card whose version
    /// did not match (nothing written or counted for it).
    /// </summary>
    public const string CompareAndSet = RingLibrary + """
        local ttl = ARGV[1]
        local undo = ARGV[2] == '1'
        local n = tonumber(ARGV[3])
        local per = 2
        if undo then per = 3 end
        local ring_base = n
        if undo then ring_base = 2 * n end
        local bumps = ARGV[4 + per * n]
        local conflicts = {}
        local function u32(s, at)
          local a, b, c, d = string.byte(s, at, at + 3)
          return a + b * 256 + c * 65536 + d * 16777216
        end
        -- Only the version is read: GETRANGE 0 7 answers a value's first 8 bytes (a shorter value whole, '' for a
        -- missing key, which only the expected '' of an absent card equals), so the stored value never becomes a Lua
        -- string (Redis hashes every byte of one) except for a conflict's answer.
        local call, keys, argv = redis.call, KEYS, ARGV
        local at = 4
        for i = 1, n do
          local key = keys[i]
          if call('GETRANGE', key, '0', '7') == argv[at] then
            call('SET', key, argv[at + 1], 'PX', ttl)
            if undo then
              local before = argv[at + 2]
              if before == '' then call('DEL', keys[n + i]) else call('SET', keys[n + i], before, 'PX', ttl) end
            end
          else
            conflicts[#conflicts + 1] = i
            conflicts[#conflicts + 1] = call('GET', key) or ''
          end
          at = at + per
        end
        if bumps then
          local m = u32(bumps, 1)
          local minus = nil
          if #conflicts > 0 then
            -- Rare: take the bumps of the cards that were not written off the sums.
            minus = {}
            local failed = {}
            for j = 1, #conflicts, 2 do failed[conflicts[j]] = true end
            local cursor = 5 + 12 * m
            for i = 1, n do
              local k = u32(bumps, cursor)
              cursor = cursor + 4
              if failed[i] then
                for j = 1, k do
                  local id = u32(bumps, cursor) .. ':' .. u32(bumps, cursor + 4)
                  minus[id] = (minus[id] or 0) + u32(bumps, cursor + 8)
                  cursor = cursor + 12
                end
              else
                cursor = cursor + 12 * k
              end
            end
          end
          for j = 0, m - 1 do
            local at = 5 + 12 * j
            local r, stamp, c = u32(bumps, at), u32(bumps, at + 4), u32(bumps, at + 8)
            if minus then c = c - (minus[r .. ':' .. stamp] or 0) end
            if c > 0 then count_in_place(KEYS[ring_base + r + 1], stamp, c, ttl) end
          end
        end
        return conflicts
        """;

    /// <summary>
    /// Applies a batch of labels that passed <see cref="Core.Labels.LabelRules.Validate"/> and the staleness rule, in
    /// order, by the remaining rules of <see cref="Core.Labels.LabelRules.Decide"/>. KEYS: n label record keys, then
    /// the ring keys. ARGV[1] ring TTL ms; ARGV[2] record TTL ms; ARGV[3] n; then per label: '1'/'0' verdict, label
    /// time ms, content hash (16 lowercase hex digits), event-day stamp, merchant ring KEYS index (0: none), card ring
    /// KEYS index (0: none; on Redis Cluster the rings are bumped afterwards by <see cref="BumpRings"/>). A record is <c>{0|1}:{label time ms}:{content hash}</c>; anything else reads as no record. Returns
    /// per label <c>{outcome, record before the label or ''}</c> (outcome = <see cref="Core.Labels.LabelOutcome"/>).
    /// </summary>
    public const string ApplyLabels = RingLibrary + """
        local n = tonumber(ARGV[3])
        local out = {}
        for i = 1, n do
          local at = 4 + 6 * (i - 1)
          local fraud = ARGV[at] == '1'
          local time = tonumber(ARGV[at + 1])
          local hash = ARGV[at + 2]
          local prior = redis.pcall('GET', KEYS[i])
          local rf, rt, rh
          if type(prior) == 'string' then
            rf, rt, rh = string.match(prior, '^([01]):(%-?%d+):([0-9a-f]+)$')
            if rf then
              local digits = #rt
              if string.sub(rt, 1, 1) == '-' then digits = digits - 1 end
              if digits > 16 or #rh ~= 16 then rf = nil end
            end
          end
          if not rf then prior = '' end
          local code, write, delta = 0, false, 0
          if not rf then
            write = true
            if fraud then delta = 1 end
          elseif rh ~= hash then
            code = 5
          else
            rt = tonumber(rt)
            local was = rf == '1'
            if time < rt or (time == rt and was and not fraud) then
              code = 3
            elseif fraud == was then
              code = 2
              write = time > rt
            else
              code = 1
              write = true
              if fraud then delta = 1 else delta = -1 end
            end
          end
          if write then
            local v = '0'
            if fraud then v = '1' end
            redis.call('SET', KEYS[i], v .. ':' .. ARGV[at + 1] .. ':' .. hash, 'PX', ARGV[2])
          end
          if delta ~= 0 then
            local stamp = tonumber(ARGV[at + 3])
            local m = tonumber(ARGV[at + 4])
            if m > 0 then bump(KEYS[m], stamp, 0, delta) end
            local c = tonumber(ARGV[at + 5])
            if c > 0 then bump(KEYS[c], stamp, 0, delta) end
          end
          out[#out + 1] = code
          out[#out + 1] = prior
        end
        flush(ARGV[1])
        return out
        """;

    /// <summary>
    /// Label fraud counts on rings of one hash slot (Redis Cluster: after <see cref="ApplyLabels"/> decided and recorded
    /// the labels without rings). KEYS: ring keys; ARGV[1] ring TTL ms, then per bump: KEYS index, day stamp, fraud
    /// delta (−1 or +1), applied in order by <c>bump</c> and written once each with <c>flush</c>.
    /// </summary>
    public const string BumpRings = RingLibrary + """
        for at = 2, #ARGV, 3 do
          bump(KEYS[tonumber(ARGV[at])], tonumber(ARGV[at + 1]), 0, tonumber(ARGV[at + 2]))
        end
        flush(ARGV[1])
        return #KEYS
        """;
}

/// <summary>A script run by SHA (its body travels once per server), falling back to EVAL after a server restart.</summary>
internal sealed class LuaScript(string body)
{
    private byte[]? _sha;

    /// <summary>The script text.</summary>
    public string Body { get; } = body;

    /// <summary>Records the script's SHA once it was loaded elsewhere (on every primary of a cluster).</summary>
    public void MarkLoaded(byte[] sha) => _sha = sha;

    /// <summary>Runs the script; returns its result and the round trips it took (a first call also loads it).</summary>
    public async Task<(RedisResult Result, int RoundTrips)> EvaluateAsync(IDatabase db, RedisKey[] keys, RedisValue[] args, CancellationToken cancellationToken)
    {
        var trips = 0;
        try
        {
            if (_sha is null)
            {
                var sha = await db.ExecuteAsync("SCRIPT", "LOAD", Body).WaitAsync(cancellationToken).ConfigureAwait(false);
                trips++;
                _sha = Convert.FromHexString((string)sha!);
            }

            var result = await db.ScriptEvaluateAsync(_sha, keys, args).WaitAsync(cancellationToken).ConfigureAwait(false);
            return (result, trips + 1);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            var result = await db.ScriptEvaluateAsync(Body, keys, args).WaitAsync(cancellationToken).ConfigureAwait(false);
            _sha = null;
            return (result, trips + 2);
        }
    }
}
