using System.Globalization;
using StreamFraud.Training.Pipeline;

namespace StreamFraud.Trainer.Cli;

/// <summary>
/// The arguments of one command: positionals, <c>--name value</c>, <c>--name=value</c> and switches (<c>--name</c>,
/// declared up front so they never swallow the next word). Typed getters validate and name the flag in their errors;
/// <see cref="RejectUnknown"/> reports flags no getter asked for.
/// </summary>
public sealed class CommandArgs
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);
    private readonly List<string> _positionals = [];

    private CommandArgs()
    {
    }

    /// <summary>Positional arguments, in order.</summary>
    public IReadOnlyList<string> Positionals => _positionals;

    /// <summary>Parses the arguments after the command name.</summary>
    /// <param name="args">The arguments.</param>
    /// <param name="switches">Flags that take no value.</param>
    /// <exception cref="UsageException">A repeated flag, or a switch given a value.</exception>
    public static CommandArgs Parse(IReadOnlyList<string> args, IReadOnlySet<string> switches)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(switches);
        var result = new CommandArgs();
        for (var i = 0; i < args.Count; i++)
        {
            var token = args[i];
            if (!token.StartsWith("--", StringComparison.Ordinal) || token.Length == 2)
            {
                result._positionals.Add(token);
                continue;
            }

            string name;
            string? value;
            var eq = token.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                name = token[2..eq];
                value = token[(eq + 1)..];
                if (switches.Contains(name))
                {
                    throw new UsageException($"--{name} is a switch and takes no value (got '{value}')");
                }
            }
            else
            {
                name = token[2..];
                value = !switches.Contains(name) && i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal)
                    ? args[++i]
                    : null;
            }

            if (!result._values.TryAdd(name, value))
            {
                throw new UsageException($"--{name} is given more than once; give it once");
            }
        }

        return result;
    }

    /// <summary>Whether the flag was given.</summary>
    public bool Has(string name)
    {
        _used.Add(name);
        return _values.ContainsKey(name);
    }

    /// <summary>A switch.</summary>
    public bool Switch(string name) => Has(name);

    /// <summary>The flag's text; <paramref name="fallback"/> when absent.</summary>
    /// <exception cref="UsageException">The flag is present without a value.</exception>
    public string? String(string name, string? fallback = null)
    {
        if (!Has(name))
        {
            return fallback;
        }

        return _values[name] ?? throw new UsageException($"--{name} needs a value");
    }

    /// <summary>A required text flag.</summary>
    public string Required(string name, string example) =>
        String(name) ?? throw new UsageException($"--{name} is required (e.g. --{name} {example})");

    /// <summary>An integer flag in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public int Int(string name, int fallback, int min, int max)
    {
        var text = String(name);
        if (text is null)
        {
            return fallback;
        }

        var clean = text.Replace("_", "", StringComparison.Ordinal).Replace(",", "", StringComparison.Ordinal);
        if (!int.TryParse(clean, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            throw new UsageException($"--{name} must be a whole number from {min:N0} to {max:N0} (got '{text}')");
        }

        return value;
    }

    /// <summary>A number flag in [<paramref name="min"/>, <paramref name="max"/>] (or (min, max] when <paramref name="exclusiveMin"/>).</summary>
    public double Double(string name, double fallback, double min, double max, bool exclusiveMin = false)
    {
        var text = String(name);
        if (text is null)
        {
            return fallback;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ||
            !(exclusiveMin ? value > min : value >= min) || !(value <= max))
        {
            var range = exclusiveMin ? $"above {min} and at most {max}" : $"from {min} to {max}";
            throw new UsageException($"--{name} must be a number {range} (got '{text}')");
        }

        return value;
    }

    /// <summary>An ISO-8601 date (<c>2026-01-15</c>, midnight UTC) or date-time (<c>2026-01-15T06:00:00Z</c>).</summary>
    public DateTimeOffset? Instant(string name)
    {
        var text = String(name);
        if (text is null)
        {
            return null;
        }

        if (!SplitPlanner.TryParseInstant(text, out var value))
        {
            throw new UsageException(
                $"--{name} must be an ISO date such as 2026-01-15 (midnight UTC) or a date-time such as 2026-01-15T06:00:00Z (got '{text}')");
        }

        return value;
    }

    /// <summary>One of <paramref name="choices"/> (case-insensitive).</summary>
    public string Choice(string name, string fallback, params string[] choices)
    {
        var text = String(name);
        if (text is null)
        {
            return fallback;
        }

        foreach (var c in choices)
        {
            if (string.Equals(c, text, StringComparison.OrdinalIgnoreCase))
            {
                return c;
            }
        }

        throw new UsageException($"--{name} must be one of {string.Join(", ", choices)} (got '{text}')");
    }

    /// <summary>Fails on flags that no getter asked for, or on more positionals than <paramref name="positionals"/>.</summary>
    /// <exception cref="UsageException">Names the unknown flags and where to find the valid ones.</exception>
    public void RejectUnknown(string command, int positionals = 0)
    {
        var unknown = _values.Keys.Where(k => !_used.Contains(k)).Order(StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
        {
            throw new UsageException(
                $"unknown flag{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown.Select(u => "--" + u))}; run '{command} --help' for the list");
        }

        if (_positionals.Count > positionals)
        {
            throw new UsageException(
                $"unexpected argument '{_positionals[positionals]}'; flags start with -- (run '{command} --help' for the list)");
        }
    }
}
