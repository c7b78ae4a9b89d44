using Spectre.Console;

namespace StreamFraud.Sim.Commands;

/// <summary>What the commands write to: consoles for reports, raw standard output for data.</summary>
/// <param name="Output">Console for reports (standard output).</param>
/// <param name="Error">Console for errors, and for reports when data goes to standard output.</param>
/// <param name="OpenStandardOutput">Opens standard output as a byte stream (for <c>--out -</c>).</param>
public sealed record CommandConsoles(IAnsiConsole Output, IAnsiConsole Error, Func<Stream> OpenStandardOutput);
