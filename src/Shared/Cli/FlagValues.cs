using System.ComponentModel;
using System.Globalization;
using System.Numerics;
using Spectre.Console;
using Spectre.Console.Cli;
using Spectre.Console.Cli.Help;

namespace StreamFraud.Cli;

// Value converters and value rules shared by the apps' CommandSettings. A converter says what it expected when the text
// is malformed (FlagFormatException, which Spectre wraps); a rule checks the converted value and names the flag. Both
// produce "--flag must be <expectation> (got 'text')", so a malformed and an out-of-range value read alike.

/// <summary>A flag's text could not be converted; <see cref="CliApp"/> names the flag when it reports it.</summary>
/// <param name="text">The text as given.</param>
/// <param name="expectation">What was expected, e.g. "a whole number".</param>
internal sealed class FlagFormatException(string text, string expectation)
    : FormatException($"'{text}' is not {expectation}")
{
    public string Text { get; } = text;

    public string Expectation { get; } = expectation;
}

/// <summary>Base of the converters: text in, value out, <see cref="FlagFormatException"/> on bad text.</summary>
internal abstract class FlagConverter : TypeConverter
{
    /// <summary>What the converter accepts, for messages ("a whole number", "a date as yyyy-MM-dd").</summary>
    public abstract string Expectation { get; }

    public sealed override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType) => sourceType == typeof(string);

    public sealed override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value)
    {
        var text = value as string ?? throw new NotSupportedException();
        return TryParse(text.Trim(), out var result) ? result : throw new FlagFormatException(text, Expectation);
    }

    protected abstract bool TryParse(string text, out object? value);
}

/// <summary>A whole number; <c>_</c> and <c>,</c> are accepted as digit separators (<c>20_000</c>).</summary>
internal sealed class WholeNumberConverter<T> : FlagConverter
    where T : IBinaryInteger<T>, IMinMaxValue<T>
{
    public override string Expectation => string.Create(CultureInfo.InvariantCulture, $"a whole number from {T.MinValue} to {T.MaxValue}");

    protected override bool TryParse(string text, out object? value)
    {
        var clean = text.Replace("_", "", StringComparison.Ordinal).Replace(",", "", StringComparison.Ordinal);
        var ok = T.TryParse(clean, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed);
        value = parsed;
        return ok;
    }
}

/// <summary>A finite number written with a dot (<c>0.5</c>, <c>1e-3</c>).</summary>
internal sealed class NumberConverter : FlagConverter
{
    public override string Expectation => "a number";

    protected override bool TryParse(string text, out object? value)
    {
        var ok = double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) && double.IsFinite(parsed);
        value = parsed;
        return ok;
    }
}

/// <summary>A rule on a flag's converted value; the error names the flag and says what is accepted.</summary>
internal abstract class FlagRuleAttribute() : ParameterValidationAttribute(errorMessage: "")
{
    /// <summary>What the flag accepts, e.g. "a whole number from 1 to 5,000,000".</summary>
    public abstract string Expectation { get; }

    public sealed override ValidationResult Validate(CommandParameterContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Value is null || Accepts(context.Value)
            ? ValidationResult.Success()
            : ValidationResult.Error(
                $"{CliApp.FlagName(context.Parameter)} must be {Expectation} (got '{Convert.ToString(context.Value, CultureInfo.InvariantCulture)}')");
    }

    protected abstract bool Accepts(object value);
}

/// <summary>A whole number in [min, max].</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class WholeNumberAttribute(long min, long max) : FlagRuleAttribute
{
    public override string Expectation => string.Create(CultureInfo.InvariantCulture, $"a whole number from {min:N0} to {max:N0}");

    protected override bool Accepts(object value) => Convert.ToInt64(value, CultureInfo.InvariantCulture) is var v && v >= min && v <= max;
}

/// <summary>A TCP port.</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class PortAttribute : FlagRuleAttribute
{
    public override string Expectation => "a port number between 1 and 65535";

    protected override bool Accepts(object value) => Convert.ToInt64(value, CultureInfo.InvariantCulture) is > 0 and < 65536;
}

/// <summary>A number in [min, max], or (min, max] when <see cref="ExclusiveMin"/>.</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class NumberAttribute(double min, double max) : FlagRuleAttribute
{
    public bool ExclusiveMin { get; set; }

    public override string Expectation => ExclusiveMin
        ? string.Create(CultureInfo.InvariantCulture, $"a number above {min} and at most {max}")
        : string.Create(CultureInfo.InvariantCulture, $"a number from {min} to {max}");

    protected override bool Accepts(object value) =>
        Convert.ToDouble(value, CultureInfo.InvariantCulture) is var v && (ExclusiveMin ? v > min : v >= min) && v <= max;
}

/// <summary>One of a few words (any case).</summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class OneOfAttribute(params string[] choices) : FlagRuleAttribute
{
    public override string Expectation => $"one of {string.Join(", ", choices)}";

    protected override bool Accepts(object value) => choices.Contains(value as string, StringComparer.OrdinalIgnoreCase);
}
