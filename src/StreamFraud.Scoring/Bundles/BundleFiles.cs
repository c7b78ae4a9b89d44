using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace StreamFraud.Scoring.Bundles;

/// <summary>What a path is, without following a final symbolic link.</summary>
public enum FileKind
{
    /// <summary>Nothing there.</summary>
    Missing,

    /// <summary>A regular file.</summary>
    Regular,

    /// <summary>A directory.</summary>
    Directory,

    /// <summary>A symbolic link (not followed).</summary>
    SymbolicLink,

    /// <summary>A FIFO, socket, character or block device.</summary>
    Special,
}

/// <summary>The kind and size of a path, as <c>lstat</c> sees it.</summary>
/// <param name="Kind">What it is.</param>
/// <param name="Length">Size in bytes (meaningful for regular files only).</param>
/// <param name="Description">"regular file", "FIFO (named pipe)", "character device", ... for messages.</param>
public readonly record struct FileEntry(FileKind Kind, long Length, string Description);

/// <summary>
/// File access for bundles and <c>current.json</c> that cannot be led astray (docs/ARCHITECTURE.md "Model bundle and
/// registry"): a path is inspected without following a final symbolic link (<c>statx</c> with
/// <c>AT_SYMLINK_NOFOLLOW</c> on Linux), so a FIFO, a device such as <c>/dev/zero</c> or a link out of the registry is
/// refused before anything opens it; reads and hashes stop at the size that was checked and fail when the file holds
/// more, so a file that grows (or a device swapped in after the check) cannot make them run forever. Cancellation is
/// checked between chunks.
/// </summary>
public static partial class BundleFiles
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    private const uint StatxSize = 0x200;
    private const int Enoent = 2;
    private const int Enotdir = 20;
    private const int ChunkBytes = 1 << 20;

    private static bool _statxMissing;

    /// <summary>Inspects <paramref name="path"/> without following a final symbolic link.</summary>
    /// <exception cref="IOException">The file system refused to say (permissions, I/O error).</exception>
    public static FileEntry Inspect(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (OperatingSystem.IsLinux() && !Volatile.Read(ref _statxMissing))
        {
            try
            {
                return InspectLinux(path);
            }
            catch (EntryPointNotFoundException)
            {
                Volatile.Write(ref _statxMissing, true); // a libc without statx (old musl): the portable view below
            }
        }

        FileSystemInfo info = new FileInfo(path);
        if (!info.Exists)
        {
            info = new DirectoryInfo(path);
            if (!info.Exists)
            {
                return new FileEntry(FileKind.Missing, 0, "missing");
            }
        }

        return info.LinkTarget is not null ? new FileEntry(FileKind.SymbolicLink, 0, "symbolic link")
            : info is DirectoryInfo ? new FileEntry(FileKind.Directory, 0, "directory")
            : (info.Attributes & FileAttributes.Device) != 0 ? new FileEntry(FileKind.Special, 0, "device")
            : new FileEntry(FileKind.Regular, ((FileInfo)info).Length, "regular file");
    }

    /// <summary>
    /// Why <paramref name="path"/> cannot be read as a bundle's regular file of at most <paramref name="maxBytes"/>
    /// bytes (and exactly <paramref name="expectedBytes"/>, when given), or null when it can; the entry is returned
    /// either way. Nothing is opened.
    /// </summary>
    public static string? RegularFileProblem(string path, string display, long? expectedBytes, long maxBytes, out FileEntry entry)
    {
        entry = Inspect(path);
        return entry.Kind switch
        {
            FileKind.Missing => $"{display} is missing",
            FileKind.SymbolicLink => $"{display} is a symbolic link; bundle files must be regular files inside the bundle directory (copy the file in instead of linking it)",
            FileKind.Directory or FileKind.Special => $"{display} is a {entry.Description}, not a regular file",
            _ when expectedBytes is { } expected && entry.Length != expected =>
                $"{display} is {entry.Length} bytes; the manifest says {expected} (truncated, replaced or still being copied; its checksum was not computed)",
            _ when entry.Length > maxBytes => $"{display} is {entry.Length} bytes, over the limit of {maxBytes} (Models:MaxFileBytes)",
            _ => null,
        };
    }

    /// <summary>Reads exactly <paramref name="length"/> bytes; fails when the file is shorter or longer.</summary>
    /// <exception cref="IOException">The file changed size since it was inspected, or cannot be read.</exception>
    public static byte[] ReadExactly(string path, long length, CancellationToken cancellationToken = default)
    {
        if (length > Array.MaxLength)
        {
            throw new IOException($"{path}: {length} bytes do not fit in memory as one array");
        }

        var bytes = new byte[length];
        using var stream = Open(path);
        var read = 0;
        while (read < bytes.Length)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var n = stream.Read(bytes, read, Math.Min(ChunkBytes, bytes.Length - read));
            if (n == 0)
            {
                throw new IOException($"{Path.GetFileName(path)} ended after {read} of {length} bytes (changed while being read)");
            }

            read += n;
        }

        EnsureEnd(stream, path, length);
        return bytes;
    }

    /// <summary>Lower-case hex SHA-256 of exactly <paramref name="length"/> bytes of a file; fails when it holds more or less.</summary>
    /// <exception cref="IOException">The file changed size since it was inspected, or cannot be read.</exception>
    public static string Sha256Exactly(string path, long length, CancellationToken cancellationToken = default)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var stream = Open(path);
        var buffer = new byte[(int)Math.Min(ChunkBytes, Math.Max(1, length))];
        long read = 0;
        while (read < length)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var n = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, length - read));
            if (n == 0)
            {
                throw new IOException($"{Path.GetFileName(path)} ended after {read} of {length} bytes (changed while being read)");
            }

            hash.AppendData(buffer, 0, n);
            read += n;
        }

        EnsureEnd(stream, path, length);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static FileStream Open(string path) =>
        new(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.Read, BufferSize = 0, Options = FileOptions.SequentialScan });

    private static void EnsureEnd(FileStream stream, string path, long length)
    {
        Span<byte> one = stackalloc byte[1];
        if (stream.Read(one) != 0)
        {
            throw new IOException($"{Path.GetFileName(path)} holds more than the {length} bytes it had when inspected (changed while being read)");
        }
    }

    private static unsafe FileEntry InspectLinux(string path)
    {
        // struct statx has one layout on every Linux architecture (unlike struct stat): stx_mode is the u16 at
        // offset 28, stx_size the u64 at offset 40; 256 bytes in all (statx(2)).
        var buffer = stackalloc byte[256];
        if (Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType | StatxSize, buffer) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno is Enoent or Enotdir)
            {
                return new FileEntry(FileKind.Missing, 0, "missing");
            }

            throw new IOException($"{path}: cannot inspect it ({Marshal.GetPInvokeErrorMessage(errno)})");
        }

        var mode = *(ushort*)(buffer + 28) & 0xF000;
        var size = *(long*)(buffer + 40);
        return mode switch
        {
            0x8000 => new FileEntry(FileKind.Regular, size, "regular file"),
            0x4000 => new FileEntry(FileKind.Directory, 0, "directory"),
            0xA000 => new FileEntry(FileKind.SymbolicLink, 0, "symbolic link"),
            0x1000 => new FileEntry(FileKind.Special, 0, "FIFO (named pipe)"),
            0x2000 => new FileEntry(FileKind.Special, 0, "character device"),
            0x6000 => new FileEntry(FileKind.Special, 0, "block device"),
            0xC000 => new FileEntry(FileKind.Special, 0, "socket"),
            _ => new FileEntry(FileKind.Special, 0, $"file of type {Convert.ToString(mode >> 12, 8)}"),
        };
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);
}
