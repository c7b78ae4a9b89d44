using System.Reflection;
using Spectre.Console;
using Spectre.Console.Cli;

namespace StreamFraud.Tests.Shared;

/// <summary>
/// What the command-line tests of every app need: a plain captured console, settings bound exactly as the app binds
/// them, and the flags a settings class declares. Linked into each test project that tests a command line.
/// </summary>
internal static class CliTestKit
{
    /// <summary>A console writing plain text (no colours, no ANSI, wide) to <paramref name="writer"/>.</summary>
    public static IAnsiConsole Console(TextWriter writer)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 250;
        return console;
    }

    /// <summary>Binds and validates <typeparamref name="T"/> from <paramref name="args"/> as the app would.</summary>
    public static T Parse<T>(params string[] args)
        where T : CommandSettings
    {
        T? bound = null;
        var app = new CommandApp();
        app.Configure(c =>
        {
            c.PropagateExceptions();
            c.AddDelegate<T>("parse", (_, settings, _) =>
            {
                bound = settings;
                return 0;
            });
        });
        Assert.Equal(0, app.Run(["parse", .. args]));
        return bound!;
    }

    /// <summary>The long flag names (<c>--name</c>) a settings class declares.</summary>
    public static IEnumerable<string> Flags(Type settings) => settings.GetProperties()
        .Select(p => p.GetCustomAttribute<CommandOptionAttribute>())
        .OfType<CommandOptionAttribute>()
        .Select(o => "--" + o.LongNames[0]);
}
