// The Hyper-V module's read-only cmdlets as compiled cmdlets of Microsoft's class names (Microsoft.HyperV.PowerShell.
// Commands.GetVM, Microsoft.Vhd.PowerShell.Cmdlets.GetVHD, …), with the parameter sets, positions, aliases and
// pipeline binding of learn.microsoft.com/powershell/module/hyper-v; the model behind the bridge answers. Parameters a
// set has but Lifeboat never passes (-CimSession, -ComputerName, -Credential, …) are left out, so using one fails as an
// unknown parameter instead of being ignored. Objects from the model are PSObjects carrying the Hyper-V type name, so
// -VM and -VMSnapshot check that name (PSTypeName) where Microsoft's declare the class.
namespace Microsoft.HyperV.PowerShell.Commands
{
    using System;
    using System.Collections.Specialized;
    using System.Management.Automation;
    using LifeboatTestHost;

    [Cmdlet(VerbsCommon.Get, "VM", DefaultParameterSetName = "Name")]
    [OutputType("Microsoft.HyperV.PowerShell.VirtualMachine")]
    public sealed class GetVM : HvSimCmdlet
    {
        [Parameter(ParameterSetName = "Name", Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("VMName")]
        [ValidateNotNullOrEmpty]
        public string[] Name { get; set; }

        [Parameter(ParameterSetName = "Id", Position = 0, ValueFromPipelineByPropertyName = true)]
        public Guid? Id { get; set; }

        protected override void ProcessRecord()
        {
            var a = new OrderedDictionary();
            if (ParameterSetName == "Id" && Id.HasValue) a["Id"] = Id.Value;
            if (IsBound("Name")) a["Name"] = Name;
            RunModel("Get-VM", a);
        }
    }

    [Cmdlet(VerbsCommon.Get, "VMHardDiskDrive", DefaultParameterSetName = "VMName")]
    [OutputType("Microsoft.HyperV.PowerShell.HardDiskDrive")]
    public sealed class GetVMHardDiskDrive : HvSimCmdlet
    {
        [Parameter(ParameterSetName = "VMName", Mandatory = true, Position = 0)]
        public string[] VMName { get; set; }

