using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace StreamFraud.DevStack.SchemaRegistry;

/// <summary>
/// DEVELOPMENT STAND-IN for Confluent Schema Registry: an ASP.NET Core minimal API on 127.0.0.1 that speaks the REST
/// subset Confluent.SchemaRegistry's client uses (register, look up, schema by id, subjects and versions,
/// compatibility config and checks), with Confluent's error shape (<c>{"error_code":40401,"message":...}</c>).
/// Not for production: no persistence, no authentication, no schema references, no contexts, no deletes, no
/// normalisation beyond Avro parsing. Production uses the real registry (docker-compose.yml).
/// </summary>
public sealed class InProcessSchemaRegistry : IAsyncDisposable
{
    private const string ContentType = "application/vnd.schemaregistry.v1+json";
    private readonly WebApplication _app;

    private InProcessSchemaRegistry(WebApplication app, SchemaStore store, string url)
    {
        _app = app;
        Store = store;
        Url = url;
    }

    /// <summary>Base URL, e.g. <c>http://127.0.0.1:8081</c>.</summary>
    public string Url { get; }

    /// <summary>The registry's state (for tests and diagnostics).</summary>
    public SchemaStore Store { get; }

    /// <summary>Starts the registry on 127.0.0.1:<paramref name="port"/> (0: a free port).</summary>
    /// <exception cref="IOException">The port is taken; the message names it.</exception>
    public static async Task<InProcessSchemaRegistry> StartAsync(int port = 0, ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (loggerFactory is not null)
        {
            builder.Services.AddSingleton(loggerFactory);
        }

        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, port));
        var store = new SchemaStore();
        var app = builder.Build();
        MapRoutes(app, store, loggerFactory?.CreateLogger<InProcessSchemaRegistry>());
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new IOException($"Schema Registry cannot listen on 127.0.0.1:{port}: {e.Message}. Choose another port.", e);
        }

        var address = app.Urls.First().Replace("localhost", "127.0.0.1", StringComparison.Ordinal);
        return new InProcessSchemaRegistry(app, store, address.TrimEnd('/'));
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private static void MapRoutes(IEndpointRouteBuilder app, SchemaStore store, ILogger? log)
    {
        app.MapPost("/subjects/{subject}/versions", async (string subject, HttpRequest request) =>
        {
            var (body, bad) = await ReadSchemaBody(request).ConfigureAwait(false);
            if (bad is not null)
            {
                return bad;
            }

            var (id, error) = store.Register(subject, body!.Value.Schema, body.Value.Type);
            return error is not null ? Error(error) : Json(new { id });
        });

        app.MapPost("/subjects/{subject}", async (string subject, HttpRequest request) =>
        {
            var (body, bad) = await ReadSchemaBody(request).ConfigureAwait(false);
            if (bad is not null)
            {
                return bad;
            }

            var (found, error) = store.Lookup(subject, body!.Value.Schema, body.Value.Type);
            return error is not null ? Error(error) : Json(Version(found!));
        });

        app.MapGet("/schemas/ids/{id:int}", (int id) =>
            store.GetById(id) is { } s
                ? Json(s.Type == "AVRO" ? new Dictionary<string, object> { ["schema"] = s.Schema } : new() { ["schema"] = s.Schema, ["schemaType"] = s.Type })
                : Error(new RegistryError(404, 40403, $"Schema {id} not found")));

        app.MapGet("/schemas/ids/{id:int}/schema", (int id) =>
            store.GetById(id) is { } s ? Results.Text(s.Schema, ContentType) : Error(new RegistryError(404, 40403, $"Schema {id} not found")));

        app.MapGet("/schemas/ids/{id:int}/versions", (int id) =>
            Json(store.UsagesOf(id).Select(r => new { subject = r.Subject, version = r.Version })));

        app.MapGet("/subjects", () => Json(store.Subjects()));

        app.MapGet("/subjects/{subject}/versions", (string subject) =>
        {
            var (versions, error) = store.Versions(subject);
            return error is not null ? Error(error) : Json(versions);
        });

        app.MapGet("/subjects/{subject}/versions/{version}", (string subject, string version) =>
        {
            var (found, error) = store.GetVersion(subject, version);
            return error is not null ? Error(error) : Json(Version(found!));
        });

        app.MapGet("/subjects/{subject}/versions/{version}/schema", (string subject, string version) =>
        {
            var (found, error) = store.GetVersion(subject, version);
            return error is not null ? Error(error) : Results.Text(found!.Schema, ContentType);
        });

        app.MapPost("/compatibility/subjects/{subject}/versions/{version}", async (string subject, string version, HttpRequest request) =>
        {
            var (body, bad) = await ReadSchemaBody(request).ConfigureAwait(false);
            if (bad is not null)
            {
                return bad;
            }

            var (compatible, messages, error) = store.CheckCompatibility(subject, version, body!.Value.Schema, body.Value.Type);
            return error is not null ? Error(error) : Json(new { is_compatible = compatible, messages });
        });

        app.MapGet("/config", () => Json(new { compatibilityLevel = SchemaStore.Name(store.GlobalLevel) }));
        app.MapPut("/config", async (HttpRequest request) =>
        {
            var (level, bad) = await ReadLevel(request).ConfigureAwait(false);
            if (bad is not null)
            {
                return bad;
            }

            store.GlobalLevel = level;
            return Json(new { compatibility = SchemaStore.Name(level) });
        });

        app.MapGet("/config/{subject}", (string subject) => Json(new { compatibilityLevel = SchemaStore.Name(store.LevelFor(subject)) }));
        app.MapPut("/config/{subject}", async (string subject, HttpRequest request) =>
        {
            var (level, bad) = await ReadLevel(request).ConfigureAwait(false);
            if (bad is not null)
            {
                return bad;
            }

            store.SetLevel(subject, level);
            return Json(new { compatibility = SchemaStore.Name(level) });
        });

        // Anything else: say so in Confluent's shape, and log it, so a client feature this stand-in lacks is visible.
        app.MapFallback((HttpContext context) =>
        {
            log?.LogWarning("Schema Registry stand-in has no route for {Method} {Path}", context.Request.Method, context.Request.Path);
            return Error(new RegistryError(404, 404,
                $"The development Schema Registry does not implement {context.Request.Method} {context.Request.Path}; use the real registry for this call."));
        });
    }

    private static async Task<((string Schema, string Type)? Body, IResult? Bad)> ReadSchemaBody(HttpRequest request)
    {
        try
        {
            using var doc = await JsonDocument.ParseAsync(request.Body).ConfigureAwait(false);
            if (!doc.RootElement.TryGetProperty("schema", out var schema) || schema.ValueKind != JsonValueKind.String)
            {
                return (null, Error(new RegistryError(422, 42201, "Invalid schema: the request body needs a string field \"schema\".")));
            }

            if (doc.RootElement.TryGetProperty("references", out var refs) && refs.ValueKind == JsonValueKind.Array && refs.GetArrayLength() > 0)
            {
                return (null, Error(new RegistryError(422, 42201, "Schema references are not supported by the development Schema Registry.")));
            }

            var type = doc.RootElement.TryGetProperty("schemaType", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "AVRO";
            return ((schema.GetString()!, type.ToUpperInvariant()), null);
        }
        catch (JsonException e)
        {
            return (null, Error(new RegistryError(400, 400, $"Unrecognized request body: {e.Message}")));
        }
    }

    private static async Task<(CompatibilityLevel Level, IResult? Bad)> ReadLevel(HttpRequest request)
    {
        try
        {
            using var doc = await JsonDocument.ParseAsync(request.Body).ConfigureAwait(false);
            var text = doc.RootElement.TryGetProperty("compatibility", out var c) ? c.GetString() : null;
            return SchemaStore.TryParseLevel(text, out var level)
                ? (level, null)
                : (default, Error(new RegistryError(422, 42203, $"Invalid compatibility level '{text}'. Valid values: NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE.")));
        }
        catch (JsonException e)
        {
            return (default, Error(new RegistryError(400, 400, $"Unrecognized request body: {e.Message}")));
        }
    }

    private static object Version(RegisteredSchema r) => r.SchemaType == "AVRO"
        ? new Dictionary<string, object> { ["subject"] = r.Subject, ["id"] = r.Id, ["version"] = r.Version, ["schema"] = r.Schema }
        : new Dictionary<string, object> { ["subject"] = r.Subject, ["id"] = r.Id, ["version"] = r.Version, ["schema"] = r.Schema, ["schemaType"] = r.SchemaType };

    private static IResult Json(object? value) => Results.Json(value, contentType: ContentType);

    private static IResult Error(RegistryError e) =>
        Results.Json(new { error_code = e.ErrorCode, message = e.Message }, contentType: ContentType, statusCode: e.HttpStatus);
}
