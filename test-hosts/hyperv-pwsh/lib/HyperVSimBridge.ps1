# The Hyper-V module's way into the simulated host: one request per connection to the test host's unix socket
# ($env:LB_HVPWSH_SOCKET), one JSON line each way. PowerShell binds the parameters; the model in
# test-hosts/hyperv-sim/hyperv runs the cmdlet and answers with tagged values, rebuilt here into typed objects.
# Dot-sourced by the modules; nothing here is exported.

if (-not ('Microsoft.HyperV.PowerShell.VMState' -as [type])) {
    $null = [System.Reflection.Assembly]::LoadFrom($env:LB_HVPWSH_TYPES)
}

# .NET types of the numeric properties, as the Hyper-V and Storage modules declare them (JSON only says "number").
$script:HvNumericTypes = @{
    'Microsoft.HyperV.PowerShell.VirtualMachine' = @{ Generation = [int]; ProcessorCount = [long]; MemoryStartup = [long]; MemoryMinimum = [long]; MemoryMaximum = [long]; MemoryAssigned = [long]; CPUUsage = [int] }
    'Microsoft.HyperV.PowerShell.VMSnapshot' = @{ Generation = [int]; ProcessorCount = [long]; MemoryStartup = [long] }
    'Microsoft.HyperV.PowerShell.HardDiskDrive' = @{ ControllerNumber = [int]; ControllerLocation = [int]; MaximumIOPS = [ulong]; MinimumIOPS = [ulong] }
    'Microsoft.Vhd.PowerShell.VirtualHardDisk' = @{ FileSize = [ulong]; Size = [ulong]; MinimumSize = [ulong]; LogicalSectorSize = [uint]; PhysicalSectorSize = [uint]; BlockSize = [uint]; FragmentationPercentage = [int]; Alignment = [int]; AddressAbstractionType = [int] }
}

function ConvertTo-HvSimArgument {
    param($Value)
    if ($null -eq $Value) { return $null }
    if ($Value -is [System.Collections.IList]) {
        $items = [System.Collections.Generic.List[object]]::new()
        foreach ($v in $Value) { $items.Add((ConvertTo-HvSimArgument $v)) }
        return , $items.ToArray()
    }
    if ($Value -is [guid]) { return @{ '$guid' = $Value.ToString() } }
    if ($Value -is [enum]) { return @{ '$enum' = $Value.GetType().FullName; name = $Value.ToString() } }
    if ($Value -is [System.Management.Automation.SwitchParameter]) { return $Value.IsPresent }
    if ($Value -is [psobject] -and $Value.PSObject.TypeNames -contains 'Microsoft.HyperV.PowerShell.VirtualMachine') { return @{ '$ref' = 'Microsoft.HyperV.PowerShell.VirtualMachine'; id = $Value.Id.ToString() } }
    if ($Value -is [psobject] -and $Value.PSObject.TypeNames -contains 'Microsoft.HyperV.PowerShell.VMSnapshot') { return @{ '$ref' = 'Microsoft.HyperV.PowerShell.VMSnapshot'; id = $Value.Id.ToString() } }
    return $Value
}

function ConvertFrom-HvSimValue {
    param($Value, [type]$NumericType)
    if ($null -eq $Value) { return $null }
    if ($Value -is [System.Array]) {
        $items = [System.Collections.Generic.List[object]]::new()
        foreach ($v in $Value) { $items.Add((ConvertFrom-HvSimValue $v)) }
        return , $items.ToArray()
    }
    if ($Value -is [System.Management.Automation.PSCustomObject]) {
        $names = $Value.PSObject.Properties.Name
        if ($names -contains '$guid') { return [guid]$Value.'$guid' }
        if ($names -contains '$date') { return [System.DateTimeOffset]::FromUnixTimeMilliseconds([long]$Value.'$date').LocalDateTime }
        if ($names -contains '$enum') {
            $t = $Value.'$enum' -as [type]
            if ($null -eq $t) { throw "HyperVSim bridge: the enum type $($Value.'$enum') is not defined in HyperVTypes.cs" }
            return [System.Enum]::Parse($t, [string]$Value.name)
        }
        if ($names -contains '$o') {
            $typeName = [string]$Value.'$o'
            $numeric = $script:HvNumericTypes[$typeName]
            $props = [ordered]@{}
            foreach ($p in $Value.p) {
                $name = [string]$p[0]
                $props[$name] = ConvertFrom-HvSimValue $p[1] $(if ($numeric) { $numeric[$name] })
            }
            $o = [pscustomobject]$props
            $o.PSObject.TypeNames.Insert(0, $typeName)
            return $o
        }
        throw 'HyperVSim bridge: an untagged object came back from the model'
    }
    if ($null -ne $NumericType -and ($Value -is [long] -or $Value -is [int] -or $Value -is [double] -or $Value -is [decimal] -or $Value -is [System.Numerics.BigInteger])) { return $Value -as $NumericType }
    return $Value
}

