// The Hyper-V module's power and checkpoint cmdlets (Start-, Stop-, Save-VM, Checkpoint-VM, Remove- and
// Restore-VMSnapshot) as compiled cmdlets of Microsoft's class names; see HyperVQueryCmdlets.cs. ShouldProcess and
// ShouldContinue are PowerShell's own, so -Confirm:$false, -WhatIf and the NonInteractive prompt failure are real.
namespace LifeboatTestHost
{
    using System.Management.Automation;

    // Start-, Stop- and Save-VM: a VM by -Name (alias -VMName) or by object, from the pipeline too.
    public abstract class VMPowerCmdlet : HvSimCmdlet
    {
        [Parameter(ParameterSetName = "Name", Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("VMName")]
        [ValidateNotNullOrEmpty]
        public string[] Name { get; set; }

        [Parameter(ParameterSetName = "VMObject", Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [PSTypeName("Microsoft.HyperV.PowerShell.VirtualMachine")]
        public PSObject[] VM { get; set; }

        [Parameter]
        public SwitchParameter AsJob { get; set; }

        [Parameter]
        public SwitchParameter Passthru { get; set; }

        protected void Run(string cmdlet, string action, params string[] keys)
        {
            if (AsJob || Passthru) Limit(cmdlet + " -AsJob/-Passthru");
            var a = Bound(keys);
            if (ShouldProcess(cmdlet, action)) RunModel(cmdlet, a);
        }
    }
}

namespace Microsoft.HyperV.PowerShell.Commands
{
    using System.Management.Automation;
    using LifeboatTestHost;

    [Cmdlet(VerbsLifecycle.Start, "VM", DefaultParameterSetName = "Name", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    public sealed class StartVM : VMPowerCmdlet
    {
        protected override void ProcessRecord() => Run("Start-VM", "Start", "Name", "VM");
    }

    [Cmdlet(VerbsLifecycle.Stop, "VM", DefaultParameterSetName = "Name", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    public sealed class StopVM : VMPowerCmdlet
    {
        [Parameter]
        public SwitchParameter Save { get; set; }

        [Parameter]
        public SwitchParameter TurnOff { get; set; }

        [Parameter]
        public SwitchParameter Force { get; set; }

        protected override void ProcessRecord() => Run("Stop-VM", "Stop", "Name", "VM", "Save", "TurnOff", "Force");
    }

    [Cmdlet(VerbsData.Save, "VM", DefaultParameterSetName = "Name", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    public sealed class SaveVM : VMPowerCmdlet
    {
        protected override void ProcessRecord() => Run("Save-VM", "Save", "Name", "VM");
    }

    [Cmdlet(VerbsData.Checkpoint, "VM", DefaultParameterSetName = "Name", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [OutputType("Microsoft.HyperV.PowerShell.VMSnapshot")]
    public sealed class CheckpointVM : HvSimCmdlet
    {
        [Parameter(ParameterSetName = "Name", Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("VMName")]
        [ValidateNotNullOrEmpty]
        public string[] Name { get; set; }

        [Parameter(ParameterSetName = "VMObject", Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [PSTypeName("Microsoft.HyperV.PowerShell.VirtualMachine")]
        public PSObject[] VM { get; set; }

        [Parameter(Position = 1)]
        [Alias("CheckpointName")]
        public string SnapshotName { get; set; }

        [Parameter]
        public SwitchParameter AsJob { get; set; }

        [Parameter]
        public SwitchParameter Passthru { get; set; }

        protected override void ProcessRecord()
        {
            if (AsJob || Passthru) Limit("Checkpoint-VM -AsJob/-Passthru");
            var a = Bound("Name", "VM", "SnapshotName");
            if (ShouldProcess("Checkpoint-VM", "Create checkpoint")) RunModel("Checkpoint-VM", a);
        }
    }

    [Cmdlet(VerbsCommon.Remove, "VMSnapshot", DefaultParameterSetName = "SnapshotName", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
    [Alias("Remove-VMCheckpoint")]
    public sealed class RemoveVMSnapshot : HvSimCmdlet
    {
        [Parameter(ParameterSetName = "SnapshotName", Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [ValidateNotNullOrEmpty]
        public string[] VMName { get; set; }

        [Parameter(ParameterSetName = "SnapshotObject", Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [Alias("VMCheckpoint")]
        [PSTypeName("Microsoft.HyperV.PowerShell.VMSnapshot")]
        public PSObject[] VMSnapshot { get; set; }

        [Parameter(ParameterSetName = "VMObject", Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [PSTypeName("Microsoft.HyperV.PowerShell.VirtualMachine")]
        public PSObject[] VM { get; set; }

        [Parameter(ParameterSetName = "SnapshotName", Mandatory = true, Position = 1)]
        [Parameter(ParameterSetName = "VMObject", Mandatory = true, Position = 1)]
        public string[] Name { get; set; }

        [Parameter]
        public SwitchParameter IncludeAllChildSnapshots { get; set; }

        [Parameter]
        public SwitchParameter AsJob { get; set; }

        [Parameter]
        public SwitchParameter Passthru { get; set; }

        protected override void ProcessRecord()
        {
            if (AsJob || Passthru) Limit("Remove-VMSnapshot -AsJob/-Passthru");
            var a = Bound("VMName", "VMSnapshot", "VM", "Name", "IncludeAllChildSnapshots");
            if (ShouldProcess("Remove-VMSnapshot", "Remove checkpoint")) RunModel("Remove-VMSnapshot", a);
        }
    }

    // Applying a checkpoint discards the VM's current state, so the cmdlet asks first (ConfirmImpact High): without
    // -Confirm:$false a NonInteractive session fails with PowerShell's own prompt error.
    [Cmdlet(VerbsData.Restore, "VMSnapshot", DefaultParameterSetName = "SnapshotName", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
    [Alias("Restore-VMCheckpoint")]
    public sealed class RestoreVMSnapshot : HvSimCmdlet
    {
        [Parameter(ParameterSetName = "SnapshotObject", Mandatory = true, Position = 0, ValueFromPipeline = true)]
        [Alias("VMCheckpoint")]
        [PSTypeName("Microsoft.HyperV.PowerShell.VMSnapshot")]
        public PSObject VMSnapshot { get; set; }

        [Parameter(ParameterSetName = "SnapshotName", Mandatory = true, Position = 0)]
        [Parameter(ParameterSetName = "VMObject", Mandatory = true, Position = 0)]
        public string Name { get; set; }

        [Parameter(ParameterSetName = "SnapshotName", Mandatory = true, Position = 1)]
        public string VMName { get; set; }

        [Parameter(ParameterSetName = "VMObject", Mandatory = true, ValueFromPipeline = true)]
        [PSTypeName("Microsoft.HyperV.PowerShell.VirtualMachine")]
        public PSObject VM { get; set; }

        [Parameter]
        public SwitchParameter AsJob { get; set; }

        [Parameter]
        public SwitchParameter Passthru { get; set; }

        protected override void ProcessRecord()
        {
            if (AsJob || Passthru) Limit("Restore-VMSnapshot -AsJob/-Passthru");
            if (ParameterSetName != "SnapshotObject") Limit("Restore-VMSnapshot -Name (give -VMSnapshot)");
            if (!ShouldProcess("Restore-VMSnapshot", "Apply checkpoint")) return;
            var a = Bound("VMSnapshot");
            // PowerShell has asked (or been told not to): the model must not ask again.
            a["Confirm"] = false;
            RunModel("Restore-VMSnapshot", a);
        }
    }
}
