using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;
using StreamFraud.Core.Features;
using StreamFraud.Scoring.Bundles;
using StreamFraud.Training.Pipeline;

namespace StreamFraud.Trainer.Commands;

/// <summary>The flags of the <c>models</c> commands.</summary>
public class RegistrySettings : CommandSettings
{
    /// <summary><c>--registry</c>.</summary>
    [CommandOption("--registry <DIR>")]
    [Description("Required. Model registry directory.")]
    public string? Registry { get; init; }

    /// <inheritdoc/>
    public override ValidationResult Validate() => Registry is null
        ? ValidationResult.Error("--registry is required (e.g. --registry models)")
        : ValidationResult.Success();

    /// <summary>The registry; a missing directory is a <see cref="TrainingException"/>.</summary>
    public BundleRegistry Open() => Directory.Exists(Registry)
        ? new BundleRegistry(Registry)
        : throw new TrainingException($"--registry {Registry}: no such directory; 'train --registry {Registry}' creates it");
}

/// <summary>The arguments of <c>models promote</c>.</summary>
public sealed class PromoteSettings : RegistrySettings
{
    /// <summary>The version to make current.</summary>
    [CommandArgument(0, "<VERSION>")]
    [Description("The version to make current (see 'models list').")]
    public string Version { get; init; } = "";
}

/// <summary><c>models list</c>: the registry's versions, dates, key test metrics, and which is current.</summary>
/// <param name="console">Where the table goes.</param>
public sealed class ModelsListCommand(IAnsiConsole console) : Command<RegistrySettings>
{
    /// <inheritdoc/>
    public override int Execute(CommandContext context, RegistrySettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var registry = settings.Open();
        var entries = RegistryCatalog.List(registry);
        if (entries.Count == 0)
        {
            console.WriteLine($"no bundles in {registry.Directory}; train one with 'train --input FILE --registry {registry.Directory}'");
            return 0;
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

        console.Write(table);
        if (entries.All(e => !e.IsCurrent))
        {
            console.WriteLine("no version is current; 'models promote VERSION' makes one current");
        }

        return 0;
    }

    private static string F(double? value, int digits = 4) =>
        value is not { } v ? "–" : double.IsNaN(v) ? "n/a" : v.ToString("0." + new string('0', digits), CultureInfo.InvariantCulture);
}

/// <summary><c>models promote VERSION</c>: verifies the bundle as a scorer would, then makes it current.</summary>
/// <param name="console">Where the result goes.</param>
public sealed class ModelsPromoteCommand(IAnsiConsole console) : Command<PromoteSettings>
{
    /// <inheritdoc/>
    public override int Execute(CommandContext context, PromoteSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var registry = settings.Open();
        var version = settings.Version;
        if (BundleNames.Problem(version) is { } nameProblem)
        {
            throw new TrainingException($"version {nameProblem}; see 'models list' for the published versions");
        }

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

        CurrentPointer pointer;
        using (var verified = ModelBundle.Load(directory, spec, new BundleLoadOptions { WarmupBatch = 0 }))
        {
            // The digest of the manifest bytes just verified, not of a second read: what the scorer will accept is
            // exactly what was checked here.
            pointer = registry.Promote(version, "models promote", verified.ManifestSha256);
        }

        console.MarkupLine($"[bold green]current[/] {Markup.Escape(pointer.Version)} (previous: {Markup.Escape(pointer.Previous ?? "none")})");
        return 0;
    }
}

/// <summary><c>models rollback</c>: makes the previous version current again.</summary>
/// <param name="console">Where the result goes.</param>
public sealed class ModelsRollbackCommand(IAnsiConsole console) : Command<RegistrySettings>
{
    /// <inheritdoc/>
    public override int Execute(CommandContext context, RegistrySettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var registry = settings.Open();
        var before = registry.ReadCurrent();
        CurrentPointer pointer;
        try
        {
            pointer = registry.Rollback();
        }
        catch (Exception e) when (e is InvalidOperationException or DirectoryNotFoundException or ArgumentException)
        {
            throw new TrainingException($"cannot roll back: {e.Message}", e); // ArgumentException: current.json's previous is not a plain name
        }

        console.MarkupLine(
            $"[bold green]current[/] {Markup.Escape(pointer.Version)} (rolled back from {Markup.Escape(before?.Version ?? "?")}; previous: {Markup.Escape(pointer.Previous ?? "none")})");
        return 0;
    }
}
