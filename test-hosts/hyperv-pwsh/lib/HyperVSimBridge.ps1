# The Hyper-V module's way into the simulated host: one request per connection to the test host's unix socket
# ($env:LB_HVPWSH_SOCKET), one JSON line each way, sent and read by the compiled client in HyperVSimBridge.cs.
# PowerShell binds the parameters; the model in test-hosts/hyperv-sim/hyperv runs the cmdlet.
# Dot-sourced by the modules; nothing here is exported.

if (-not ('LifeboatTestHost.HyperVSimBridge' -as [type])) {
    $null = [System.Reflection.Assembly]::LoadFrom($env:LB_HVPWSH_TYPES)
}

# Runs one cmdlet of the model with already-bound arguments (lib/HyperVSimBridge.cs talks to the socket and rebuilds
# the typed objects); writes its output to the pipeline and its warnings and error record through the calling advanced
# function ($Cmdlet), as a binary cmdlet's WriteWarning/WriteError would.
function Invoke-HvSimCmdlet {
    param(
        [Parameter(Mandatory)] [System.Management.Automation.PSCmdlet] $Cmdlet,
        [Parameter(Mandatory)] [string] $Name,
        [Parameter(Mandatory)] [System.Collections.IDictionary] $Arguments
    )
    $answer = [LifeboatTestHost.HyperVSimBridge]::Invoke($Name, $Arguments)
    foreach ($w in $answer.Warnings) { $Cmdlet.WriteWarning($w) }
    if ($null -ne $answer.Limit) {
        $Cmdlet.ThrowTerminatingError([System.Management.Automation.ErrorRecord]::new([System.NotImplementedException]::new($answer.Limit), 'HyperVSimLimit', 'NotImplemented', $Name))
    }
    if ($null -ne $answer.Error) {
        $Cmdlet.WriteError($answer.Error)
        return
    }
    foreach ($o in $answer.Output) { $o }
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
