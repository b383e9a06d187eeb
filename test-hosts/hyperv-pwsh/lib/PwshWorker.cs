// A warm pwsh for the test host: the same pwsh executable, started ahead of time with LB_HVPWSH_WORKER set, runs
// pwsh's own entry point (Microsoft.PowerShell.UnmanagedPSEntry.Start, what pwsh's Main calls) once per SSH exec,
// with the session's stdin, stdout and stderr as its fds 0, 1 and 2. Parsing the command line, the console host,
// the engine, modules, output and the exit code are real pwsh's; what is saved is the start of a process (about
// 0.6 CPU-seconds and 0.4 s on an idle machine, several seconds under load), paid once per worker instead of once
// per exec. Between sessions everything a process exit would have reset is reset (see ResetForSession/EndSession),
// and a worker that cannot prove it left nothing open retires instead of serving again.
//
// The broker (pool.ts, in the test process) holds fd 3: one JSON line per request {"pid", "args"} naming the relay
// process (lib/relay.py) that sshd started for the exec; the worker takes that process's fds 0-2 with pidfd_getfd
// and answers {"exit": N} (and "retire" when it will not serve again) when the session is over.
namespace LifeboatTestHost
{
    using System;
    using System.Collections;
    using System.Collections.Generic;
    using System.IO;
    using System.Net.Sockets;
    using System.Reflection;
    using System.Runtime.InteropServices;
    using System.Text;
    using System.Text.Json;

    public static class PwshWorker
    {
        const int MaxSessions = 400;

        [DllImport("libc", SetLastError = true)]
        static extern long syscall(long number, long a, long b, long c);

        [DllImport("libc", SetLastError = true)]
        static extern int dup2(int oldFd, int newFd);

        [DllImport("libc", SetLastError = true)]
        static extern int close(int fd);

        [DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi)]
        static extern int open(string path, int flags);

        [DllImport("libc", SetLastError = true, CharSet = CharSet.Ansi)]
        static extern long readlink(string path, byte[] buffer, long size);

        // x86_64 and aarch64 share these numbers (asm-generic); pidfd_getfd needs Linux 5.6.
        const long SysPidfdOpen = 434;
        const long SysPidfdGetfd = 438;
        const int ORdWr = 2;

        static Type consoleHost;
        static FieldInfo cppField;
        static MethodInfo entry;
        static IDictionary startEnvironment;
        static string startDirectory;

        public static void Run()
        {
            var control = new Socket(new SafeSocketHandle((IntPtr)3, true));
            var stream = new NetworkStream(control, true);
            var reader = new StreamReader(stream, new UTF8Encoding(false));
            var writer = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
            try
            {
                // Processes a session starts (powershell.exe from inside PowerShell: lib/bin) are sessions, not workers.
                string warmup = Environment.GetEnvironmentVariable("LB_HVPWSH_WARMUP") ?? "$null = 1";
                Environment.SetEnvironmentVariable("LB_HVPWSH_WORKER", null);
                Environment.SetEnvironmentVariable("LB_HVPWSH_WARMUP", null);
                Prepare();
                int warm = Session(new[] { "-NoLogo", "-NoProfile", "-NonInteractive", "-Command", warmup }, null, out _);
                if (warm != 0) throw new InvalidOperationException("the warm-up session ended with exit code " + warm);
                Send(writer, new Dictionary<string, object> { ["ready"] = true });
                for (int served = 1; ; served++)
                {
                    string line = reader.ReadLine();
                    if (line == null) break;
                    using var request = JsonDocument.Parse(line);
                    int pid = request.RootElement.GetProperty("pid").GetInt32();
                    var args = new List<string>();
                    foreach (var a in request.RootElement.GetProperty("args").EnumerateArray()) args.Add(a.GetString());
                    int exit = Session(args.ToArray(), pid, out string leak);
                    bool retire = leak != null || served >= MaxSessions;
                    var answer = new Dictionary<string, object> { ["exit"] = exit, ["retire"] = retire };
                    if (leak != null) answer["reason"] = leak;
                    Send(writer, answer);
                    if (retire) break;
                }
            }
            catch (Exception e)
            {
                try { Send(writer, new Dictionary<string, object> { ["error"] = e.ToString() }); } catch (IOException) { }
                Environment.Exit(70);
            }
            Environment.Exit(0);
        }

        static void Send(StreamWriter writer, Dictionary<string, object> message) => writer.WriteLine(JsonSerializer.Serialize(message));

        static void Prepare()
        {
            var hostAssembly = Assembly.Load("Microsoft.PowerShell.ConsoleHost");
            consoleHost = hostAssembly.GetType("Microsoft.PowerShell.ConsoleHost", true);
            cppField = Required(consoleHost.GetField("s_cpp", BindingFlags.Static | BindingFlags.NonPublic), "ConsoleHost.s_cpp");
            entry = Required(hostAssembly.GetType("Microsoft.PowerShell.UnmanagedPSEntry", true).GetMethod("Start", new[] { typeof(string[]), typeof(int) }), "UnmanagedPSEntry.Start");
            startEnvironment = Environment.GetEnvironmentVariables();
            startDirectory = Environment.CurrentDirectory;
        }

        static T Required<T>(T member, string what) where T : class => member ?? throw new MissingMemberException("pwsh worker: " + what + " is not in this PowerShell; the worker cannot reset it between sessions");

