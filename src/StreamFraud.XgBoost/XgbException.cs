namespace StreamFraud.XgBoost;

/// <summary>A libxgboost C API call returned an error; the message is the library's <c>XGBGetLastError()</c> text.</summary>
public sealed class XgbException : Exception
{
    /// <summary>Creates the exception for a failed call.</summary>
    /// <param name="function">The C API function that failed, e.g. <c>XGBoosterUpdateOneIter</c>.</param>
    /// <param name="nativeMessage">The text of <c>XGBGetLastError()</c>.</param>
    public XgbException(string function, string nativeMessage)
        : base($"{function} failed: {nativeMessage}")
    {
        Function = function;
        NativeMessage = nativeMessage;
    }

    /// <summary>The C API function that failed.</summary>
    public string Function { get; }

    /// <summary>The error text libxgboost reported.</summary>
    public string NativeMessage { get; }
}
