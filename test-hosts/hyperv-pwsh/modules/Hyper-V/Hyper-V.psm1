# The Hyper-V module of the test host: advanced functions with the names, parameter sets, positions, aliases and
# pipeline binding Microsoft documents for the Hyper-V cmdlets (learn.microsoft.com/powershell/module/hyper-v).
# Real PowerShell binds the parameters; the VM and disk state lives in the simulator's model behind the bridge.
# Cmdlets or parameters not listed here do not exist on this host yet (see test-hosts/hyperv-pwsh/README.md).

. (Join-Path $PSScriptRoot '..' '..' 'lib' 'HyperVSimBridge.ps1')
. (Join-Path $PSScriptRoot 'VMConfig.ps1')

function Get-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name')]
    [OutputType('Microsoft.HyperV.PowerShell.VirtualMachine')]
    param(
        [Parameter(ParameterSetName = 'Name', Position = 0, ValueFromPipelineByPropertyName = $true)]
        [Alias('VMName')]
        [ValidateNotNullOrEmpty()]
        [string[]] $Name,
        [Parameter(ParameterSetName = 'Id', Position = 0, ValueFromPipelineByPropertyName = $true)]
        [Nullable[guid]] $Id
    )
    process {
        $a = [ordered]@{}
        # A [Nullable[guid]] parameter holds the Guid itself in PowerShell.
        if ($PSCmdlet.ParameterSetName -eq 'Id' -and $null -ne $Id) { $a.Id = $Id }
        if ($PSBoundParameters.ContainsKey('Name')) { $a.Name = $Name }
        Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Get-VM' -Arguments $a
    }
}

function Get-VMHardDiskDrive {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    [OutputType('Microsoft.HyperV.PowerShell.HardDiskDrive')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true, Position = 0)]
        [string[]] $VMName,
        [Parameter(ParameterSetName = 'VMObject', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [PSTypeName('Microsoft.HyperV.PowerShell.VirtualMachine')]
        [object[]] $VM,
        [Parameter(ParameterSetName = 'VMSnapshot', Mandatory = $true)]
        [Alias('VMCheckpoint')]
        [PSTypeName('Microsoft.HyperV.PowerShell.VMSnapshot')]
        [object] $VMSnapshot,
        [Microsoft.HyperV.PowerShell.ControllerType] $ControllerType,
        [int] $ControllerNumber,
        [int] $ControllerLocation
    )
    process {
        $a = Select-HvSimBound $PSBoundParameters 'VMName', 'VM', 'VMSnapshot', 'ControllerType', 'ControllerNumber', 'ControllerLocation'
        Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Get-VMHardDiskDrive' -Arguments $a
    }
}

