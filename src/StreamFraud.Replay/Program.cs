using Spectre.Console;
using StreamFraud.Replay;

// Thin host: the command line is ReplayApp, the flags and the run live in ReplayCommand.cs.
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

var error = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
return await ReplayApp.RunAsync(args, AnsiConsole.Console, error, cancel.Token);
