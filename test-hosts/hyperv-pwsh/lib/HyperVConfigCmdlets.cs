// The Hyper-V cmdlets that build or change a VM's configuration (New-VM, Remove-VM, Set-VM, Set-VMProcessor,
// Set-VMMemory, Set-VMFirmware, Add-VMScsiController, Add-VMHardDiskDrive, Add-/Connect-VMNetworkAdapter) and
// Copy-VMFile, as compiled cmdlets of Microsoft's class names, with the parameter sets, positions and types of
// learn.microsoft.com/powershell/module/hyper-v (Windows Server 2019/2022); see HyperVQueryCmdlets.cs.
namespace LifeboatTestHost
{
    using System.Management.Automation;

    // The configuration cmdlets' two ways to name a VM: -VMName (also by property name) or -VM objects (the pipeline).
    public abstract class VMSettingCmdlet : HvSimCmdlet
    {
        [Parameter(ParameterSetName = "VMName", Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        public string[] VMName { get; set; }

        [Parameter(ParameterSetName = "VMObject", Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [PSTypeName("Microsoft.HyperV.PowerShell.VirtualMachine")]
        public PSObject[] VM { get; set; }

        [Parameter]
        public SwitchParameter Passthru { get; set; }

        // -Passthru is not modelled for these (Add-VMHardDiskDrive's is).
        protected void Run(string cmdlet, string action, params string[] keys)
        {
            if (Passthru) Limit(cmdlet + " -Passthru");
            var a = Bound(keys);
            if (ShouldProcess(cmdlet, action)) RunModel(cmdlet, a);
        }
    }
}

namespace Microsoft.HyperV.PowerShell.Commands
{
    using System.Management.Automation;
    using LifeboatTestHost;

    [Cmdlet(VerbsCommon.New, "VM", DefaultParameterSetName = "No VHD", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType("Microsoft.HyperV.PowerShell.VirtualMachine")]
    public sealed class NewVM : HvSimCmdlet
    {
        [Parameter(Position = 0)]
        [Alias("VMName")]
        [ValidateNotNullOrEmpty]
        public string Name { get; set; }

        [Parameter(Position = 1)]
        public long MemoryStartupBytes { get; set; }

        [Parameter(ParameterSetName = "No VHD")]
        public SwitchParameter NoVHD { get; set; }

        [Parameter]
        public string SwitchName { get; set; }

        [Parameter]
        public string Path { get; set; }

        [Parameter(ParameterSetName = "New VHD", Mandatory = true)]
        public string NewVHDPath { get; set; }

        [Parameter(ParameterSetName = "New VHD", Mandatory = true)]
        public ulong NewVHDSizeBytes { get; set; }

        [Parameter(ParameterSetName = "Existing VHD", Mandatory = true)]
        public string VHDPath { get; set; }

        [Parameter(Position = 2)]
        [ValidateRange(1, 2)]
        public short Generation { get; set; }

        [Parameter]
        public SwitchParameter Force { get; set; }

        [Parameter]
        public SwitchParameter AsJob { get; set; }

        protected override void ProcessRecord()
        {
            if (AsJob) Limit("New-VM -AsJob");
            var a = Bound("Name", "Generation", "MemoryStartupBytes", "NoVHD", "Path", "SwitchName", "NewVHDPath", "VHDPath");
            if (ShouldProcess(Name, "New-VM")) RunModel("New-VM", a);
        }
    }

    [Cmdlet(VerbsCommon.Remove, "VM", DefaultParameterSetName = "Name", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    public sealed class RemoveVM : VMPowerCmdlet
    {
        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override void ProcessRecord()
        {
            if (AsJob || Passthru) Limit("Remove-VM -AsJob/-Passthru");
            if (!ShouldProcess("Remove-VM", "Remove virtual machine")) return;
            // Without -Force the cmdlet asks "Are you sure?" (ShouldContinue): a NonInteractive session fails there.
            if (!Force && !ShouldContinue("Are you sure you want to remove the virtual machine?", "Remove-VM")) return;
            var a = Bound("Name", "VM");
            a["Force"] = true;
            RunModel("Remove-VM", a);
        }
    }

    [Cmdlet(VerbsCommon.Set, "VM", DefaultParameterSetName = "Name", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    public sealed class SetVM : HvSimCmdlet
    {
        [Parameter(ParameterSetName = "Name", Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("VMName")]
        [ValidateNotNullOrEmpty]
        public string[] Name { get; set; }

        [Parameter(ParameterSetName = "VMObject", Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [PSTypeName("Microsoft.HyperV.PowerShell.VirtualMachine")]
        public PSObject[] VM { get; set; }

        [Parameter]
        public CheckpointType CheckpointType { get; set; }

        [Parameter]
        public string Notes { get; set; }

        [Parameter]
        public SwitchParameter Passthru { get; set; }

        protected override void ProcessRecord()
        {
            if (Passthru) Limit("Set-VM -Passthru");
            var a = Bound("Name", "VM", "CheckpointType", "Notes");
            if (ShouldProcess("Set-VM", "Configure")) RunModel("Set-VM", a);
        }
    }

    [Cmdlet(VerbsCommon.Set, "VMProcessor", DefaultParameterSetName = "VMName", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    public sealed class SetVMProcessor : VMSettingCmdlet
    {
        [Parameter]
        public long Count { get; set; }

        protected override void ProcessRecord() => Run("Set-VMProcessor", "Configure", "VMName", "VM", "Count");
    }

    [Cmdlet(VerbsCommon.Set, "VMMemory", DefaultParameterSetName = "VMName", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    public sealed class SetVMMemory : VMSettingCmdlet
    {
        [Parameter]
        public bool DynamicMemoryEnabled { get; set; }

        [Parameter]
        public long StartupBytes { get; set; }

        [Parameter]
        public long MinimumBytes { get; set; }

        [Parameter]
        public long MaximumBytes { get; set; }

        protected override void ProcessRecord() =>
            Run("Set-VMMemory", "Configure", "VMName", "VM", "DynamicMemoryEnabled", "StartupBytes", "MinimumBytes", "MaximumBytes");
    }

    [Cmdlet(VerbsCommon.Set, "VMFirmware", DefaultParameterSetName = "VMName", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    public sealed class SetVMFirmware : VMSettingCmdlet
    {
        [Parameter]
        public OnOffState EnableSecureBoot { get; set; }

        [Parameter]
        public string SecureBootTemplate { get; set; }

        // VMComponentObject in the real module: a drive or a network adapter.
        [Parameter]
        public object FirstBootDevice { get; set; }

        protected override void ProcessRecord() =>
            Run("Set-VMFirmware", "Configure", "VMName", "VM", "EnableSecureBoot", "SecureBootTemplate", "FirstBootDevice");
    }

    [Cmdlet(VerbsCommon.Add, "VMScsiController", DefaultParameterSetName = "VMName", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    public sealed class AddVMScsiController : VMSettingCmdlet
    {
        protected override void ProcessRecord() => Run("Add-VMScsiController", "Add", "VMName", "VM");
    }

    [Cmdlet(VerbsCommon.Add, "VMHardDiskDrive", DefaultParameterSetName = "VMName", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType("Microsoft.HyperV.PowerShell.HardDiskDrive")]
    public sealed class AddVMHardDiskDrive : VMSettingCmdlet
    {
        [Parameter(Position = 1)]
        public ControllerType ControllerType { get; set; }

        [Parameter(Position = 2)]
        public int ControllerNumber { get; set; }

        [Parameter(Position = 3)]
        public int ControllerLocation { get; set; }

        [Parameter(Position = 4, ValueFromPipelineByPropertyName = true)]
        [Alias("FullName")]
        [ValidateNotNull]
        public string Path { get; set; }

        protected override void ProcessRecord()
        {
            var a = Bound("VMName", "VM", "Path", "ControllerType", "ControllerNumber", "ControllerLocation", "Passthru");
            if (ShouldProcess("Add-VMHardDiskDrive", "Add")) RunModel("Add-VMHardDiskDrive", a);
        }
    }

    [Cmdlet(VerbsCommon.Add, "VMNetworkAdapter", DefaultParameterSetName = "VMName", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    public sealed class AddVMNetworkAdapter : VMSettingCmdlet
    {
        [Parameter]
        public string SwitchName { get; set; }

        [Parameter]
        [Alias("VMNetworkAdapterName")]
        public string Name { get; set; }

        protected override void ProcessRecord() => Run("Add-VMNetworkAdapter", "Add", "VMName", "VM", "SwitchName", "Name");
    }

    [Cmdlet(VerbsCommunications.Connect, "VMNetworkAdapter", DefaultParameterSetName = "Name_SwitchName", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    public sealed class ConnectVMNetworkAdapter : HvSimCmdlet
    {
        [Parameter(ParameterSetName = "Name_SwitchName", Mandatory = true, Position = 0)]
        public string[] VMName { get; set; }

        [Parameter(ParameterSetName = "Name_SwitchName", Position = 1)]
        [Alias("VMNetworkAdapterName")]
        public string[] Name { get; set; }

        [Parameter(ParameterSetName = "Object_SwitchName", Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [PSTypeName("Microsoft.HyperV.PowerShell.VMNetworkAdapter")]
        public PSObject[] VMNetworkAdapter { get; set; }

        [Parameter(Mandatory = true, Position = 1)]
        public string SwitchName { get; set; }

        [Parameter]
        public SwitchParameter Passthru { get; set; }

        protected override void ProcessRecord()
        {
            if (Passthru || ParameterSetName == "Name_SwitchName") Limit("Connect-VMNetworkAdapter -VMName/-Passthru");
            var a = Bound("VMNetworkAdapter", "SwitchName");
            if (ShouldProcess("Connect-VMNetworkAdapter", "Connect")) RunModel("Connect-VMNetworkAdapter", a);
        }
    }

    [Cmdlet(VerbsCommon.Copy, "VMFile", DefaultParameterSetName = "Name", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    public sealed class CopyVMFile : VMPowerCmdlet
    {
        [Parameter(Mandatory = true, Position = 1)]
        [ValidateNotNullOrEmpty]
        public string SourcePath { get; set; }

        [Parameter(Mandatory = true, Position = 2)]
        [ValidateNotNullOrEmpty]
        public string DestinationPath { get; set; }

        [Parameter(Mandatory = true)]
        public CopyFileSourceType FileSource { get; set; }

        [Parameter]
        public SwitchParameter CreateFullPath { get; set; }

        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override void ProcessRecord()
        {
            if (AsJob || Passthru) Limit("Copy-VMFile -AsJob/-Passthru");
            var a = Bound("VM", "SourcePath", "DestinationPath", "FileSource", "CreateFullPath", "Force");
            // The model finds a VM named here by -VMName.
            if (IsBound("Name")) a["VMName"] = Name;
            if (ShouldProcess("Copy-VMFile", "Copy")) RunModel("Copy-VMFile", a);
        }
    }
}