        // One exec: the relay's fds become 0-2, pwsh's entry point runs, and the fds are handed back (EOF for sshd).
        static int Session(string[] args, int? relayPid, out string leak)
        {
            var taken = new List<int>();
            leak = null;
            try
            {
                if (relayPid is int pid)
                {
                    int pidfd = (int)Check(syscall(SysPidfdOpen, pid, 0, 0), "pidfd_open");
                    try
                    {
                        for (int fd = 0; fd < 3; fd++) taken.Add((int)Check(syscall(SysPidfdGetfd, pidfd, fd, 0), "pidfd_getfd"));
                    }
                    finally { close(pidfd); }
                    for (int fd = 0; fd < 3; fd++) Check(dup2(taken[fd], fd), "dup2");
                }
                ResetForSession();
                object code = entry.Invoke(null, new object[] { args, args.Length });
                return (int)code;
            }
            finally
            {
                EndSession();
                int devNull = open("/dev/null", ORdWr);
                for (int fd = 0; fd < 3; fd++) dup2(devNull, fd);
                close(devNull);
                var peers = new Dictionary<string, string>();
                string[] names = { "stdin", "stdout", "stderr" };
                for (int i = 0; i < taken.Count; i++) peers[Target(taken[i])] = names[i];
                foreach (int fd in taken) close(fd);
                leak = LeftOpen(peers);
            }
        }

        static long Check(long result, string what)
        {
            if (result < 0) throw new IOException("pwsh worker: " + what + " failed (errno " + Marshal.GetLastWin32Error() + ")");
            return result;
        }

        // What a new process starts with: pwsh's static command-line state and primary runspace, the console's
        // streams and encodings (recreated over the new fds 0-2 on first use), the environment and working folder.
        static void ResetForSession()
        {
            object cpp = cppField.GetValue(null);
            object fresh = Activator.CreateInstance(cppField.FieldType, true);
            foreach (var f in cppField.FieldType.GetFields(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)) f.SetValue(cpp, f.GetValue(fresh));
            var primary = Required(typeof(System.Management.Automation.Runspaces.Runspace).GetField("s_primaryRunspace", BindingFlags.Static | BindingFlags.NonPublic), "Runspace.s_primaryRunspace");
            primary.SetValue(null, null);
            System.Management.Automation.Runspaces.Runspace.DefaultRunspace = null;
            foreach (var name in new[] { "s_in", "s_out", "s_error", "s_inputEncoding", "s_outputEncoding", "s_cancelCallbacks", "_isStdInRedirected", "_isStdOutRedirected", "_isStdErrRedirected" }) Required(typeof(Console).GetField(name, BindingFlags.Static | BindingFlags.NonPublic), "Console." + name).SetValue(null, null);
            foreach (var name in new[] { "s_isOutTextWriterRedirected", "s_isErrorTextWriterRedirected" }) Required(typeof(Console).GetField(name, BindingFlags.Static | BindingFlags.NonPublic), "Console." + name).SetValue(null, false);
            foreach (DictionaryEntry e in Environment.GetEnvironmentVariables())
            {
                if (!startEnvironment.Contains(e.Key)) Environment.SetEnvironmentVariable((string)e.Key, null);
            }
            foreach (DictionaryEntry e in startEnvironment) Environment.SetEnvironmentVariable((string)e.Key, (string)e.Value);
            Environment.CurrentDirectory = startDirectory;
        }

        // What a process exit would have closed: the console's streams (each a dup of fd 0, 1 or 2) and the files the
        // script opened through [System.IO.File] (the job lock).
        static void EndSession()
        {
            foreach (var name in new[] { "s_out", "s_error", "s_in" }) Close(typeof(Console).GetField(name, BindingFlags.Static | BindingFlags.NonPublic).GetValue(null));
            // The console host's own reader of stdin (a Lazy, created when the host reads input).
            object host = consoleHost.GetField("s_theConsoleHost", BindingFlags.Static | BindingFlags.NonPublic)?.GetValue(null);
            if (host != null && consoleHost.GetField("<ConsoleIn>k__BackingField", BindingFlags.Instance | BindingFlags.NonPublic)?.GetValue(host) is Lazy<TextReader> input && input.IsValueCreated) Close(input.Value);
            WindowsFile.CloseAll();
        }

        // Console's readers and writers are synchronized wrappers of a StreamReader/StreamWriter made with leaveOpen,
        // so disposing them leaves the console stream (a dup of fd 0, 1 or 2) to the finalizer: close that stream.
        static void Close(object value)
        {
            for (int depth = 0; value != null && depth < 4; depth++)
            {
                switch (value)
                {
                    case StreamWriter w:
                        try { w.Flush(); } catch (IOException) { }
                        w.BaseStream.Dispose();
                        return;
                    case StreamReader r:
                        r.BaseStream.Dispose();
                        return;
                    case Stream st:
                        st.Dispose();
                        return;
                }
                var t = value.GetType();
                var inner = t.GetField("_in", BindingFlags.Instance | BindingFlags.NonPublic) ?? t.GetField("_out", BindingFlags.Instance | BindingFlags.NonPublic);
                if (inner == null) return;
                value = inner.GetValue(value);
            }
        }

        static string Target(int fd)
        {
            var buffer = new byte[256];
            long n = readlink("/proc/self/fd/" + fd, buffer, buffer.Length);
            return n > 0 ? Encoding.UTF8.GetString(buffer, 0, (int)n) : "";
        }

        // Any fd still open on the session's pipes or sockets would keep its SSH channel from closing (sshd waits for
        // EOF): named, so the worker retires (its exit closes everything) rather than serve again.
        static string LeftOpen(Dictionary<string, string> peers)
        {
            foreach (var entry in Directory.GetFiles("/proc/self/fd"))
            {
                if (!int.TryParse(Path.GetFileName(entry), out int fd)) continue;
                string target = Target(fd);
                if (target != "" && target != "/dev/null" && peers.TryGetValue(target, out var which)) return "fd " + fd + " (the session's " + which + ", " + target + ") was left open by the session";
            }
            return null;
        }
    }
}
