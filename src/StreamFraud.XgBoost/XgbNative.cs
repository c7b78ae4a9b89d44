using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Text;

namespace StreamFraud.XgBoost;

/// <summary>
/// libxgboost's C API (<c>include/xgboost/c_api.h</c>) as unmanaged function pointers bound once from the loaded
/// library. <c>bst_ulong</c> is <c>uint64_t</c>; handles are opaque pointers. Every function returns 0 on success and
/// -1 on failure, with the reason in the calling thread's <c>XGBGetLastError()</c>; <see cref="Check"/> turns that
/// into an <see cref="XgbException"/>. Output pointers (<c>out_result</c>, <c>out_dptr</c>) point into per-thread,
/// per-booster storage that the next call on the same thread overwrites, so callers copy them out immediately.
/// </summary>
internal static unsafe class XgbNative
{
    internal sealed class Api
    {
        public required string LoadedFrom { get; init; }
        public required Version Version { get; init; }
        public required delegate* unmanaged<byte*> GetLastError { get; init; }
        public required delegate* unmanaged<float*, ulong, ulong, float, nint*, int, int> DMatrixCreateFromMatOmp { get; init; }
        public required delegate* unmanaged<nint, int> DMatrixFree { get; init; }
        public required delegate* unmanaged<nint, byte*, float*, ulong, int> DMatrixSetFloatInfo { get; init; }
        public required delegate* unmanaged<nint, byte*, ulong*, float**, int> DMatrixGetFloatInfo { get; init; }
        public required delegate* unmanaged<nint, ulong*, int> DMatrixNumRow { get; init; }
        public required delegate* unmanaged<nint, ulong*, int> DMatrixNumCol { get; init; }
        public required delegate* unmanaged<nint*, ulong, nint*, int> BoosterCreate { get; init; }
        public required delegate* unmanaged<nint, int> BoosterFree { get; init; }
        public required delegate* unmanaged<nint, byte*, byte*, int> BoosterSetParam { get; init; }
        public required delegate* unmanaged<nint, int, nint, int> BoosterUpdateOneIter { get; init; }
        public required delegate* unmanaged<nint, int, nint*, byte**, ulong, byte**, int> BoosterEvalOneIter { get; init; }
        public required delegate* unmanaged<nint, nint, byte*, ulong**, ulong*, float**, int> BoosterPredictFromDMatrix { get; init; }
        public required delegate* unmanaged<nint, byte*, byte*, nint, ulong**, ulong*, float**, int> BoosterPredictFromDense { get; init; }
        public required delegate* unmanaged<nint, byte*, ulong*, byte**, int> BoosterSaveModelToBuffer { get; init; }
        public required delegate* unmanaged<nint, void*, ulong, int> BoosterLoadModelFromBuffer { get; init; }
        public required delegate* unmanaged<nint, ulong*, byte**, int> BoosterSaveJsonConfig { get; init; }
        public required delegate* unmanaged<nint, ulong*, int> BoosterGetNumFeature { get; init; }
        public required delegate* unmanaged<nint, int*, int> BoosterBoostedRounds { get; init; }
        public required delegate* unmanaged<nint, byte*, byte**, int*, int> BoosterGetAttr { get; init; }
        public required delegate* unmanaged<nint, byte*, byte*, int> BoosterSetAttr { get; init; }

