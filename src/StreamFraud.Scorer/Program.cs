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
SecretRedactor.Current = SecretRedactor.FromConfiguration(builder.Configuration);
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

var app = builder.Build();
try
{
    // Fail fast, before consuming anything: the serving bundle loads and verifies, Redis answers.
    app.Services.GetRequiredService<ScorerResources>();
}
catch (ScorerConfigurationException e)
{
    Console.Error.WriteLine($"error: {SecretRedactor.Current.Redact(e.Message)}");
    return 2;
}

app.MapScorerEndpoints();
await app.RunAsync();
return Environment.ExitCode; // 1 when the scoring loop stopped on an unexpected error
