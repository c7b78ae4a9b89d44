using System.Text;
using StreamFraud.Core.Features;

namespace StreamFraud.Core.Tests.Features;

public class StableHashTests
{
    [Theory]
    [InlineData("", 0xcbf29ce484222325UL)]
    [InlineData("a", 0xaf63dc4c8601ec8cUL)]
    [InlineData("foobar", 0x85944171f73967e8UL)]
    public void Fnv1a64_PublishedVectors_Match(string text, ulong expected) =>
        Assert.Equal(expected, StableHash.Fnv1a64(Encoding.UTF8.GetBytes(text)));

    [Theory]
    [InlineData("")]
    [InlineData("merchant-42")]
    [InlineData("Zürich café")]
    [InlineData("日本")]
    [InlineData("emoji 😀 pair")]
    [InlineData("lone \ud800 high")]
    [InlineData("lone \udc00 low")]
    [InlineData("end high \ud83d")]
    public void Hash_AnyText_EqualsSeededFnvOverUtf8BytesThenFmix(string text)
    {
        const ulong seed = 0x1234_5678_9ABC_DEF0UL;
        // Reference: .NET's UTF-8 encoder (lone surrogates become U+FFFD) and FNV-1a written out here.
        var h = StableHash.FnvOffsetBasis ^ seed;
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            h = (h ^ b) * StableHash.FnvPrime;
        }

        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdUL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53UL;
        h ^= h >> 33;
        Assert.Equal(h, StableHash.Hash(seed, text));
    }

    [Fact]
    public void Hash_Null_EqualsEmpty() => Assert.Equal(StableHash.Hash(7, ""), StableHash.Hash(7, null));

    [Fact]
    public void Hash_FoldAsciiCase_MatchesLowercaseOnlyWhenFolding()
    {
        Assert.Equal(StableHash.Hash(3, "us", foldAsciiCase: true), StableHash.Hash(3, "US", foldAsciiCase: true));
        Assert.Equal(StableHash.Hash(3, "ecom"), StableHash.Hash(3, "ECOM", foldAsciiCase: true));
        Assert.NotEqual(StableHash.Hash(3, "us"), StableHash.Hash(3, "US"));
        // Only ASCII letters fold: 'Ü' (U+00DC) is not turned into 'ü'.
        Assert.NotEqual(StableHash.Hash(3, "ü", foldAsciiCase: true), StableHash.Hash(3, "Ü", foldAsciiCase: true));
    }

    [Fact]
    public void Hash_DifferentSeeds_Differ() => Assert.NotEqual(StableHash.Hash(1, "x"), StableHash.Hash(2, "x"));

    [Fact]
    public void Hash_PinnedValues_NeverChange()
    {
        // Pins, not a derivation: these values are in every stored card state and training set. If this fails,
        // the hash changed and the feature spec version and state format must change with it.
        Assert.Equal(0xABB5045BF117BA8FUL, StableHash.Hash(0, "card-00001")); // also computed by a Python FNV-1a + fmix64
        Assert.Equal(0xE43DFB295CB5CB28UL, CardState.TransactionIdHash("t0000001"));
    }
}
