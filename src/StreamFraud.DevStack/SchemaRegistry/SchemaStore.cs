using Avro;

namespace StreamFraud.DevStack.SchemaRegistry;

/// <summary>Compatibility levels of Confluent Schema Registry.</summary>
public enum CompatibilityLevel
{
    /// <summary>No check.</summary>
    None,

    /// <summary>The new schema can read data written with the latest version (consumers upgrade first).</summary>
    Backward,

    /// <summary>The new schema can read data written with every earlier version.</summary>
    BackwardTransitive,

    /// <summary>The latest version can read data written with the new schema (producers upgrade first).</summary>
    Forward,

    /// <summary>Every earlier version can read data written with the new schema.</summary>
    ForwardTransitive,

    /// <summary>Backward and forward against the latest version.</summary>
    Full,

    /// <summary>Backward and forward against every earlier version.</summary>
    FullTransitive,
}

/// <summary>A registered schema version.</summary>
public sealed record RegisteredSchema(string Subject, int Version, int Id, string Schema, string SchemaType);

/// <summary>Outcome of a store operation that the REST layer maps to an HTTP status and Confluent error code.</summary>
public sealed record RegistryError(int HttpStatus, int ErrorCode, string Message);

/// <summary>
/// State of the development Schema Registry: global schema ids (same schema text → same id, across subjects),
/// subjects with numbered versions, and compatibility levels (global default BACKWARD, per subject overrides).
/// Avro schemas are parsed and compared with Avro's schema-resolution rules (<see cref="Schema.CanRead"/>); other
/// schema types are stored as given without a compatibility check. Thread-safe; nothing is persisted.
/// </summary>
public sealed class SchemaStore
{
    private readonly object _gate = new();
    private readonly Dictionary<int, (string Schema, string Type)> _byId = [];
    private readonly Dictionary<string, int> _idByCanonical = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, List<RegisteredSchema>> _subjects = new(StringComparer.Ordinal);
    private readonly Dictionary<string, CompatibilityLevel> _subjectLevels = new(StringComparer.Ordinal);
    private CompatibilityLevel _globalLevel = CompatibilityLevel.Backward;
    private int _nextId = 1;

    /// <summary>Registers <paramref name="schema"/> under <paramref name="subject"/>; returns its global id.</summary>
    public (int Id, RegistryError? Error) Register(string subject, string schema, string schemaType = "AVRO")
    {
        if (!TryCanonical(schema, schemaType, out var canonical, out var parsed, out var parseError))
        {
            return (0, parseError);
        }

        lock (_gate)
        {
            var versions = _subjects.TryGetValue(subject, out var v) ? v : null;
            var existing = versions?.FirstOrDefault(r => Canonical(r) == canonical);
            if (existing is not null)
            {
                return (existing.Id, null);
            }

            if (versions is { Count: > 0 } && parsed is not null)
            {
                var problems = CompatibilityProblems(parsed, versions, LevelFor(subject));
                if (problems.Count > 0)
                {
                    return (0, new RegistryError(409, 409,
                        $"Schema being registered is incompatible with an earlier schema for subject \"{subject}\" " +
                        $"(compatibility {Name(LevelFor(subject))}), details: [{string.Join("; ", problems)}]"));
                }
            }

            if (!_idByCanonical.TryGetValue(canonical, out var id))
            {
                id = _nextId++;
                _idByCanonical[canonical] = id;
                _byId[id] = (schema, schemaType);
            }

            if (versions is null)
            {
                versions = [];
                _subjects[subject] = versions;
            }

            versions.Add(new RegisteredSchema(subject, versions.Count == 0 ? 1 : versions[^1].Version + 1, id, _byId[id].Schema, schemaType));
            return (id, null);
        }
    }

