// CimCmdlets of the test host (Linux pwsh has none) as compiled cmdlets of Microsoft's class names
// (Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand, …): Get-CimInstance by class name
// (Win32_OperatingSystem, Win32_LogicalDisk, the RCT classes of root\virtualization\v2) or to re-read an instance
// (-InputObject), Invoke-CimMethod on an instance, and Get-CimAssociatedInstance — answered by the simulator model, which
// knows the classes and methods Lifeboat's RCT code uses and fails loudly on the rest (Msvm_ConcreteJob associations
// among them: the model's methods always finish synchronously). Parameter sets as in
// learn.microsoft.com/powershell/module/cimcmdlets.
namespace Microsoft.Management.Infrastructure.CimCmdlets
{
    using System.Collections;
    using System.Management.Automation;
    using LifeboatTestHost;

    [Cmdlet(VerbsCommon.Get, "CimInstance", DefaultParameterSetName = "ClassNameComputerSet")]
    [OutputType("Microsoft.Management.Infrastructure.CimInstance")]
    public sealed class GetCimInstanceCommand : HvSimCmdlet
    {
        [Parameter(ParameterSetName = "ClassNameComputerSet", Mandatory = true, Position = 0)]
        public string ClassName { get; set; }

        [Parameter(ParameterSetName = "ClassNameComputerSet")]
        public string Filter { get; set; }

        [Parameter(ParameterSetName = "ClassNameComputerSet", ValueFromPipelineByPropertyName = true)]
        public string Namespace { get; set; }

        [Parameter(ParameterSetName = "ClassNameComputerSet")]
        [Alias("SelectProperties")]
        public string[] Property { get; set; }

        [Parameter(ParameterSetName = "CimInstanceComputerSet", Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [Alias("CimInstance")]
        [PSTypeName("Microsoft.Management.Infrastructure.CimInstance")]
        public PSObject InputObject { get; set; }

        protected override void ProcessRecord()
        {
            if (IsBound("Property")) Limit("Get-CimInstance -Property");
            RunModel("Get-CimInstance", Bound("ClassName", "Filter", "Namespace", "InputObject"));
        }
    }

    [Cmdlet(VerbsLifecycle.Invoke, "CimMethod", DefaultParameterSetName = "CimInstanceComputerSet", SupportsShouldProcess = true)]
    [OutputType("Microsoft.Management.Infrastructure.CimMethodResult")]
    public sealed class InvokeCimMethodCommand : HvSimCmdlet
    {
        [Parameter(ParameterSetName = "CimInstanceComputerSet", Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [Alias("CimInstance")]
        [PSTypeName("Microsoft.Management.Infrastructure.CimInstance")]
        public PSObject InputObject { get; set; }

        [Parameter(Position = 1)]
        public IDictionary Arguments { get; set; }

        [Parameter(Mandatory = true, Position = 2)]
        [Alias("Name")]
        public string MethodName { get; set; }

        protected override void ProcessRecord()
        {
            var a = Bound("InputObject", "MethodName", "Arguments");
            if (ShouldProcess(MethodName, "Invoke-CimMethod")) RunModel("Invoke-CimMethod", a);
        }
    }

    [Cmdlet(VerbsCommon.Get, "CimAssociatedInstance", DefaultParameterSetName = "ComputerSet")]
    [OutputType("Microsoft.Management.Infrastructure.CimInstance")]
    public sealed class GetCimAssociatedInstanceCommand : HvSimCmdlet
    {
        [Parameter(Position = 0)]
        public string Association { get; set; }

        [Parameter]
        public string ResultClassName { get; set; }

        [Parameter(Mandatory = true, Position = 1, ValueFromPipeline = true)]
        [Alias("CimInstance")]
        [PSTypeName("Microsoft.Management.Infrastructure.CimInstance")]
        public PSObject InputObject { get; set; }

        [Parameter]
        public string Namespace { get; set; }

        [Parameter]
        public SwitchParameter KeyOnly { get; set; }

        protected override void ProcessRecord() =>
            RunModel("Get-CimAssociatedInstance", Bound("Association", "ResultClassName", "InputObject", "Namespace", "KeyOnly"));
    }
}
