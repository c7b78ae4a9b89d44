using StreamFraud.Clients;
using StreamFraud.Scorer;

// Thin host: everything is registered in ScorerHost.cs. Configuration: appsettings.json, STREAMFRAUD_* environment
// variables (double underscore for ':'), then command-line --Section:Key value.
if (args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(ScorerHost.Help);
    return 0;
}

var builder = WebApplication.CreateSlimBuilder(args);
builder.Configuration.AddEnvironmentVariables("STREAMFRAUD_").AddCommandLine(args);
// Credentials never reach the console: every log line and error message passes through the redactor.
SecretRedactor.Current = SecretRedactor.FromConfiguration(builder.Configuration.AsEnumerable());
// One line per entry with a UTC timestamp; probes and scrapes (ASP.NET's per-request lines) are not logged.
builder.Logging.ClearProviders()
    .AddConsole(o => o.FormatterName = RedactingConsoleFormatter.FormatterName)
    .AddConsoleFormatter<RedactingConsoleFormatter, Microsoft.Extensions.Logging.Console.ConsoleFormatterOptions>();
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
try
{
    builder.AddScorer();
}
catch (ScorerConfigurationException e)
{
    Console.Error.WriteLine($"error: {SecretRedactor.Current.Redact(e.Message)}");
    return 2;
}

// Exit codes: 0 after a requested stop; 2 for a configuration or startup problem that a restart alone does not fix
// (bad settings, no servable bundle, Redis unreachable at start); 1 for an unexpected error, which the orchestrator
// answers by restarting the process. Never 0 after an error (README "Operations").
WebApplication app;
try
{
    app = builder.Build();
    // Fail fast, before consuming anything: the serving bundle loads and verifies, Redis answers.
    app.Services.GetRequiredService<ScorerResources>();
}
catch (ScorerConfigurationException e)
{
    Console.Error.WriteLine($"error: {SecretRedactor.Current.Redact(e.Message)}");
    return 2;
}
catch (Exception e)
{
    Console.Error.WriteLine($"error: the scorer could not start: {SecretRedactor.Current.Redact(e.ToString())}");
    return 1;
}

try
{
    app.MapScorerEndpoints();
    await app.RunAsync();
}
catch (Exception e) when (e is not OperationCanceledException)
{
    Console.Error.WriteLine($"error: the scorer stopped on an unexpected error: {SecretRedactor.Current.Redact(e.ToString())}");
    return 1;
}

return Environment.ExitCode; // 1 when the scoring loop or the bundle watcher stopped on an unexpected error
