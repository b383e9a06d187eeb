// What every compiled cmdlet of the test host's modules shares: the model's arguments from the bound parameters, one
// call of the model through the bridge, and its answer written as Microsoft's binary cmdlets write theirs. Being
// compiled cmdlets of Microsoft's class names is what gives the error records their exact FullyQualifiedErrorId
// ("InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM": PowerShell appends the implementing type's full name;
// for a function it appended the function's name) — binding errors included.
namespace LifeboatTestHost
{
    using System;
    using System.Collections;
    using System.Collections.Specialized;
    using System.Management.Automation;

    public abstract class HvSimCmdlet : PSCmdlet
    {
        // The parameters this record was bound with, of those named, in that order: what goes to the model.
        protected OrderedDictionary Bound(params string[] keys)
        {
            var arguments = new OrderedDictionary();
            var bound = MyInvocation.BoundParameters;
            foreach (var key in keys)
            {
                if (bound.TryGetValue(key, out var value)) arguments[key] = value;
            }
            return arguments;
        }

        protected bool IsBound(string key) => MyInvocation.BoundParameters.ContainsKey(key);

        // Runs one cmdlet of the model: its warnings, then its error record (WriteError, so -ErrorAction decides), or its
        // output; a simulator limit is a terminating error.
        protected void RunModel(string name, IDictionary arguments)
        {
            var answer = HyperVSimBridge.Invoke(name, arguments);
            foreach (var warning in answer.Warnings) WriteWarning(warning);
            if (answer.Limit != null)
            {
                ThrowTerminatingError(new ErrorRecord(new NotImplementedException(answer.Limit), "HyperVSimLimit", ErrorCategory.NotImplemented, name));
            }
            if (answer.Error != null)
            {
                WriteError(answer.Error);
                return;
            }
            // enumerateCollection: as a script writing each item unrolls one level.
            foreach (var item in answer.Output) WriteObject(item, true);
        }

        // Something the module does not model yet fails loudly instead of guessing.
        protected void Limit(string what)
        {
            ThrowTerminatingError(new ErrorRecord(new NotImplementedException("Hyper-V test host: " + what + " is not modelled (see test-hosts/hyperv-pwsh/README.md)"), "HyperVSimLimit", ErrorCategory.NotImplemented, what));
        }
    }
}
