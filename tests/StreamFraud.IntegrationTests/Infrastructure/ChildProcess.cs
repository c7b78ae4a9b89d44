using System.Diagnostics;
using System.Runtime.InteropServices;

namespace StreamFraud.IntegrationTests.Infrastructure;

/// <summary>A .NET app of this repository run as a child process, with its output captured.</summary>
public sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];

    private ChildProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Add(e.Data);
        process.ErrorDataReceived += (_, e) => Add(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public string Output
    {
        get
        {
            lock (_lines)
            {
                return string.Join('\n', _lines);
            }
        }
    }

    /// <summary>Starts <c>dotnet APP.dll args</c> from the test's output directory.</summary>
    public static ChildProcess Start(string assembly, IEnumerable<string> args, IDictionary<string, string>? environment = null)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, assembly + ".dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("STREAMFRAUD_", StringComparison.Ordinal)).ToList())
        {
            psi.Environment.Remove(key);
        }

        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }

        return new ChildProcess(Process.Start(psi)!);
    }

    public bool WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            return false;
        }

        _process.WaitForExit(); // drain output
        return true;
    }

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int SysKill(int pid, int signal);

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public void KillHard()
    {
        SysKill(_process.Id, 9);
        _process.WaitForExit();
    }

    /// <summary>SIGTERM: graceful shutdown.</summary>
    public void Terminate() => SysKill(_process.Id, 15);

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
    }

    private void Add(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lines)
        {
            if (_lines.Count < 5000)
            {
                _lines.Add(line);
            }
        }
    }
}
