using System.Buffers.Binary;
using System.Collections.Concurrent;
using StreamFraud.Training.Lstm.Onnx;

namespace StreamFraud.Training.Lstm;

/// <summary>
/// A trained (or freshly initialised) two-layer LSTM: weights, a fast batched forward pass, save/load and ONNX export.
/// Immutable once built; <see cref="Predict(float[], int?)"/> is thread-safe.
/// </summary>
public sealed class LstmModel
{
    private const int InferenceChunkRows = 128;
    private static ReadOnlySpan<byte> Magic => "SFLSTM\0\u0001"u8;
    private const int FormatVersion = 1;

    private readonly ConcurrentBag<LstmWorkspace<float>> _workspaces = [];
    private LstmNetwork<float>? _network;

    internal LstmModel(LstmLayout layout, float[] parameters)
    {
        layout.Validate();
        if (parameters.Length != layout.ParameterCount)
        {
            throw new ArgumentException($"Expected {layout.ParameterCount} parameters, got {parameters.Length}.", nameof(parameters));
        }

        Layout = layout;
        Parameters = parameters;
    }

    internal LstmLayout Layout { get; }

    /// <summary>Flat parameters (see <see cref="LstmLayout"/> for the order); never mutated after construction.</summary>
    internal float[] Parameters { get; }

    /// <summary>Features per step (F).</summary>
    public int FeatureCount => Layout.Features;

    /// <summary>Steps per window (T).</summary>
    public int SequenceLength => Layout.Steps;

    /// <summary>Units of the first LSTM layer.</summary>
    public int Hidden1 => Layout.Hidden1;

    /// <summary>Units of the second LSTM layer.</summary>
    public int Hidden2 => Layout.Hidden2;

    /// <summary>Number of trainable parameters.</summary>
    public int ParameterCount => Layout.ParameterCount;

    /// <summary>A model with the initial weights the trainer starts from for <paramref name="options"/>.Seed.</summary>
    public static LstmModel CreateInitial(int featureCount, LstmOptions? options = null)
    {
        options ??= new LstmOptions();
        options.Validate();
        var layout = new LstmLayout(featureCount, options.SequenceLength, options.Hidden1, options.Hidden2);
        layout.Validate();
        var parameters = new float[layout.ParameterCount];
        LstmInitializer.Initialize<float>(layout, parameters, options.Seed);
        return new LstmModel(layout, parameters);
    }

    /// <summary>Fraud probabilities for <paramref name="windows"/> ([n, T, F] row-major), one per window.</summary>
    public float[] Predict(float[] windows, int? maxDegreeOfParallelism = null)
    {
        ArgumentNullException.ThrowIfNull(windows);
        var scores = new float[CountWindows(windows.Length)];
        Predict(windows, scores, maxDegreeOfParallelism);
        return scores;
    }

