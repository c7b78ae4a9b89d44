using System.Globalization;
using Spectre.Console;
using StreamFraud.Core.Features;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Trainer.Cli;
using StreamFraud.Training.Pipeline;

namespace StreamFraud.Trainer.Commands;

/// <summary><c>models list</c>: the registry's versions, dates, key test metrics, and which is current.</summary>
public sealed class ModelsListCommand : ICommand
{
    /// <inheritdoc/>
    public string Name => "models list";

    /// <inheritdoc/>
    public string Summary => "List the registry's bundles with their test metrics; marks the current and previous one.";

    /// <inheritdoc/>
    public IReadOnlySet<string> Switches { get; } = new HashSet<string>(StringComparer.Ordinal);

    /// <inheritdoc/>
    public IReadOnlyList<FlagHelp> Flags { get; } =
        [new("registry", "DIR", "Required. Model registry directory.")];

    /// <inheritdoc/>
    public IReadOnlyList<string> Examples { get; } = ["StreamFraud.Trainer models list --registry models"];

    /// <inheritdoc/>
    public Task<int> RunAsync(CommandArgs args, CommandContext context)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(context);
        var registry = ModelsCommandHelpers.OpenRegistry(args, Name);
        var entries = RegistryCatalog.List(registry);
        if (entries.Count == 0)
        {
            context.Output.WriteLine($"no bundles in {registry.Directory}; train one with 'train --input FILE --registry {registry.Directory}'");
            return Task.FromResult(0);
        }

        var table = new Table().AddColumns("version", "created (UTC)", "status", "spec", "trained on", "test AP", "test ROC-AUC", "card P@100", "cost_min thr");
        foreach (var e in entries)
        {
            var status = e.IsCurrent ? "[green bold]current[/]" : e.IsPrevious ? "previous" : "";
            if (e.Problem is not null)
            {
                table.AddRow(new Text(e.Version), new Text(""), new Markup(status), new Markup($"[red]{Markup.Escape(e.Problem)}[/]"),
                    new Text(""), new Text(""), new Text(""), new Text(""), new Text(""));
                continue;
            }

            table.AddRow(
                new Text(e.Version),
                new Text(e.CreatedAt?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? ""),
                new Markup(status),
                new Text(e.Spec ?? ""),
                new Text(e.Source ?? ""),
                new Text(F(e.TestAveragePrecision)),
                new Text(F(e.TestRocAuc)),
                new Text(F(e.TestCardPrecisionAt100)),
                new Text(e.CostMinThreshold is { } t && double.IsPositiveInfinity(t) ? "∞" : F(e.CostMinThreshold, 6)));
        }

        foreach (var column in table.Columns.Skip(5))
        {
            column.RightAligned();
        }

        context.Output.Write(table);
        if (entries.All(e => !e.IsCurrent))
        {
            context.Output.WriteLine("no version is current; 'models promote VERSION' makes one current");
        }

        return Task.FromResult(0);
    }

    private static string F(double? value, int digits = 4) =>
        value is not { } v ? "–" : double.IsNaN(v) ? "n/a" : v.ToString("0." + new string('0', digits), CultureInfo.InvariantCulture);
}

/// <summary><c>models promote VERSION</c>: verifies the bundle as a scorer would, then makes it current.</summary>
public sealed class ModelsPromoteCommand : ICommand
{
    /// <inheritdoc/>
    public string Name => "models promote";

    /// <inheritdoc/>
    public string Summary => "Verify a published bundle (checksums, spec, golden windows) and make it current.";

    /// <inheritdoc/>
    public IReadOnlySet<string> Switches { get; } = new HashSet<string>(StringComparer.Ordinal);

    /// <inheritdoc/>
    public IReadOnlyList<FlagHelp> Flags { get; } =
    [
        new("VERSION", "", "Required. The version to make current (see 'models list')."),
        new("registry", "DIR", "Required. Model registry directory."),
    ];

    /// <inheritdoc/>
    public IReadOnlyList<string> Examples { get; } = ["StreamFraud.Trainer models promote 20261129-074512-3fa2c1 --registry models"];

    /// <inheritdoc/>
    public Task<int> RunAsync(CommandArgs args, CommandContext context)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(context);
        var registry = ModelsCommandHelpers.OpenRegistry(args, Name);
        args.RejectUnknown(Name, positionals: 1);
        if (args.Positionals.Count == 0)
        {
            throw new UsageException($"name the version to promote, e.g. 'models promote VERSION --registry {registry.Directory}' (see 'models list')");
        }

        var version = args.Positionals[0];
        if (!registry.Versions().Contains(version))
        {
            var known = registry.Versions();
            throw new TrainingException(
                $"no bundle '{version}' in {registry.Directory}; published: {(known.Count == 0 ? "none" : string.Join(", ", known))}");
        }

        // The scorer refuses a bad bundle anyway; refusing it here keeps current.json pointing at something servable.
        var directory = registry.PathOf(version);
        var manifest = BundleManifest.Read(Path.Combine(directory, BundleManifest.FileName));
        if (!FeatureSpec.TryResolve(manifest.FeatureSpec.Name, manifest.FeatureSpec.Version, out var spec, out var error))
        {
            throw new TrainingException($"bundle {version} cannot be served by this build: {error}");
        }

        using (ModelBundle.Load(directory, spec, new BundleLoadOptions { WarmupBatch = 0 }))
        {
        }

        var pointer = registry.Promote(version, "models promote");
        context.Output.MarkupLine($"[bold green]current[/] {Markup.Escape(pointer.Version)} (previous: {Markup.Escape(pointer.Previous ?? "none")})");
        return Task.FromResult(0);
    }
}

/// <summary><c>models rollback</c>: makes the previous version current again.</summary>
public sealed class ModelsRollbackCommand : ICommand
{
    /// <inheritdoc/>
    public string Name => "models rollback";

    /// <inheritdoc/>
    public string Summary => "Make the previous version current again (atomically replaces current.json).";

    /// <inheritdoc/>
    public IReadOnlySet<string> Switches { get; } = new HashSet<string>(StringComparer.Ordinal);

    /// <inheritdoc/>
    public IReadOnlyList<FlagHelp> Flags { get; } = [new("registry", "DIR", "Required. Model registry directory.")];

    /// <inheritdoc/>
    public IReadOnlyList<string> Examples { get; } = ["StreamFraud.Trainer models rollback --registry models"];

    /// <inheritdoc/>
    public Task<int> RunAsync(CommandArgs args, CommandContext context)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(context);
        var registry = ModelsCommandHelpers.OpenRegistry(args, Name);
        args.RejectUnknown(Name);
        var before = registry.ReadCurrent();
        CurrentPointer pointer;
        try
        {
            pointer = registry.Rollback();
        }
        catch (Exception e) when (e is InvalidOperationException or DirectoryNotFoundException)
        {
            throw new TrainingException($"cannot roll back: {e.Message}", e);
        }

        context.Output.MarkupLine(
            $"[bold green]current[/] {Markup.Escape(pointer.Version)} (rolled back from {Markup.Escape(before?.Version ?? "?")}; previous: {Markup.Escape(pointer.Previous ?? "none")})");
        return Task.FromResult(0);
    }
}

/// <summary>Shared argument handling of the <c>models</c> commands.</summary>
internal static class ModelsCommandHelpers
{
    public static BundleRegistry OpenRegistry(CommandArgs args, string command)
    {
        var path = args.Required("registry", "models");
        if (!Directory.Exists(path))
        {
            throw new TrainingException($"--registry {path}: no such directory; 'train --registry {path}' creates it");
        }

        _ = command;
        return new BundleRegistry(path);
    }
}
