using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Unicode;

namespace StreamFraud.XgBoost;

/// <summary>
/// An XGBoost model (a libxgboost <c>Learner</c>) for training and prediction through the C API.
/// </summary>
/// <remarks>
/// <para>Thread safety: the prediction members (<see cref="PredictDense(ReadOnlySpan{float}, int, Span{float}, bool, int?)"/>,
/// <see cref="Predict"/>, <see cref="PredictContributions(ReadOnlySpan{float}, int, int?, bool)"/>) and the read-only
/// members may run concurrently on any number of threads. In-place and contribution predictions run in parallel:
/// libxgboost writes their results to per-thread, per-booster buffers (copied out before returning) and guards its
/// lazy configuration with a lock. <see cref="Predict"/> (values or margins from a DMatrix) goes through a
/// per-booster prediction cache that libxgboost 1.x does not synchronise, so this class serialises those calls. The
/// mutating members (<see cref="SetParameter"/>, <see cref="UpdateOneIteration"/>, <see cref="SetAttribute"/>,
/// <see cref="SetBestIteration"/>, <see cref="LoadModel(ReadOnlySpan{byte})"/>) must not overlap with any other call
/// on the same booster. The loading factories configure the learner (a one-row warm-up prediction) before returning,
/// so concurrent first predictions never race on configuration. Disposing while a call is in flight is safe: the
/// native booster is freed when the last call using it returns.</para>
/// <para>Each prediction also runs OpenMP threads inside libxgboost (<c>nthread</c>, all cores by default). A scorer
/// that predicts from several threads at once may want <c>threads: 1</c> when loading to avoid oversubscription.</para>
/// </remarks>
public sealed unsafe class Booster : IDisposable
{
    /// <summary>Attribute under which the early-stopping round is stored (the name XGBoost's Python package uses).</summary>
    public const string BestIterationAttribute = "best_iteration";

    /// <summary>Attribute under which the best validation score is stored (as in XGBoost's Python package).</summary>
    public const string BestScoreAttribute = "best_score";

    private readonly BoosterHandle _handle;

    // libxgboost 1.x keeps DMatrix value/margin predictions in one unsynchronised per-booster cache
    // (PredictionContainer; 2.0 made it a locked DMatrixCache), so those calls are serialised here. In-place and
    // contribution predictions never touch that cache.
    private readonly Lock _dmatrixPredictionLock = new();
    private int? _bestIteration;

    private Booster(BoosterHandle handle) => _handle = handle;

    /// <summary>Number of features the model was trained on (0 before the first training round).</summary>
    public int NumFeatures
    {
        get
        {
            using var lease = _handle.Acquire();
            ulong n;
            XgbNative.Check(XgbLibrary.Api.BoosterGetNumFeature(lease.Pointer, &n), "XGBoosterGetNumFeature");
            return checked((int)n);
        }
    }

    /// <summary>Number of boosting rounds in the model.</summary>
    public int BoostedRounds
    {
        get
        {
            using var lease = _handle.Acquire();
            int n;
            XgbNative.Check(XgbLibrary.Api.BoosterBoostedRounds(lease.Pointer, &n), "XGBoosterBoostedRounds");
            return n;
        }
    }

    /// <summary>
    /// The 0-based best round chosen by early stopping (the <see cref="BestIterationAttribute"/> attribute, saved with
    /// the model), or null when the model has none. Predictions default to rounds [0, best + 1).
    /// </summary>
    public int? BestIteration => _bestIteration;

    /// <summary>Creates an untrained booster whose prediction cache holds <paramref name="cache"/> (training and evaluation sets).</summary>
    public static Booster Create(params IReadOnlyList<DMatrix> cache)
    {
        ArgumentNullException.ThrowIfNull(cache);
        var api = XgbLibrary.Api;
        var handles = new nint[cache.Count];
        var added = new bool[cache.Count];
        var booster = new BoosterHandle();
        try
        {
            for (var i = 0; i < cache.Count; i++)
            {
                cache[i].Handle.DangerousAddRef(ref added[i]);
                handles[i] = cache[i].Handle.DangerousGetHandle();
            }

            nint raw;
            int rc;
            fixed (nint* h = handles)
            {
                rc = api.BoosterCreate(h, (ulong)handles.Length, &raw);
            }

            XgbNative.Check(rc, "XGBoosterCreate");
            booster.Set(raw);
        }
        catch
        {
            booster.Dispose();
            throw;
        }
        finally
        {
            for (var i = 0; i < cache.Count; i++)
            {
                if (added[i])
                {
                    cache[i].Handle.DangerousRelease();
                }
            }
        }

        return new Booster(booster);
    }