    /// <summary>Writes the fraud probability of each window in <paramref name="windows"/> to <paramref name="scores"/>.</summary>
    public void Predict(ReadOnlyMemory<float> windows, Memory<float> scores, int? maxDegreeOfParallelism = null)
    {
        var count = CountWindows(windows.Length);
        if (scores.Length < count)
        {
            throw new ArgumentException($"{count} windows need {count} scores; the destination holds {scores.Length}.", nameof(scores));
        }

        _network ??= new LstmNetwork<float>(Layout, Parameters, 0f, 0f);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism ?? Environment.ProcessorCount };
        PredictCore(_network, windows, scores[..count], parallel, _workspaces);
    }

    /// <summary>Batched inference with any network (the trainer's live one or a model's), chunked over the cores.</summary>
    internal static void PredictCore(
        LstmNetwork<float> network, ReadOnlyMemory<float> windows, Memory<float> scores, ParallelOptions parallel,
        ConcurrentBag<LstmWorkspace<float>> pool)
    {
        var count = scores.Length;
        var chunks = (count + InferenceChunkRows - 1) / InferenceChunkRows;
        Parallel.For(
            0,
            chunks,
            parallel,
            () => pool.TryTake(out var ws) ? ws : new LstmWorkspace<float>(network.Layout, InferenceChunkRows, false),
            (chunk, _, ws) =>
            {
                var start = chunk * InferenceChunkRows;
                var rows = Math.Min(InferenceChunkRows, count - start);
                ws.Load(windows.Span, start, rows);
                ws.Forward(network, false, 0);
                var destination = scores.Span.Slice(start, rows);
                for (var r = 0; r < rows; r++)
                {
                    destination[r] = (float)LstmLoss.Sigmoid(ws.Logits[r]);
                }

                return ws;
            },
            pool.Add);
    }

    /// <summary>Saves the weights in the trainer's binary format (little-endian; header with the shape).</summary>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> header = stackalloc byte[8 + (6 * 4)];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], FormatVersion);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], Layout.Features);
        BinaryPrimitives.WriteInt32LittleEndian(header[16..], Layout.Steps);
        BinaryPrimitives.WriteInt32LittleEndian(header[20..], Layout.Hidden1);
        BinaryPrimitives.WriteInt32LittleEndian(header[24..], Layout.Hidden2);
        BinaryPrimitives.WriteInt32LittleEndian(header[28..], Layout.ParameterCount);
        stream.Write(header);
        var buffer = new byte[Parameters.Length * 4];
        for (var i = 0; i < Parameters.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(i * 4), Parameters[i]);
        }

        stream.Write(buffer);
    }

    /// <summary>Saves the weights to <paramref name="path"/> (see <see cref="Save(Stream)"/>).</summary>
    public void Save(string path)
    {
        using var stream = File.Create(path);
        Save(stream);
    }

    /// <summary>Loads weights written by <see cref="Save(Stream)"/>.</summary>
    /// <exception cref="InvalidDataException">The stream is not an LSTM weight file of a known version.</exception>
    public static LstmModel Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> header = stackalloc byte[8 + (6 * 4)];
        stream.ReadExactly(header);
        if (!header[..8].SequenceEqual(Magic))
        {
            throw new InvalidDataException("Not a StreamFraud LSTM weight file.");
        }

        var version = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"LSTM weight file version {version} is not supported (expected {FormatVersion}).");
        }

        var layout = new LstmLayout(
            BinaryPrimitives.ReadInt32LittleEndian(header[12..]),
            BinaryPrimitives.ReadInt32LittleEndian(header[16..]),
            BinaryPrimitives.ReadInt32LittleEndian(header[20..]),
            BinaryPrimitives.ReadInt32LittleEndian(header[24..]));
        try
        {
            layout.Validate();
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException("The LSTM weight file has an invalid shape.", e);
        }

        var count = BinaryPrimitives.ReadInt32LittleEndian(header[28..]);
        if (count != layout.ParameterCount)
        {
            throw new InvalidDataException($"The LSTM weight file holds {count} parameters; its shape needs {layout.ParameterCount}.");
        }

        var buffer = new byte[count * 4];
        stream.ReadExactly(buffer);
        var parameters = new float[count];
        for (var i = 0; i < count; i++)
        {
            parameters[i] = BinaryPrimitives.ReadSingleLittleEndian(buffer.AsSpan(i * 4));
        }

        return new LstmModel(layout, parameters);
    }

    /// <summary>Loads weights from <paramref name="path"/>.</summary>
    public static LstmModel Load(string path)
    {
        using var stream = File.OpenRead(path);
        return Load(stream);
    }

    /// <summary>Writes the model as ONNX (see <see cref="LstmOnnxExporter"/>).</summary>
    public void ExportOnnx(Stream stream) => LstmOnnxExporter.Export(this, stream);

    /// <summary>Writes the model as ONNX to <paramref name="path"/>.</summary>
    public void ExportOnnx(string path) => LstmOnnxExporter.Export(this, path);

    private int CountWindows(int floats)
    {
        var size = Layout.WindowSize;
        if (floats % size != 0)
        {
            throw new ArgumentException($"Windows are {Layout.Steps} × {Layout.Features} = {size} floats; {floats} is not a multiple.");
        }

        return floats / size;
    }
}
