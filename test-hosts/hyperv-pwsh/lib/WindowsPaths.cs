// Windows paths for the one .NET call the adapter's scripts make on files: [System.IO.File]::Open (the job lock).
// On Linux 'C:\ProgramData\Lifeboat\jobs\x.lock' is a single odd file name in the current directory, so the test host
// makes [System.IO.File] in scripts mean WindowsFile: drive paths go to the model's data folder (the test host's
// WinFs decides where, through the bridge), everything else to System.IO.File unchanged. The real FileStream and its
// FileShare stay .NET's: on Linux FileShare.None is an exclusive flock, so a second session's Open fails with the same
// sharing-violation IOException Windows raises. The type accelerator must exist before a script is compiled (type
// literals bind at compile time), hence a .NET startup hook (DOTNET_STARTUP_HOOKS, set by winshell.sh) rather than the
// module, which loads too late.

internal static class StartupHook
{
    public static void Initialize()
    {
        var accelerators = typeof(System.Management.Automation.PSObject).Assembly.GetType("System.Management.Automation.TypeAccelerators");
        accelerators?.GetMethod("Add", new[] { typeof(string), typeof(System.Type) })?.Invoke(null, new object[] { "System.IO.File", typeof(LifeboatTestHost.WindowsFile) });
        // A warm worker of the test host's pool (lib/PwshWorker.cs) never returns to pwsh's own Main.
        if (System.Environment.GetEnvironmentVariable("LB_HVPWSH_WORKER") != null) LifeboatTestHost.PwshWorker.Run();
    }
}

namespace LifeboatTestHost
{
    using System;
    using System.Collections.Specialized;
    using System.IO;
    using System.Text.RegularExpressions;

    public static class WindowsPaths
    {
        static readonly Regex Drive = new Regex(@"^[A-Za-z]:([\\/]|$)");

        public static bool IsWindowsPath(string path) => path != null && Drive.IsMatch(path);

        // The model's folder for a Windows path (case-insensitive, as the model's WinFs matches existing components).
        public static string ToLocal(string winPath)
        {
            var answer = HyperVSimBridge.Invoke("Resolve-HvSimPath", new OrderedDictionary { ["Path"] = winPath });
            if (answer.Error != null) throw new DirectoryNotFoundException(answer.Error.Exception.Message);
            if (answer.Limit != null || answer.Output.Count != 1 || !(answer.Output[0] is string local)) throw new IOException("Hyper-V test host: cannot map " + winPath + (answer.Limit != null ? ": " + answer.Limit : ""));
            return local;
        }
    }

    // The members of System.IO.File the adapter's scripts call; any other is "does not contain a method named …", loud.
    public static class WindowsFile
    {
        public static FileStream Open(string path, FileMode mode) => Open(path, mode, mode == FileMode.Append ? FileAccess.Write : FileAccess.ReadWrite, FileShare.None);

        public static FileStream Open(string path, FileMode mode, FileAccess access) => Open(path, mode, access, FileShare.None);

        // Files opened in this process: a process exit would close them (and release a job lock's flock); a warm worker
        // (PwshWorker.cs) closes them when its session ends instead.
        static readonly System.Collections.Generic.List<FileStream> Opened = new System.Collections.Generic.List<FileStream>();

        internal static void CloseAll()
        {
            lock (Opened)
            {
                foreach (var stream in Opened) stream.Dispose();
                Opened.Clear();
            }
        }

        static FileStream Track(FileStream stream)
        {
            lock (Opened) Opened.Add(stream);
            return stream;
        }

        public static FileStream Open(string path, FileMode mode, FileAccess access, FileShare share)
        {
            if (!WindowsPaths.IsWindowsPath(path)) return Track(File.Open(path, mode, access, share));
            string local = WindowsPaths.ToLocal(path);
            try
            {
                return Track(File.Open(local, mode, access, share));
            }
            catch (Exception e) when (e is IOException || e is UnauthorizedAccessException)
            {
                throw Renamed(e, local, path);
            }
        }

        public static bool Exists(string path) => WindowsPaths.IsWindowsPath(path) ? File.Exists(WindowsPaths.ToLocal(path)) : File.Exists(path);

        // The same exception type and HResult, naming the Windows path the script gave rather than the model's folder.
        static Exception Renamed(Exception e, string local, string path)
        {
            string message = e.Message.Replace(local, path);
            Exception renamed = e switch
            {
                FileNotFoundException => new FileNotFoundException(message, path),
                DirectoryNotFoundException => new DirectoryNotFoundException(message),
                UnauthorizedAccessException => new UnauthorizedAccessException(message),
                _ => new IOException(message, e.HResult),
            };
            renamed.HResult = e.HResult;
            return renamed;
        }
    }
}
