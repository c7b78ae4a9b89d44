using System.Security.Cryptography;
using System.Text.Json;

namespace StreamFraud.Scoring.Bundles;

/// <summary>
/// <c>current.json</c>: the active version and the one before it, each with the SHA-256 of its <c>manifest.json</c> as
/// it was when promoted (the manifest lists every other file's SHA-256, so the digest covers the whole bundle). A
/// pointer written before digests were recorded has none (see <c>Models:RequireDigest</c>).
/// </summary>
public sealed record CurrentPointer(string Version, string? Previous, DateTimeOffset UpdatedAt, string? Reason = null)
{
    /// <summary>SHA-256 (lower-case hex) of <see cref="Version"/>'s manifest when it was promoted.</summary>
    public string? ManifestSha256 { get; init; }

    /// <summary>SHA-256 of <see cref="Previous"/>'s manifest, as recorded when it was current.</summary>
    public string? PreviousManifestSha256 { get; init; }
}

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

    /// <summary>Largest <c>current.json</c> read.</summary>
    public const long MaxPointerBytes = 64 << 10;

    /// <summary>Path of a version's directory.</summary>
    /// <exception cref="ArgumentException"><paramref name="version"/> is not a plain name (<see cref="BundleNames"/>): it could point outside the registry.</exception>
    public string PathOf(string version) => BundleNames.Problem(version) is { } problem
        ? throw new ArgumentException($"version {problem}; a version names a directory directly inside the registry", nameof(version))
        : Path.Combine(Directory, version);

    /// <summary>Published versions (directories with a plain name and a manifest), oldest first by name.</summary>
    public IReadOnlyList<string> Versions() =>
        !System.IO.Directory.Exists(Directory)
            ? []
            : System.IO.Directory.EnumerateDirectories(Directory)
                .Select(Path.GetFileName)
                .Where(n => BundleNames.IsValid(n) && File.Exists(Path.Combine(Directory, n!, BundleManifest.FileName)))
                .Select(n => n!)
                .Order(StringComparer.Ordinal)
                .ToList();

    /// <summary>
    /// Reads <c>current.json</c>; null when there is none. Versions are returned as written (the scorer refuses one
    /// that is not a plain name, with the reason, when it tries to load it).
    /// </summary>
    /// <exception cref="InvalidDataException">The file exists but is not a regular file, is too large, or is not a valid pointer.</exception>
    public CurrentPointer? ReadCurrent()
    {
        var path = Path.Combine(Directory, CurrentFile);
        CurrentPointer? pointer;
        try
        {
            switch (BundleFiles.RegularFileProblem(path, path, null, MaxPointerBytes, out var entry))
            {
                case null:
                    break;
                case var _ when entry.Kind == FileKind.Missing:
                    return null;
                case var problem:
                    throw new InvalidDataException($"{problem}; run 'models promote VERSION' to rewrite it.");
            }

            pointer = JsonSerializer.Deserialize<CurrentPointer>(BundleFiles.ReadExactly(path, entry.Length), BundleManifest.JsonOptions);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException or FormatException or InvalidOperationException)
        {
            throw new InvalidDataException($"{path} is not a valid pointer ({e.Message}); fix it or run 'models promote VERSION'.", e);
        }
        catch (IOException e)
        {
            throw new InvalidDataException($"{path} cannot be read ({e.Message}).", e);
        }

        return pointer is { Version: not null }
            ? pointer
            : throw new InvalidDataException($"{path} names no version; fix it or run 'models promote VERSION'.");
    }

    /// <summary>
    /// Makes <paramref name="version"/> current (atomically), recording the SHA-256 of its manifest; the old current
    /// (and its recorded digest) becomes previous.
    /// </summary>
    /// <param name="version">A published version.</param>
    /// <param name="reason">Why, for the record.</param>
    /// <param name="manifestSha256">The digest of the manifest the caller verified; null computes it from the file now.</param>
    /// <exception cref="DirectoryNotFoundException">No such published version.</exception>
    /// <exception cref="ArgumentException">Not a plain version name.</exception>
    public CurrentPointer Promote(string version, string? reason = null, string? manifestSha256 = null)
    {
        var path = PathOf(version);
        if (!Versions().Contains(version))
        {
            throw new DirectoryNotFoundException($"No bundle '{version}' in {Directory}. Published: {string.Join(", ", Versions())}.");
        }

        var digest = manifestSha256 ?? Convert.ToHexStringLower(SHA256.HashData(BundleManifest.ReadBytes(Path.Combine(path, BundleManifest.FileName))));
        var old = ReadCurrent();
        var pointer = old?.Version == version
            ? new CurrentPointer(version, old.Previous, DateTimeOffset.UtcNow, reason) { ManifestSha256 = digest, PreviousManifestSha256 = old.PreviousManifestSha256 }
            : new CurrentPointer(version, old?.Version, DateTimeOffset.UtcNow, reason) { ManifestSha256 = digest, PreviousManifestSha256 = old?.ManifestSha256 };
        WriteAtomically(Path.Combine(Directory, CurrentFile), JsonSerializer.SerializeToUtf8Bytes(pointer, BundleManifest.JsonOptions));
        return pointer;
    }

    /// <summary>
    /// Makes the previous version current again, with the manifest digest recorded when it was current (so a
    /// manifest changed since is refused by the scorer, not silently re-blessed).
    /// </summary>
    /// <exception cref="InvalidOperationException">Nothing to roll back to.</exception>
    public CurrentPointer Rollback()
    {
        var current = ReadCurrent() ?? throw new InvalidOperationException($"{Directory} has no {CurrentFile}: nothing to roll back.");
        if (current.Previous is null)
        {
            throw new InvalidOperationException($"{current.Version} has no previous version to roll back to.");
        }

        return Promote(current.Previous, $"rollback from {current.Version}", current.PreviousManifestSha256);
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
