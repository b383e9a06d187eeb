# The Hyper-V cmdlets that read or build a VM's configuration and the host's (New-VM, Remove-VM, Set-VM,
# Set-VMProcessor, Set-VMMemory, Get-/Set-VMFirmware, Add-VMScsiController, Add-VMHardDiskDrive, Get-/Add-/Connect-
# VMNetworkAdapter, Get-VMSwitch, Get-VMHost, Copy-VMFile), with the parameter sets, positions and types of
# learn.microsoft.com/powershell/module/hyper-v (Windows Server 2019/2022). Dot-sourced by Hyper-V.psm1. Parameters a
# set has but Lifeboat never passes (-CimSession, -ComputerName, -Credential, most of Set-VM) are left out, so using
# one fails as an unknown parameter instead of being ignored.

function New-VM {
    [CmdletBinding(DefaultParameterSetName = 'No VHD', SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    [OutputType('Microsoft.HyperV.PowerShell.VirtualMachine')]
    param(
        [Parameter(Position = 0)]
        [Alias('VMName')]
        [ValidateNotNullOrEmpty()]
        [string] $Name,
        [Parameter(Position = 1)]
        [long] $MemoryStartupBytes,
        [Parameter(ParameterSetName = 'No VHD')]
        [switch] $NoVHD,
        [string] $SwitchName,
        [string] $Path,
        [Parameter(ParameterSetName = 'New VHD', Mandatory = $true)]
        [string] $NewVHDPath,
        [Parameter(ParameterSetName = 'New VHD', Mandatory = $true)]
        [ulong] $NewVHDSizeBytes,
        [Parameter(ParameterSetName = 'Existing VHD', Mandatory = $true)]
        [string] $VHDPath,
        [Parameter(Position = 2)]
        [ValidateRange(1, 2)]
        [short] $Generation,
        [switch] $Force,
        [switch] $AsJob
    )
    process {
        if ($AsJob) { Stop-HvSimLimit $PSCmdlet 'New-VM -AsJob' }
        $a = Select-HvSimBound $PSBoundParameters 'Name', 'Generation', 'MemoryStartupBytes', 'NoVHD', 'Path', 'SwitchName', 'NewVHDPath', 'VHDPath'
        if ($PSCmdlet.ShouldProcess($Name, 'New-VM')) { Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'New-VM' -Arguments $a }
    }
}

function Remove-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name', SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    param(
        [Parameter(ParameterSetName = 'Name', Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)]
        [Alias('VMName')]
        [ValidateNotNullOrEmpty()]
        [string[]] $Name,
        [Parameter(ParameterSetName = 'VMObject', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [PSTypeName('Microsoft.HyperV.PowerShell.VirtualMachine')]
        [object[]] $VM,
        [switch] $Force,
        [switch] $AsJob,
        [switch] $Passthru
    )
    process {
        if ($AsJob -or $Passthru) { Stop-HvSimLimit $PSCmdlet 'Remove-VM -AsJob/-Passthru' }
        if (-not $PSCmdlet.ShouldProcess('Remove-VM', 'Remove virtual machine')) { return }
        # Without -Force the cmdlet asks "Are you sure?" (ShouldContinue): a NonInteractive session fails there.
        if (-not $Force -and -not $PSCmdlet.ShouldContinue('Are you sure you want to remove the virtual machine?', 'Remove-VM')) { return }
        $a = Select-HvSimBound $PSBoundParameters 'Name', 'VM'
        $a.Force = $true
        Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Remove-VM' -Arguments $a
    }
}

function Set-VM {
    [CmdletBinding(DefaultParameterSetName = 'Name', SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    param(
        [Parameter(ParameterSetName = 'Name', Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)]
        [Alias('VMName')]
        [ValidateNotNullOrEmpty()]
        [string[]] $Name,
        [Parameter(ParameterSetName = 'VMObject', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [PSTypeName('Microsoft.HyperV.PowerShell.VirtualMachine')]
        [object[]] $VM,
        [Microsoft.HyperV.PowerShell.CheckpointType] $CheckpointType,
        [string] $Notes,
        [switch] $Passthru
    )
    process {
        if ($Passthru) { Stop-HvSimLimit $PSCmdlet 'Set-VM -Passthru' }
        $a = Select-HvSimBound $PSBoundParameters 'Name', 'VM', 'CheckpointType', 'Notes'
        if ($PSCmdlet.ShouldProcess('Set-VM', 'Configure')) { Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Set-VM' -Arguments $a }
    }
}

function Set-VMProcessor {
    [CmdletBinding(DefaultParameterSetName = 'VMName', SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)]
        [string[]] $VMName,
        [Parameter(ParameterSetName = 'VMObject', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [PSTypeName('Microsoft.HyperV.PowerShell.VirtualMachine')]
        [object[]] $VM,
        [long] $Count,
        [switch] $Passthru
    )
    process {
        if ($Passthru) { Stop-HvSimLimit $PSCmdlet 'Set-VMProcessor -Passthru' }
        $a = Select-HvSimBound $PSBoundParameters 'VMName', 'VM', 'Count'
        if ($PSCmdlet.ShouldProcess('Set-VMProcessor', 'Configure')) { Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Set-VMProcessor' -Arguments $a }
    }
}

function Set-VMMemory {
    [CmdletBinding(DefaultParameterSetName = 'VMName', SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)]
        [string[]] $VMName,
        [Parameter(ParameterSetName = 'VMObject', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [PSTypeName('Microsoft.HyperV.PowerShell.VirtualMachine')]
        [object[]] $VM,
        [bool] $DynamicMemoryEnabled,
        [long] $StartupBytes,
        [long] $MinimumBytes,
        [long] $MaximumBytes,
        [switch] $Passthru
    )
    process {
        if ($Passthru) { Stop-HvSimLimit $PSCmdlet 'Set-VMMemory -Passthru' }
        $a = Select-HvSimBound $PSBoundParameters 'VMName', 'VM', 'DynamicMemoryEnabled', 'StartupBytes', 'MinimumBytes', 'MaximumBytes'
        if ($PSCmdlet.ShouldProcess('Set-VMMemory', 'Configure')) { Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Set-VMMemory' -Arguments $a }
    }
}

function Get-VMFirmware {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    [OutputType('Microsoft.HyperV.PowerShell.VMFirmware')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)]
        [string[]] $VMName,
        [Parameter(ParameterSetName = 'VMObject', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [PSTypeName('Microsoft.HyperV.PowerShell.VirtualMachine')]
        [object[]] $VM
    )
    process {
        $a = Select-HvSimBound $PSBoundParameters 'VMName', 'VM'
        Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Get-VMFirmware' -Arguments $a
    }
}

function Set-VMFirmware {
    [CmdletBinding(DefaultParameterSetName = 'VMName', SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)]
        [string[]] $VMName,
        [Parameter(ParameterSetName = 'VMObject', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [PSTypeName('Microsoft.HyperV.PowerShell.VirtualMachine')]
        [object[]] $VM,
        [Microsoft.HyperV.PowerShell.OnOffState] $EnableSecureBoot,
        [string] $SecureBootTemplate,
        # VMComponentObject in the real module: a drive or a network adapter.
        [object] $FirstBootDevice,
        [switch] $Passthru
    )
    process {
        if ($Passthru) { Stop-HvSimLimit $PSCmdlet 'Set-VMFirmware -Passthru' }
        $a = Select-HvSimBound $PSBoundParameters 'VMName', 'VM', 'EnableSecureBoot', 'SecureBootTemplate', 'FirstBootDevice'
        if ($PSCmdlet.ShouldProcess('Set-VMFirmware', 'Configure')) { Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Set-VMFirmware' -Arguments $a }
    }
}

function Add-VMScsiController {
    [CmdletBinding(DefaultParameterSetName = 'VMName', SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)]
        [string[]] $VMName,
        [Parameter(ParameterSetName = 'VMObject', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [PSTypeName('Microsoft.HyperV.PowerShell.VirtualMachine')]
        [object[]] $VM,
        [switch] $Passthru
    )
    process {
        if ($Passthru) { Stop-HvSimLimit $PSCmdlet 'Add-VMScsiController -Passthru' }
        $a = Select-HvSimBound $PSBoundParameters 'VMName', 'VM'
        if ($PSCmdlet.ShouldProcess('Add-VMScsiController', 'Add')) { Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Add-VMScsiController' -Arguments $a }
    }
}

function Add-VMHardDiskDrive {
    [CmdletBinding(DefaultParameterSetName = 'VMName', SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    [OutputType('Microsoft.HyperV.PowerShell.HardDiskDrive')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)]
        [string[]] $VMName,
        [Parameter(ParameterSetName = 'VMObject', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [PSTypeName('Microsoft.HyperV.PowerShell.VirtualMachine')]
        [object[]] $VM,
        [Parameter(Position = 1)]
        [Microsoft.HyperV.PowerShell.ControllerType] $ControllerType,
        [Parameter(Position = 2)]
        [int] $ControllerNumber,
        [Parameter(Position = 3)]
        [int] $ControllerLocation,
        [Parameter(Position = 4, ValueFromPipelineByPropertyName = $true)]
        [Alias('FullName')]
        [ValidateNotNull()]
        [string] $Path,
        [switch] $Passthru
    )
    process {
        $a = Select-HvSimBound $PSBoundParameters 'VMName', 'VM', 'Path', 'ControllerType', 'ControllerNumber', 'ControllerLocation', 'Passthru'
        if ($PSCmdlet.ShouldProcess('Add-VMHardDiskDrive', 'Add')) { Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Add-VMHardDiskDrive' -Arguments $a }
    }
}

function Get-VMNetworkAdapter {
    [CmdletBinding(DefaultParameterSetName = 'VMName')]
    [OutputType('Microsoft.HyperV.PowerShell.VMNetworkAdapter')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)]
        [string[]] $VMName,
        [Parameter(ParameterSetName = 'VMObject', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [PSTypeName('Microsoft.HyperV.PowerShell.VirtualMachine')]
        [object[]] $VM,
        [Alias('VMNetworkAdapterName')]
        [string] $Name
    )
    process {
        if ($PSBoundParameters.ContainsKey('Name')) { Stop-HvSimLimit $PSCmdlet 'Get-VMNetworkAdapter -Name' }
        $a = Select-HvSimBound $PSBoundParameters 'VMName', 'VM'
        Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Get-VMNetworkAdapter' -Arguments $a
    }
}

function Add-VMNetworkAdapter {
    [CmdletBinding(DefaultParameterSetName = 'VMName', SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    param(
        [Parameter(ParameterSetName = 'VMName', Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)]
        [string[]] $VMName,
        [Parameter(ParameterSetName = 'VMObject', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [PSTypeName('Microsoft.HyperV.PowerShell.VirtualMachine')]
        [object[]] $VM,
        [string] $SwitchName,
        [Alias('VMNetworkAdapterName')]
        [string] $Name,
        [switch] $Passthru
    )
    process {
        if ($Passthru) { Stop-HvSimLimit $PSCmdlet 'Add-VMNetworkAdapter -Passthru' }
        $a = Select-HvSimBound $PSBoundParameters 'VMName', 'VM', 'SwitchName', 'Name'
        if ($PSCmdlet.ShouldProcess('Add-VMNetworkAdapter', 'Add')) { Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Add-VMNetworkAdapter' -Arguments $a }
    }
}

function Connect-VMNetworkAdapter {
    [CmdletBinding(DefaultParameterSetName = 'Name_SwitchName', SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    param(
        [Parameter(ParameterSetName = 'Name_SwitchName', Mandatory = $true, Position = 0)]
        [string[]] $VMName,
        [Parameter(ParameterSetName = 'Name_SwitchName', Position = 1)]
        [Alias('VMNetworkAdapterName')]
        [string[]] $Name,
        [Parameter(ParameterSetName = 'Object_SwitchName', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [PSTypeName('Microsoft.HyperV.PowerShell.VMNetworkAdapter')]
        [object[]] $VMNetworkAdapter,
        [Parameter(Mandatory = $true, Position = 1)]
        [string] $SwitchName,
        [switch] $Passthru
    )
    process {
        if ($Passthru -or $PSCmdlet.ParameterSetName -eq 'Name_SwitchName') { Stop-HvSimLimit $PSCmdlet 'Connect-VMNetworkAdapter -VMName/-Passthru' }
        $a = Select-HvSimBound $PSBoundParameters 'VMNetworkAdapter', 'SwitchName'
        if ($PSCmdlet.ShouldProcess('Connect-VMNetworkAdapter', 'Connect')) { Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Connect-VMNetworkAdapter' -Arguments $a }
    }
}

function Get-VMSwitch {
    [CmdletBinding(DefaultParameterSetName = 'Name')]
    [OutputType('Microsoft.HyperV.PowerShell.VMSwitch')]
    param(
        [Parameter(ParameterSetName = 'Name', Position = 0)]
        [Alias('SwitchName')]
        [ValidateNotNullOrEmpty()]
        [string[]] $Name
    )
    process {
        $a = Select-HvSimBound $PSBoundParameters 'Name'
        Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Get-VMSwitch' -Arguments $a
    }
}

function Get-VMHost {
    [CmdletBinding()]
    [OutputType('Microsoft.HyperV.PowerShell.VMHost')]
    param()
    process {
        Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Get-VMHost' -Arguments ([ordered]@{})
    }
}

function Copy-VMFile {
    [CmdletBinding(DefaultParameterSetName = 'Name', SupportsShouldProcess = $true, ConfirmImpact = 'Medium')]
    param(
        [Parameter(ParameterSetName = 'Name', Mandatory = $true, Position = 0, ValueFromPipelineByPropertyName = $true)]
        [Alias('VMName')]
        [ValidateNotNullOrEmpty()]
        [string[]] $Name,
        [Parameter(ParameterSetName = 'VMObject', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [PSTypeName('Microsoft.HyperV.PowerShell.VirtualMachine')]
        [object[]] $VM,
        [Parameter(Mandatory = $true, Position = 1)]
        [ValidateNotNullOrEmpty()]
        [string] $SourcePath,
        [Parameter(Mandatory = $true, Position = 2)]
        [ValidateNotNullOrEmpty()]
        [string] $DestinationPath,
        [Parameter(Mandatory = $true)]
        [Microsoft.HyperV.PowerShell.CopyFileSourceType] $FileSource,
        [switch] $CreateFullPath,
        [switch] $Force,
        [switch] $AsJob,
        [switch] $Passthru
    )
    process {
        if ($AsJob -or $Passthru) { Stop-HvSimLimit $PSCmdlet 'Copy-VMFile -AsJob/-Passthru' }
        $a = Select-HvSimBound $PSBoundParameters 'VM', 'SourcePath', 'DestinationPath', 'FileSource', 'CreateFullPath', 'Force'
        # The model finds a VM named here by -VMName.
        if ($PSBoundParameters.ContainsKey('Name')) { $a.VMName = $Name }
        if ($PSCmdlet.ShouldProcess('Copy-VMFile', 'Copy')) { Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Copy-VMFile' -Arguments $a }
    }
}
