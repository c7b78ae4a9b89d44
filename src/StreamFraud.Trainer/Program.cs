using Spectre.Console;
using StreamFraud.Trainer;

// Thin host: the command line is TrainerApp, the commands live in Commands/, the pipeline in StreamFraud.Training.
// libxgboost's OpenMP threads spin while idle by default, which halves throughput on a few shared cores; libgomp reads
// this when libxgboost is first loaded, which is after this line.
if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null)
{
    Environment.SetEnvironmentVariable("OMP_WAIT_POLICY", "passive");
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

// Spectre assumes 80 columns when output goes to a file or pipe, which wraps the metric tables.
const int redirectedWidth = 160;
var output = AnsiConsole.Console;
if (Console.IsOutputRedirected)
{
    output.Profile.Width = redirectedWidth;
}

var error = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
if (Console.IsErrorRedirected)
{
    error.Profile.Width = redirectedWidth;
}

return await TrainerApp.RunAsync(args, output, error, cancel.Token);
