using System.Globalization;

namespace StreamFraud.Sim.Cli;

/// <summary>
/// The flags of one command: <c>--name value</c>, <c>--name=value</c> or a bare <c>--name</c> (a switch). Typed getters
/// validate and name the flag in their errors; <see cref="RejectUnknown"/> reports flags no getter asked for.
/// </summary>
public sealed class CommandArgs
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    private CommandArgs()
    {
    }

    /// <summary>Parses the arguments after the command name.</summary>
    /// <exception cref="UsageException">A positional argument or a repeated flag.</exception>
    public static CommandArgs Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var result = new CommandArgs();
        for (var i = 0; i < args.Count; i++)
        {
            var token = args[i];
            if (!token.StartsWith("--", StringComparison.Ordinal) || token.Length == 2)
            {
                throw new UsageException($"unexpected argument '{token}': flags start with -- (e.g. --cards 1000)");
            }

            string name;
            string? value;
            var eq = token.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                name = token[2..eq];
                value = token[(eq + 1)..];
            }
            else
            {
                name = token[2..];
                value = i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : null;
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

    /// <summary>A switch: present without a value (or with true/false).</summary>
    public bool Switch(string name)
    {
        if (!Has(name))
        {
            return false;
        }

        return _values[name] switch
        {
            null => true,
            var v when bool.TryParse(v, out var b) => b,
            var v => throw new UsageException($"--{name} is a switch and takes no value (got '{v}')"),
        };
    }

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
    public int Int(string name, int fallback, int min, int max) => (int)Long(name, fallback, min, max);

    /// <summary>An integer flag in [<paramref name="min"/>, <paramref name="max"/>]; underscores and commas allowed as
    /// digit separators.</summary>
    public long Long(string name, long fallback, long min, long max)
    {
        var text = String(name);
        if (text is null)
        {
            return fallback;
        }

        var clean = text.Replace("_", "", StringComparison.Ordinal).Replace(",", "", StringComparison.Ordinal);
        if (!long.TryParse(clean, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            || value < min || value > max)
        {
            throw new UsageException($"--{name} must be a whole number from {min:N0} to {max:N0} (got '{text}')");
        }

        return value;
    }

    /// <summary>An unsigned 64-bit integer flag.</summary>
    public ulong ULong(string name, ulong fallback)
    {
        var text = String(name);
        if (text is null)
        {
            return fallback;
        }

        if (!ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            throw new UsageException($"--{name} must be a whole number from 0 to {ulong.MaxValue} (got '{text}')");
        }

        return value;
    }

    /// <summary>A number flag in (<paramref name="exclusiveMin"/>, <paramref name="max"/>].</summary>
    public double Double(string name, double fallback, double exclusiveMin, double max)
    {
        var text = String(name);
        if (text is null)
        {
            return fallback;
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            || !(value > exclusiveMin && value <= max))
        {
            throw new UsageException($"--{name} must be a number above {exclusiveMin} and at most {max} (got '{text}')");
        }

        return value;
    }

    /// <summary>A <c>yyyy-MM-dd</c> date flag.</summary>
    public DateOnly Date(string name, DateOnly fallback)
    {
        var text = String(name);
        if (text is null)
        {
            return fallback;
        }

        if (!DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var value))
        {
            throw new UsageException($"--{name} must be a date as yyyy-MM-dd (got '{text}')");
        }

        return value;
    }

    /// <summary>Fails on flags that no getter asked for.</summary>
    /// <exception cref="UsageException">Names the unknown flags and where to find the valid ones.</exception>
    public void RejectUnknown(string command)
    {
        var unknown = _values.Keys.Where(k => !_used.Contains(k)).Order(StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
        {
            throw new UsageException(
                $"unknown flag{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown.Select(u => "--" + u))}; "
                + $"run '{command} --help' for the list");
        }
    }
}
