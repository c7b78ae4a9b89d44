using Spectre.Console;
using StreamFraud.Replay;

// Thin host: parsing and the run live in ReplayCommand.cs.
if (args.Length == 0 || args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine(ReplayArgs.Help);
    return args.Length == 0 ? 2 : 0;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

try
{
    await ReplayCommand.RunAsync(ReplayArgs.Parse(args), AnsiConsole.Console, cancel.Token);
    return 0;
}
catch (ReplayUsageException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
catch (OperationCanceledException)
{
    Console.Error.WriteLine("cancelled");
    return 130;
}
