# Windows paths on the test host. The adapter's scripts name host files as C:\… (the job lock's folder, restored disks,
# the guest-files staging folder); on Linux pwsh "C:" is no drive and "C:\x\y" one odd file name. This module sits in
# the session's first module folder (the CurrentUser one: winshell.sh points XDG_DATA_HOME at it), so command lookup
# auto-imports it, not Microsoft.PowerShell.Management, the first time a script names one of these cmdlets — and the
# functions keep winning over the real cmdlets afterwards (functions come before cmdlets in command lookup).
# Drive paths go to the simulator model's file cmdlets (test-hosts/hyperv-sim/hyperv: the same folder, disks, ACLs and
# "in use by a running VM" checks the ssh2 simulator has); any other path goes to the real cmdlet with the same
# arguments. Parameter names, positions and aliases are Microsoft's, so binding and quoting stay real PowerShell's.
# Known limit: a script that runs another Microsoft.PowerShell.Management cmdlet (Get-Item, …) before any of these
# loads the real module first, and these names then stay the real cmdlets for that session (the adapter never does).

. ([System.IO.Path]::Combine($PSScriptRoot, '..', '..', 'lib', 'HyperVSimBridge.ps1'))

function Test-HvSimWindowsPath {
    param([string[]] $Path)
    foreach ($p in $Path) { if ([LifeboatTestHost.WindowsPaths]::IsWindowsPath($p)) { return $true } }
    return $false
}

