#!/bin/sh
# The test host's ForceCommand: what Windows OpenSSH does with an exec request when the default shell is cmd.exe
# (`cmd.exe /c <command line>`), for the command lines Lifeboat sends. powershell.exe (Windows PowerShell) and pwsh
# both start the real pwsh with the same arguments; any other program is "not recognized" (exit 9009), as cmd says.
# cmd's own operators are not modelled and fail loudly rather than being guessed at.
# The SFTP subsystem arrives here too (sshd_config's `Subsystem sftp internal-sftp` under ForceCommand): its stdin and
# stdout go to the test process's SFTP socket (sftp-socket.ts), served with Windows OpenSSH's /C:/… paths. An exec of
# the literal line `internal-sftp` looks the same here; on Windows it would be "not recognized" (nothing sends it).
set -f
line=${SSH_ORIGINAL_COMMAND-}
if [ "$line" = internal-sftp ]; then
  exec "$LB_HVPWSH_NODE" -e 'const s = require("net").connect(process.env.LB_HVPWSH_SFTP); s.on("error", (e) => { process.stderr.write(String(e) + "\n"); process.exit(1) }); process.stdin.pipe(s).pipe(process.stdout)'
fi
case $line in
  *[\&\|\<\>^%\"]*)
    printf 'Lifeboat Hyper-V test host: cmd.exe operators and quotes are not modelled: %s\r\n' "$line" >&2
    exit 99 ;;
esac
# shellcheck disable=SC2086 # word splitting is cmd.exe's argument splitting here (no quotes, see above)
set -- $line
program=$(printf '%s' "${1-}" | tr 'A-Z' 'a-z')
case $program in
  powershell | powershell.exe | 'c:\windows\system32\windowspowershell\v1.0\powershell.exe' | pwsh | pwsh.exe | 'c:\program files\powershell\7\pwsh.exe')
    shift ;;
  '')
    printf 'Lifeboat Hyper-V test host: no interactive shell\r\n' >&2
    exit 1 ;;
  *)
    printf "'%s' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n" "$1" >&2
    exit 9009 ;;
esac
# XDG_DATA_HOME: pwsh's CurrentUser module folder ($XDG_DATA_HOME/powershell/Modules, host.ts links it to modules/)
# comes first in module lookup, so modules/WindowsPaths shadows the file cmdlets for C:\ paths. DOTNET_STARTUP_HOOKS:
# lib/WindowsPaths.cs makes [System.IO.File] in scripts map C:\ paths too. %ProgramData% as on Windows.
export XDG_DATA_HOME="$LB_HVPWSH_XDG" DOTNET_STARTUP_HOOKS="$LB_HVPWSH_TYPES" ProgramData='C:\ProgramData'
export PSModulePath="$LB_HVPWSH_MODULES" POWERSHELL_TELEMETRY_OPTOUT=1 POWERSHELL_UPDATECHECK=Off DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
exec "$LB_HVPWSH_PWSH" "$@"
