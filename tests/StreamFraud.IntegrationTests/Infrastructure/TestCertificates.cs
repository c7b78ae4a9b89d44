using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace StreamFraud.IntegrationTests.Infrastructure;

/// <summary>
/// Throwaway PEM files for TLS tests, written into <see cref="Directory"/>: a CA (<c>ca.pem</c>), a server certificate
/// and key it signed (<c>server.pem</c>, <c>server.key</c>, naming 127.0.0.1 and localhost), a client certificate and
/// key (<c>client.pem</c>, <c>client.key</c>), and a second CA that signed neither (<c>other-ca.pem</c>). ECDSA P-256,
/// valid for 12 hours, generated with <see cref="CertificateRequest"/>.
/// </summary>
public static class TestCertificates
{
    /// <summary>Writes the files into <paramref name="directory"/>.</summary>
    public static void Write(string directory)
    {
        var now = DateTimeOffset.UtcNow;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var ca = Authority("StreamFraud test CA", caKey, now);
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var other = Authority("Some other CA", otherKey, now);
        File.WriteAllText(Path.Combine(directory, "ca.pem"), ca.ExportCertificatePem());
        File.WriteAllText(Path.Combine(directory, "other-ca.pem"), other.ExportCertificatePem());
        Issue(directory, ca, caKey, "server", now, serverAuth: true);
        Issue(directory, ca, caKey, "client", now, serverAuth: false);
    }

    private static X509Certificate2 Authority(string name, ECDsa key, DateTimeOffset now)
    {
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(now.AddMinutes(-5), now.AddHours(12));
    }

    private static void Issue(string directory, X509Certificate2 ca, ECDsa caKey, string name, DateTimeOffset now, bool serverAuth)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN=streamfraud-test-{name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(serverAuth ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        var serial = new byte[16];
        RandomNumberGenerator.Fill(serial);
        serial[0] &= 0x7f; // positive
        using var issued = request.Create(ca.SubjectName, X509SignatureGenerator.CreateForECDsa(caKey), now.AddMinutes(-5), now.AddHours(12), serial);
        File.WriteAllText(Path.Combine(directory, $"{name}.pem"), issued.ExportCertificatePem());
        File.WriteAllText(Path.Combine(directory, $"{name}.key"), key.ExportPkcs8PrivateKeyPem());
    }
}
