using System.Security.Cryptography;
using System.Text.Json;

namespace StreamFraud.Scoring.Bundles;

/// <summary><c>current.json</c>: the active version and the one before it.</summary>
public sealed record CurrentPointer(string Version, string? Previous, DateTimeOffset UpdatedAt, string? Reason = null);

/// <summary>
/// A directory of bundles, <c>&lt;registry&gt;/&lt;version&gt;/</c>, plus <c>current.json</c>. Bundles are published by
/// building them in a temporary sibling directory and renaming it into place (atomic on one file system), and
/// <c>current.json</c> is replaced by write-temp-then-rename, so a reader never sees a half-written bundle or pointer.
/// A directory whose name starts with '.' is work in progress and never listed.
/// </summary>
public sealed class BundleRegistry
{
    /// <summary>Pointer file name.</summary>
    public const string CurrentFile = "current.json";

    /// <summary>Opens (without creating) a registry directory.</summary>
    public BundleRegistry(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        Directory = Path.GetFullPath(directory);
    }

    /// <summary>Absolute registry path.</summary>
    public string Directory { get; }

    /// <summary>Path of a version's directory.</summary>
    public string PathOf(string version) => Path.Combine(Directory, version);

    /// <summary>Published versions (directories with a manifest), oldest first by name.</summary>
    public IReadOnlyList<string> Versions() =>
        !System.IO.Directory.Exists(Directory)
            ? []
            : System.IO.Directory.EnumerateDirectories(Directory)
                .Select(Path.GetFileName)
                .Where(n => n is not null && !n.StartsWith('.') && File.Exists(Path.Combine(Directory, n, BundleManifest.FileName)))
                .Select(n => n!)
                .Order(StringComparer.Ordinal)
                .ToList();

    /// <summary>Reads <c>current.json</c>; null when there is none.</summary>
    /// <exception cref="InvalidDataException">The file exists but is not a valid pointer.</exception>
    public CurrentPointer? ReadCurrent()
    {
        var path = Path.Combine(Directory, CurrentFile);
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<CurrentPointer>(File.ReadAllBytes(path), BundleManifest.JsonOptions)
                ?? throw new InvalidDataException($"{path} is empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not a valid pointer ({e.Message}); fix it or run 'models promote VERSION'.", e);
        }
    }

    /// <summary>Makes <paramref name="version"/> current (atomically); the old current becomes previous.</summary>
    /// <exception cref="DirectoryNotFoundException">No such published version.</exception>
    public CurrentPointer Promote(string version, string? reason = null)
    {
        if (!Versions().Contains(version))
        {
            throw new DirectoryNotFoundException($"No bundle '{version}' in {Directory}. Published: {string.Join(", ", Versions())}.");
        }

        var old = ReadCurrent();
        var pointer = new CurrentPointer(version, old?.Version == version ? old.Previous : old?.Version, DateTimeOffset.UtcNow, reason);
        WriteAtomically(Path.Combine(Directory, CurrentFile), JsonSerializer.SerializeToUtf8Bytes(pointer, BundleManifest.JsonOptions));
        return pointer;
    }

    /// <summary>Makes the previous version current again.</summary>
    /// <exception cref="InvalidOperationException">Nothing to roll back to.</exception>
    public CurrentPointer Rollback()
    {
        var current = ReadCurrent() ?? throw new InvalidOperationException($"{Directory} has no {CurrentFile}: nothing to roll back.");
        if (current.Previous is null)
        {
            throw new InvalidOperationException($"{current.Version} has no previous version to roll back to.");
        }

        return Promote(current.Previous, $"rollback from {current.Version}");
    }

    /// <summary>
    /// Publishes a finished bundle directory (built anywhere on the same file system, e.g. by
    /// <see cref="CreateStagingDirectory"/>) as <c>&lt;registry&gt;/&lt;version&gt;</c> with one rename.
    /// </summary>
    /// <exception cref="IOException">The version exists already.</exception>
    public string Publish(string stagingDirectory, string version)
    {
        var target = PathOf(version);
        if (System.IO.Directory.Exists(target))
        {
            throw new IOException($"Bundle {version} already exists in {Directory}; versions are immutable.");
        }

        System.IO.Directory.Move(stagingDirectory, target);
        return target;
    }

    /// <summary>A fresh hidden directory inside the registry (same file system, so publishing is a rename).</summary>
    public string CreateStagingDirectory()
    {
        System.IO.Directory.CreateDirectory(Directory);
        var path = Path.Combine(Directory, $".staging-{Guid.NewGuid():N}");
        System.IO.Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Writes bytes to a temporary file in the same directory, flushes, then renames over the target.</summary>
    public static void WriteAtomically(string path, ReadOnlySpan<byte> bytes)
    {
        var temp = $"{path}.{Guid.NewGuid():N}.tmp";
        using (var f = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
        {
            f.Write(bytes);
            f.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
    }

    /// <summary>Lower-case hex SHA-256 of a file.</summary>
    public static string Sha256(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(f));
    }
}
