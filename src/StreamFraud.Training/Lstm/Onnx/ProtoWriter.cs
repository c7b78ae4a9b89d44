using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace StreamFraud.Training.Lstm.Onnx;

/// <summary>
/// Minimal protocol-buffers encoder (varint, length-delimited and 32-bit fields), enough to write ONNX's ModelProto
/// without a protobuf dependency. Nested messages are written into their own writer and embedded as bytes.
/// See https://protobuf.dev/programming-guides/encoding/.
/// </summary>
internal sealed class ProtoWriter
{
    private const int WireVarint = 0;
    private const int WireLengthDelimited = 2;
    private const int WireFixed32 = 5;

    private readonly ArrayBufferWriter<byte> _buffer = new();

    public ReadOnlySpan<byte> WrittenSpan => _buffer.WrittenSpan;

    public ProtoWriter Varint(int field, ulong value)
    {
        Tag(field, WireVarint);
        RawVarint(value);
        return this;
    }

    /// <summary>int64/int32 fields: negative values are sign-extended to 10 bytes, as protobuf requires.</summary>
    public ProtoWriter Int64(int field, long value) => Varint(field, unchecked((ulong)value));

    public ProtoWriter String(int field, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        return Bytes(field, bytes);
    }

    public ProtoWriter Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, WireLengthDelimited);
        RawVarint((ulong)value.Length);
        value.CopyTo(_buffer.GetSpan(value.Length));
        _buffer.Advance(value.Length);
        return this;
    }

    public ProtoWriter Message(int field, ProtoWriter message) => Bytes(field, message.WrittenSpan);

    public ProtoWriter Float(int field, float value)
    {
        Tag(field, WireFixed32);
        BinaryPrimitives.WriteSingleLittleEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
        return this;
    }

    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

    private void Tag(int field, int wireType) => RawVarint(((ulong)(uint)field << 3) | (uint)wireType);

    private void RawVarint(ulong value)
    {
        var span = _buffer.GetSpan(10);
        var i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[i++] = (byte)value;
        _buffer.Advance(i);
    }
}
