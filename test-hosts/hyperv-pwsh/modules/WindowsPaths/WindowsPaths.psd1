@{
    RootModule = 'WindowsPaths.psm1'
    ModuleVersion = '1.0.0.0'
    GUID = '5d0f7c1e-2b8a-4c6e-9a41-3f1d6e8b0c27'
    Author = 'Lifeboat test host (Windows paths)'
    Description = 'The file cmdlets of the Lifeboat test host for C:\ paths: Join-Path with Windows separators, and Test-Path, New-Item, Remove-Item, Rename-Item, Get-Acl, Set-Acl answered by the simulator model; other paths go to the real cmdlets.'
    PowerShellVersion = '5.1'
    FunctionsToExport = @('Join-Path', 'Test-Path', 'New-Item', 'Remove-Item', 'Rename-Item', 'Get-Acl', 'Set-Acl')
    AliasesToExport = @()
    CmdletsToExport = @()
    VariablesToExport = @()
}