    /// <summary>Finds <paramref name="schema"/> among a subject's versions.</summary>
    public (RegisteredSchema? Found, RegistryError? Error) Lookup(string subject, string schema, string schemaType = "AVRO")
    {
        if (!TryCanonical(schema, schemaType, out var canonical, out _, out var parseError))
        {
            return (null, parseError);
        }

        lock (_gate)
        {
            if (!_subjects.TryGetValue(subject, out var versions))
            {
                return (null, SubjectNotFound(subject));
            }

            var found = versions.FirstOrDefault(r => Canonical(r) == canonical);
            return found is null ? (null, new RegistryError(404, 40403, "Schema not found")) : (found, null);
        }
    }

    /// <summary>Schema text and type by global id.</summary>
    public (string Schema, string Type)? GetById(int id)
    {
        lock (_gate)
        {
            return _byId.TryGetValue(id, out var s) ? s : null;
        }
    }

    /// <summary>The (subject, version) pairs that use a global id.</summary>
    public IReadOnlyList<RegisteredSchema> UsagesOf(int id)
    {
        lock (_gate)
        {
            return _subjects.Values.SelectMany(v => v).Where(r => r.Id == id).ToList();
        }
    }

    /// <summary>Subject names in order.</summary>
    public IReadOnlyList<string> Subjects()
    {
        lock (_gate)
        {
            return _subjects.Keys.ToList();
        }
    }

    /// <summary>A subject's version numbers.</summary>
    public (IReadOnlyList<int>? Versions, RegistryError? Error) Versions(string subject)
    {
        lock (_gate)
        {
            return _subjects.TryGetValue(subject, out var v) ? (v.Select(r => r.Version).ToList(), null) : (null, SubjectNotFound(subject));
        }
    }

