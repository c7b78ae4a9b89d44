using Spectre.Console;
using StreamFraud.Inspect;

// Thin host: the command line is InspectApp, the commands live in Commands/, reading in TopicReader.
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

var error = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
return await InspectApp.RunAsync(args, AnsiConsole.Console, error, cancel.Token);
