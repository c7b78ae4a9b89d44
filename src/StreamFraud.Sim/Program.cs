using StreamFraud.Sim.Cli;
using StreamFraud.Sim.Commands;

// Thin host: commands live in Commands/, the simulation in Generation/. A new command (e.g. produce) is one more
// entry in this list.
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

var app = new CommandLineApp(
    "StreamFraud.Sim",
    "StreamFraud transaction simulator: a deterministic card portfolio with labelled fraud scenarios.",
    [new GenerateCommand(), new ProduceCommand()]);
return await app.RunAsync(args, CommandContext.ForProcess(cancel.Token));
