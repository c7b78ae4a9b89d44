using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using StackExchange.Redis;

namespace StreamFraud.Clients;

/// <summary>Redis could not be reached or refused the client; the message says why and which setting to fix, never a password.</summary>
public sealed class RedisConnectException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// The Redis connection: <c>Redis:Configuration</c> (StackExchange.Redis configuration string: endpoints and options,
/// no secret needed, so it can live in a ConfigMap), with the credentials and TLS as settings of their own, so they can
/// come from a Secret: <c>Redis:User</c> (ACL user), <c>Redis:Password</c>, <c>Redis:Tls</c> (true/false; default: the
/// configuration string's <c>ssl=</c>), <c>Redis:CaFile</c> (PEM: the CA certificates that may sign the server's
/// certificate, instead of the system's trust store), <c>Redis:CertFile</c> and <c>Redis:KeyFile</c> (PEM: a client
/// certificate for servers that require one, <c>tls-auth-clients yes</c>). User and password replace the
/// configuration string's <c>user=</c>/<c>password=</c>. The server's certificate must also name the host connected
/// to (or <c>sslHost=</c> of the configuration string).
/// </summary>
public sealed class RedisClientSettings
{
    /// <summary>The section.</summary>
    public const string Section = "Redis";

    /// <summary>The connection keys (the store's own keys, such as <c>Redis:KeyPrefix</c>, are not read here).</summary>
    public static readonly IReadOnlyList<string> Keys = ["Configuration", "User", "Password", "Tls", "CaFile", "CertFile", "KeyFile"];

    private readonly Dictionary<string, string> _names;
    private readonly X509Certificate2Collection? _trusted;
    private readonly X509Certificate2? _clientCertificate;
    private readonly string? _password;

    private RedisClientSettings(string configuration, string? user, string? password, bool tls, string? caFile, string? certFile, string? keyFile,
        X509Certificate2Collection? trusted, X509Certificate2? clientCertificate, Dictionary<string, string> names)
    {
        Configuration = configuration;
        User = user;
        _password = password;
        Tls = tls;
        CaFile = caFile;
        CertFile = certFile;
        KeyFile = keyFile;
        _trusted = trusted;
        _clientCertificate = clientCertificate;
        _names = names;
    }

    /// <summary><c>Redis:Configuration</c> as given.</summary>
    public string Configuration { get; }

    /// <summary><c>Redis:User</c>.</summary>
    public string? User { get; }

    /// <summary>Whether a password is set (here or in the configuration string).</summary>
    public bool HasPassword => Options().Password is { Length: > 0 };

    /// <summary>Whether the connection uses TLS.</summary>
    public bool Tls { get; }

    /// <summary><c>Redis:CaFile</c>.</summary>
    public string? CaFile { get; }

    /// <summary><c>Redis:CertFile</c>.</summary>
    public string? CertFile { get; }

    /// <summary><c>Redis:KeyFile</c>.</summary>
    public string? KeyFile { get; }

    /// <summary>The StackExchange.Redis options: the configuration string with the user, password and TLS settings applied.</summary>
    public ConfigurationOptions Options() => Options(new TlsOutcome());

    /// <summary>Connects (at most <paramref name="connectTimeout"/> per attempt) and fails fast.</summary>
    /// <exception cref="RedisConnectException">Unreachable, TLS refused or credentials refused; the message names the setting to fix.</exception>
    public ConnectionMultiplexer Connect(TimeSpan connectTimeout)
    {
        var tls = new TlsOutcome();
        var options = Connecting(tls, connectTimeout);
        try
        {
            return ConnectionMultiplexer.Connect(options);
        }
        catch (RedisConnectionException e)
        {
            throw Explain(e, options, tls);
        }
    }

    /// <inheritdoc cref="Connect"/>
    public async Task<ConnectionMultiplexer> ConnectAsync(TimeSpan connectTimeout)
    {
        var tls = new TlsOutcome();
        var options = Connecting(tls, connectTimeout);
        try
        {
            return await ConnectionMultiplexer.ConnectAsync(options).ConfigureAwait(false);
        }
        catch (RedisConnectionException e)
        {
            throw Explain(e, options, tls);
        }
    }

