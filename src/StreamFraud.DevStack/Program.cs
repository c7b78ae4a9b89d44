using System.Runtime.InteropServices;
using Spectre.Console;
using StreamFraud.DevStack;

// Thin host: the command line and the run live in DevStackApp.cs, the stack in LocalStack.cs.
using var stop = new CancellationTokenSource();
void OnSignal(PosixSignalContext context)
{
    context.Cancel = true; // we shut down ourselves, cleanly
    stop.Cancel();
}

using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);

var error = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
return await DevStackApp.RunAsync(args, AnsiConsole.Console, error, stop.Token);
