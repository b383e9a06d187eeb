# The file cmdlets of the test host for C:\ paths: compiled cmdlets in the test host's assembly
# (lib/WindowsPathCmdlets.cs, loaded by name as in Hyper-V.psd1). Microsoft.PowerShell.Management is required so that
# PowerShell imports it before this module: of two cmdlets of one name the one imported last wins (see the .cs file).
@{
    RequiredModules = @('Microsoft.PowerShell.Management')
    NestedModules = @('LifeboatTestHost')
    ModuleVersion = '1.0.0.0'
    GUID = '5d0f7c1e-2b8a-4c6e-9a41-3f1d6e8b0c27'
    Author = 'Lifeboat test host (Windows paths)'
    Description = 'The file cmdlets of the Lifeboat test host for C:\ paths: Join-Path with Windows separators, and Test-Path, New-Item, Remove-Item, Rename-Item, Get-Acl, Set-Acl answered by the simulator model; other paths go to the real cmdlets.'
    PowerShellVersion = '5.1'
    FunctionsToExport = @()
    CmdletsToExport = @('Join-Path', 'Test-Path', 'New-Item', 'Remove-Item', 'Rename-Item', 'Get-Acl', 'Set-Acl')
    AliasesToExport = @()
    VariablesToExport = @()
}