    /// <summary>Endpoints, user, TLS files; the password masked.</summary>
    public string Describe() => Redact(
        $"{CredentialText.Redact(Configuration)} user={User ?? "-"} password={(HasPassword ? CredentialText.Mask : "-")} tls={(Tls ? "true" : "false")}" +
        (Tls ? $" ca={CaFile ?? "system"} cert={CertFile ?? "-"}" : ""));

    internal static RedisClientSettings Read(SettingView view)
    {
        var names = Keys.ToDictionary(k => k, k => view.Name($"{Section}:{k}"));
        string? Get(string key) => view[$"{Section}:{key}"] is { Length: > 0 } v ? v : null;
        var configuration = Get("Configuration") ?? SettingChecks.Default($"{Section}:Configuration");
        var user = Get("User");
        var password = Get("Password");
        var caFile = Get("CaFile");
        var certFile = Get("CertFile");
        var keyFile = Get("KeyFile");
        bool? tlsSetting = null;
        if (Get("Tls") is { } tlsText)
        {
            if (bool.TryParse(tlsText, out var t))
            {
                tlsSetting = t;
            }
            else
            {
                view.Problems.Add($"{names["Tls"]} '{tlsText}': expected true or false.");
            }
        }

        var tls = tlsSetting ?? false;
        try
        {
            tls = tlsSetting ?? ConfigurationOptions.Parse(configuration).Ssl;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or NotSupportedException)
        {
            view.Problems.Add($"{names["Configuration"]} '{CredentialText.Redact(configuration)}': {CredentialText.Redact(e.Message)}; write host:port[,option=value...] (StackExchange.Redis configuration).");
        }

        if (!tls && (caFile ?? certFile ?? keyFile) is not null)
        {
            var given = caFile is not null ? "CaFile" : certFile is not null ? "CertFile" : "KeyFile";
            view.Problems.Add($"{names[given]} is set but TLS is off: set {names["Tls"]} true (or ssl=true in {names["Configuration"]}).");
        }

        if (keyFile is not null && certFile is null)
        {
            view.Problems.Add($"{names["KeyFile"]} is set without {names["CertFile"]}: give the client certificate (PEM) too.");
        }

        X509Certificate2Collection? trusted = null;
        if (caFile is not null)
        {
            SettingChecks.Exists(view.Problems, names["CaFile"], caFile, "CA certificate");
            if (File.Exists(caFile))
            {
                try
                {
                    trusted = [];
                    trusted.ImportFromPemFile(caFile);
                    if (trusted.Count == 0)
                    {
                        view.Problems.Add($"{names["CaFile"]} '{caFile}' holds no certificate: give the CA certificate(s) in PEM (-----BEGIN CERTIFICATE-----).");
                    }
                }
                catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
                {
                    view.Problems.Add($"{names["CaFile"]} '{caFile}' cannot be read as PEM certificates ({e.Message}).");
                }
            }
        }

        X509Certificate2? clientCertificate = null;
        if (certFile is not null)
        {
            SettingChecks.Exists(view.Problems, names["CertFile"], certFile, "client certificate");
            SettingChecks.Exists(view.Problems, names["KeyFile"], keyFile, "client key");
            if (File.Exists(certFile) && (keyFile is null || File.Exists(keyFile)))
            {
                try
                {
                    clientCertificate = X509Certificate2.CreateFromPemFile(certFile, keyFile);
                }
                catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
                {
                    view.Problems.Add($"{names["CertFile"]} '{certFile}' / {names["KeyFile"]} '{keyFile ?? "(in the certificate file)"}' cannot be read as a PEM certificate and its private key ({e.Message}).");
                }
            }
        }

        return new RedisClientSettings(configuration, user, password, tls, caFile, certFile, keyFile, trusted, clientCertificate, names);
    }

    private ConfigurationOptions Connecting(TlsOutcome tls, TimeSpan connectTimeout)
    {
        var options = Options(tls);
        options.AbortOnConnectFail = true;
        options.ConnectTimeout = (int)connectTimeout.TotalMilliseconds;
        return options;
    }

    private ConfigurationOptions Options(TlsOutcome tls)
    {
        var options = ConfigurationOptions.Parse(Configuration);
        if (User is not null)
        {
            options.User = User;
        }

        if (_password is not null)
        {
            options.Password = _password;
        }

        options.Ssl = Tls;
        if (Tls)
        {
            options.CertificateValidation += (_, certificate, chain, errors) => Validate(certificate, chain, errors, tls);
            if (_clientCertificate is { } client)
            {
                options.CertificateSelection += (_, _, _, _, _) => client;
            }
        }

        return options;
    }

