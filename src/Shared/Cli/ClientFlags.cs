using StreamFraud.Clients;

namespace StreamFraud.Cli;

/// <summary>The client flags of a command (<c>--bootstrap</c>, <c>--kafka-config</c>, …) over the <c>STREAMFRAUD_*</c> environment.</summary>
internal static class ClientFlags
{
    /// <summary>Reads the settings of <paramref name="kinds"/>; a wrong flag or variable is a <see cref="UsageException"/> naming each problem.</summary>
    public static ClientSettings Read(ClientFlagValues flags, ClientKinds kinds)
    {
        try
        {
            return CommandLineClients.Read(flags, kinds);
        }
        catch (ClientSettingsException e)
        {
            throw new UsageException(e.Message.Replace("\n", "; ", StringComparison.Ordinal));
        }
    }
}