function Get-VHD {
    [CmdletBinding(DefaultParameterSetName = 'Path')]
    [OutputType('Microsoft.Vhd.PowerShell.VirtualHardDisk')]
    param(
        [Parameter(ParameterSetName = 'Path', Mandatory = $true, Position = 0, ValueFromPipeline = $true, ValueFromPipelineByPropertyName = $true)]
        [Alias('FullName')]
        [string[]] $Path,
        [Parameter(ParameterSetName = 'VMId', Mandatory = $true, ValueFromPipelineByPropertyName = $true)]
        [guid[]] $VMId
    )
    process {
        if ($PSCmdlet.ParameterSetName -eq 'VMId') {
            foreach ($id in $VMId) { Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Get-VHD' -Arguments ([ordered]@{ VMId = $id }) }
            return
        }
        # One at a time, as the cmdlet reports a missing file and goes on with the next.
        foreach ($p in $Path) { Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Get-VHD' -Arguments ([ordered]@{ Path = @($p) }) }
    }
}

function Get-VMSnapshot {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    [Alias('Get-VMCheckpoint')]
    [OutputType('Microsoft.HyperV.PowerShell.VMSnapshot')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)]
        [ValidateNotNullOrEmpty()]
        [string[]] $VMName,
        [Parameter(ParameterSetName = 'VMObject', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [PSTypeName('Microsoft.HyperV.PowerShell.VirtualMachine')]
        [object[]] $VM,
        [Parameter(ParameterSetName = 'Id', Mandatory = $true)]
        [guid] $Id,
        [Parameter(ParameterSetName = 'VMName', Position = 1)]
        [Parameter(ParameterSetName = 'VMObject', Position = 1)]
        [string] $Name,
        [Parameter(ParameterSetName = 'VMName')]
        [Parameter(ParameterSetName = 'VMObject')]
        [Microsoft.HyperV.PowerShell.SnapshotType] $SnapshotType
    )
    process {
        $a = Select-HvSimBound $PSBoundParameters 'VMName', 'VM', 'Id', 'Name', 'SnapshotType'
        Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Get-VMSnapshot' -Arguments $a
    }
}

function Get-VMIntegrationService {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    [OutputType('Microsoft.HyperV.PowerShell.VMIntegrationComponent')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true, Position = 0)]
        [string[]] $VMName,
        [Parameter(ParameterSetName = 'VMObject', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [PSTypeName('Microsoft.HyperV.PowerShell.VirtualMachine')]
        [object[]] $VM,
        [Parameter(Position = 1)]
        [string[]] $Name
    )
    process {
        if ($PSBoundParameters.ContainsKey('Name')) { Stop-HvSimLimit $PSCmdlet 'Get-VMIntegrationService -Name' }
        $a = Select-HvSimBound $PSBoundParameters 'VMName', 'VM'
        Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Get-VMIntegrationService' -Arguments $a
    }
}

function Checkpoint-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name', SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    [OutputType('Microsoft.HyperV.PowerShell.VMSnapshot')]
    param(
        [Parameter(ParameterSetName = 'Name', Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)]
        [Alias('VMName')]
        [ValidateNotNullOrEmpty()]
        [string[]] $Name,
        [Parameter(ParameterSetName = 'VMObject', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [PSTypeName('Microsoft.HyperV.PowerShell.VirtualMachine')]
        [object[]] $VM,
        [Parameter(Position = 1)]
        [Alias('CheckpointName')]
        [string] $SnapshotName,
        [switch] $AsJob,
        [switch] $Passthru
    )
    process {
        if ($AsJob -or $Passthru) { Stop-HvSimLimit $PSCmdlet 'Checkpoint-VM -AsJob/-Passthru' }
        $a = Select-HvSimBound $PSBoundParameters 'Name', 'VM', 'SnapshotName'
        if ($PSCmdlet.ShouldProcess('Checkpoint-VM', 'Create checkpoint')) { Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Checkpoint-VM' -Arguments $a }
    }
}

function Remove-VMSnapshot {
    [CmdletBinding(DefaultParameterSetName = 'SnapshotName', SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    [Alias('Remove-VMCheckpoint')]
    param(
        [Parameter(ParameterSetName = 'SnapshotName', Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)]
        [ValidateNotNullOrEmpty()]
        [string[]] $VMName,
        [Parameter(ParameterSetName = 'SnapshotObject', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [Alias('VMCheckpoint')]
        [PSTypeName('Microsoft.HyperV.PowerShell.VMSnapshot')]
        [object[]] $VMSnapshot,
        [Parameter(ParameterSetName = 'VMObject', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [PSTypeName('Microsoft.HyperV.PowerShell.VirtualMachine')]
        [object[]] $VM,
        [Parameter(ParameterSetName = 'SnapshotName', Mandatory = $true, Position = 1)]
        [Parameter(ParameterSetName = 'VMObject', Mandatory = $true, Position = 1)]
        [string[]] $Name,
        [switch] $IncludeAllChildSnapshots,
        [switch] $AsJob,
        [switch] $Passthru
    )
    process {
        if ($AsJob -or $Passthru) { Stop-HvSimLimit $PSCmdlet 'Remove-VMSnapshot -AsJob/-Passthru' }
        $a = Select-HvSimBound $PSBoundParameters 'VMName', 'VMSnapshot', 'VM', 'Name', 'IncludeAllChildSnapshots'
        if ($PSCmdlet.ShouldProcess('Remove-VMSnapshot', 'Remove checkpoint')) { Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Remove-VMSnapshot' -Arguments $a }
    }
}

function Start-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name', SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    param(
        [Parameter(ParameterSetName = 'Name', Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)]
        [Alias('VMName')]
        [ValidateNotNullOrEmpty()]
        [string[]] $Name,
        [Parameter(ParameterSetName = 'VMObject', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [PSTypeName('Microsoft.HyperV.PowerShell.VirtualMachine')]
        [object[]] $VM,
        [switch] $AsJob,
        [switch] $Passthru
    )
    process {
        if ($AsJob -or $Passthru) { Stop-HvSimLimit $PSCmdlet 'Start-VM -AsJob/-Passthru' }
        $a = Select-HvSimBound $PSBoundParameters 'Name', 'VM'
        if ($PSCmdlet.ShouldProcess('Start-VM', 'Start')) { Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Start-VM' -Arguments $a }
    }
}

function Stop-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name', SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    param(
        [Parameter(ParameterSetName = 'Name', Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)]
        [Alias('VMName')]
        [ValidateNotNullOrEmpty()]
        [string[]] $Name,
        [Parameter(ParameterSetName = 'VMObject', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [PSTypeName('Microsoft.HyperV.PowerShell.VirtualMachine')]
        [object[]] $VM,
        [switch] $Save,
        [switch] $TurnOff,
        [switch] $Force,
        [switch] $AsJob,
        [switch] $Passthru
    )
    process {
        if ($AsJob -or $Passthru) { Stop-HvSimLimit $PSCmdlet 'Stop-VM -AsJob/-Passthru' }
        $a = Select-HvSimBound $PSBoundParameters 'Name', 'VM', 'Save', 'TurnOff', 'Force'
        if ($PSCmdlet.ShouldProcess('Stop-VM', 'Stop')) { Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Stop-VM' -Arguments $a }
    }
}

function Save-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name', SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    param(
        [Parameter(ParameterSetName = 'Name', Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)]
        [Alias('VMName')]
        [ValidateNotNullOrEmpty()]
        [string[]] $Name,
        [Parameter(ParameterSetName = 'VMObject', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [PSTypeName('Microsoft.HyperV.PowerShell.VirtualMachine')]
        [object[]] $VM,
        [switch] $AsJob,
        [switch] $Passthru
    )
    process {
        if ($AsJob -or $Passthru) { Stop-HvSimLimit $PSCmdlet 'Save-VM -AsJob/-Passthru' }
        $a = Select-HvSimBound $PSBoundParameters 'Name', 'VM'
        if ($PSCmdlet.ShouldProcess('Save-VM', 'Save')) { Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Save-VM' -Arguments $a }
    }
}

# Applying a checkpoint discards the VM's current state, so the cmdlet asks first (ConfirmImpact High): without
# -Confirm:$false a NonInteractive session fails with PowerShell's own prompt error.
function Restore-VMSnapshot {
    [CmdletBinding(DefaultParameterSetName = 'SnapshotName', SupportsShouldProcess = $true, ConfirmImpact = 'High')]
    [Alias('Restore-VMCheckpoint')]
    param(
        [Parameter(ParameterSetName = 'SnapshotObject', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [Alias('VMCheckpoint')]
        [PSTypeName('Microsoft.HyperV.PowerShell.VMSnapshot')]
        [object] $VMSnapshot,
        [Parameter(ParameterSetName = 'SnapshotName', Mandatory = $true, Position = 0)]
        [Parameter(ParameterSetName = 'VMObject', Mandatory = $true, Position = 0)]
        [string] $Name,
        [Parameter(ParameterSetName = 'SnapshotName', Mandatory = $true, Position = 1)]
        [string] $VMName,
        [Parameter(ParameterSetName = 'VMObject', Mandatory = $true, ValueFromPipeline = $true)]
        [PSTypeName('Microsoft.HyperV.PowerShell.VirtualMachine')]
        [object] $VM,
        [switch] $AsJob,
        [switch] $Passthru
    )
    process {
        if ($AsJob -or $Passthru) { Stop-HvSimLimit $PSCmdlet 'Restore-VMSnapshot -AsJob/-Passthru' }
        if ($PSCmdlet.ParameterSetName -ne 'SnapshotObject') { Stop-HvSimLimit $PSCmdlet 'Restore-VMSnapshot -Name (give -VMSnapshot)' }
        if (-not $PSCmdlet.ShouldProcess('Restore-VMSnapshot', 'Apply checkpoint')) { return }
        $a = Select-HvSimBound $PSBoundParameters 'VMSnapshot'
        # PowerShell has asked (or been told not to): the model must not ask again.
        $a.Confirm = $false
        Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Restore-VMSnapshot' -Arguments $a
    }
}
