using System.Buffers.Binary;
using System.Globalization;
using System.Reflection;

namespace StreamFraud.Training.Lstm.Onnx;

/// <summary>
/// Writes an <see cref="LstmModel"/> as an ONNX model (opset 17, IR version 8) built from the standard
/// <c>LSTM</c> operator: input <c>window</c> float32 [batch, T, F], output <c>score</c> float32 [batch, 1], the fraud
/// probability. Dropout is a training-time operation and does not appear.
/// </summary>
/// <remarks>
/// Graph: Transpose(window, perm 1,0,2) → LSTM(hidden 1) → Squeeze(axis 1 = num_directions) → LSTM(hidden 2), whose
/// Y_h output is the last step's hidden state [1, batch, H2] → Squeeze(axis 0) → Gemm(wd, bd) → Sigmoid.
/// ONNX's LSTM (https://onnx.ai/onnx/operators/onnx__LSTM.html) computes X·Wᵀ + H·Rᵀ + Wb + Rb with W [1, 4H, in],
/// R [1, 4H, H], B [1, 8H] = [Wb, Rb] and gate blocks ordered i, o, f, c; the trainer stores W as [in, 4H] with
/// blocks i, f, o, g, so the exporter transposes and reorders, and puts the bias into Wb with Rb = 0.
/// </remarks>
public static class LstmOnnxExporter
{
    /// <summary>Name of the graph input, [batch, T, F] float32.</summary>
    public const string InputName = "window";

    /// <summary>Name of the graph output, [batch, 1] float32 probability.</summary>
    public const string OutputName = "score";

    /// <summary>ONNX operator set the graph targets.</summary>
    public const int OpsetVersion = 17;

    /// <summary>ONNX IR version written.</summary>
    public const int IrVersion = 8;

    // ONNX gate block k (i, o, f, c) comes from the trainer's block SourceBlock[k] (trainer order i, f, o, g).
    private static readonly int[] SourceBlock = [0, 2, 1, 3];

    private const int TensorFloat = 1;
    private const int TensorInt64 = 7;
    private const int AttributeInt = 2;
    private const int AttributeInts = 7;

