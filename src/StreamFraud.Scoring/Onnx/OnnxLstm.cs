using Microsoft.ML.OnnxRuntime;

namespace StreamFraud.Scoring.Onnx;

/// <summary>Where the LSTM runs.</summary>
public enum InferenceDevice
{
    /// <summary>CUDA when its libraries load, else CPU.</summary>
    Auto,

    /// <summary>CPU only.</summary>
    Cpu,

    /// <summary>CUDA; fails when it cannot load.</summary>
    Cuda,
}

/// <summary>
/// The bundle's LSTM in ONNX Runtime: input <c>window</c> [batch, 7, F] float32, output <c>score</c> [batch, 1]. One
/// <see cref="InferenceSession"/> per bundle, inputs and outputs bound as <see cref="OrtValue"/>s over the caller's
/// memory (no copies). <see cref="Run"/> is thread-safe (ONNX Runtime sessions are).
/// </summary>
public sealed class OnnxLstm : IDisposable
{
    private const string InputName = "window";
    private const string OutputName = "score";
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly string[] _inputNames = [InputName];
    private readonly string[] _outputNames = [OutputName];

    private OnnxLstm(InferenceSession session, int steps, int features, string provider)
    {
        _session = session;
        Steps = steps;
        Features = features;
        Provider = provider;
    }

    /// <summary>Steps per window.</summary>
    public int Steps { get; }

    /// <summary>Features per step.</summary>
    public int Features { get; }

    /// <summary>Execution provider in use: <c>CUDA</c> or <c>CPU</c>.</summary>
    public string Provider { get; }

    /// <summary>Why CUDA was not used (null when it is, or was not asked for).</summary>
    public string? CudaUnavailableReason { get; private init; }

    /// <summary>
    /// Loads a model, checks that it has exactly the input <c>window</c> [N, <paramref name="steps"/>,
    /// <paramref name="features"/>] and output <c>score</c> [N, 1] (float32), and picks the device.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not a loadable ONNX model or has other inputs/outputs.</exception>
    public static OnnxLstm Load(string path, int steps, int features, InferenceDevice device = InferenceDevice.Cpu, int deviceId = 0, int intraOpThreads = 0) =>
        Load(o => new InferenceSession(path, o), path, steps, features, device, deviceId, intraOpThreads);

    /// <summary>
    /// Loads a model from bytes already read and verified (a bundle's checked <c>lstm.onnx</c>: what was hashed is
    /// what runs, with no second read of a file that could have changed); <paramref name="name"/> is for messages.
    /// </summary>
    /// <exception cref="InvalidDataException">The bytes are not a loadable ONNX model or it has other inputs/outputs.</exception>
    public static OnnxLstm Load(byte[] model, string name, int steps, int features, InferenceDevice device = InferenceDevice.Cpu, int deviceId = 0, int intraOpThreads = 0) =>
        Load(o => new InferenceSession(model, o), name, steps, features, device, deviceId, intraOpThreads);

    private static OnnxLstm Load(Func<SessionOptions, InferenceSession> open, string path, int steps, int features, InferenceDevice device, int deviceId, int intraOpThreads)
    {
        string? cudaReason = null;
        InferenceSession? session = null;
        var provider = "CPU";
        if (device != InferenceDevice.Cpu)
        {
            try
            {
                using var cudaOptions = Options(intraOpThreads);
                cudaOptions.AppendExecutionProvider_CUDA(deviceId);
                session = open(cudaOptions);
                provider = "CUDA";
            }
            catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
            {
                if (device == InferenceDevice.Cuda)
                {
                    throw new InvalidOperationException(
                        $"CUDA execution provider could not start on device {deviceId}: {e.Message}. It needs the CUDA 13 and cuDNN 9 " +
                        "runtime libraries on the library path; set Scoring:Device=cpu (or auto) to run on CPU.", e);
                }

                cudaReason = e.Message;
            }
        }

        try
        {
            if (session is null)
            {
                using var cpu = Options(intraOpThreads);
                // Intra-op workers sleep between runs instead of spinning: a batch spends most of its time waiting on
                // Redis and Kafka, and spinning threads took a core from a co-located redis-server (measured on 2 cores:
                // spec card v2 at 65% of v1's events/s with spinning, 76% without; v1 unchanged).
                cpu.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
                session = open(cpu);
            }
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"{path}: ONNX Runtime cannot load the model ({e.Message}).", e);
        }

        try
        {
            Check(session, path, steps, features);
        }
        catch
        {
            session.Dispose();
            throw;
        }

        return new OnnxLstm(session, steps, features, provider) { CudaUnavailableReason = cudaReason };
    }

    /// <summary>
    /// Scores <paramref name="rows"/> windows laid out in <paramref name="windows"/> ([rows, steps, features],
    /// row-major) into <paramref name="scores"/>.
    /// </summary>
    public void Run(Memory<float> windows, int rows, Memory<float> scores)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        if (rows == 0)
        {
            return;
        }

        var size = rows * Steps * Features;
        if (windows.Length < size || scores.Length < rows)
        {
            throw new ArgumentException($"{rows} windows need {size} input floats and {rows} outputs; got {windows.Length} and {scores.Length}.");
        }

        using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, windows[..size], [rows, Steps, Features]);
        using var output = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, scores[..rows], [rows, 1]);
        _session.Run(_runOptions, _inputNames, [input], _outputNames, [output]);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _session.Dispose();
        _runOptions.Dispose();
    }

    private static SessionOptions Options(int intraOpThreads) => new()
    {
        GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        IntraOpNumThreads = intraOpThreads,
        ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
    };

    private static void Check(InferenceSession session, string path, int steps, int features)
    {
        if (session.InputMetadata.Count != 1 || !session.InputMetadata.TryGetValue(InputName, out var input))
        {
            throw new InvalidDataException($"{path}: expected one input named '{InputName}', found [{string.Join(", ", session.InputMetadata.Keys)}].");
        }

        if (!session.OutputMetadata.TryGetValue(OutputName, out var output))
        {
            throw new InvalidDataException($"{path}: expected an output named '{OutputName}', found [{string.Join(", ", session.OutputMetadata.Keys)}].");
        }

        if (input.ElementType != typeof(float) || output.ElementType != typeof(float))
        {
            throw new InvalidDataException($"{path}: '{InputName}' and '{OutputName}' must be float32.");
        }

        var dims = input.Dimensions;
        if (dims.Length != 3 || dims[0] > 0 || dims[1] != steps || dims[2] != features)
        {
            throw new InvalidDataException(
                $"{path}: input '{InputName}' has shape [{string.Join(", ", dims)}]; this bundle needs [batch, {steps}, {features}] with a dynamic batch.");
        }

        var outDims = output.Dimensions;
        if (outDims.Length != 2 || outDims[1] != 1)
        {
            throw new InvalidDataException($"{path}: output '{OutputName}' has shape [{string.Join(", ", outDims)}]; expected [batch, 1].");
        }
    }
}