    /// <summary>
    /// The server's certificate must name the host connected to and chain to <c>Redis:CaFile</c>'s certificates (or,
    /// without it, to the system's trust store). Why it did not is kept for the error message: SslStream only says
    /// that validation failed.
    /// </summary>
    private bool Validate(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors, TlsOutcome tls)
    {
        if (certificate is null)
        {
            tls.Problem = "the server sent no certificate";
            return false;
        }

        var what = $"its certificate ({certificate.Subject}, issued by {certificate.Issuer})";
        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            tls.Problem = $"{what} does not name the host connected to; connect by a name the certificate holds, or set sslHost=NAME in {_names["Configuration"]}";
            return false;
        }

        if (_trusted is null)
        {
            if (errors == SslPolicyErrors.None)
            {
                return true;
            }

            tls.Problem = $"{what} is not trusted by the system's CA store ({Status(chain)}); set {_names["CaFile"]} to the CA certificate (PEM) that signed it";
            return false;
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(_trusted);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
        {
            foreach (var element in chain.ChainElements)
            {
                custom.ChainPolicy.ExtraStore.Add(element.Certificate); // intermediates the server sent
            }
        }

        using var leaf = new X509Certificate2(certificate);
        if (custom.Build(leaf))
        {
            return true;
        }

        tls.Problem = $"{what} is not signed by a CA of {_names["CaFile"]} '{CaFile}' ({Status(custom)}); set {_names["CaFile"]} to the CA certificate (PEM) that signed the server's certificate";
        return false;
    }

    private static string Status(X509Chain? chain) =>
        chain is null || chain.ChainStatus.Length == 0 ? "no chain" : string.Join(", ", chain.ChainStatus.Select(s => s.Status).Distinct());

    private RedisConnectException Explain(RedisConnectionException e, ConfigurationOptions options, TlsOutcome tls)
    {
        var endpoints = string.Join(",", options.EndPoints.Select(ep => ep.ToString()));
        var reason = e.Message.Split('\n')[0].Trim();
        var text = e.ToString();
        string message;
        if (tls.Problem is { } tlsProblem)
        {
            message = $"Redis at {endpoints}: the TLS handshake failed: {tlsProblem}.";
        }
        else if (text.Contains("NOAUTH", StringComparison.Ordinal) && !HasPassword)
        {
            message = $"Redis at {endpoints} requires a password ({reason}); set {_names["Password"]} (and {_names["User"]} for an ACL user); its value may be file:/path/to/the/secret.";
        }
        else if (e.FailureType == ConnectionFailureType.AuthenticationFailure || text.Contains("WRONGPASS", StringComparison.Ordinal)
                 || text.Contains("NOAUTH", StringComparison.Ordinal) || text.Contains("invalid password", StringComparison.OrdinalIgnoreCase))
        {
            message = Tls && _clientCertificate is null && !text.Contains("WRONGPASS", StringComparison.Ordinal) && !text.Contains("NOAUTH", StringComparison.Ordinal)
                ? $"Redis at {endpoints} refused the connection during the TLS handshake or authentication ({reason}); if the server requires client certificates (tls-auth-clients), set {_names["CertFile"]} and {_names["KeyFile"]}; else check {_names["User"]} and {_names["Password"]}."
                : $"Redis at {endpoints} refused the credentials ({reason}); check {_names["User"]} and {_names["Password"]} (or the user and password in {_names["Configuration"]}).";
        }
        else
        {
            message = $"Redis at {endpoints} is unreachable ({reason}); start it or fix {_names["Configuration"]}" +
                (Tls ? $" (a TLS server that requires client certificates also needs {_names["CertFile"]} and {_names["KeyFile"]})."
                     : $" (a server that only accepts TLS needs {_names["Tls"]} true).");
        }

        return new RedisConnectException(Redact(message), e);
    }

    private string Redact(string text) => (_password is null ? SecretRedactor.Current : SecretRedactor.Current.With([_password])).Redact(text);

    /// <summary>Why the last TLS validation of a connection failed.</summary>
    private sealed class TlsOutcome
    {
        private volatile string? _problem;

        public string? Problem
        {
            get => _problem;
            set => _problem = value;
        }
    }
}