    /// <summary>The ONNX model as bytes.</summary>
    public static byte[] ToBytes(LstmModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var l = model.Layout;
        var p = model.Parameters;

        var graph = new ProtoWriter();
        graph.Message(1, Node("to_time_major", "Transpose", [InputName], ["x_time_major"], IntsAttribute("perm", [1, 0, 2])));
        graph.Message(1, Node("lstm1", "LSTM", ["x_time_major", "lstm1_W", "lstm1_R", "lstm1_B"], ["lstm1_Y"], IntAttribute("hidden_size", l.Hidden1)));
        graph.Message(1, Node("lstm1_squeeze", "Squeeze", ["lstm1_Y", "axis_1"], ["lstm1_sequence"]));
        graph.Message(1, Node("lstm2", "LSTM", ["lstm1_sequence", "lstm2_W", "lstm2_R", "lstm2_B"], [string.Empty, "lstm2_Y_h"], IntAttribute("hidden_size", l.Hidden2)));
        graph.Message(1, Node("lstm2_squeeze", "Squeeze", ["lstm2_Y_h", "axis_0"], ["lstm2_last"]));
        graph.Message(1, Node("dense", "Gemm", ["lstm2_last", "dense_W", "dense_B"], ["logit"]));
        graph.Message(1, Node("sigmoid", "Sigmoid", ["logit"], [OutputName]));
        graph.String(2, "streamfraud_lstm");

        graph.Message(5, FloatTensor("lstm1_W", [1, l.Gates1, l.Features], OnnxKernel(p.AsSpan(l.W1, l.Features * l.Gates1), l.Features, l.Hidden1)));
        graph.Message(5, FloatTensor("lstm1_R", [1, l.Gates1, l.Hidden1], OnnxKernel(p.AsSpan(l.U1, l.Hidden1 * l.Gates1), l.Hidden1, l.Hidden1)));
        graph.Message(5, FloatTensor("lstm1_B", [1, 2 * l.Gates1], OnnxBias(p.AsSpan(l.B1, l.Gates1), l.Hidden1)));
        graph.Message(5, FloatTensor("lstm2_W", [1, l.Gates2, l.Hidden1], OnnxKernel(p.AsSpan(l.W2, l.Hidden1 * l.Gates2), l.Hidden1, l.Hidden2)));
        graph.Message(5, FloatTensor("lstm2_R", [1, l.Gates2, l.Hidden2], OnnxKernel(p.AsSpan(l.U2, l.Hidden2 * l.Gates2), l.Hidden2, l.Hidden2)));
        graph.Message(5, FloatTensor("lstm2_B", [1, 2 * l.Gates2], OnnxBias(p.AsSpan(l.B2, l.Gates2), l.Hidden2)));
        graph.Message(5, FloatTensor("dense_W", [l.Hidden2, 1], p.AsSpan(l.Wd, l.Hidden2).ToArray()));
        graph.Message(5, FloatTensor("dense_B", [1], [p[l.Bd]]));
        graph.Message(5, Int64Tensor("axis_0", [1], [0]));
        graph.Message(5, Int64Tensor("axis_1", [1], [1]));

        graph.String(10, $"Two-layer LSTM ({l.Hidden1}, {l.Hidden2}) over {l.Steps} steps of {l.Features} features; output is the fraud probability.");
        graph.Message(11, ValueInfo(InputName, [null, l.Steps, l.Features]));
        graph.Message(12, ValueInfo(OutputName, [null, 1]));

        var proto = new ProtoWriter();
        proto.Int64(1, IrVersion);
        proto.String(2, "StreamFraud");
        proto.String(3, typeof(LstmOnnxExporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0");
        proto.String(4, "streamfraud");
        proto.Int64(5, 1);
        proto.String(6, "StreamFraud LSTM fraud scorer (C#-native trainer).");
        proto.Message(7, graph);
        proto.Message(8, new ProtoWriter().String(1, string.Empty).Int64(2, OpsetVersion));
        Metadata(proto, "streamfraud.model", "lstm");
        Metadata(proto, "streamfraud.sequence_length", l.Steps.ToString(CultureInfo.InvariantCulture));
        Metadata(proto, "streamfraud.feature_count", l.Features.ToString(CultureInfo.InvariantCulture));
        Metadata(proto, "streamfraud.hidden", string.Create(CultureInfo.InvariantCulture, $"{l.Hidden1},{l.Hidden2}"));
        return proto.ToArray();
    }

    /// <summary>Writes the ONNX model to <paramref name="stream"/>.</summary>
    public static void Export(LstmModel model, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        stream.Write(ToBytes(model));
    }

    /// <summary>Writes the ONNX model to <paramref name="path"/>.</summary>
    public static void Export(LstmModel model, string path) => File.WriteAllBytes(path, ToBytes(model));

    /// <summary>[in, 4H] trainer kernel (blocks i, f, o, g) → ONNX [4H, in] (blocks i, o, f, c).</summary>
    private static float[] OnnxKernel(ReadOnlySpan<float> kernel, int inputs, int hidden)
    {
        var g4 = 4 * hidden;
        var result = new float[g4 * inputs];
        for (var k = 0; k < 4; k++)
        {
            var source = SourceBlock[k] * hidden;
            for (var u = 0; u < hidden; u++)
            {
                var row = result.AsSpan(((k * hidden) + u) * inputs, inputs);
                for (var x = 0; x < inputs; x++)
                {
                    row[x] = kernel[(x * g4) + source + u];
                }
            }
        }

        return result;
    }

    /// <summary>Trainer bias [4H] → ONNX [Wb (4H, reordered), Rb (4H zeros)].</summary>
    private static float[] OnnxBias(ReadOnlySpan<float> bias, int hidden)
    {
        var result = new float[8 * hidden];
        for (var k = 0; k < 4; k++)
        {
            bias.Slice(SourceBlock[k] * hidden, hidden).CopyTo(result.AsSpan(k * hidden, hidden));
        }

        return result;
    }

    private static ProtoWriter Node(string name, string opType, string[] inputs, string[] outputs, params ProtoWriter[] attributes)
    {
        var node = new ProtoWriter();
        foreach (var input in inputs)
        {
            node.String(1, input);
        }

        foreach (var output in outputs)
        {
            node.String(2, output);
        }

        node.String(3, name);
        node.String(4, opType);
        foreach (var attribute in attributes)
        {
            node.Message(5, attribute);
        }

        return node;
    }

    private static ProtoWriter IntAttribute(string name, long value) =>
        new ProtoWriter().String(1, name).Int64(3, value).Varint(20, AttributeInt);

    private static ProtoWriter IntsAttribute(string name, long[] values)
    {
        var attribute = new ProtoWriter().String(1, name);
        foreach (var v in values)
        {
            attribute.Int64(8, v);
        }

        return attribute.Varint(20, AttributeInts);
    }

    private static ProtoWriter FloatTensor(string name, long[] dims, float[] values)
    {
        var raw = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * 4), values[i]);
        }

        return Tensor(name, dims, TensorFloat, raw);
    }

    private static ProtoWriter Int64Tensor(string name, long[] dims, long[] values)
    {
        var raw = new byte[values.Length * 8];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * 8), values[i]);
        }

        return Tensor(name, dims, TensorInt64, raw);
    }

    private static ProtoWriter Tensor(string name, long[] dims, int dataType, byte[] raw)
    {
        var tensor = new ProtoWriter();
        foreach (var d in dims)
        {
            tensor.Int64(1, d);
        }

        return tensor.Int64(2, dataType).String(8, name).Bytes(9, raw);
    }

    /// <summary>A float tensor's ValueInfoProto; a null dimension is the symbolic "batch".</summary>
    private static ProtoWriter ValueInfo(string name, int?[] dims)
    {
        var shape = new ProtoWriter();
        foreach (var d in dims)
        {
            var dim = new ProtoWriter();
            if (d is { } value)
            {
                dim.Int64(1, value);
            }
            else
            {
                dim.String(2, "batch");
            }

            shape.Message(1, dim);
        }

        var tensorType = new ProtoWriter().Int64(1, TensorFloat).Message(2, shape);
        var type = new ProtoWriter().Message(1, tensorType);
        return new ProtoWriter().String(1, name).Message(2, type);
    }

    private static void Metadata(ProtoWriter model, string key, string value) =>
        model.Message(14, new ProtoWriter().String(1, key).String(2, value));
}