    /// <summary>Loads a model saved by XGBoost (JSON, UBJSON or the legacy binary format) from a file.</summary>
    /// <param name="path">The model file, e.g. a bundle's <c>xgb.json</c>.</param>
    /// <param name="threads">OpenMP threads per prediction (<c>nthread</c>); 0 keeps libxgboost's default (all cores).</param>
    public static Booster Load(string path, int threads = 0) => Load(File.ReadAllBytes(path), threads);

    /// <summary>Loads a model from its serialised bytes (as written by <see cref="SaveModelToBuffer"/>).</summary>
    /// <param name="model">The model bytes; libxgboost tells JSON (starting with '{') from binary formats.</param>
    /// <param name="threads">OpenMP threads per prediction (<c>nthread</c>); 0 keeps libxgboost's default (all cores).</param>
    public static Booster Load(ReadOnlySpan<byte> model, int threads = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        var booster = Create();
        try
        {
            booster.LoadModel(model);
            if (threads > 0)
            {
                booster.SetParameter("nthread", threads.ToString(CultureInfo.InvariantCulture));
            }

            booster.WarmUp();
            return booster;
        }
        catch
        {
            booster.Dispose();
            throw;
        }
    }

    /// <summary>Replaces this booster's model with <paramref name="model"/> (not thread-safe).</summary>
    public void LoadModel(ReadOnlySpan<byte> model)
    {
        if (model.IsEmpty)
        {
            throw new ArgumentException("The model buffer is empty.", nameof(model));
        }

        using var lease = _handle.Acquire();
        int rc;
        fixed (byte* data = model)
        {
            rc = XgbLibrary.Api.BoosterLoadModelFromBuffer(lease.Pointer, data, (ulong)model.Length);
        }

        XgbNative.Check(rc, "XGBoosterLoadModelFromBuffer");
        _bestIteration = ParseBestIteration(GetAttribute(BestIterationAttribute));
    }

    /// <summary>Sets one booster parameter in XGBoost's own terms (e.g. <c>max_depth</c>, <c>eta</c>); not thread-safe.</summary>
    public void SetParameter(string name, string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(value);
        var n = XgbNative.Utf8Z(name);
        var v = XgbNative.Utf8Z(value);
        using var lease = _handle.Acquire();
        int rc;
        fixed (byte* pn = n)
        fixed (byte* pv = v)
        {
            rc = XgbLibrary.Api.BoosterSetParam(lease.Pointer, pn, pv);
        }

        XgbNative.Check(rc, $"XGBoosterSetParam({name}={value})");
    }

    /// <summary>Sets each parameter in order (see <see cref="XgbParameters.ToBoosterParameters"/>).</summary>
    public void SetParameters(IEnumerable<KeyValuePair<string, string>> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        foreach (var (name, value) in parameters)
        {
            SetParameter(name, value);
        }
    }

