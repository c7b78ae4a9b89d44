using Spectre.Console;
using StreamFraud.Sim;

// Thin host: the command line is SimApp, the commands live in Commands/, the simulation in Generation/.
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

var error = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
return await SimApp.RunAsync(args, AnsiConsole.Console, error, Console.OpenStandardOutput, cancel.Token);
