# CimCmdlets of the test host (Linux pwsh has none): Get-CimInstance by class name (Win32_OperatingSystem,
# Win32_LogicalDisk, the RCT classes of root\virtualization\v2) or to re-read an instance (-InputObject),
# Invoke-CimMethod on an instance, and Get-CimAssociatedInstance — answered by the simulator model, which knows the
# classes and methods Lifeboat's RCT code uses and fails loudly on the rest (Msvm_ConcreteJob associations among them:
# the model's methods always finish synchronously). Parameter sets as in learn.microsoft.com/powershell/module/cimcmdlets.

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
        [string[]] $Property,
        [Parameter(ParameterSetName = 'CimInstanceComputerSet', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [Alias('CimInstance')]
        [PSTypeName('Microsoft.Management.Infrastructure.CimInstance')]
        [object] $InputObject
    )
    process {
        if ($PSBoundParameters.ContainsKey('Property')) { Stop-HvSimLimit $PSCmdlet 'Get-CimInstance -Property' }
        $a = Select-HvSimBound $PSBoundParameters 'ClassName', 'Filter', 'Namespace', 'InputObject'
        Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Get-CimInstance' -Arguments $a
    }
}

function Invoke-CimMethod {
    [CmdletBinding(DefaultParameterSetName = 'CimInstanceComputerSet', SupportsShouldProcess = $true)]
    [OutputType('Microsoft.Management.Infrastructure.CimMethodResult')]
    param(
        [Parameter(ParameterSetName = 'CimInstanceComputerSet', Mandatory = $true, Position = 0, ValueFromPipeline = $true)]
        [Alias('CimInstance')]
        [PSTypeName('Microsoft.Management.Infrastructure.CimInstance')]
        [object] $InputObject,
        [Parameter(Position = 1)]
        [System.Collections.IDictionary] $Arguments,
        [Parameter(Mandatory = $true, Position = 2)]
        [Alias('Name')]
        [string] $MethodName
    )
    process {
        $a = Select-HvSimBound $PSBoundParameters 'InputObject', 'MethodName', 'Arguments'
        if ($PSCmdlet.ShouldProcess($MethodName, 'Invoke-CimMethod')) { Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Invoke-CimMethod' -Arguments $a }
    }
}

function Get-CimAssociatedInstance {
    [CmdletBinding(DefaultParameterSetName = 'ComputerSet')]
    [OutputType('Microsoft.Management.Infrastructure.CimInstance')]
    param(
        [Parameter(Position = 0)]
        [string] $Association,
        [string] $ResultClassName,
        [Parameter(Mandatory = $true, Position = 1, ValueFromPipeline = $true)]
        [Alias('CimInstance')]
        [PSTypeName('Microsoft.Management.Infrastructure.CimInstance')]
        [object] $InputObject,
        [string] $Namespace,
        [switch] $KeyOnly
    )
    process {
        $a = Select-HvSimBound $PSBoundParameters 'Association', 'ResultClassName', 'InputObject', 'Namespace', 'KeyOnly'
        Invoke-HvSimCmdlet -Cmdlet $PSCmdlet -Name 'Get-CimAssociatedInstance' -Arguments $a
    }
}
