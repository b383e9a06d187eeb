#!/bin/sh
# Installs PowerShell 7 (pwsh) as a .NET global tool (~/.dotnet/tools/pwsh): the Hyper-V test host
# (test-hosts/hyperv-pwsh) runs the adapter's scripts in it. Idempotent and instant when that version is there.
# 7.7.0 does not install as a tool on these machines; 7.6.10 does. Needs the .NET SDK (`dotnet`) and NuGet access.
set -eu
VERSION=7.6.10
TOOLS="$HOME/.dotnet/tools"
if [ -x "$TOOLS/pwsh" ] && [ -d "$TOOLS/.store/powershell/$VERSION" ]; then
  echo "pwsh $VERSION is installed in $TOOLS"
  exit 0
fi
command -v dotnet >/dev/null 2>&1 || { echo "install-pwsh.sh: dotnet (the .NET SDK) is not installed" >&2; exit 1; }
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
if [ -e "$TOOLS/pwsh" ]; then
  dotnet tool update --global PowerShell --version "$VERSION"
else
  dotnet tool install --global PowerShell --version "$VERSION"
fi
"$TOOLS/pwsh" -NoProfile -NonInteractive -Command '$PSVersionTable.PSVersion.ToString()'
