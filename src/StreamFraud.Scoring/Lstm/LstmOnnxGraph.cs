using System.Buffers.Binary;
using System.Text;

namespace StreamFraud.Scoring.Lstm;

/// <summary>
/// The weights of a bundle's <c>lstm.onnx</c>, read straight from the ONNX protobuf for the managed serving path: only
/// the exact graph the trainer's exporter writes is accepted (Transpose → LSTM → Squeeze → LSTM → Squeeze → Gemm →
/// Sigmoid, with the exporter's tensor names, attributes and shapes). Anything else — another op, an extra attribute
/// (activations, clip, direction, layout), external data, a shape that does not fit — is refused with the reason, and
/// the bundle is served by ONNX Runtime, which runs any valid graph.
/// </summary>
/// <remarks>
/// Weights keep ONNX's layout: W [4H, in], R [4H, H], gate blocks i, o, f, c, bias = Wb + Rb
/// (https://onnx.ai/onnx/operators/onnx__LSTM.html). Protobuf wire format:
/// https://protobuf.dev/programming-guides/encoding/; field numbers from onnx/onnx.proto (ModelProto.graph = 7,
/// GraphProto.node = 1, initializer = 5, input = 11, output = 12; NodeProto input = 1, output = 2, op_type = 4,
/// attribute = 5, domain = 7; AttributeProto name = 1, i = 3, ints = 8; TensorProto dims = 1, data_type = 2,
/// float_data = 4, int64_data = 7, name = 8, raw_data = 9, data_location = 14).
/// </remarks>
internal sealed class LstmOnnxGraph
{
    private const int FloatType = 1;
    private const int Int64Type = 7;

    private LstmOnnxGraph(int features, int hidden1, int hidden2)
    {
        Features = features;
        Hidden1 = hidden1;
        Hidden2 = hidden2;
    }

    /// <summary>Features per step.</summary>
    public int Features { get; }

    /// <summary>Units of layer 1.</summary>
    public int Hidden1 { get; }

    /// <summary>Units of layer 2.</summary>
    public int Hidden2 { get; }

    /// <summary>Layer 1 input weights [4·H1, F].</summary>
    public float[] W1 { get; private init; } = [];

    /// <summary>Layer 1 recurrent weights [4·H1, H1].</summary>
    public float[] R1 { get; private init; } = [];

    /// <summary>Layer 1 bias (Wb + Rb) [4·H1].</summary>
    public float[] B1 { get; private init; } = [];

    /// <summary>Layer 2 input weights [4·H2, H1].</summary>
    public float[] W2 { get; private init; } = [];

    /// <summary>Layer 2 recurrent weights [4·H2, H2].</summary>
    public float[] R2 { get; private init; } = [];

    /// <summary>Layer 2 bias (Wb + Rb) [4·H2].</summary>
    public float[] B2 { get; private init; } = [];

    /// <summary>Dense weights [H2].</summary>
    public float[] Dense { get; private init; } = [];

    /// <summary>Dense bias.</summary>
    public float DenseBias { get; private init; }

    /// <summary>Reads the exporter's graph for windows of <paramref name="features"/> features; null with the reason when the model is anything else.</summary>
    public static LstmOnnxGraph? TryRead(ReadOnlySpan<byte> model, int features, out string? problem)
    {
        try
        {
            problem = null;
            return Read(model, features);
        }
        catch (InvalidDataException e)
        {
            problem = e.Message;
            return null;
        }
    }

