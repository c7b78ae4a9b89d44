using StreamFraud.Kafka;
using StreamFraud.Trainer;
using StreamFraud.Trainer.Commands;

using static StreamFraud.Tests.Shared.CliTestKit;

namespace StreamFraud.Training.Tests.Pipeline;

/// <summary>
/// <c>train --announce</c> reaches a secured cluster: its announcer's producer and registry client get the
/// <c>--kafka-config</c> / <c>--schema-registry-config</c> settings (secrets from files), and wrong client flags fail
/// before any training, naming the flag and never the secret.
/// </summary>
public sealed class TrainerAnnounceClientsTests : IDisposable
{
    private const string Password = "Announce-pa55word-t";
    private readonly string _dir = Directory.CreateTempSubdirectory("sf-announce-clients-").FullName;

    public TrainerAnnounceClientsTests() => File.WriteAllText(Path.Combine(_dir, "password"), Password + "\n");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Announcer_FromTheTrainFlags_HasSaslAndRegistryAuth()
    {
        var settings = Parse<TrainSettings>(
            "--input", "x.csv", "--registry", "r", "--announce", "--bootstrap", "broker.invalid:9093",
            "--kafka-config", "security.protocol=SASL_SSL", "--kafka-config", "sasl.mechanism=PLAIN", "--kafka-config", "sasl.username=trainer",
            "--kafka-config", $"sasl.password=file:{_dir}/password",
            "--schema-registry", "https://registry.invalid", "--schema-registry-config", $"basic.auth.user.info=trainer:file-less-{Password}");

        var clients = settings.Clients();
        var producer = ModelAnnouncer.ProducerConfig(clients.Kafka.Client());

        Assert.Equal(("broker.invalid:9093", "SASL_SSL", "PLAIN", "trainer", Password), (producer.BootstrapServers, producer.Get("security.protocol"), producer.Get("sasl.mechanism"), producer.SaslUsername, producer.SaslPassword));
        Assert.True(producer.EnableIdempotence);
        Assert.Equal($"trainer:file-less-{Password}", clients.SchemaRegistry.Config().BasicAuthUserInfo);
    }

    [Fact]
    public async Task WrongClientFlags_Exit2BeforeTraining_NamingTheFlag_WithoutTheSecret()
    {
        var (code, output, error) = await Run("train", "--input", Path.Combine(_dir, "absent.csv"), "--registry", _dir, "--announce",
            "--kafka-config", "security.protocol=SASL_SSL", "--kafka-config", "sasl.username=trainer", "--kafka-config", "sasl.password=file:/absent/password");

        Assert.Equal(TrainerApp.UsageExitCode, code);
        Assert.Contains("--kafka-config sasl.password: file /absent/password does not exist", error);
        Assert.DoesNotContain(Password, output + error);

        (code, _, error) = await Run("train", "--input", "x.csv", "--registry", _dir, "--kafka-config", "security.protocol=SASL_SSL");
        Assert.Equal(TrainerApp.UsageExitCode, code);
        Assert.Contains("--kafka-config applies to --announce", error);
    }

    private static async Task<(int Code, string Output, string Error)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await TrainerApp.RunAsync(args, Console(output), Console(error));
        return (code, output.ToString(), error.ToString());
    }
}