        /// <summary>Binds every function this binding uses, failing with the missing name and the library's version.</summary>
        public static Api Bind(nint library, string loadedFrom, Version minimumVersion)
        {
            var version = ReadVersion(library, loadedFrom);
            if (version < minimumVersion)
            {
                throw new NotSupportedException(
                    $"{loadedFrom} is XGBoost {version}; StreamFraud needs XGBoost >= {minimumVersion} (Debian 12's " +
                    $"libxgboost0 or a newer pip xgboost wheel via {XgbLibrary.PathEnvironmentVariable}).");
            }

            nint Get(string name) => NativeLibrary.TryGetExport(library, name, out var p)
                ? p
                : throw new EntryPointNotFoundException($"{loadedFrom} (XGBoost {version}) does not export {name}.");

            return new Api
            {
                LoadedFrom = loadedFrom,
                Version = version,
                GetLastError = (delegate* unmanaged<byte*>)Get("XGBGetLastError"),
                DMatrixCreateFromMatOmp =
                    (delegate* unmanaged<float*, ulong, ulong, float, nint*, int, int>)Get("XGDMatrixCreateFromMat_omp"),
                DMatrixFree = (delegate* unmanaged<nint, int>)Get("XGDMatrixFree"),
                DMatrixSetFloatInfo = (delegate* unmanaged<nint, byte*, float*, ulong, int>)Get("XGDMatrixSetFloatInfo"),
                DMatrixGetFloatInfo = (delegate* unmanaged<nint, byte*, ulong*, float**, int>)Get("XGDMatrixGetFloatInfo"),
                DMatrixNumRow = (delegate* unmanaged<nint, ulong*, int>)Get("XGDMatrixNumRow"),
                DMatrixNumCol = (delegate* unmanaged<nint, ulong*, int>)Get("XGDMatrixNumCol"),
                BoosterCreate = (delegate* unmanaged<nint*, ulong, nint*, int>)Get("XGBoosterCreate"),
                BoosterFree = (delegate* unmanaged<nint, int>)Get("XGBoosterFree"),
                BoosterSetParam = (delegate* unmanaged<nint, byte*, byte*, int>)Get("XGBoosterSetParam"),
                BoosterUpdateOneIter = (delegate* unmanaged<nint, int, nint, int>)Get("XGBoosterUpdateOneIter"),
                BoosterEvalOneIter =
                    (delegate* unmanaged<nint, int, nint*, byte**, ulong, byte**, int>)Get("XGBoosterEvalOneIter"),
                BoosterPredictFromDMatrix =
                    (delegate* unmanaged<nint, nint, byte*, ulong**, ulong*, float**, int>)Get("XGBoosterPredictFromDMatrix"),
                BoosterPredictFromDense =
                    (delegate* unmanaged<nint, byte*, byte*, nint, ulong**, ulong*, float**, int>)Get("XGBoosterPredictFromDense"),
                BoosterSaveModelToBuffer =
                    (delegate* unmanaged<nint, byte*, ulong*, byte**, int>)Get("XGBoosterSaveModelToBuffer"),
                BoosterLoadModelFromBuffer =
                    (delegate* unmanaged<nint, void*, ulong, int>)Get("XGBoosterLoadModelFromBuffer"),
                BoosterSaveJsonConfig = (delegate* unmanaged<nint, ulong*, byte**, int>)Get("XGBoosterSaveJsonConfig"),
                BoosterGetNumFeature = (delegate* unmanaged<nint, ulong*, int>)Get("XGBoosterGetNumFeature"),
                BoosterBoostedRounds = (delegate* unmanaged<nint, int*, int>)Get("XGBoosterBoostedRounds"),
                BoosterGetAttr = (delegate* unmanaged<nint, byte*, byte**, int*, int>)Get("XGBoosterGetAttr"),
                BoosterSetAttr = (delegate* unmanaged<nint, byte*, byte*, int>)Get("XGBoosterSetAttr"),
            };
        }

        private static Version ReadVersion(nint library, string loadedFrom)
        {
            if (!NativeLibrary.TryGetExport(library, "XGBoostVersion", out var p))
            {
                throw new EntryPointNotFoundException(
                    $"{loadedFrom} does not export XGBoostVersion; it is not libxgboost or is older than 1.0.");
            }

            int major, minor, patch;
            ((delegate* unmanaged<int*, int*, int*, void>)p)(&major, &minor, &patch);
            return new Version(major, minor, patch);
        }
    }

    /// <summary>Throws an <see cref="XgbException"/> carrying <c>XGBGetLastError()</c> when <paramref name="rc"/> is non-zero.</summary>
    public static void Check(int rc, string function)
    {
        if (rc != 0)
        {
            Throw(function);
        }
    }

    [DoesNotReturn]
    private static void Throw(string function)
    {
        var message = Marshal.PtrToStringUTF8((nint)XgbLibrary.Api.GetLastError());
        throw new XgbException(function, string.IsNullOrWhiteSpace(message) ? "(no error text)" : message.Trim());
    }

    /// <summary>NUL-terminated UTF-8 bytes of <paramref name="value"/> for a <c>char const*</c> argument.</summary>
    public static byte[] Utf8Z(string value)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(value) + 1];
        Encoding.UTF8.GetBytes(value, bytes);
        return bytes;
    }

    /// <summary>Copies a NUL-terminated UTF-8 string owned by libxgboost.</summary>
    public static string? FromUtf8Z(byte* value) => value == null ? null : Marshal.PtrToStringUTF8((nint)value);
}

/// <summary>Base for handles to objects that libxgboost allocated and must free.</summary>
internal abstract class XgbHandle : SafeHandle
{
    protected XgbHandle() : base(nint.Zero, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == nint.Zero;

    /// <summary>Keeps the handle alive (not freed by a concurrent Dispose) for the duration of a native call.</summary>
    public Lease Acquire() => new(this);

    internal void Set(nint value) => SetHandle(value);

    /// <summary>A reference held on a <see cref="SafeHandle"/> while its raw pointer is in use.</summary>
    internal ref struct Lease
    {
        private readonly SafeHandle _owner;
        private bool _added;

        public Lease(SafeHandle owner)
        {
            _owner = owner;
            _added = false;
            owner.DangerousAddRef(ref _added);
            Pointer = owner.DangerousGetHandle();
        }

        public nint Pointer { get; }

        public void Dispose()
        {
            if (_added)
            {
                _added = false;
                _owner.DangerousRelease();
            }
        }
    }
}

/// <summary>A <c>DMatrixHandle</c>.</summary>
internal sealed unsafe class DMatrixHandle : XgbHandle
{
    protected override bool ReleaseHandle() => XgbLibrary.Api.DMatrixFree(handle) == 0;
}

/// <summary>A <c>BoosterHandle</c>.</summary>
internal sealed unsafe class BoosterHandle : XgbHandle
{
    protected override bool ReleaseHandle() => XgbLibrary.Api.BoosterFree(handle) == 0;
}