        [Parameter(ParameterSetName = "VMObject", Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [PSTypeName("Microsoft.HyperV.PowerShell.VirtualMachine")]
        public PSObject[] VM { get; set; }

        [Parameter(ParameterSetName = "VMSnapshot", Mandatory = true)]
        [Alias("VMCheckpoint")]
        [PSTypeName("Microsoft.HyperV.PowerShell.VMSnapshot")]
        public PSObject VMSnapshot { get; set; }

        [Parameter]
        public ControllerType ControllerType { get; set; }

        [Parameter]
        public int ControllerNumber { get; set; }

        [Parameter]
        public int ControllerLocation { get; set; }

        protected override void ProcessRecord() =>
            RunModel("Get-VMHardDiskDrive", Bound("VMName", "VM", "VMSnapshot", "ControllerType", "ControllerNumber", "ControllerLocation"));
    }

    [Cmdlet(VerbsCommon.Get, "VMSnapshot", DefaultParameterSetName = "VMName")]
    [Alias("Get-VMCheckpoint")]
    [OutputType("Microsoft.HyperV.PowerShell.VMSnapshot")]
    public sealed class GetVMSnapshot : HvSimCmdlet
    {
        [Parameter(ParameterSetName = "VMName", Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[] VMName { get; set; }

        [Parameter(ParameterSetName = "VMObject", Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [PSTypeName("Microsoft.HyperV.PowerShell.VirtualMachine")]
        public PSObject[] VM { get; set; }

        [Parameter(ParameterSetName = "Id", Mandatory = true)]
        public Guid Id { get; set; }

        [Parameter(ParameterSetName = "VMName", Position = 1)]
        [Parameter(ParameterSetName = "VMObject", Position = 1)]
        public string Name { get; set; }

        [Parameter(ParameterSetName = "VMName")]
        [Parameter(ParameterSetName = "VMObject")]
        public SnapshotType SnapshotType { get; set; }

        protected override void ProcessRecord() => RunModel("Get-VMSnapshot", Bound("VMName", "VM", "Id", "Name", "SnapshotType"));
    }

    [Cmdlet(VerbsCommon.Get, "VMIntegrationService", DefaultParameterSetName = "VMName")]
    [OutputType("Microsoft.HyperV.PowerShell.VMIntegrationComponent")]
    public sealed class GetVMIntegrationService : HvSimCmdlet
    {
        [Parameter(ParameterSetName = "VMName", Mandatory = true, Position = 0)]
        public string[] VMName { get; set; }

        [Parameter(ParameterSetName = "VMObject", Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [PSTypeName("Microsoft.HyperV.PowerShell.VirtualMachine")]
        public PSObject[] VM { get; set; }

        [Parameter(Position = 1)]
        public string[] Name { get; set; }

        protected override void ProcessRecord()
        {
            if (IsBound("Name")) Limit("Get-VMIntegrationService -Name");
            RunModel("Get-VMIntegrationService", Bound("VMName", "VM"));
        }
    }

    [Cmdlet(VerbsCommon.Get, "VMNetworkAdapter", DefaultParameterSetName = "VMName")]
    [OutputType("Microsoft.HyperV.PowerShell.VMNetworkAdapter")]
    public sealed class GetVMNetworkAdapter : HvSimCmdlet
    {
        [Parameter(ParameterSetName = "VMName", Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        public string[] VMName { get; set; }

        [Parameter(ParameterSetName = "VMObject", Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [PSTypeName("Microsoft.HyperV.PowerShell.VirtualMachine")]
        public PSObject[] VM { get; set; }

        [Parameter]
        [Alias("VMNetworkAdapterName")]
        public string Name { get; set; }

        protected override void ProcessRecord()
        {
            if (IsBound("Name")) Limit("Get-VMNetworkAdapter -Name");
            RunModel("Get-VMNetworkAdapter", Bound("VMName", "VM"));
        }
    }

    [Cmdlet(VerbsCommon.Get, "VMFirmware", DefaultParameterSetName = "VMName")]
    [OutputType("Microsoft.HyperV.PowerShell.VMFirmware")]
    public sealed class GetVMFirmware : HvSimCmdlet
    {
        [Parameter(ParameterSetName = "VMName", Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        public string[] VMName { get; set; }

        [Parameter(ParameterSetName = "VMObject", Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [PSTypeName("Microsoft.HyperV.PowerShell.VirtualMachine")]
        public PSObject[] VM { get; set; }

        protected override void ProcessRecord() => RunModel("Get-VMFirmware", Bound("VMName", "VM"));
    }

    [Cmdlet(VerbsCommon.Get, "VMSwitch", DefaultParameterSetName = "Name")]
    [OutputType("Microsoft.HyperV.PowerShell.VMSwitch")]
    public sealed class GetVMSwitch : HvSimCmdlet
    {
        [Parameter(ParameterSetName = "Name", Position = 0)]
        [Alias("SwitchName")]
        [ValidateNotNullOrEmpty]
        public string[] Name { get; set; }

        protected override void ProcessRecord() => RunModel("Get-VMSwitch", Bound("Name"));
    }

    [Cmdlet(VerbsCommon.Get, "VMHost")]
    [OutputType("Microsoft.HyperV.PowerShell.VMHost")]
    public sealed class GetVMHost : HvSimCmdlet
    {
        protected override void ProcessRecord() => RunModel("Get-VMHost", new OrderedDictionary());
    }
}

namespace Microsoft.Vhd.PowerShell.Cmdlets
{
    using System;
    using System.Collections.Specialized;
    using System.Management.Automation;
    using LifeboatTestHost;

    [Cmdlet(VerbsCommon.Get, "VHD", DefaultParameterSetName = "Path")]
    [OutputType("Microsoft.Vhd.PowerShell.VirtualHardDisk")]
    public sealed class GetVHD : HvSimCmdlet
    {
        [Parameter(ParameterSetName = "Path", Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("FullName")]
        public string[] Path { get; set; }

        [Parameter(ParameterSetName = "VMId", Mandatory = true, ValueFromPipelineByPropertyName = true)]
        public Guid[] VMId { get; set; }

        protected override void ProcessRecord()
        {
            if (ParameterSetName == "VMId")
            {
                foreach (var id in VMId) RunModel("Get-VHD", new OrderedDictionary { ["VMId"] = id });
                return;
            }
            // One at a time, as the cmdlet reports a missing file and goes on with the next.
            foreach (var p in Path) RunModel("Get-VHD", new OrderedDictionary { ["Path"] = new[] { p } });
        }
    }
}
