// The .NET types behind the Hyper-V module's objects, with the namespaces, names and values of Microsoft's
// Microsoft.HyperV.PowerShell and Microsoft.Vhd.PowerShell assemblies, so that ConvertTo-Json, casts, -eq and
// .GetType().FullName behave as on Windows. Compiled with the rest of lib/*.cs (pwsh.ts), loaded as the startup hook.
namespace Microsoft.HyperV.PowerShell
{
    public enum VMState { Other = 1, Running = 2, Off = 3, Stopping = 4, Saved = 6, Paused = 9, Starting = 10, Reset = 11, Saving = 32773, Pausing = 32776, Resuming = 32777, FastSaved = 32779, FastSaving = 32780, ForceShutdown = 32781, ForceReboot = 32782, Hibernated = 32783, ComponentServicing = 32784, RunningCritical = 32785, OffCritical = 32786, StoppingCritical = 32787, SavedCritical = 32788, PausedCritical = 32789, StartingCritical = 32790, ResetCritical = 32791, SavingCritical = 32792, PausingCritical = 32793, ResumingCritical = 32794, FastSavedCritical = 32795, FastSavingCritical = 32796 }
    public enum CheckpointType { Disabled = 2, Production = 3, ProductionOnly = 4, Standard = 5 }
    public enum ControllerType { IDE = 0, SCSI = 1, PMEM = 2 }
    public enum SnapshotType { Standard = 0, Recovery = 1, Planned = 2, Missing = 5, Replica = 6, AppConsistentReplica = 7, SyncedReplica = 8 }
    public enum VMHeartbeatStatus { Unknown = 0, Disabled = 1, NoContact = 2, Error = 3, LostCommunication = 4, OkApplicationsUnknown = 5, OkApplicationsHealthy = 6, OkApplicationsCritical = 7, Paused = 8 }
    public enum VMIntegrationComponentOperationalStatus { Ok = 2, Degraded = 3, Error = 6, NonRecoverableError = 7, NoContact = 12, LostCommunication = 13, ProtocolMismatch = 32775, ApplicationCritical = 32782, CommunicationTimedOut = 32783, CommunicationFailed = 32784, Disabled = 32896 }
    public enum OnOffState { On = 0, Off = 1 }
    public enum VMOperationalStatus { Ok = 2, Degraded = 3, PredictiveFailure = 5, InService = 11, Dormant = 15, SupportingEntityInError = 16, CreatingSnapshot = 32768, ApplyingSnapshot = 32769, DeletingSnapshot = 32770, WaitingToStart = 32771, MergingDisks = 32772, ExportingVirtualMachine = 32773, MigratingVirtualMachine = 32774 }
    public enum VMSwitchType { Private = 0, Internal = 1, External = 2 }
    public enum CopyFileSourceType { Host = 0 }

    public class VirtualizationException : System.Exception
    {
        public VirtualizationException(string message) : base(message) { }
    }
}

namespace Microsoft.Vhd.PowerShell
{
    public enum VhdFormat { Unknown = 0, VHD = 2, VHDX = 3, VHDSet = 4 }
    public enum VhdType { Unknown = 0, Fixed = 2, Dynamic = 3, Differencing = 4 }
}
