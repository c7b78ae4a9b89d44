using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace StreamFraud.Training.Tests.Data;

/// <summary>
/// A tiny <c>.npy</c>/<c>.npz</c> writer for tests, written from the NumPy format spec
/// (numpy.lib.format): magic, version, little-endian header length, a Python dict literal padded with spaces to a
/// 64-byte boundary and ended by a newline, then the raw data. It can also write what NumPy would not (big-endian
/// data under a little-endian descr, wrong shapes) to exercise the reader's errors.
/// </summary>
internal static class NpyWriter
{
    public static byte[] Npy(string descr, string shape, byte[] data, bool fortranOrder = false, int major = 1)
    {
        var dict = $"{{'descr': '{descr}', 'fortran_order': {(fortranOrder ? "True" : "False")}, 'shape': {shape}, }}";
        var prefix = major == 1 ? 10 : 12;
        var padding = (64 - ((prefix + dict.Length + 1) % 64)) % 64;
        var header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetBytes(dict + new string(' ', padding) + "\n");

        using var ms = new MemoryStream();
        ms.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)major, 0]);
        if (major == 1)
        {
            var len = new byte[2];
            BinaryPrimitives.WriteUInt16LittleEndian(len, (ushort)header.Length);
            ms.Write(len);
        }
        else
        {
            var len = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(len, (uint)header.Length);
            ms.Write(len);
        }

        ms.Write(header);
        ms.Write(data);
        return ms.ToArray();
    }

    public static byte[] F4(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        }

        return bytes;
    }

    public static byte[] F4BigEndian(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleBigEndian(bytes.AsSpan(i * 4), values[i]);
        }

        return bytes;
    }

    public static byte[] F8(params double[] values)
    {
        var bytes = new byte[values.Length * 8];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(i * 8), values[i]);
        }

        return bytes;
    }

    public static byte[] I8(params long[] values)
    {
        var bytes = new byte[values.Length * 8];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * 8), values[i]);
        }

        return bytes;
    }

    public static byte[] I4(params int[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * 4), values[i]);
        }

        return bytes;
    }

    public static byte[] U1(params byte[] values) => values;

    /// <summary>A zip of the given entries, like <c>np.savez</c> (stored) or <c>np.savez_compressed</c> (deflated).</summary>
    public static byte[] Npz(bool compressed, params (string Name, byte[] Content)[] entries)
    {
        using var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, content) in entries)
            {
                var entry = zip.CreateEntry(name, compressed ? CompressionLevel.Optimal : CompressionLevel.NoCompression);
                using var s = entry.Open();
                s.Write(content);
            }
        }

        return ms.ToArray();
    }

    public static byte[] Npz(params (string Name, byte[] Content)[] entries) => Npz(false, entries);
}