function New-HvSimErrorRecord {
    param($Failure)
    $type = [string]$Failure.exception -as [type]
    $exception = $null
    if ($null -ne $type -and [System.Exception].IsAssignableFrom($type)) {
        try { $exception = [System.Activator]::CreateInstance($type, @([string]$Failure.message)) } catch { $exception = $null }
    }
    if ($null -eq $exception) { $exception = [System.Exception]::new([string]$Failure.message) }
    $category = [System.Management.Automation.ErrorCategory]::NotSpecified
    $null = [System.Enum]::TryParse([string]$Failure.category, [ref]$category)
    [System.Management.Automation.ErrorRecord]::new($exception, [string]$Failure.id, $category, $Failure.target)
}

# Runs one cmdlet of the model with already-bound arguments; returns its output objects (to the pipeline) or
# reports its error through the calling advanced function ($Cmdlet), as a binary cmdlet's WriteError would.
function Invoke-HvSimCmdlet {
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [System.Collections.IDictionary] $Arguments
    )
    $wire = [ordered]@{}
    foreach ($k in $Arguments.Keys) { $wire[$k] = ConvertTo-HvSimArgument $Arguments[$k] }
    $request = ConvertTo-Json -Compress -Depth 10 -InputObject ([ordered]@{ cmdlet = $Name; edition = $PSVersionTable.PSEdition; args = $wire })
    $socket = [System.Net.Sockets.Socket]::new([System.Net.Sockets.AddressFamily]::Unix, [System.Net.Sockets.SocketType]::Stream, [System.Net.Sockets.ProtocolType]::Unspecified)
    try {
        $socket.Connect([System.Net.Sockets.UnixDomainSocketEndPoint]::new($env:LB_HVPWSH_SOCKET))
        $stream = [System.Net.Sockets.NetworkStream]::new($socket, $false)
        $utf8 = [System.Text.UTF8Encoding]::new($false)
        $bytes = $utf8.GetBytes($request + "`n")
        $stream.Write($bytes, 0, $bytes.Length)
        $line = [System.IO.StreamReader]::new($stream, $utf8).ReadLine()
    } finally {
        $socket.Dispose()
    }
    if ($null -eq $line) { throw "HyperVSim bridge: the test host closed the connection during $Name" }
    # -DateKind String: a VM named like a date stays a string.
    $answer = ConvertFrom-Json -InputObject $line -DateKind String -Depth 100
    foreach ($w in @($answer.warnings)) { if ($null -ne $w) { $Cmdlet.WriteWarning([string]$w) } }
    if ($null -ne $answer.limit) {
        $Cmdlet.ThrowTerminatingError([System.Management.Automation.ErrorRecord]::new([System.NotImplementedException]::new([string]$answer.limit), 'HyperVSimLimit', 'NotImplemented', $Name))
    }
    if ($null -ne $answer.error) {
        $Cmdlet.WriteError((New-HvSimErrorRecord $answer.error))
        return
    }
    foreach ($v in @($answer.output)) { if ($null -ne $v) { ConvertFrom-HvSimValue $v } }
}

# The parameters a cmdlet was called with, of those named, in that order: what goes to the model as arguments.
function Select-HvSimBound {
    param($Bound, [string[]] $Keys)
    $a = [ordered]@{}
    foreach ($k in $Keys) { if ($Bound.ContainsKey($k)) { $a[$k] = $Bound[$k] } }
    return $a
}

# A simulator limit: something the module does not model yet fails loudly instead of guessing.
function Stop-HvSimLimit {
    param([System.Management.Automation.PSCmdlet] $Cmdlet, [string] $What)
    $Cmdlet.ThrowTerminatingError([System.Management.Automation.ErrorRecord]::new([System.NotImplementedException]::new("Hyper-V test host: $What is not modelled (see test-hosts/hyperv-pwsh/README.md)"), 'HyperVSimLimit', 'NotImplemented', $What))
}