    /// <summary>Runs boosting round <paramref name="iteration"/> (0-based) on <paramref name="train"/>; not thread-safe.</summary>
    public void UpdateOneIteration(int iteration, DMatrix train)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentOutOfRangeException.ThrowIfNegative(iteration);
        using var lease = _handle.Acquire();
        using var data = train.Handle.Acquire();
        XgbNative.Check(
            XgbLibrary.Api.BoosterUpdateOneIter(lease.Pointer, iteration, data.Pointer), "XGBoosterUpdateOneIter");
    }

    /// <summary>
    /// Evaluates the configured <c>eval_metric</c>s on each named set and returns libxgboost's line, e.g.
    /// <c>[12]\ttrain-aucpr:0.91\tvalidation-aucpr:0.43</c>.
    /// </summary>
    public string EvaluateOneIterationText(int iteration, IReadOnlyList<KeyValuePair<string, DMatrix>> sets)
    {
        ArgumentNullException.ThrowIfNull(sets);
        var n = sets.Count;
        var handles = new nint[n];
        var names = new nint[n];
        var added = new bool[n];
        using var lease = _handle.Acquire();
        try
        {
            for (var i = 0; i < n; i++)
            {
                var name = sets[i].Key;
                if (string.IsNullOrEmpty(name) || name.AsSpan().IndexOfAny(":\t") >= 0)
                {
                    throw new ArgumentException($"Evaluation set name '{name}' must be non-empty without ':' or tabs.", nameof(sets));
                }

                sets[i].Value.Handle.DangerousAddRef(ref added[i]);
                handles[i] = sets[i].Value.Handle.DangerousGetHandle();
                names[i] = Marshal.StringToCoTaskMemUTF8(name);
            }

            byte* result;
            int rc;
            fixed (nint* h = handles)
            fixed (nint* nm = names)
            {
                rc = XgbLibrary.Api.BoosterEvalOneIter(lease.Pointer, iteration, h, (byte**)nm, (ulong)n, &result);
            }

            XgbNative.Check(rc, "XGBoosterEvalOneIter");
            return XgbNative.FromUtf8Z(result) ?? string.Empty;
        }
        finally
        {
            for (var i = 0; i < n; i++)
            {
                if (added[i])
                {
                    sets[i].Value.Handle.DangerousRelease();
                }

                Marshal.FreeCoTaskMem(names[i]);
            }
        }
    }

    /// <summary>
    /// Evaluates each named set and returns the metric values keyed <c>"{set}-{metric}"</c>, e.g.
    /// <c>validation-aucpr</c>.
    /// </summary>
    public IReadOnlyDictionary<string, double> EvaluateOneIteration(
        int iteration, IReadOnlyList<KeyValuePair<string, DMatrix>> sets) =>
        ParseEvaluation(EvaluateOneIterationText(iteration, sets));

    /// <summary>
    /// Parses libxgboost's evaluation line (<c>[round]</c> then tab-separated <c>set-metric:value</c> items) into
    /// values keyed by <c>set-metric</c>. <c>nan</c> and <c>inf</c> spellings are accepted.
    /// </summary>
    /// <exception cref="FormatException">An item has no ':' or its value is not a number.</exception>
    public static IReadOnlyDictionary<string, double> ParseEvaluation(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var item in text.Split('\t', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (item.StartsWith('['))
            {
                continue;
            }

            var colon = item.LastIndexOf(':');
            if (colon <= 0)
            {
                throw new FormatException($"Evaluation item '{item}' is not 'set-metric:value' (in '{text}').");
            }

            values[item[..colon]] = ParseDouble(item[(colon + 1)..], text);
        }

        return values;
    }

    /// <summary>Serialises the model: <c>"json"</c> (XGBoost's documented JSON model schema) or <c>"ubj"</c> (UBJSON).</summary>
    public byte[] SaveModelToBuffer(string format = "json")
    {
        if (format is not ("json" or "ubj"))
        {
            throw new ArgumentException($"Model format must be 'json' or 'ubj', not '{format}'.", nameof(format));
        }

        var config = XgbNative.Utf8Z($$"""{"format":"{{format}}"}""");
        using var lease = _handle.Acquire();
        ulong length;
        byte* data;
        int rc;
        fixed (byte* c = config)
        {
            rc = XgbLibrary.Api.BoosterSaveModelToBuffer(lease.Pointer, c, &length, &data);
        }

        XgbNative.Check(rc, "XGBoosterSaveModelToBuffer");
        return new ReadOnlySpan<byte>(data, checked((int)length)).ToArray();
    }

    /// <summary>Writes the model as JSON to <paramref name="path"/>, whatever its extension.</summary>
    public void SaveModel(string path) => File.WriteAllBytes(path, SaveModelToBuffer("json"));

    /// <summary>The learner's full configuration (parameters as libxgboost resolved them) as JSON.</summary>
    public string SaveJsonConfig()
    {
        using var lease = _handle.Acquire();
        ulong length;
        byte* data;
        XgbNative.Check(XgbLibrary.Api.BoosterSaveJsonConfig(lease.Pointer, &length, &data), "XGBoosterSaveJsonConfig");
        return System.Text.Encoding.UTF8.GetString(data, checked((int)length));
    }

    /// <summary>A string attribute stored with the model, or null when absent.</summary>
    public string? GetAttribute(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        var k = XgbNative.Utf8Z(key);
        using var lease = _handle.Acquire();
        byte* value;
        int success;
        int rc;
        fixed (byte* pk = k)
        {
            rc = XgbLibrary.Api.BoosterGetAttr(lease.Pointer, pk, &value, &success);
        }

        XgbNative.Check(rc, "XGBoosterGetAttr");
        return success != 0 ? XgbNative.FromUtf8Z(value) : null;
    }

    /// <summary>Stores (or, with null, removes) a string attribute saved with the model; not thread-safe.</summary>
    public void SetAttribute(string key, string? value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        var k = XgbNative.Utf8Z(key);
        var v = value is null ? null : XgbNative.Utf8Z(value);
        using var lease = _handle.Acquire();
        int rc;
        fixed (byte* pk = k)
        fixed (byte* pv = v)
        {
            rc = XgbLibrary.Api.BoosterSetAttr(lease.Pointer, pk, pv);
        }

        XgbNative.Check(rc, "XGBoosterSetAttr");
        if (key == BestIterationAttribute)
        {
            _bestIteration = ParseBestIteration(value);
        }
    }

    /// <summary>Records the early-stopping result as the attributes XGBoost's Python package uses; not thread-safe.</summary>
    public void SetBestIteration(int bestIteration, double bestScore)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bestIteration);
        SetAttribute(BestScoreAttribute, bestScore.ToString("R", CultureInfo.InvariantCulture));
        SetAttribute(BestIterationAttribute, bestIteration.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Predicts <paramref name="rows"/> dense rows in place (<c>XGBoosterPredictFromDense</c>: no DMatrix is built and
    /// the values are read where they lie). NaN is missing. Thread-safe.
    /// </summary>
    /// <param name="values">Row-major features, rows × <see cref="NumFeatures"/>.</param>
    /// <param name="rows">Number of rows.</param>
    /// <param name="destination">Receives one value per row: a probability, or the raw margin (logit) when
    /// <paramref name="outputMargin"/> is set.</param>
    /// <param name="outputMargin">Return the untransformed margin instead of the probability.</param>
    /// <param name="iterationEnd">Use rounds [0, iterationEnd); null = up to <see cref="BestIteration"/> + 1 when the
    /// model has one, else all rounds; 0 = all rounds.</param>
    public void PredictDense(
        ReadOnlySpan<float> values, int rows, Span<float> destination, bool outputMargin = false, int? iterationEnd = null)
    {
        var columns = CheckDense(values, rows);
        if (destination.Length < rows)
        {
            throw new ArgumentException($"destination holds {destination.Length} values; {rows} rows need {rows}.", nameof(destination));
        }

        if (rows == 0)
        {
            return;
        }

        var end = ResolveIterationEnd(iterationEnd);
        Span<byte> config = stackalloc byte[256];
        Span<byte> array = stackalloc byte[256];
        using var lease = _handle.Acquire();
        ulong* shape;
        ulong dim;
        float* result;
        int rc;
        fixed (float* data = values)
        {
            WriteZ(config, CultureInfo.InvariantCulture,
                $"{{\"type\":{(outputMargin ? 1 : 0)},\"training\":false,\"iteration_begin\":0,\"iteration_end\":{end},\"strict_shape\":false,\"missing\":NaN,\"cache_id\":0}}");
            WriteZ(array, CultureInfo.InvariantCulture,
                $"{{\"data\":[{(ulong)data},true],\"shape\":[{rows},{columns}],\"strides\":null,\"typestr\":\"<f4\",\"version\":3}}");
            fixed (byte* c = config)
            fixed (byte* a = array)
            {
                rc = XgbLibrary.Api.BoosterPredictFromDense(lease.Pointer, a, c, nint.Zero, &shape, &dim, &result);
            }
        }

        XgbNative.Check(rc, "XGBoosterPredictFromDense");
        CopyOnePerRow(shape, dim, result, rows, destination);
    }

    /// <summary>Predicts dense rows in place and returns one value per row; see the overload with a destination.</summary>
    public float[] PredictDense(ReadOnlySpan<float> values, int rows, bool outputMargin = false, int? iterationEnd = null)
    {
        var output = new float[rows];
        PredictDense(values, rows, output, outputMargin, iterationEnd);
        return output;
    }

    /// <summary>
    /// Predicts every row of <paramref name="data"/> (<c>XGBoosterPredictFromDMatrix</c>); the same iteration-range
    /// rule as <see cref="PredictDense(ReadOnlySpan{float}, int, Span{float}, bool, int?)"/>. Thread-safe.
    /// </summary>
    public float[] Predict(DMatrix data, bool outputMargin = false, int? iterationEnd = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        var end = ResolveIterationEnd(iterationEnd);
        var output = new float[data.Rows];
        lock (_dmatrixPredictionLock)
        {
            var (shape, dim, result) = PredictFromDMatrix(data, outputMargin ? 1 : 0, end);
            CopyOnePerRow((ulong*)shape, dim, (float*)result, data.Rows, output);
        }

        return output;
    }

    /// <summary>
    /// Exact per-feature contributions (TreeSHAP, <c>pred_contribs</c>) for dense rows, in margin (log-odds) units: for
    /// each row the feature contributions plus the bias sum to the margin. libxgboost 1.6–2.x computes contributions
    /// only from a DMatrix (in-place prediction supports value and margin types), so one is built from the rows.
    /// Thread-safe.
    /// </summary>
    /// <param name="values">Row-major features, rows × <see cref="NumFeatures"/>; NaN is missing.</param>
    /// <param name="rows">Number of rows.</param>
    /// <param name="iterationEnd">Rounds to use, as for <see cref="PredictDense(ReadOnlySpan{float}, int, Span{float}, bool, int?)"/>.</param>
    /// <param name="approximate">Use Saabas' approximation (<c>approx_contribs</c>: path attribution, several times
    /// faster, still sums to the margin) instead of exact TreeSHAP.</param>
    public XgbContributions PredictContributions(
        ReadOnlySpan<float> values, int rows, int? iterationEnd = null, bool approximate = false)
    {
        var columns = CheckDense(values, rows);
        if (rows == 0)
        {
            return new XgbContributions(0, columns, []);
        }

        using var data = DMatrix.FromDense(values, rows, columns, threads: 1);
        return PredictContributions(data, iterationEnd, approximate);
    }

    /// <summary>
    /// Per-feature contributions of dense rows written to <paramref name="destination"/> (rows × (features + 1), bias
    /// last in each row, as in <see cref="XgbContributions.Values"/>), so a caller can reuse one buffer across calls.
    /// One libxgboost call for all rows: each row's values are those a call with that row alone gives (TreeSHAP
    /// computes every row on its own). See the overload returning <see cref="XgbContributions"/>. Thread-safe.
    /// </summary>
    /// <param name="values">Row-major features, rows × <see cref="NumFeatures"/>; NaN is missing.</param>
    /// <param name="rows">Number of rows.</param>
    /// <param name="destination">Receives rows × (<see cref="NumFeatures"/> + 1) values; entries past them are untouched.</param>
    /// <param name="iterationEnd">Rounds to use, as for <see cref="PredictDense(ReadOnlySpan{float}, int, Span{float}, bool, int?)"/>.</param>
    /// <param name="approximate">Use Saabas' approximation instead of exact TreeSHAP.</param>
    public void PredictContributions(
        ReadOnlySpan<float> values, int rows, Span<float> destination, int? iterationEnd = null, bool approximate = false)
    {
        var columns = CheckDense(values, rows);
        if (destination.Length < (long)rows * (columns + 1))
        {
            throw new ArgumentException(
                $"destination holds {destination.Length} values; {rows} rows × ({columns} features + bias) need {(long)rows * (columns + 1)}.",
                nameof(destination));
        }

        if (rows == 0)
        {
            return;
        }

        using var data = DMatrix.FromDense(values, rows, columns, threads: 1);
        ContributionsFromDMatrix(data, iterationEnd, approximate).CopyTo(destination);
    }

    /// <summary>Per-feature contributions for every row of <paramref name="data"/>; see the dense overload.</summary>
    public XgbContributions PredictContributions(DMatrix data, int? iterationEnd = null, bool approximate = false)
    {
        ArgumentNullException.ThrowIfNull(data);
        return new XgbContributions(data.Rows, data.Columns, ContributionsFromDMatrix(data, iterationEnd, approximate).ToArray());
    }

    /// <summary>
    /// The <paramref name="k"/> features of one row with the largest |contribution|; see <see cref="XgbContributions.Top"/>.
    /// One libxgboost call (and its per-call setup) per row: for many rows, one call with the destination overload of
    /// <c>PredictContributions</c> and <see cref="XgbContributions.TopK"/> on each row gives the same result.
    /// </summary>
    public IReadOnlyList<FeatureContribution> TopContributions(
        ReadOnlySpan<float> row, int k, int? iterationEnd = null, bool approximate = false) =>
        PredictContributions(row, 1, iterationEnd, approximate).Top(0, k);

    /// <summary>Frees the native booster once no call is using it.</summary>
    public void Dispose() => _handle.Dispose();

    /// <summary>
    /// Runs a contribution prediction on <paramref name="data"/> and checks its shape; the span is this thread's
    /// buffer in libxgboost, valid until this thread's next prediction on this booster.
    /// </summary>
    private ReadOnlySpan<float> ContributionsFromDMatrix(DMatrix data, int? iterationEnd, bool approximate)
    {
        var (shape, dim, result) = PredictFromDMatrix(data, approximate ? 3 : 2, ResolveIterationEnd(iterationEnd));
        var width = data.Columns + 1;
        var total = 1UL;
        for (var i = 0UL; i < dim; i++)
        {
            total *= ((ulong*)shape)[i];
        }

        if (total != (ulong)data.Rows * (ulong)width)
        {
            throw new InvalidOperationException(
                $"Contributions have {total} values; {data.Rows} rows × ({data.Columns} features + bias) expected " +
                "(multi-output models are not supported).");
        }

        return new ReadOnlySpan<float>((float*)result, (int)total);
    }

    /// <summary>Runs <c>XGBoosterPredictFromDMatrix</c>; the pointers refer to this thread's buffer in libxgboost.</summary>
    private (nint Shape, ulong Dim, nint Result) PredictFromDMatrix(DMatrix data, int type, int end)
    {
        Span<byte> config = stackalloc byte[192];
        WriteZ(config, CultureInfo.InvariantCulture,
            $"{{\"type\":{type},\"training\":false,\"iteration_begin\":0,\"iteration_end\":{end},\"strict_shape\":false}}");
        using var lease = _handle.Acquire();
        using var matrix = data.Handle.Acquire();
        ulong* shape;
        ulong dim;
        float* result;
        int rc;
        fixed (byte* c = config)
        {
            rc = XgbLibrary.Api.BoosterPredictFromDMatrix(lease.Pointer, matrix.Pointer, c, &shape, &dim, &result);
        }

        XgbNative.Check(rc, "XGBoosterPredictFromDMatrix");
        return ((nint)shape, dim, (nint)result);
    }

    private int CheckDense(ReadOnlySpan<float> values, int rows)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        var columns = NumFeatures;
        if ((long)rows * columns != values.Length)
        {
            throw new ArgumentException(
                $"values has {values.Length} entries; {rows} rows × {columns} model features needs {(long)rows * columns}.",
                nameof(values));
        }

        return columns;
    }

    private int ResolveIterationEnd(int? iterationEnd)
    {
        if (iterationEnd is { } end)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(end, nameof(iterationEnd));
            return end;
        }

        return _bestIteration is { } best ? best + 1 : 0;
    }

    private static void CopyOnePerRow(ulong* shape, ulong dim, float* result, int rows, Span<float> destination)
    {
        var total = 1UL;
        for (var i = 0UL; i < dim; i++)
        {
            total *= shape[i];
        }

        if (total != (ulong)rows)
        {
            throw new InvalidOperationException(
                $"The model returned {total} values for {rows} rows; only single-output models (binary:logistic, " +
                "regression) are supported.");
        }

        new ReadOnlySpan<float>(result, rows).CopyTo(destination);
    }

    /// <summary>Forces the learner's lazy configuration now, so that concurrent first predictions do not race on it.</summary>
    private void WarmUp()
    {
        var columns = NumFeatures;
        if (columns == 0 || BoostedRounds == 0)
        {
            return;
        }

        var row = new float[columns];
        row.AsSpan().Fill(float.NaN);
        Span<float> output = stackalloc float[1];
        PredictDense(row, 1, output);
    }

    private static void WriteZ(
        Span<byte> buffer, IFormatProvider provider, [System.Runtime.CompilerServices.InterpolatedStringHandlerArgument("buffer", "provider")] ref Utf8.TryWriteInterpolatedStringHandler handler)
    {
        if (!Utf8.TryWrite(buffer, provider, ref handler, out var written) || written >= buffer.Length)
        {
            throw new InvalidOperationException("Internal error: a libxgboost JSON argument did not fit its buffer.");
        }

        buffer[written] = 0;
    }

    private static int? ParseBestIteration(string? value) =>
        value is null ? null : int.Parse(value, NumberStyles.Integer, CultureInfo.InvariantCulture);

    private static double ParseDouble(string value, string text)
    {
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
        {
            return d;
        }

        return value.ToLowerInvariant() switch
        {
            "nan" or "-nan" => double.NaN,
            "inf" or "+inf" => double.PositiveInfinity,
            "-inf" => double.NegativeInfinity,
            _ => throw new FormatException($"Evaluation value '{value}' is not a number (in '{text}')."),
        };
    }
}
