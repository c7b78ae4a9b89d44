using System.Runtime.CompilerServices;

namespace StreamFraud.Core.Features;

/// <summary>
/// A 64-bit string hash that is the same on every machine, process and run: FNV-1a over the UTF-8 bytes of the text,
/// started from a per-use seed and finished with the MurmurHash3 <c>fmix64</c> avalanche step.
/// </summary>
/// <remarks>
/// <see cref="string.GetHashCode()"/> is randomised per process, so it cannot key anything that is stored or compared
/// across processes (card state in Redis, training matrices). FNV-1a is tiny and allocation-free; its low bits mix
/// poorly on short inputs, which <c>fmix64</c> fixes, so any bit range of the result can pick a bucket. Strings are
/// encoded to UTF-8 on the fly (lone surrogates become U+FFFD, as <see cref="System.Text.Encoding.UTF8"/> does),
/// so hashing never allocates. Not a cryptographic hash.
/// </remarks>
public static class StableHash
{
    /// <summary>FNV-1a 64-bit offset basis.</summary>
    public const ulong FnvOffsetBasis = 0xCBF29CE484222325UL;

    /// <summary>FNV-1a 64-bit prime.</summary>
    public const ulong FnvPrime = 0x100000001B3UL;

    /// <summary>Plain FNV-1a 64 of <paramref name="bytes"/> (no seed, no finaliser), for reference and tests.</summary>
    public static ulong Fnv1a64(ReadOnlySpan<byte> bytes)
    {
        var h = FnvOffsetBasis;
        foreach (var b in bytes)
        {
            h = (h ^ b) * FnvPrime;
        }

        return h;
    }

    /// <summary>
    /// Hash of <paramref name="text"/> (null hashes like the empty string): <c>fmix64(FNV-1a(seed-initialised,
    /// UTF-8(text)))</c>, where the seed is XORed into the offset basis. When <paramref name="foldAsciiCase"/> is set,
    /// ASCII letters <c>A-Z</c> hash as <c>a-z</c> (culture-free, so <c>"US"</c> and <c>"us"</c> agree).
    /// </summary>
    public static ulong Hash(ulong seed, string? text, bool foldAsciiCase = false)
    {
        var h = FnvOffsetBasis ^ seed;
        if (text is not null)
        {
            var s = text.AsSpan();
            for (var i = 0; i < s.Length; i++)
            {
                uint c = s[i];
                if (c < 0x80)
                {
                    if (foldAsciiCase && c - 'A' <= 'Z' - 'A')
                    {
                        c |= 0x20;
                    }

                    h = Step(h, c);
                }
                else if (c < 0x800)
                {
                    h = Step(h, 0xC0 | (c >> 6));
                    h = Step(h, 0x80 | (c & 0x3F));
                }
                else if (c - 0xD800 <= 0x7FF)
                {
                    // Surrogate: a valid high+low pair is one 4-byte scalar; anything else is U+FFFD.
                    if (c <= 0xDBFF && i + 1 < s.Length && (uint)s[i + 1] - 0xDC00 <= 0x3FF)
                    {
                        var scalar = 0x10000 + ((c - 0xD800) << 10) + ((uint)s[i + 1] - 0xDC00);
                        i++;
                        h = Step(h, 0xF0 | (scalar >> 18));
                        h = Step(h, 0x80 | ((scalar >> 12) & 0x3F));
                        h = Step(h, 0x80 | ((scalar >> 6) & 0x3F));
                        h = Step(h, 0x80 | (scalar & 0x3F));
                    }
                    else
                    {
                        h = Step(h, 0xEF);
                        h = Step(h, 0xBF);
                        h = Step(h, 0xBD);
                    }
                }
                else
                {
                    h = Step(h, 0xE0 | (c >> 12));
                    h = Step(h, 0x80 | ((c >> 6) & 0x3F));
                    h = Step(h, 0x80 | (c & 0x3F));
                }
            }
        }

        return Mix(h);
    }

    /// <summary>MurmurHash3's 64-bit finaliser: a bijection whose every output bit depends on every input bit.</summary>
    public static ulong Mix(ulong h)
    {
        h ^= h >> 33;
        h *= 0xFF51AFD7ED558CCDUL;
        h ^= h >> 33;
        h *= 0xC4CEB9FE1A85EC53UL;
        h ^= h >> 33;
        return h;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Step(ulong h, uint b) => (h ^ b) * FnvPrime;
}
