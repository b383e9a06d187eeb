#!/bin/sh
# The test host's ForceCommand: what Windows OpenSSH does with an exec request. Its default shell is cmd.exe
# (`cmd.exe /c <command line>`) unless the DefaultShell registry value names PowerShell, which then gets the line
# with -c; the test switches that (and whether pwsh and the Hyper-V module are installed) in $LB_HVPWSH_SHELL_FILE:
# one line "cmd|powershell|pwsh 1|0 1|0". powershell.exe (Windows PowerShell) and pwsh both start the real pwsh with
# the same arguments; any other program is "not recognized" (exit 9009), as cmd says. cmd's own operators and
# variables are not modelled and fail loudly rather than being guessed at (lib/cmdline.py).
# The SFTP subsystem arrives here too (sshd_config's `Subsystem sftp internal-sftp` under ForceCommand): its stdin and
# stdout go to the test process's SFTP socket (sftp-socket.ts), served with Windows OpenSSH's /C:/… paths. An exec of
# the literal line `internal-sftp` looks the same here; on Windows it would be "not recognized" (nothing sends it).
set -f
line=${SSH_ORIGINAL_COMMAND-}
if [ "$line" = internal-sftp ]; then
  exec "$LB_HVPWSH_NODE" -e 'const s = require("net").connect(process.env.LB_HVPWSH_SFTP); s.on("error", (e) => { process.stderr.write(String(e) + "\n"); process.exit(1) }); process.stdin.pipe(s).pipe(process.stdout)'
fi
default_shell=cmd has_pwsh=1 has_hyperv=1
if [ -n "${LB_HVPWSH_SHELL_FILE-}" ] && [ -r "$LB_HVPWSH_SHELL_FILE" ]; then
  read -r default_shell has_pwsh has_hyperv < "$LB_HVPWSH_SHELL_FILE"
fi
# Without the Hyper-V module its cmdlets are unknown commands: the module folders without it (host.ts makes both).
if [ "$has_hyperv" = 0 ]; then
  LB_HVPWSH_MODULES=$LB_HVPWSH_MODULES_NOHV LB_HVPWSH_XDG=$LB_HVPWSH_XDG_NOHV LB_HVPWSH_VARIANT=nohyperv
  export LB_HVPWSH_VARIANT
fi
if [ "$default_shell" = cmd ]; then
  # cmd.exe's and the C runtime's splitting of the line (lib/cmdline.py), shell-quoted for eval.
  words=$("$LB_HVPWSH_PYTHON" -I -S "$LB_HVPWSH_CMDLINE" "$line") || exit $?
  eval "set -- $words"
  program=$(printf '%s' "${1-}" | tr 'A-Z' 'a-z')
  case $program in
    powershell | powershell.exe | 'c:\windows\system32\windowspowershell\v1.0\powershell.exe') shift ;;
    pwsh | pwsh.exe | 'c:\program files\powershell\7\pwsh.exe')
      if [ "$has_pwsh" = 0 ]; then
        printf "'%s' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n" "$1" >&2
        exit 9009
      fi
      shift ;;
    '')
      printf 'Lifeboat Hyper-V test host: no interactive shell\r\n' >&2
      exit 1 ;;
    *)
      printf "'%s' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n" "$1" >&2
      exit 9009 ;;
  esac
else
  # DefaultShell = PowerShell: `<shell> -c <line>`; the line's own powershell.exe is then a native command that
  # lib/bin/ answers (another pwsh, as Windows starts one).
  set -- -c "$line"
fi
# The warm pool (pool.ts): the relay hands this session's stdin/stdout/stderr and these arguments to a pwsh started
# ahead of time, which runs pwsh's own entry point on them; the relay exits with its exit code. The pool starts its
# workers through this script too (LB_HVPWSH_WORKER set), so they get the environment below.
if [ -n "${LB_HVPWSH_POOL-}" ] && [ -z "${LB_HVPWSH_WORKER-}" ]; then
  exec "$LB_HVPWSH_PYTHON" -I -S "$LB_HVPWSH_RELAY" "$@"
fi
# XDG_DATA_HOME: pwsh's CurrentUser module folder ($XDG_DATA_HOME/powershell/Modules, host.ts links it to modules/)
# comes first in module lookup, so modules/WindowsPaths shadows the file cmdlets for C:\ paths. DOTNET_STARTUP_HOOKS:
# lib/WindowsPaths.cs makes [System.IO.File] in scripts map C:\ paths too. %ProgramData% as on Windows. PATH: lib/bin
# answers powershell.exe and pwsh.exe run from inside a session.
export XDG_DATA_HOME="$LB_HVPWSH_XDG" DOTNET_STARTUP_HOOKS="$LB_HVPWSH_TYPES" ProgramData='C:\ProgramData' PATH="$LB_HVPWSH_BIN:$PATH"
export PSModulePath="$LB_HVPWSH_MODULES" POWERSHELL_TELEMETRY_OPTOUT=1 POWERSHELL_UPDATECHECK=Off DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
exec "$LB_HVPWSH_PWSH" "$@"
