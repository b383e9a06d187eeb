#!/bin/sh
# The test host's ForceCommand: what Windows OpenSSH does with an exec request when the default shell is cmd.exe
# (`cmd.exe /c <command line>`), for the command lines Lifeboat sends. powershell.exe (Windows PowerShell) and pwsh
# both start the real pwsh with the same arguments; any other program is "not recognized" (exit 9009), as cmd says.
# cmd's own operators are not modelled and fail loudly rather than being guessed at.
set -f
line=${SSH_ORIGINAL_COMMAND-}
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
export PSModulePath="$LB_HVPWSH_MODULES" POWERSHELL_TELEMETRY_OPTOUT=1 POWERSHELL_UPDATECHECK=Off DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
exec "$LB_HVPWSH_PWSH" "$@"
