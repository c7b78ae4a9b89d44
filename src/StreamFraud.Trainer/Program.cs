using StreamFraud.Trainer;
using StreamFraud.Trainer.Cli;

// Thin host: commands live in Commands/, the pipeline in StreamFraud.Training.
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

return await TrainerApp.RunAsync(args, CommandContext.ForProcess(cancel.Token));
