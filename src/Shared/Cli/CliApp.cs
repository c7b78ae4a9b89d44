using System.ComponentModel;
using System.Reflection;
using System.Text.RegularExpressions;
using Spectre.Console;
using Spectre.Console.Cli;
using Spectre.Console.Cli.Help;
using Spectre.Console.Rendering;

namespace StreamFraud.Cli;

/// <summary>The command line is wrong; the message names the flag and says what to do. Exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>
/// One command-line app on Spectre.Console.Cli, set up the same way for every StreamFraud program: name and description,
/// commands with descriptions and examples, <c>--help</c> on the app and on each command, strict flags, and failures
/// turned into <c>error: …</c> on standard error and an exit code — 0 success, 1 failure, 2 wrong usage, 130 cancelled.
/// </summary>
/// <param name="name">How users start it (the first word of usage lines and examples).</param>
/// <param name="description">One paragraph about it, shown by <c>--help</c>.</param>
internal sealed partial class CliApp(string name, string description)
{
    public const int FailureExitCode = 1;
    public const int UsageExitCode = 2;
    public const int CancelledExitCode = 130;

    private readonly List<Registration> _commands = [];
    private readonly Dictionary<string, string> _branches = new(StringComparer.Ordinal);
    private readonly List<string[]> _examples = [];
    private Action<CommandApp>? _default;

    public string Name { get; } = name;

    /// <summary>The commands as typed after the app name (empty for the default command) and their settings types.</summary>
    public IReadOnlyDictionary<string, Type> Commands => _commands.ToDictionary(c => c.Path, c => c.Settings);

    /// <summary>Printed (as <c>error: …</c>) when Ctrl+C stops a command.</summary>
    public string CancelledMessage { get; init; } = "cancelled";

    /// <summary>Without arguments, print the help on standard error and exit 2 (else run the default command).</summary>
    public bool NoArgumentsIsUsage { get; init; } = true;

    /// <summary>The exit code of an app-specific failure (its message is printed), or null to let it through.</summary>
    public Func<Exception, int?> ExitCodeOf { get; init; } = _ => null;

    /// <summary>Adds a command; a path of two words (<c>models list</c>) puts it in a group added with <see cref="Group"/>.</summary>
    public CliApp Command<TCommand>(string path, string summary, params string[][] examples)
        where TCommand : class, ICommandLimiter<CommandSettings>
    {
        var words = path.Split(' ');
        _commands.Add(new Registration(path, SettingsOf(typeof(TCommand)), words.Length == 1
            ? c => Describe(c.AddCommand<TCommand>(words[0]), summary, examples)
            : null, words.Length == 2 ? b => Describe(b.AddCommand<TCommand>(words[1]), summary, examples) : null));
        return this;
    }

    /// <summary>Adds a group of commands (<c>models</c>).</summary>
    public CliApp Group(string group, string summary)
    {
        _branches[group] = summary;
        return this;
    }

    /// <summary>The app's only command: its flags follow the app name.</summary>
    public CliApp Default<TCommand>()
        where TCommand : class, ICommand
    {
        _commands.Add(new Registration("", SettingsOf(typeof(TCommand)), null, null));
        _default = app => app.SetDefaultCommand<TCommand>().WithDescription(description);
        return this;
    }

    /// <summary>An example for the app's help (arguments after the app name).</summary>
    public CliApp Example(params string[] args)
    {
        _examples.Add(args);
        return this;
    }

