# CimCmdlets of the test host (Linux pwsh has none): Get-CimInstance by class name, answered by the simulator model
# (Win32_OperatingSystem, Win32_LogicalDisk, the RCT classes of root\virtualization\v2). -InputObject, -Query and
# Invoke-CimMethod are for the next session (see test-hosts/hyperv-pwsh/README.md).

. (Join-Path $PSScriptRoot '..' '..' 'lib' 'HyperVSimBridge.ps1')

function Get-CimInstance {
    [CmdletBinding(DefaultParameterSetName = 'ClassNameComputerSet')]
    [OutputType('Microsoft.Management.Infrastructure.CimInstance')]
    param(
        [Parameter(ParameterSetName = 'ClassNameComputerSet', Mandatory = $true, Position = 0)]
        [string] $ClassName,
        [Parameter(ParameterSetName = 'ClassNameComputerSet')]
        [string] $Filter,
        [Parameter(ParameterSetName = 'ClassNameComputerSet', ValueFromPipelineByPropertyName = $true)]
        [string] $Namespace,
        [Parameter(ParameterSetName = 'ClassNameComputerSet')]
        [Alias('SelectProperties')]
        [string[]] $Property
    )
    process {
        if ($PSBoundParameters.ContainsKey('Property')) { Stop-HvSimLimit $PSCmdlet 'Get-CimInstance -Property' }
        $a = Select-HvSimBound $PSBoundParameters 'ClassName', 'Filter', 'Namespace'
        Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Get-CimInstance' -Arguments $a
    }
}
