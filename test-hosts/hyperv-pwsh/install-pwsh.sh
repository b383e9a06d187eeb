#!/bin/sh
# Installs PowerShell 7 (pwsh) as a .NET global tool (~/.dotnet/tools/pwsh): the Hyper-V test host
# (test-hosts/hyperv-pwsh) runs the adapter's scripts in it. Idempotent and instant when that version is there.
# 7.7.0 does not install as a tool on these machines; 7.6.10 does. Needs the .NET SDK (`dotnet`) and NuGet access.
#
# Then it makes a ReadyToRun copy of it (~/.cache/lifeboat/pwsh-VERSION-r2r/pwsh), which the test host prefers: the
# global tool ships its assemblies as IL only, so every pwsh start JIT-compiles the engine again (the released
# tarballs are precompiled, and so is Windows PowerShell). Precompiling them with crossgen2 — which the SDK restores
# from NuGet as the ReadyToRun pack of a throwaway project — takes about a minute once and saves about 0.3–0.7 s on
# every pwsh start, i.e. on every adapter call against the test host. Set LIFEBOAT_PWSH_NO_R2R=1 to skip it.
set -eu
VERSION=7.6.10
TOOLS="$HOME/.dotnet/tools"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
if [ -x "$TOOLS/pwsh" ] && [ -d "$TOOLS/.store/powershell/$VERSION" ]; then
  echo "pwsh $VERSION is installed in $TOOLS"
else
  command -v dotnet >/dev/null 2>&1 || { echo "install-pwsh.sh: dotnet (the .NET SDK) is not installed" >&2; exit 1; }
  if [ -e "$TOOLS/pwsh" ]; then
    dotnet tool update --global PowerShell --version "$VERSION"
  else
    dotnet tool install --global PowerShell --version "$VERSION"
  fi
  "$TOOLS/pwsh" -NoProfile -NonInteractive -Command '$PSVersionTable.PSVersion.ToString()'
fi

[ "${LIFEBOAT_PWSH_NO_R2R-}" = 1 ] && exit 0
R2R="$HOME/.cache/lifeboat/pwsh-$VERSION-r2r"
if [ -f "$R2R/.complete" ] && [ -x "$R2R/pwsh" ]; then
  echo "pwsh $VERSION ReadyToRun copy is in $R2R"
  exit 0
fi
SOURCE=$(ls -d "$TOOLS/.store/powershell/$VERSION/powershell/$VERSION/tools/"net*/any/unix | head -n 1)
[ -f "$SOURCE/pwsh.dll" ] || { echo "install-pwsh.sh: no pwsh.dll under $TOOLS/.store/powershell/$VERSION" >&2; exit 1; }
TFM=$(basename "$(dirname "$(dirname "$SOURCE")")")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK" "$R2R.partial"' EXIT
# The SDK picks the crossgen2 pack that matches its runtime; restoring a project that asks for ReadyToRun fetches it.
cat >"$WORK/r2r.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>$TFM</TargetFramework>
    <RuntimeIdentifier>linux-x64</RuntimeIdentifier>
    <PublishReadyToRun>true</PublishReadyToRun>
    <SelfContained>false</SelfContained>
  </PropertyGroup>
</Project>
EOF
dotnet restore "$WORK/r2r.csproj" >"$WORK/restore.log" 2>&1 || { cat "$WORK/restore.log" >&2; echo "install-pwsh.sh: could not restore crossgen2; the test host uses the plain tool" >&2; exit 0; }
PACKAGES=$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: //p')
CROSSGEN=$(ls -d "${PACKAGES%/}"/microsoft.netcore.app.crossgen2.linux-x64/*/tools/crossgen2 2>/dev/null | sort -V | tail -n 1)
FRAMEWORK=$(dotnet --list-runtimes | sed -n 's/^Microsoft\.NETCore\.App \([0-9.]*\) \[\(.*\)\]$/\2\/\1/p' | sort -V | tail -n 1)
[ -x "$CROSSGEN" ] && [ -d "$FRAMEWORK" ] || { echo "install-pwsh.sh: crossgen2 or the .NET runtime not found; the test host uses the plain tool" >&2; exit 0; }
rm -rf "$R2R.partial"
mkdir -p "$(dirname "$R2R")"
cp -a "$SOURCE" "$R2R.partial"
# The engine and what every session loads; Roslyn (Add-Type only) and the rest stay IL.
for dll in System.Management.Automation pwsh Microsoft.PowerShell.ConsoleHost Microsoft.PowerShell.Commands.Utility \
  Microsoft.PowerShell.Commands.Management Microsoft.PowerShell.Security Newtonsoft.Json System.Management \
  Microsoft.PowerShell.MarkdownRender; do
  [ -f "$SOURCE/$dll.dll" ] || continue
  "$CROSSGEN" "$SOURCE/$dll.dll" -o "$R2R.partial/$dll.dll" -O --targetos:linux --targetarch:x64 \
    -r "$FRAMEWORK/*.dll" -r "$SOURCE/*.dll" >"$WORK/crossgen.log" 2>&1 || { cat "$WORK/crossgen.log" >&2; echo "install-pwsh.sh: crossgen2 failed on $dll; the test host uses the plain tool" >&2; exit 0; }
done
"$R2R.partial/pwsh" -NoProfile -NonInteractive -Command '$null' || { echo "install-pwsh.sh: the ReadyToRun copy does not start; the test host uses the plain tool" >&2; exit 0; }
touch "$R2R.partial/.complete"
rm -rf "$R2R"
mv "$R2R.partial" "$R2R"
echo "pwsh $VERSION ReadyToRun copy made in $R2R"
