# The CimCmdlets of the test host: compiled cmdlets in the test host's assembly (lib/CimCmdlets.cs), loaded by name as
# in Hyper-V.psd1.
@{
    NestedModules = @('LifeboatTestHost')
    ModuleVersion = '1.0.0.0'
    GUID = 'fb6cc51d-c096-4b38-b78d-0fed6277096a'
    Author = 'Lifeboat test host (simulated CimCmdlets)'
    Description = 'Get-CimInstance, Invoke-CimMethod and Get-CimAssociatedInstance of the Lifeboat test host, answered by the simulator model.'
    PowerShellVersion = '5.1'
    FunctionsToExport = @()
    CmdletsToExport = @('Get-CimInstance', 'Invoke-CimMethod', 'Get-CimAssociatedInstance')
    AliasesToExport = @()
    VariablesToExport = @()
}
