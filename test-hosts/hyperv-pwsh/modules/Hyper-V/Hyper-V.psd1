# The Hyper-V module of the test host: compiled cmdlets of Microsoft's class names in the test host's assembly
# (lib/HyperVQueryCmdlets.cs, HyperVPowerCmdlets.cs, HyperVConfigCmdlets.cs), which every session's pwsh has loaded as
# its .NET startup hook; PowerShell finds it by its name, LifeboatTestHost.
@{
    NestedModules = @('LifeboatTestHost')
    ModuleVersion = '2.0.0.0'
    GUID = 'af4bddd0-8583-4ff2-84b2-a33f5c8de8a7'
    Author = 'Lifeboat test host (simulated Hyper-V module)'
    Description = 'The Hyper-V cmdlets of the Lifeboat test host: real parameter binding, the VM state in the simulator model.'
    PowerShellVersion = '5.1'
    FunctionsToExport = @()
    CmdletsToExport = @('Get-VM', 'Get-VMHardDiskDrive', 'Get-VHD', 'Get-VMSnapshot', 'Get-VMIntegrationService', 'Checkpoint-VM', 'Remove-VMSnapshot', 'Start-VM', 'Stop-VM', 'Save-VM', 'Restore-VMSnapshot', 'New-VM', 'Remove-VM', 'Set-VM', 'Set-VMProcessor', 'Set-VMMemory', 'Get-VMFirmware', 'Set-VMFirmware', 'Add-VMScsiController', 'Add-VMHardDiskDrive', 'Get-VMNetworkAdapter', 'Add-VMNetworkAdapter', 'Connect-VMNetworkAdapter', 'Get-VMSwitch', 'Get-VMHost', 'Copy-VMFile')
    AliasesToExport = @('Get-VMCheckpoint', 'Remove-VMCheckpoint', 'Restore-VMCheckpoint')
    VariablesToExport = @()
}
