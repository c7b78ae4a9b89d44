using StreamFraud.DevStack.Redis;

namespace StreamFraud.IntegrationTests.Infrastructure;

/// <summary>
/// A real redis-server with a password (<c>requirepass</c>) and TLS only, requiring client certificates, on a free port
/// (the DevStack's <see cref="RedisServerProcess"/>). Its throwaway CA, server and client certificates
/// (<see cref="TestCertificates"/>) are in a temporary directory, with a second CA that signed nothing the server
/// holds; the password is in a file, as a mounted Kubernetes Secret would be. Stopped and deleted on dispose.
/// </summary>
public sealed class SecuredRedis : IAsyncLifetime
{
    /// <summary>The server's password.</summary>
    public const string Password = "Redis-TLS-pa55word-q";

    private RedisServerProcess? _server;

    /// <summary>The temporary directory of the certificates and the password file.</summary>
    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("sf-secured-redis-").FullName;

    /// <summary><c>127.0.0.1:port</c> (TLS).</summary>
    public string Endpoint => _server?.Endpoint ?? throw new InvalidOperationException("not started");

    /// <summary>The CA that signed the server's and the client's certificates.</summary>
    public string CaFile => Path.Combine(Directory, "ca.pem");

    /// <summary>A CA that signed neither.</summary>
    public string OtherCaFile => Path.Combine(Directory, "other-ca.pem");

    /// <summary>The client certificate.</summary>
    public string ClientCertFile => Path.Combine(Directory, "client.pem");

    /// <summary>The client certificate's key.</summary>
    public string ClientKeyFile => Path.Combine(Directory, "client.key");

    /// <summary>A file holding <see cref="Password"/> and a trailing line break (as <c>echo</c> writes it).</summary>
    public string PasswordFile => Path.Combine(Directory, "redis-password");

    /// <summary>The settings of a client that has everything right: password from its file, TLS, CA, client certificate.</summary>
    public Dictionary<string, string> Settings() => new()
    {
        ["Redis:Configuration"] = Endpoint,
        ["Redis:Password"] = "file:" + PasswordFile,
        ["Redis:Tls"] = "true",
        ["Redis:CaFile"] = CaFile,
        ["Redis:CertFile"] = ClientCertFile,
        ["Redis:KeyFile"] = ClientKeyFile,
    };

    public async Task InitializeAsync()
    {
        TestCertificates.Write(Directory);
        File.WriteAllText(PasswordFile, Password + "\n");
        _server = await RedisServerProcess.StartAsync(security: new RedisServerSecurity
        {
            Password = Password,
            TlsCertFile = Path.Combine(Directory, "server.pem"),
            TlsKeyFile = Path.Combine(Directory, "server.key"),
            TlsCaFile = CaFile,
            RequireClientCertificates = true,
        });
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
