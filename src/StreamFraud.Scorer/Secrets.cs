using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using StreamFraud.Clients;

namespace StreamFraud.Scorer;

/// <summary>
/// The scorer's console format: one line per entry, a UTC timestamp, level, category, event id, the message and (for
/// the unexpected) the exception — every part passed through <see cref="SecretRedactor.Current"/>: the secrets of the
/// configuration (and of files it names), then credential-shaped text.
/// </summary>
public sealed class RedactingConsoleFormatter() : ConsoleFormatter(FormatterName)
{
    /// <summary>The formatter's registration name.</summary>
    public const string FormatterName = "streamfraud";

    /// <inheritdoc />
    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter?.Invoke(logEntry.State, logEntry.Exception);
        if (message is null && logEntry.Exception is null)
        {
            return;
        }

        var redactor = SecretRedactor.Current;
        var line = $"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fff}Z {Level(logEntry.LogLevel)}: {logEntry.Category}[{logEntry.EventId.Id}] {message}";
        if (logEntry.Exception is { } e)
        {
            line += " " + e.ToString().ReplaceLineEndings(" | ");
        }

        textWriter.WriteLine(redactor.Redact(line.ReplaceLineEndings(" ")));
    }

    private static string Level(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => "none",
    };
}
