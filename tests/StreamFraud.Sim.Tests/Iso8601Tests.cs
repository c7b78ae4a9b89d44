using System.Globalization;
using StreamFraud.Core.Data;

namespace StreamFraud.Sim.Tests;

public class Iso8601Tests
{
    [Fact]
    public void Format_RandomInstants_MatchesDateTimeOffsetFormatting()
    {
        var random = new Random(7);
        for (var i = 0; i < 10_000; i++)
        {
            var ms = random.NextInt64(Iso8601.MinUnixMs, Iso8601.MaxUnixMs + 1);
            var expected = DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime
                .ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
            Assert.Equal(expected, Iso8601.Format(ms));
        }
    }

    [Theory]
    [InlineData("2026-03-01T08:15:30.123Z", "2026-03-01T08:15:30.123+00:00")]
    [InlineData("2026-03-01T08:15:30Z", "2026-03-01T08:15:30.000+00:00")]
    [InlineData("2026-03-01T10:15:30.123+02:00", "2026-03-01T08:15:30.123+00:00")]
    [InlineData("2026-03-01T03:15:30.123-0500", "2026-03-01T08:15:30.123+00:00")]
    [InlineData("2026-03-01 08:15:30.5", "2026-03-01T08:15:30.500+00:00")]
    [InlineData("2026-03-01T08:15:30.1239999Z", "2026-03-01T08:15:30.123+00:00")]
    [InlineData("2026-03-01T08:15Z", "2026-03-01T08:15:00.000+00:00")]
    [InlineData("2024-02-29T23:59:59.999Z", "2024-02-29T23:59:59.999+00:00")]
    public void TryParse_Iso8601Variants_ReturnsUtcInstant(string text, string expectedRoundTrip)
    {
        var expected = DateTimeOffset.Parse(expectedRoundTrip, CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();
        Assert.True(Iso8601.TryParse(text, out var ms));
        Assert.Equal(expected, ms);
    }

    [Fact]
    public void TryParse_PlainInteger_ReadsEpochMilliseconds()
    {
        Assert.True(Iso8601.TryParse("1772352930123", out var ms));
        Assert.Equal(1772352930123L, ms);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("2026-02-30T00:00:00Z")]
    [InlineData("2026-13-01T00:00:00Z")]
    [InlineData("2026-03-01T24:00:00Z")]
    [InlineData("2026-03-01T08:15:30.Z")]
    [InlineData("2026-03-01T08:15:30Zjunk")]
    [InlineData("2026-03-01T08:15:30+25:00")]
    [InlineData("01/03/2026 08:15")]
    public void TryParse_Invalid_ReturnsFalse(string text) => Assert.False(Iso8601.TryParse(text, out _));

    [Fact]
    public void RoundTrip_RandomInstants_ParseOfFormatIsIdentity()
    {
        var random = new Random(11);
        for (var i = 0; i < 10_000; i++)
        {
            var ms = random.NextInt64(Iso8601.MinUnixMs, Iso8601.MaxUnixMs + 1);
            Assert.True(Iso8601.TryParse(Iso8601.Format(ms), out var back));
            Assert.Equal(ms, back);
        }
    }
}