    /// <summary>A subject's version by number, or the latest for <c>latest</c> / <c>-1</c>.</summary>
    public (RegisteredSchema? Found, RegistryError? Error) GetVersion(string subject, string version)
    {
        lock (_gate)
        {
            if (!_subjects.TryGetValue(subject, out var versions))
            {
                return (null, SubjectNotFound(subject));
            }

            if (version is "latest" or "-1")
            {
                return (versions[^1], null);
            }

            if (!int.TryParse(version, out var n) || n < 1)
            {
                return (null, new RegistryError(422, 42202,
                    $"The specified version '{version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""));
            }

            var found = versions.FirstOrDefault(r => r.Version == n);
            return found is null ? (null, new RegistryError(404, 40402, $"Version {n} not found.")) : (found, null);
        }
    }

    /// <summary>Whether <paramref name="schema"/> could be registered now (against the given version, or as the level requires).</summary>
    public (bool Compatible, IReadOnlyList<string> Messages, RegistryError? Error) CheckCompatibility(string subject, string version, string schema, string schemaType = "AVRO")
    {
        if (!TryCanonical(schema, schemaType, out _, out var parsed, out var parseError))
        {
            return (false, [], parseError);
        }

        lock (_gate)
        {
            if (!_subjects.TryGetValue(subject, out var versions))
            {
                return (true, [], null);
            }

            if (parsed is null)
            {
                return (true, [], null);
            }

            List<RegisteredSchema> against;
            if (version is "latest" or "-1")
            {
                against = versions;
            }
            else
            {
                var (one, error) = GetVersion(subject, version);
                if (one is null)
                {
                    return (false, [], error);
                }

                against = [one];
            }

            var problems = CompatibilityProblems(parsed, against, LevelFor(subject));
            return (problems.Count == 0, problems, null);
        }
    }

    /// <summary>The global compatibility level.</summary>
    public CompatibilityLevel GlobalLevel
    {
        get { lock (_gate) { return _globalLevel; } }
        set { lock (_gate) { _globalLevel = value; } }
    }

    /// <summary>A subject's level, or the global one when it has none.</summary>
    public CompatibilityLevel LevelFor(string subject)
    {
        lock (_gate)
        {
            return _subjectLevels.TryGetValue(subject, out var l) ? l : _globalLevel;
        }
    }

    /// <summary>Sets a subject's level.</summary>
    public void SetLevel(string subject, CompatibilityLevel level)
    {
        lock (_gate)
        {
            _subjectLevels[subject] = level;
        }
    }

    /// <summary>Registry spelling of a level (<c>BACKWARD_TRANSITIVE</c>).</summary>
    public static string Name(CompatibilityLevel level) => level switch
    {
        CompatibilityLevel.None => "NONE",
        CompatibilityLevel.Backward => "BACKWARD",
        CompatibilityLevel.BackwardTransitive => "BACKWARD_TRANSITIVE",
        CompatibilityLevel.Forward => "FORWARD",
        CompatibilityLevel.ForwardTransitive => "FORWARD_TRANSITIVE",
        CompatibilityLevel.Full => "FULL",
        CompatibilityLevel.FullTransitive => "FULL_TRANSITIVE",
        _ => throw new ArgumentOutOfRangeException(nameof(level)),
    };

    /// <summary>Parses the registry spelling of a level.</summary>
    public static bool TryParseLevel(string? text, out CompatibilityLevel level)
    {
        foreach (var candidate in Enum.GetValues<CompatibilityLevel>())
        {
            if (string.Equals(Name(candidate), text, StringComparison.OrdinalIgnoreCase))
            {
                level = candidate;
                return true;
            }
        }

        level = default;
        return false;
    }

    /// <summary>
    /// Avro resolution checks required by <paramref name="level"/> between <paramref name="candidate"/> and the
    /// existing versions (oldest first). Empty when compatible.
    /// </summary>
    private static List<string> CompatibilityProblems(Schema candidate, List<RegisteredSchema> versions, CompatibilityLevel level)
    {
        var problems = new List<string>();
        if (level == CompatibilityLevel.None)
        {
            return problems;
        }

        var transitive = level is CompatibilityLevel.BackwardTransitive or CompatibilityLevel.ForwardTransitive or CompatibilityLevel.FullTransitive;
        var backward = level is CompatibilityLevel.Backward or CompatibilityLevel.BackwardTransitive or CompatibilityLevel.Full or CompatibilityLevel.FullTransitive;
        var forward = level is CompatibilityLevel.Forward or CompatibilityLevel.ForwardTransitive or CompatibilityLevel.Full or CompatibilityLevel.FullTransitive;
        var against = transitive ? versions : [versions[^1]];
        foreach (var existing in against)
        {
            if (existing.SchemaType != "AVRO")
            {
                continue;
            }

            var old = Schema.Parse(existing.Schema);
            if (backward && !candidate.CanRead(old))
            {
                problems.Add($"the new schema cannot read data written with version {existing.Version} (BACKWARD): a field was added without a default or a type changed incompatibly");
            }

            if (forward && !old.CanRead(candidate))
            {
                problems.Add($"version {existing.Version} cannot read data written with the new schema (FORWARD): a field without a default was removed or a type changed incompatibly");
            }
        }

        return problems;
    }

    private static string Canonical(RegisteredSchema r)
    {
        TryCanonical(r.Schema, r.SchemaType, out var canonical, out _, out _);
        return canonical;
    }

    private static bool TryCanonical(string schema, string schemaType, out string canonical, out Schema? parsed, out RegistryError? error)
    {
        parsed = null;
        error = null;
        if (schemaType != "AVRO")
        {
            canonical = schemaType + ":" + schema.Trim();
            return true;
        }

        try
        {
            parsed = Schema.Parse(schema);
            canonical = "AVRO:" + parsed;
            return true;
        }
        catch (Exception e) when (e is AvroException or Newtonsoft.Json.JsonException)
        {
            canonical = "";
            error = new RegistryError(422, 42201, $"Invalid schema: {e.Message}");
            return false;
        }
    }

    private static RegistryError SubjectNotFound(string subject) => new(404, 40401, $"Subject '{subject}' not found.");
}