    /// <summary>Runs the command line.</summary>
    /// <param name="args">The arguments.</param>
    /// <param name="output">Help and results.</param>
    /// <param name="error">Errors.</param>
    /// <param name="services">Registers what the commands take in their constructors.</param>
    /// <param name="cancellationToken">Ctrl+C.</param>
    public async Task<int> RunAsync(
        IReadOnlyList<string> args, IAnsiConsole output, IAnsiConsole error, Action<ITypeRegistrarFrontend> services, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (args.Count == 0 && NoArgumentsIsUsage)
        {
            await Build(error, services, new Interceptor()).RunAsync(["--help"], cancellationToken).ConfigureAwait(false);
            return UsageExitCode;
        }

        var normalized = Normalize(args);
        var interceptor = new Interceptor();
        try
        {
            var code = await Build(output, services, interceptor).RunAsync(normalized, cancellationToken).ConfigureAwait(false);

            // Spectre prints the help of a group named without a command (`models`) and returns 1: that is wrong usage.
            return interceptor.Ran || code == 0 ? code : UsageExitCode;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Fail(error, CancelledMessage);
            return CancelledExitCode;
        }
        catch (UsageException e)
        {
            return Usage(error, e.Message, normalized);
        }
        catch (CommandRuntimeException e)
        {
            return Usage(error, Explain(e, normalized), normalized);
        }
        catch (Exception e) when (ExitCodeOf(e) is { } code)
        {
            Fail(error, e.Message);
            return code;
        }
    }

    /// <summary>The flag a parameter stands for, as typed (<c>--cards</c>), or its placeholder (<c>VERSION</c>).</summary>
    public static string FlagName(ICommandParameterInfo parameter) => parameter switch
    {
        ICommandOption { LongNames.Count: > 0 } o => "--" + o.LongNames[0],
        ICommandOption o => "-" + o.ShortNames[0],
        ICommandArgument a => a.Value,
        _ => parameter.PropertyName,
    };

    private static void Fail(IAnsiConsole console, string message)
    {
        // The message goes out as plain text, unwrapped, so scripts and narrow terminals see it whole.
        console.Markup("[red]error:[/] ");
        console.Profile.Out.Writer.WriteLine(StreamFraud.Clients.SecretRedactor.Current.Redact(message)); // never a password
    }

    private int Usage(IAnsiConsole error, string message, IReadOnlyList<string> args)
    {
        Fail(error, message);
        var command = Find(args);
        if (!message.Contains("--help", StringComparison.Ordinal))
        {
            error.MarkupLine($"[grey]run '{Markup.Escape(Invocation(command))} --help' for usage[/]");
        }

        return UsageExitCode;
    }

    private string Invocation(Registration? command) => command is null || command.Path.Length == 0 ? Name : $"{Name} {command.Path}";

    private CommandApp Build(IAnsiConsole console, Action<ITypeRegistrarFrontend> services, Interceptor interceptor)
    {
        var app = new CommandApp();
        _default?.Invoke(app);
        app.Configure(c =>
        {
            c.SetApplicationName(Name);
            c.ConfigureConsole(console);
            c.PropagateExceptions();
            c.UseStrictParsing();
            c.ValidateExamples();
            c.SetHelpProvider(new Help(c.Settings, description));
            c.Settings.Registrar.RegisterInstance<ICommandInterceptor, Interceptor>(interceptor);
            services(c.Settings.Registrar);
            foreach (var example in _examples)
            {
                c.AddExample(example);
            }

            foreach (var command in _commands.Where(r => r.AddToRoot is not null))
            {
                command.AddToRoot!(c);
            }

            foreach (var (group, summary) in _branches)
            {
                c.AddBranch(group, b =>
                {
                    b.SetDescription(summary);
                    foreach (var command in _commands.Where(r => r.AddToGroup is not null && r.Path.StartsWith(group + " ", StringComparison.Ordinal)))
                    {
                        command.AddToGroup!(b);
                    }
                });
            }
        });
        return app;
    }

    private static void Describe(ICommandConfigurator command, string summary, string[][] examples)
    {
        command.WithDescription(summary);
        foreach (var example in examples)
        {
            command.WithExample(example);
        }
    }

    private static Type SettingsOf(Type command)
    {
        for (var t = command; t is not null; t = t.BaseType)
        {
            if (t.IsGenericType && t.GetGenericArguments() is [var s] && s.IsSubclassOf(typeof(CommandSettings)))
            {
                return s;
            }
        }

        return typeof(EmptyCommandSettings);
    }