    private static LstmOnnxGraph Read(ReadOnlySpan<byte> model, int features)
    {
        ReadOnlySpan<byte> graph = default;
        var reader = new ProtoReader(model);
        while (reader.Next(out var field, out var wire))
        {
            if (field == 7 && wire == 2)
            {
                graph = reader.Bytes();
            }
            else
            {
                reader.Skip(wire);
            }
        }

        if (graph.IsEmpty)
        {
            throw new InvalidDataException("the model has no graph");
        }

        var nodes = new List<Node>();
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var inputs = new List<string>();
        var outputs = new List<string>();
        reader = new ProtoReader(graph);
        while (reader.Next(out var field, out var wire))
        {
            switch (field, wire)
            {
                case (1, 2):
                    nodes.Add(ReadNode(reader.Bytes()));
                    break;
                case (5, 2):
                    var tensor = ReadTensor(reader.Bytes());
                    if (!tensors.TryAdd(tensor.Name, tensor))
                    {
                        throw new InvalidDataException($"initializer '{tensor.Name}' appears twice");
                    }

                    break;
                case (11, 2):
                    inputs.Add(ValueInfoName(reader.Bytes()));
                    break;
                case (12, 2):
                    outputs.Add(ValueInfoName(reader.Bytes()));
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        if (inputs is not ["window"] || outputs is not ["score"])
        {
            throw new InvalidDataException($"graph inputs [{string.Join(", ", inputs)}] and outputs [{string.Join(", ", outputs)}]; expected [window] and [score]");
        }

        Expect(nodes, 0, "Transpose", ["window"], ["x_time_major"]);
        if (nodes[0].Attributes is not [("perm", _, [1, 0, 2])])
        {
            throw new InvalidDataException("the Transpose node must have exactly perm = [1, 0, 2]");
        }

        var h1 = Expect(nodes, 1, "LSTM", ["x_time_major", "lstm1_W", "lstm1_R", "lstm1_B"], ["lstm1_Y"], hiddenSize: true);
        Expect(nodes, 2, "Squeeze", ["lstm1_Y", "axis_1"], ["lstm1_sequence"]);
        var h2 = Expect(nodes, 3, "LSTM", ["lstm1_sequence", "lstm2_W", "lstm2_R", "lstm2_B"], ["", "lstm2_Y_h"], hiddenSize: true);
        Expect(nodes, 4, "Squeeze", ["lstm2_Y_h", "axis_0"], ["lstm2_last"]);
        Expect(nodes, 5, "Gemm", ["lstm2_last", "dense_W", "dense_B"], ["logit"]);
        Expect(nodes, 6, "Sigmoid", ["logit"], ["score"]);
        if (nodes.Count != 7)
        {
            throw new InvalidDataException($"the graph has {nodes.Count} nodes; the trainer's LSTM has 7");
        }

        if (h1 is < 1 or > 4096 || h2 is < 1 or > 4096)
        {
            throw new InvalidDataException($"hidden sizes {h1} and {h2} are outside 1..4096");
        }

        if (tensors.Count != 10)
        {
            throw new InvalidDataException($"the graph has {tensors.Count} initializers; the trainer's LSTM has 10");
        }

        if (Int64Scalar(tensors, "axis_0") != 0 || Int64Scalar(tensors, "axis_1") != 1)
        {
            throw new InvalidDataException("the Squeeze axes must be axis_0 = [0] and axis_1 = [1]");
        }

        var w1 = Floats(tensors, "lstm1_W", [1, 4L * h1, features]);
        var r1 = Floats(tensors, "lstm1_R", [1, 4L * h1, h1]);
        var b1 = Floats(tensors, "lstm1_B", [1, 8L * h1]);
        var w2 = Floats(tensors, "lstm2_W", [1, 4L * h2, h1]);
        var r2 = Floats(tensors, "lstm2_R", [1, 4L * h2, h2]);
        var b2 = Floats(tensors, "lstm2_B", [1, 8L * h2]);
        var dense = Floats(tensors, "dense_W", [h2, 1]);
        var denseBias = Floats(tensors, "dense_B", [1]);
        return new LstmOnnxGraph(features, h1, h2)
        {
            W1 = w1, R1 = r1, B1 = SumBias(b1, h1), W2 = w2, R2 = r2, B2 = SumBias(b2, h2), Dense = dense, DenseBias = denseBias[0],
        };
    }

    private static float[] SumBias(float[] wr, int hidden)
    {
        var g4 = 4 * hidden;
        var bias = new float[g4];
        for (var j = 0; j < g4; j++)
        {
            bias[j] = wr[j] + wr[g4 + j];
        }

        return bias;
    }

    /// <summary>Checks node <paramref name="index"/>; returns its hidden_size when <paramref name="hiddenSize"/> (the only attribute allowed then).</summary>
    private static int Expect(List<Node> nodes, int index, string op, string[] inputs, string[] outputs, bool hiddenSize = false)
    {
        if (index >= nodes.Count)
        {
            throw new InvalidDataException($"the graph has {nodes.Count} nodes; the trainer's LSTM has 7");
        }

        var node = nodes[index];
        if (node.OpType != op || node.Domain.Length != 0 || !node.Inputs.SequenceEqual(inputs) || !node.Outputs.SequenceEqual(outputs))
        {
            throw new InvalidDataException(
                $"node {index} is {node.OpType}({string.Join(", ", node.Inputs)}) → ({string.Join(", ", node.Outputs)}); expected {op}({string.Join(", ", inputs)}) → ({string.Join(", ", outputs)})");
        }

        if (hiddenSize)
        {
            if (node.Attributes is not [("hidden_size", var h, [])] || h > int.MaxValue)
            {
                throw new InvalidDataException($"{op} node {index} must have only the attribute hidden_size (no activations, clip, direction or layout)");
            }

            return (int)h;
        }

        if (op != "Transpose" && node.Attributes.Count != 0)
        {
            throw new InvalidDataException($"{op} node {index} has attributes; the trainer's graph uses the defaults");
        }

        return 0;
    }

    private static float[] Floats(Dictionary<string, Tensor> tensors, string name, long[] dims)
    {
        if (!tensors.TryGetValue(name, out var t) || t.DataType != FloatType || !t.Dims.SequenceEqual(dims))
        {
            throw new InvalidDataException($"initializer '{name}' must be float32 of shape [{string.Join(", ", dims)}]");
        }

        var count = dims.Aggregate(1L, (a, d) => a * d);
        if (t.Raw.Length != count * 4 && t.Floats.Count != count)
        {
            throw new InvalidDataException($"initializer '{name}' holds the wrong number of values for [{string.Join(", ", dims)}]");
        }

        var values = new float[count];
        if (t.Raw.Length == count * 4)
        {
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = BinaryPrimitives.ReadSingleLittleEndian(t.Raw.AsSpan(i * 4));
            }
        }
        else
        {
            t.Floats.CopyTo(values);
        }

        foreach (var v in values)
        {
            if (!float.IsFinite(v))
            {
                throw new InvalidDataException($"initializer '{name}' holds a value that is not finite");
            }
        }

        return values;
    }

    private static long Int64Scalar(Dictionary<string, Tensor> tensors, string name)
    {
        if (!tensors.TryGetValue(name, out var t) || t.DataType != Int64Type || t.Dims is not [1])
        {
            throw new InvalidDataException($"initializer '{name}' must be int64 of shape [1]");
        }

        return t.Raw.Length == 8 ? BinaryPrimitives.ReadInt64LittleEndian(t.Raw) : t.Int64s is [var v] ? v : throw new InvalidDataException($"initializer '{name}' holds no value");
    }

    private static Node ReadNode(ReadOnlySpan<byte> bytes)
    {
        var node = new Node();
        var reader = new ProtoReader(bytes);
        while (reader.Next(out var field, out var wire))
        {
            switch (field, wire)
            {
                case (1, 2):
                    node.Inputs.Add(reader.String());
                    break;
                case (2, 2):
                    node.Outputs.Add(reader.String());
                    break;
                case (4, 2):
                    node.OpType = reader.String();
                    break;
                case (5, 2):
                    node.Attributes.Add(ReadAttribute(reader.Bytes()));
                    break;
                case (7, 2):
                    node.Domain = reader.String();
                    break;
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return node;
    }

    private static (string Name, long Int, long[] Ints) ReadAttribute(ReadOnlySpan<byte> bytes)
    {
        var name = "";
        long value = 0;
        var ints = new List<long>();
        var reader = new ProtoReader(bytes);
        while (reader.Next(out var field, out var wire))
        {
            switch (field, wire)
            {
                case (1, 2):
                    name = reader.String();
                    break;
                case (3, 0):
                    value = (long)reader.Varint();
                    break;
                case (8, 0):
                    ints.Add((long)reader.Varint());
                    break;
                case (8, 2):
                    var packed = new ProtoReader(reader.Bytes());
                    while (!packed.AtEnd)
                    {
                        ints.Add((long)packed.Varint());
                    }

                    break;
                case (20, 0):
                    reader.Varint(); // the type follows from the field used
                    break;
                default:
                    // A float, string, tensor or graph attribute: none of the accepted nodes has one.
                    throw new InvalidDataException($"attribute field {field} is not used by the trainer's graph");
            }
        }

        return (name, value, [.. ints]);
    }

    private static Tensor ReadTensor(ReadOnlySpan<byte> bytes)
    {
        var tensor = new Tensor();
        var reader = new ProtoReader(bytes);
        while (reader.Next(out var field, out var wire))
        {
            switch (field, wire)
            {
                case (1, 0):
                    tensor.Dims.Add((long)reader.Varint());
                    break;
                case (1, 2):
                    var dims = new ProtoReader(reader.Bytes());
                    while (!dims.AtEnd)
                    {
                        tensor.Dims.Add((long)dims.Varint());
                    }

                    break;
                case (2, 0):
                    tensor.DataType = (int)reader.Varint();
                    break;
                case (4, 2):
                    var floats = reader.Bytes();
                    if (floats.Length % 4 != 0)
                    {
                        throw new InvalidDataException("packed float_data is not a multiple of 4 bytes");
                    }

                    for (var i = 0; i < floats.Length; i += 4)
                    {
                        tensor.Floats.Add(BinaryPrimitives.ReadSingleLittleEndian(floats[i..]));
                    }

                    break;
                case (4, 5):
                    tensor.Floats.Add(BitConverter.Int32BitsToSingle((int)reader.Fixed32()));
                    break;
                case (7, 0):
                    tensor.Int64s.Add((long)reader.Varint());
                    break;
                case (7, 2):
                    var longs = new ProtoReader(reader.Bytes());
                    while (!longs.AtEnd)
                    {
                        tensor.Int64s.Add((long)longs.Varint());
                    }

                    break;
                case (8, 2):
                    tensor.Name = reader.String();
                    break;
                case (9, 2):
                    tensor.Raw = reader.Bytes().ToArray();
                    break;
                case (13, _) or (14, _):
                    throw new InvalidDataException("an initializer refers to external data");
                default:
                    reader.Skip(wire);
                    break;
            }
        }

        return tensor;
    }

    private static string ValueInfoName(ReadOnlySpan<byte> bytes)
    {
        var reader = new ProtoReader(bytes);
        while (reader.Next(out var field, out var wire))
        {
            if (field == 1 && wire == 2)
            {
                return reader.String();
            }

            reader.Skip(wire);
        }

        return "";
    }

    private sealed class Node
    {
        public string OpType { get; set; } = "";

        public string Domain { get; set; } = "";

        public List<string> Inputs { get; } = [];

        public List<string> Outputs { get; } = [];

        public List<(string Name, long Int, long[] Ints)> Attributes { get; } = [];
    }

    private sealed class Tensor
    {
        public string Name { get; set; } = "";

        public int DataType { get; set; }

        public List<long> Dims { get; } = [];

        public byte[] Raw { get; set; } = [];

        public List<float> Floats { get; } = [];

        public List<long> Int64s { get; } = [];
    }

    /// <summary>Protobuf wire-format reader over a span; every read is bounds-checked (the bytes are untrusted).</summary>
    private ref struct ProtoReader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _position;

        public readonly bool AtEnd => _position >= _data.Length;

        public bool Next(out int field, out int wire)
        {
            if (AtEnd)
            {
                field = wire = 0;
                return false;
            }

            var tag = Varint();
            field = (int)(tag >> 3);
            wire = (int)(tag & 7);
            if (field == 0)
            {
                throw new InvalidDataException("invalid protobuf tag (field 0)");
            }

            return true;
        }

        public ulong Varint()
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                if (AtEnd)
                {
                    throw new InvalidDataException("truncated protobuf varint");
                }

                var b = _data[_position++];
                value |= (ulong)(b & 0x7f) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }

            throw new InvalidDataException("protobuf varint longer than 10 bytes");
        }

        public uint Fixed32()
        {
            if (_data.Length - _position < 4)
            {
                throw new InvalidDataException("truncated protobuf fixed32");
            }

            var v = BinaryPrimitives.ReadUInt32LittleEndian(_data[_position..]);
            _position += 4;
            return v;
        }

        public ReadOnlySpan<byte> Bytes()
        {
            var length = Varint();
            if (length > (ulong)(_data.Length - _position))
            {
                throw new InvalidDataException("truncated protobuf field");
            }

            var slice = _data.Slice(_position, (int)length);
            _position += (int)length;
            return slice;
        }

        public string String() => Encoding.UTF8.GetString(Bytes());

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0:
                    Varint();
                    break;
                case 1:
                    Advance(8);
                    break;
                case 2:
                    Bytes();
                    break;
                case 5:
                    Advance(4);
                    break;
                default:
                    throw new InvalidDataException($"unsupported protobuf wire type {wire}");
            }
        }

        private void Advance(int count)
        {
            if (_data.Length - _position < count)
            {
                throw new InvalidDataException("truncated protobuf field");
            }

            _position += count;
        }
    }
}
