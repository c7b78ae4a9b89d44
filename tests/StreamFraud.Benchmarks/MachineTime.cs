using System.Globalization;

/// <summary>
/// The machine's CPU time from <c>/proc/stat</c> (Linux; elsewhere nothing is read): how much of it the hypervisor
/// gave to other guests (steal) over a measured window. On a shared virtual machine a window with steal reads slower
/// and costlier per event than the same code on a quiet host, so the harnesses print it next to their figures.
/// </summary>
internal readonly record struct MachineTime(long Steal, long Total)
{
    /// <summary>The aggregate <c>cpu</c> line now, or null where <c>/proc/stat</c> cannot be read.</summary>
    public static MachineTime? Read()
    {
        try
        {
            using var reader = new StreamReader("/proc/stat");
            var line = reader.ReadLine();
            if (line is null || !line.StartsWith("cpu ", StringComparison.Ordinal))
            {
                return null;
            }

            // cpu user nice system idle iowait irq softirq steal [guest guest_nice]: guest time is already in user.
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 9)
            {
                return null;
            }

            long total = 0;
            for (var i = 1; i <= 8; i++)
            {
                total += long.Parse(fields[i], CultureInfo.InvariantCulture);
            }

            return new MachineTime(long.Parse(fields[8], CultureInfo.InvariantCulture), total);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            return null;
        }
    }

    /// <summary>Stolen share of the machine's CPU time since <paramref name="before"/> (NaN when either was not read).</summary>
    public static double StealSince(MachineTime? before)
    {
        if (before is not { } b || Read() is not { } now || now.Total <= b.Total)
        {
            return double.NaN;
        }

        return (double)(now.Steal - b.Steal) / (now.Total - b.Total);
    }

    /// <summary>"steal 1.2%" (or "steal n/a") for a figure line.</summary>
    public static string Format(double steal) =>
        double.IsNaN(steal) ? "steal n/a" : string.Create(CultureInfo.InvariantCulture, $"steal {steal * 100:F1}%");
}