    /// <summary>Spectre reads a lone <c>-</c> as a nameless option; <c>--out -</c> (standard output) becomes
    /// <c>--out=-</c>. <c>help [command]</c> becomes <c>[command] --help</c>.</summary>
    private static List<string> Normalize(IReadOnlyList<string> args)
    {
        var result = new List<string>(args.Count);
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == "-" && result.Count > 0 && result[^1].StartsWith("--", StringComparison.Ordinal) && !result[^1].Contains('=', StringComparison.Ordinal))
            {
                result[^1] += "=-";
                continue;
            }

            result.Add(args[i]);
        }

        if (result.Count > 0 && result[0] == "help")
        {
            result.RemoveAt(0);
            result.Add("--help");
        }

        return result;
    }

    /// <summary>The registered command the arguments start with (the longest match).</summary>
    private Registration? Find(IReadOnlyList<string> args) =>
        _commands.Where(c => c.Path.Length == 0 || StartsWith(args, c.Path.Split(' '))).MaxBy(c => c.Path.Length);

    private static bool StartsWith(IReadOnlyList<string> args, string[] words) =>
        args.Count >= words.Length && words.Select((w, i) => w == args[i]).All(x => x);

    private string CommandList(string? group) => string.Join(", ",
        _commands.Where(c => c.Path.Length > 0 && (group is null || c.Path.StartsWith(group + " ", StringComparison.Ordinal))).Select(c => c.Path));

    /// <summary>Says what is wrong in Spectre's parse and bind errors the way the rest of the app does: the flag
    /// first, then what to do.</summary>
    private string Explain(CommandRuntimeException e, IReadOnlyList<string> args)
    {
        var command = Find(args);
        var help = $"run '{Invocation(command)} --help' for the list";
        var message = e.Message;
        if (e.InnerException is FlagFormatException bad)
        {
            var flag = FailingFlag(command, args, bad);
            return flag is null
                ? $"{bad.Text} is not {bad.Expectation}; {help}"
                : $"{flag.Value.Name} must be {flag.Value.Rule?.Expectation ?? bad.Expectation} (got '{bad.Text}')";
        }

        if (UnknownOption().Match(message) is { Success: true } unknown)
        {
            var dashes = args.Contains("-" + unknown.Groups[1].Value) ? "-" : "--";
            return command is null
                ? $"{dashes}{unknown.Groups[1].Value} comes before a command; commands: {CommandList(null)}"
                : $"unknown flag {dashes}{unknown.Groups[1].Value}; {help}";
        }

        if (UnknownCommand().Match(message) is { Success: true } word)
        {
            var group = _branches.Keys.FirstOrDefault(g => args.Count > 0 && args[0] == g);
            return command is not null ? $"unexpected argument '{word.Groups[1].Value}': flags start with -- ({help})"
                : group is not null ? $"unknown command '{group} {word.Groups[1].Value}'; commands: {CommandList(group)}"
                : $"unknown command '{word.Groups[1].Value}'; commands: {CommandList(null)}";
        }

        if (CouldNotMatch().Match(message) is { Success: true } extra)
        {
            return $"unexpected argument '{extra.Groups[1].Value}': flags start with -- ({help})";
        }

        if (UnexpectedOption().Match(message) is { Success: true } early)
        {
            return $"--{early.Groups[1].Value} comes before a command; commands: {CommandList(null)}";
        }

        if (NoValue().Match(message) is { Success: true } empty)
        {
            return $"--{empty.Groups[1].Value} needs a value";
        }

        if (MissingArgument().Match(message) is { Success: true } missing)
        {
            return $"{missing.Groups[1].Value} is required; run '{Invocation(command)} --help' for usage";
        }

        return message switch
        {
            "Flags cannot be assigned a value." => $"a switch takes no value (--switch, or --switch=true|false); {help}",
            "Option does not have a name." or "Invalid long option name." => $"a flag has no name or a one-letter one (flags look like --name); {help}",
            _ => message.TrimEnd('.'),
        };
    }

    /// <summary>The flag whose text failed to convert: Spectre converts in command-line order, so it is the first
    /// flag given that text whose property uses the converter that failed.</summary>
    private static (string Name, FlagRuleAttribute? Rule)? FailingFlag(Registration? command, IReadOnlyList<string> args, FlagFormatException bad)
    {
        var options = command?.Settings.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => (Property: p, Option: p.GetCustomAttribute<CommandOptionAttribute>()))
            .Where(x => x.Option is not null)
            .ToList() ?? [];
        for (var i = 0; i < args.Count; i++)
        {
            var eq = args[i].IndexOf('=', StringComparison.Ordinal);
            var (flag, value) = eq > 0 ? (args[i][..eq], args[i][(eq + 1)..]) : (args[i], i + 1 < args.Count ? args[i + 1] : null);
            if (!flag.StartsWith("--", StringComparison.Ordinal) || value != bad.Text)
            {
                continue;
            }

            var match = options.FirstOrDefault(x => x.Option!.LongNames.Contains(flag[2..]));
            var converter = match.Property?.GetCustomAttribute<TypeConverterAttribute>()?.ConverterTypeName;
            if (match.Property is null || converter is null || Type.GetType(converter)?.IsAssignableTo(typeof(FlagConverter)) != true)
            {
                continue;
            }

            return (flag, match.Property.GetCustomAttribute<FlagRuleAttribute>());
        }

        return null;
    }

    [GeneratedRegex(@"^Unknown option '(.+)'\.$")]
    private static partial Regex UnknownOption();

    [GeneratedRegex(@"^Unknown command '(.+)'\.$")]
    private static partial Regex UnknownCommand();

    [GeneratedRegex(@"^Could not match '(.+)' with an argument\.$")]
    private static partial Regex CouldNotMatch();

    [GeneratedRegex(@"^Unexpected option '(.+)'\.$")]
    private static partial Regex UnexpectedOption();

    [GeneratedRegex(@"^Option '(.+)' is defined but no value has been provided\.$")]
    private static partial Regex NoValue();

    [GeneratedRegex(@"missing required argument '(.+)'\.$")]
    private static partial Regex MissingArgument();

    private sealed record Registration(string Path, Type Settings, Action<IConfigurator>? AddToRoot, Action<IConfigurator<CommandSettings>>? AddToGroup);

    /// <summary>Runs before every command: refuses a flag given twice (Spectre keeps the last) and records that a
    /// command ran.</summary>
    private sealed class Interceptor : ICommandInterceptor
    {
        public bool Ran { get; private set; }

        public void Intercept(CommandContext context, CommandSettings settings)
        {
            Ran = true;
            var repeatable = settings.GetType().GetProperties()
                .Where(p => p.PropertyType.IsArray)
                .SelectMany(p => p.GetCustomAttribute<CommandOptionAttribute>()?.LongNames ?? [])
                .ToHashSet(StringComparer.Ordinal);
            var given = context.Arguments.TakeWhile(a => a != "--")
                .Where(a => a.StartsWith("--", StringComparison.Ordinal))
                .Select(a => a[2..].Split('=')[0]);
            var twice = given.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1 && !repeatable.Contains(g.Key));
            if (twice is not null)
            {
                throw new UsageException($"--{twice.Key} is given more than once; give it once");
            }
        }

        public void InterceptResult(CommandContext context, CommandSettings settings, ref int result)
        {
        }
    }

    /// <summary>Spectre's help, with the app's description on its own page too (commands have theirs already) and
    /// the app's examples on the page of a single-command app.</summary>
    private sealed class Help(ICommandAppSettings settings, string description) : HelpProvider(settings)
    {
        private readonly Style _header = settings.HelpProviderStyles?.Description?.Header ?? Style.Plain;

        public override IEnumerable<IRenderable> GetDescription(ICommandModel model, ICommandInfo? command) => command is null
            ? [new Rows(new Text("DESCRIPTION:", _header), new Text(description), Text.Empty)]
            : base.GetDescription(model, command);

        public override IEnumerable<IRenderable> GetExamples(ICommandModel model, ICommandInfo? command) =>
            base.GetExamples(model, command is { IsDefaultCommand: true, Examples.Count: 0 } ? null : command);
    }
}
