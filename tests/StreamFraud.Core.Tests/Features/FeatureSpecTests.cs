using System.Security.Cryptography;
using System.Text;
using StreamFraud.Core.Features;

namespace StreamFraud.Core.Tests.Features;

public class FeatureSpecTests
{
    private const string CardV1Hash = "97ae9034a19f53936f30ff4522c558c44f55602641a898945040736d3bacbc84";

    [Fact]
    public void CardV1_Identity_NameVersionDimension()
    {
        var spec = FeatureSpec.CardV1;
        Assert.Equal("card", spec.Name);
        Assert.Equal(1, spec.Version);
        Assert.Equal(56, spec.Dimension);
        Assert.Equal(7 * 56, spec.WindowSize);
        Assert.Equal(56, spec.Features.Count);
    }

    [Fact]
    public void CardV1_ContentHash_IsSha256OfCanonicalDefinition()
    {
        var spec = FeatureSpec.CardV1;
        var expected = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(spec.CanonicalDefinition)));
        Assert.Equal(expected, spec.ContentHash);
        Assert.Contains("feature.55=country_hash_u\n", spec.CanonicalDefinition);
        Assert.Contains("decay.tau_ms=600000,3600000,86400000,604800000\n", spec.CanonicalDefinition);
    }

    [Fact]
    public void CardV1_ContentHash_IsPinned()
    {
        // A pin: if a name or parameter of card v1 changes, this fails on purpose — bump the version instead.
        Assert.Equal(CardV1Hash, FeatureSpec.CardV1.ContentHash);
    }

    [Fact]
    public void CardV1_Features_HaveUniqueSnakeCaseNamesAndSaneRanges()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var f in FeatureSpec.CardV1.Features)
        {
            Assert.True(names.Add(f.Name), f.Name);
            Assert.Matches("^[a-z][a-z0-9_]*$", f.Name);
            Assert.True(f.Min <= f.Max, f.Name);
            Assert.False(string.IsNullOrWhiteSpace(f.Definition));
        }
    }

    [Fact]
    public void CardV1_InternalIndices_MatchNames()
    {
        var s = FeatureSpec.CardV1;
        Assert.Equal(CardFeatureSpecV1.AmtLog, s.IndexOf("amt_log"));
        Assert.Equal(CardFeatureSpecV1.DtPrev3Log, s.IndexOf("dt_prev3_log"));
        Assert.Equal(CardFeatureSpecV1.VelCnt10m, s.IndexOf("vel_cnt_10m"));
        Assert.Equal(CardFeatureSpecV1.VelCnt10m + 7, s.IndexOf("vel_sum_7d"));
        Assert.Equal(CardFeatureSpecV1.AmtVsAvg1d, s.IndexOf("amt_vs_avg_1d"));
        Assert.Equal(CardFeatureSpecV1.MerchantNew, s.IndexOf("merchant_new"));
        Assert.Equal(CardFeatureSpecV1.MerchantNew + 11, s.IndexOf("channel_same_prev"));
        Assert.Equal(CardFeatureSpecV1.NewMerchantRate1d, s.IndexOf("new_merchant_rate_1d"));
        Assert.Equal(CardFeatureSpecV1.ChannelH0, s.IndexOf("channel_h0"));
        Assert.Equal(CardFeatureSpecV1.MccH0 + 7, s.IndexOf("mcc_h7"));
        Assert.Equal(CardFeatureSpecV1.CountryHashU, s.IndexOf("country_hash_u"));
        Assert.Equal(-1, s.IndexOf("nope"));
    }

    [Fact]
    public void CardV1_MaxStateSize_IsHeaderPlusSevenEntriesPlusAggregates()
    {
        // State format 2: 28-byte header + 7 × (40 + 4·56) + 344 aggregate bytes.
        Assert.Equal(28 + (7 * (40 + 224)) + 344, FeatureSpec.CardV1.MaxStateSize);
        Assert.Equal(2220, FeatureSpec.CardV1.MaxStateSize);
    }

    [Fact]
    public void TryResolve_Card1_ReturnsTheInstance()
    {
        Assert.True(FeatureSpec.TryResolve("card", 1, out var spec, out var error));
        Assert.Same(FeatureSpec.CardV1, spec);
        Assert.Null(error);
    }

    [Fact]
    public void TryResolve_Precomputed80_ReturnsDimension80()
    {
        Assert.True(FeatureSpec.TryResolve("precomputed:80", 1, out var spec, out _));
        Assert.Equal(80, spec.Dimension);
        Assert.Equal("precomputed:80", spec.Name);
        Assert.Equal("f79", spec.Features[79].Name);
        Assert.Same(spec, PrecomputedFeatureSpec.Create(80));
    }

    [Theory]
    [InlineData("card", 3)]
    [InlineData("cards", 1)]
    [InlineData("precomputed:0", 1)]
    [InlineData("precomputed:080", 1)]
    [InlineData("precomputed:+8", 1)]
    [InlineData("precomputed:x", 1)]
    [InlineData("precomputed:", 1)]
    [InlineData("precomputed:4097", 1)]
    [InlineData("precomputed:8", 2)]
    public void TryResolve_UnknownOrBad_FailsWithReason(string name, int version)
    {
        Assert.False(FeatureSpec.TryResolve(name, version, out var spec, out var error));
        Assert.Null(spec);
        Assert.Contains(name, error);
    }

    [Fact]
    public void Matches_SameIdentity_TrueAndAnyDifference_False()
    {
        var s = FeatureSpec.CardV1;
        Assert.True(s.Matches("card", 1, 56, s.ContentHash));
        Assert.True(s.Matches("card", 1, 56, s.ContentHash.ToUpperInvariant()));
        Assert.False(s.Matches("card", 2, 56, s.ContentHash));
        Assert.False(s.Matches("card", 1, 55, s.ContentHash));
        Assert.False(s.Matches("card", 1, 56, new string('0', 64)));
        Assert.False(s.Matches("precomputed:56", 1, 56, s.ContentHash));
    }

    [Fact]
    public void Precomputed_DifferentDimensions_HaveDifferentHashes()
    {
        Assert.NotEqual(PrecomputedFeatureSpec.Create(80).ContentHash, PrecomputedFeatureSpec.Create(81).ContentHash);
        Assert.NotEqual(PrecomputedFeatureSpec.Create(56).ContentHash, FeatureSpec.CardV1.ContentHash);
    }

    [Fact]
    public void FeaturesMd_ListsEveryCardV1Feature_WithItsIndex()
    {
        var doc = File.ReadAllText(FindRepoFile("src/StreamFraud.Core/Features/FEATURES.md"));
        foreach (var f in FeatureSpec.CardV1.Features)
        {
            Assert.Contains($"| {f.Index} | `{f.Name}` |", doc);
        }
    }

    internal static string FindRepoFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException(relative);
    }
}