function Join-Path {
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)]
        [Alias('PSPath')]
        [string[]] $Path,
        [Parameter(Position = 1)]
        [AllowNull()] [AllowEmptyString()]
        [string] $ChildPath,
        [Parameter(Position = 2, ValueFromRemainingArguments = $true)]
        [AllowNull()] [AllowEmptyString()]
        [string[]] $AdditionalChildPath,
        [switch] $Resolve,
        [pscredential] $Credential
    )
    process {
        if (-not (Test-HvSimWindowsPath $Path)) { return Microsoft.PowerShell.Management\Join-Path @PSBoundParameters }
        if ($Resolve) { Stop-HvSimLimit $PSCmdlet 'Join-Path -Resolve of a C:\ path' }
        foreach ($p in $Path) {
            # The FileSystem provider on Windows: one backslash between the parts, / read as \.
            $joined = $p.Replace('/', '\')
            foreach ($c in @($ChildPath) + @($AdditionalChildPath)) {
                if ([string]::IsNullOrEmpty($c)) { continue }
                $joined = $joined.TrimEnd('\') + '\' + $c.Replace('/', '\').TrimStart('\')
            }
            $joined
        }
    }
}

function Test-Path {
    [CmdletBinding(DefaultParameterSetName = 'Path')]
    [OutputType([bool])]
    param(
        [Parameter(ParameterSetName = 'Path', Mandatory = $true, Position = 0, ValueFromPipeline = $true, ValueFromPipelineByPropertyName = $true)]
        [AllowNull()] [AllowEmptyCollection()] [AllowEmptyString()]
        [string[]] $Path,
        [Parameter(ParameterSetName = 'LiteralPath', Mandatory = $true, ValueFromPipelineByPropertyName = $true)]
        [Alias('PSPath', 'LP')]
        [AllowNull()] [AllowEmptyCollection()] [AllowEmptyString()]
        [string[]] $LiteralPath,
        [string] $Filter,
        [string[]] $Include,
        [string[]] $Exclude,
        # Microsoft's type is the enum TestPathType, whose assembly loads only with Microsoft.PowerShell.Management.
        [Alias('Type')]
        [ValidateSet('Any', 'Container', 'Leaf')]
        [string] $PathType,
        [switch] $IsValid,
        [pscredential] $Credential
    )
    process {
        if (-not (Test-HvSimWindowsPath (@($Path) + @($LiteralPath)))) { return Microsoft.PowerShell.Management\Test-Path @PSBoundParameters }
        foreach ($k in 'Filter', 'Include', 'Exclude', 'IsValid') {
            if ($PSBoundParameters.ContainsKey($k)) { Stop-HvSimLimit $PSCmdlet "Test-Path -$k of a C:\ path" }
        }
        $name = if ($PSCmdlet.ParameterSetName -eq 'Path') { 'Path' } else { 'LiteralPath' }
        foreach ($p in $PSBoundParameters[$name]) {
            $a = [ordered]@{ $name = $p }
            if ($PSBoundParameters.ContainsKey('PathType')) { $a['PathType'] = $PathType }
            Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Test-Path' -Arguments $a
        }
    }
}

function New-Item {
    [CmdletBinding(DefaultParameterSetName = 'pathSet', SupportsShouldProcess = $true)]
    param(
        [Parameter(ParameterSetName = 'pathSet', Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)]
        [Parameter(ParameterSetName = 'nameSet', Position = 0, ValueFromPipelineByPropertyName = $true)]
        [string[]] $Path,
        [Parameter(ParameterSetName = 'nameSet', Mandatory = $true, ValueFromPipelineByPropertyName = $true)]
        [AllowNull()] [AllowEmptyString()]
        [string] $Name,
        [Parameter(ValueFromPipelineByPropertyName = $true)]
        [Alias('Type')]
        [string] $ItemType,
        [Parameter(ValueFromPipeline = $true, ValueFromPipelineByPropertyName = $true)]
        [Alias('Target')]
        [object] $Value,
        [switch] $Force,
        [pscredential] $Credential
    )
    process {
        if (-not (Test-HvSimWindowsPath $Path)) { return Microsoft.PowerShell.Management\New-Item @PSBoundParameters }
        foreach ($k in 'Name', 'Value') {
            if ($PSBoundParameters.ContainsKey($k)) { Stop-HvSimLimit $PSCmdlet "New-Item -$k of a C:\ path" }
        }
        foreach ($p in $Path) {
            if (-not $PSCmdlet.ShouldProcess("Destination: $p", 'Create Directory')) { continue }
            $a = Select-HvSimBound $PSBoundParameters 'ItemType', 'Force'
            $a['Path'] = $p
            Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'New-Item' -Arguments $a
        }
    }
}

function Remove-Item {
    [CmdletBinding(DefaultParameterSetName = 'Path', SupportsShouldProcess = $true)]
    param(
        [Parameter(ParameterSetName = 'Path', Mandatory = $true, Position = 0, ValueFromPipeline = $true, ValueFromPipelineByPropertyName = $true)]
        [string[]] $Path,
        [Parameter(ParameterSetName = 'LiteralPath', Mandatory = $true, ValueFromPipelineByPropertyName = $true)]
        [Alias('PSPath', 'LP')]
        [string[]] $LiteralPath,
        [string] $Filter,
        [string[]] $Include,
        [string[]] $Exclude,
        [switch] $Recurse,
        [switch] $Force,
        [pscredential] $Credential
    )
    process {
        if (-not (Test-HvSimWindowsPath (@($Path) + @($LiteralPath)))) { return Microsoft.PowerShell.Management\Remove-Item @PSBoundParameters }
        foreach ($k in 'Filter', 'Include', 'Exclude') {
            if ($PSBoundParameters.ContainsKey($k)) { Stop-HvSimLimit $PSCmdlet "Remove-Item -$k of a C:\ path" }
        }
        $name = if ($PSCmdlet.ParameterSetName -eq 'Path') { 'Path' } else { 'LiteralPath' }
        foreach ($p in $PSBoundParameters[$name]) {
            if (-not $PSCmdlet.ShouldProcess($p, 'Remove File')) { continue }
            $a = Select-HvSimBound $PSBoundParameters 'Force', 'Recurse'
            $a[$name] = @($p)
            Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Remove-Item' -Arguments $a
        }
    }
}

function Rename-Item {
    [CmdletBinding(DefaultParameterSetName = 'ByPath', SupportsShouldProcess = $true)]
    param(
        [Parameter(ParameterSetName = 'ByPath', Mandatory = $true, Position = 0, ValueFromPipeline = $true, ValueFromPipelineByPropertyName = $true)]
        [string] $Path,
        [Parameter(ParameterSetName = 'ByLiteralPath', Mandatory = $true, ValueFromPipelineByPropertyName = $true)]
        [Alias('PSPath', 'LP')]
        [string] $LiteralPath,
        [Parameter(Mandatory = $true, Position = 1, ValueFromPipelineByPropertyName = $true)]
        [string] $NewName,
        [switch] $Force,
        [switch] $PassThru,
        [pscredential] $Credential
    )
    process {
        if (-not (Test-HvSimWindowsPath (@($Path) + @($LiteralPath)))) { return Microsoft.PowerShell.Management\Rename-Item @PSBoundParameters }
        $target = if ($PSCmdlet.ParameterSetName -eq 'ByPath') { $Path } else { $LiteralPath }
        if (-not $PSCmdlet.ShouldProcess("Item: $target Destination: $NewName", 'Rename Item')) { return }
        Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Rename-Item' -Arguments (Select-HvSimBound $PSBoundParameters 'Path', 'LiteralPath', 'NewName', 'Force', 'PassThru')
    }
}

function Get-Acl {
    [CmdletBinding(DefaultParameterSetName = 'ByPath')]
    param(
        [Parameter(ParameterSetName = 'ByPath', Position = 0, ValueFromPipeline = $true, ValueFromPipelineByPropertyName = $true)]
        [string[]] $Path,
        [Parameter(ParameterSetName = 'ByLiteralPath', ValueFromPipelineByPropertyName = $true)]
        [Alias('PSPath', 'LP')]
        [string[]] $LiteralPath,
        [switch] $Audit,
        [string] $Filter,
        [string[]] $Include,
        [string[]] $Exclude
    )
    process {
        if (-not (Test-HvSimWindowsPath (@($Path) + @($LiteralPath)))) { return Microsoft.PowerShell.Security\Get-Acl @PSBoundParameters }
        foreach ($k in 'Filter', 'Include', 'Exclude') {
            if ($PSBoundParameters.ContainsKey($k)) { Stop-HvSimLimit $PSCmdlet "Get-Acl -$k of a C:\ path" }
        }
        Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Get-Acl' -Arguments (Select-HvSimBound $PSBoundParameters 'Path', 'LiteralPath', 'Audit')
    }
}

function Set-Acl {
    [CmdletBinding(DefaultParameterSetName = 'ByPath', SupportsShouldProcess = $true)]
    param(
        [Parameter(ParameterSetName = 'ByPath', Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)]
        [string[]] $Path,
        [Parameter(ParameterSetName = 'ByLiteralPath', Mandatory = $true, ValueFromPipelineByPropertyName = $true)]
        [Alias('PSPath', 'LP')]
        [string[]] $LiteralPath,
        [Parameter(Mandatory = $true, Position = 1, ValueFromPipeline = $true)]
        [object] $AclObject,
        [switch] $Passthru,
        [string] $Filter,
        [string[]] $Include,
        [string[]] $Exclude
    )
    process {
        if (-not (Test-HvSimWindowsPath (@($Path) + @($LiteralPath)))) { return Microsoft.PowerShell.Security\Set-Acl @PSBoundParameters }
        foreach ($k in 'Filter', 'Include', 'Exclude') {
            if ($PSBoundParameters.ContainsKey($k)) { Stop-HvSimLimit $PSCmdlet "Set-Acl -$k of a C:\ path" }
        }
        $target = @($Path) + @($LiteralPath) | Where-Object { $null -ne $_ }
        if (-not $PSCmdlet.ShouldProcess(($target -join ', '), 'Set-Acl')) { return }
        Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Set-Acl' -Arguments (Select-HvSimBound $PSBoundParameters 'Path', 'LiteralPath', 'AclObject', 'Passthru')
    }
}

Export-ModuleMember -Function 'Join-Path', 'Test-Path', 'New-Item', 'Remove-Item', 'Rename-Item', 'Get-Acl', 'Set-Acl'
