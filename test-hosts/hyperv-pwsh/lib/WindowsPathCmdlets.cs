// Windows paths on the test host. The adapter's scripts name host files as C:\… (the job lock's folder, restored disks,
// the guest-files staging folder); on Linux pwsh "C:" is no drive and "C:\x\y" one odd file name. These cmdlets have the
// names and class names of Microsoft's (Microsoft.PowerShell.Commands.RemoveItemCommand, …) and the WindowsPaths module
// sits in the session's first module folder (the CurrentUser one: winshell.sh points XDG_DATA_HOME at it), so command
// lookup auto-imports it rather than Microsoft.PowerShell.Management the first time a script names one of them. The
// module requires Microsoft.PowerShell.Management, which PowerShell therefore imports first: of two cmdlets of one name
// the one imported last wins, so a script's later Get-Item (which finds Management already loaded) does not bring the
// real ones back in front. Drive paths go to the simulator model's file cmdlets (test-hosts/hyperv-sim/hyperv: the same
// folder, disks, ACLs and "in use by a running VM" checks the ssh2 simulator has); any other path goes to the real
// cmdlet with the same arguments. Parameter names, positions and aliases are Microsoft's.
namespace LifeboatTestHost
{
    using System.Collections;
    using System.Management.Automation;

    public abstract class WindowsPathCmdlet : HvSimCmdlet
    {
        // The script that runs the real cmdlet with this one's bound arguments (its own scope: nothing leaks to the caller).
        static readonly ScriptBlock Real = ScriptBlock.Create("param($command, $arguments) & $command @arguments");

        protected static bool AnyWindowsPath(params string[][] lists)
        {
            foreach (var list in lists)
            {
                if (list == null) continue;
                foreach (var p in list) if (WindowsPaths.IsWindowsPath(p)) return true;
            }
            return false;
        }

        // Not a drive path: the real cmdlet ("Microsoft.PowerShell.Management\Remove-Item") with the same arguments; its
        // errors go to this cmdlet's error pipe as they are.
        protected void Forward(string qualifiedName)
        {
            foreach (var o in InvokeCommand.InvokeScript(true, Real, null, qualifiedName, new Hashtable(MyInvocation.BoundParameters))) WriteObject(o);
        }

        protected void LimitBound(string cmdlet, params string[] keys)
        {
            foreach (var k in keys)
            {
                if (IsBound(k)) Limit(cmdlet + " -" + k + " of a C:\\ path");
            }
        }
    }
}

namespace Microsoft.PowerShell.Commands
{
    using System.Collections.Specialized;
    using System.Management.Automation;
    using LifeboatTestHost;

    [Cmdlet(VerbsCommon.Join, "Path")]
    [OutputType(typeof(string))]
    public sealed class JoinPathCommand : WindowsPathCmdlet
    {
        [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Alias("PSPath")]
        public string[] Path { get; set; }

        [Parameter(Position = 1)]
        [AllowNull]
        [AllowEmptyString]
        public string ChildPath { get; set; }

        [Parameter(Position = 2, ValueFromRemainingArguments = true)]
        [AllowNull]
        [AllowEmptyString]
        public string[] AdditionalChildPath { get; set; }

        [Parameter]
        public SwitchParameter Resolve { get; set; }

        [Parameter]
        [Credential]
        public PSCredential Credential { get; set; }

        protected override void ProcessRecord()
        {
            if (!AnyWindowsPath(Path))
            {
                Forward("Microsoft.PowerShell.Management\\Join-Path");
                return;
            }
            if (Resolve) Limit("Join-Path -Resolve of a C:\\ path");
            var children = new System.Collections.Generic.List<string> { ChildPath };
            if (AdditionalChildPath != null) children.AddRange(AdditionalChildPath);
            foreach (var p in Path)
            {
                // The FileSystem provider on Windows: one backslash between the parts, / read as \.
                var joined = p.Replace('/', '\\');
                foreach (var c in children)
                {
                    if (string.IsNullOrEmpty(c)) continue;
                    joined = joined.TrimEnd('\\') + "\\" + c.Replace('/', '\\').TrimStart('\\');
                }
                WriteObject(joined);
            }
        }
    }

    [Cmdlet(VerbsDiagnostic.Test, "Path", DefaultParameterSetName = "Path")]
    [OutputType(typeof(bool))]
    public sealed class TestPathCommand : WindowsPathCmdlet
    {
        [Parameter(ParameterSetName = "Path", Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [AllowNull]
        [AllowEmptyCollection]
        [AllowEmptyString]
        public string[] Path { get; set; }

        [Parameter(ParameterSetName = "LiteralPath", Mandatory = true, ValueFromPipelineByPropertyName = true)]
        [Alias("PSPath", "LP")]
        [AllowNull]
        [AllowEmptyCollection]
        [AllowEmptyString]
        public string[] LiteralPath { get; set; }

        [Parameter]
        public string Filter { get; set; }

        [Parameter]
        public string[] Include { get; set; }

        [Parameter]
        public string[] Exclude { get; set; }

        // Microsoft's type is the enum TestPathType, whose assembly loads only with Microsoft.PowerShell.Management.
        [Parameter]
        [Alias("Type")]
        [ValidateSet("Any", "Container", "Leaf")]
        public string PathType { get; set; }

        [Parameter]
        public SwitchParameter IsValid { get; set; }

        [Parameter]
        [Credential]
        public PSCredential Credential { get; set; }

        protected override void ProcessRecord()
        {
            if (!AnyWindowsPath(Path, LiteralPath))
            {
                Forward("Microsoft.PowerShell.Management\\Test-Path");
                return;
            }
            LimitBound("Test-Path", "Filter", "Include", "Exclude", "IsValid");
            var name = ParameterSetName == "Path" ? "Path" : "LiteralPath";
            foreach (var p in name == "Path" ? Path : LiteralPath)
            {
                var a = new OrderedDictionary { [name] = p };
                if (IsBound("PathType")) a["PathType"] = PathType;
                RunModel("Test-Path", a);
            }
        }
    }

    [Cmdlet(VerbsCommon.New, "Item", DefaultParameterSetName = "pathSet", SupportsShouldProcess = true)]
    public sealed class NewItemCommand : WindowsPathCmdlet
    {
        [Parameter(ParameterSetName = "pathSet", Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        [Parameter(ParameterSetName = "nameSet", Position = 0, ValueFromPipelineByPropertyName = true)]
        public string[] Path { get; set; }

        [Parameter(ParameterSetName = "nameSet", Mandatory = true, ValueFromPipelineByPropertyName = true)]
        [AllowNull]
        [AllowEmptyString]
        public string Name { get; set; }

        [Parameter(ValueFromPipelineByPropertyName = true)]
        [Alias("Type")]
        public string ItemType { get; set; }

        [Parameter(ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("Target")]
        public object Value { get; set; }

        [Parameter]
        public SwitchParameter Force { get; set; }

        [Parameter]
        [Credential]
        public PSCredential Credential { get; set; }

        protected override void ProcessRecord()
        {
            if (!AnyWindowsPath(Path))
            {
                Forward("Microsoft.PowerShell.Management\\New-Item");
                return;
            }
            LimitBound("New-Item", "Name", "Value");
            foreach (var p in Path)
            {
                if (!ShouldProcess("Destination: " + p, "Create Directory")) continue;
                var a = Bound("ItemType", "Force");
                a["Path"] = p;
                RunModel("New-Item", a);
            }
        }
    }

    [Cmdlet(VerbsCommon.Remove, "Item", DefaultParameterSetName = "Path", SupportsShouldProcess = true)]
    public sealed class RemoveItemCommand : WindowsPathCmdlet
    {
        [Parameter(ParameterSetName = "Path", Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        public string[] Path { get; set; }

        [Parameter(ParameterSetName = "LiteralPath", Mandatory = true, ValueFromPipelineByPropertyName = true)]
        [Alias("PSPath", "LP")]
        public string[] LiteralPath { get; set; }

        [Parameter]
        public string Filter { get; set; }

        [Parameter]
        public string[] Include { get; set; }

        [Parameter]
        public string[] Exclude { get; set; }

        [Parameter]
        public SwitchParameter Recurse { get; set; }

        [Parameter]
        public SwitchParameter Force { get; set; }

        [Parameter]
        [Credential]
        public PSCredential Credential { get; set; }

        protected override void ProcessRecord()
        {
            if (!AnyWindowsPath(Path, LiteralPath))
            {
                Forward("Microsoft.PowerShell.Management\\Remove-Item");
                return;
            }
            LimitBound("Remove-Item", "Filter", "Include", "Exclude");
            var name = ParameterSetName == "Path" ? "Path" : "LiteralPath";
            foreach (var p in name == "Path" ? Path : LiteralPath)
            {
                if (!ShouldProcess(p, "Remove File")) continue;
                var a = Bound("Force", "Recurse");
                a[name] = new[] { p };
                RunModel("Remove-Item", a);
            }
        }
    }

    [Cmdlet(VerbsCommon.Rename, "Item", DefaultParameterSetName = "ByPath", SupportsShouldProcess = true)]
    public sealed class RenameItemCommand : WindowsPathCmdlet
    {
        [Parameter(ParameterSetName = "ByPath", Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        public string Path { get; set; }

        [Parameter(ParameterSetName = "ByLiteralPath", Mandatory = true, ValueFromPipelineByPropertyName = true)]
        [Alias("PSPath", "LP")]
        public string LiteralPath { get; set; }

        [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
        public string NewName { get; set; }

        [Parameter]
        public SwitchParameter Force { get; set; }

        [Parameter]
        public SwitchParameter PassThru { get; set; }

        [Parameter]
        [Credential]
        public PSCredential Credential { get; set; }

        protected override void ProcessRecord()
        {
            if (!AnyWindowsPath(new[] { Path, LiteralPath }))
            {
                Forward("Microsoft.PowerShell.Management\\Rename-Item");
                return;
            }
            var target = ParameterSetName == "ByPath" ? Path : LiteralPath;
            if (!ShouldProcess("Item: " + target + " Destination: " + NewName, "Rename Item")) return;
            RunModel("Rename-Item", Bound("Path", "LiteralPath", "NewName", "Force", "PassThru"));
        }
    }

    [Cmdlet(VerbsCommon.Get, "Acl", DefaultParameterSetName = "ByPath")]
    public sealed class GetAclCommand : WindowsPathCmdlet
    {
        [Parameter(ParameterSetName = "ByPath", Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        public string[] Path { get; set; }

        [Parameter(ParameterSetName = "ByLiteralPath", ValueFromPipelineByPropertyName = true)]
        [Alias("PSPath", "LP")]
        public string[] LiteralPath { get; set; }

        [Parameter]
        public SwitchParameter Audit { get; set; }

        [Parameter]
        public string Filter { get; set; }

        [Parameter]
        public string[] Include { get; set; }

        [Parameter]
        public string[] Exclude { get; set; }

        protected override void ProcessRecord()
        {
            if (!AnyWindowsPath(Path, LiteralPath))
            {
                Forward("Microsoft.PowerShell.Security\\Get-Acl");
                return;
            }
            LimitBound("Get-Acl", "Filter", "Include", "Exclude");
            RunModel("Get-Acl", Bound("Path", "LiteralPath", "Audit"));
        }
    }

    [Cmdlet(VerbsCommon.Set, "Acl", DefaultParameterSetName = "ByPath", SupportsShouldProcess = true)]
    public sealed class SetAclCommand : WindowsPathCmdlet
    {
        [Parameter(ParameterSetName = "ByPath", Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
        public string[] Path { get; set; }

        [Parameter(ParameterSetName = "ByLiteralPath", Mandatory = true, ValueFromPipelineByPropertyName = true)]
        [Alias("PSPath", "LP")]
        public string[] LiteralPath { get; set; }

        [Parameter(Mandatory = true, Position = 1, ValueFromPipeline = true)]
        public object AclObject { get; set; }

        [Parameter]
        public SwitchParameter Passthru { get; set; }

        [Parameter]
        public string Filter { get; set; }

        [Parameter]
        public string[] Include { get; set; }

        [Parameter]
        public string[] Exclude { get; set; }

        protected override void ProcessRecord()
        {
            if (!AnyWindowsPath(Path, LiteralPath))
            {
                Forward("Microsoft.PowerShell.Security\\Set-Acl");
                return;
            }
            LimitBound("Set-Acl", "Filter", "Include", "Exclude");
            var targets = new System.Collections.Generic.List<string>();
            if (Path != null) targets.AddRange(Path);
            if (LiteralPath != null) targets.AddRange(LiteralPath);
            targets.RemoveAll(t => t == null);
            if (!ShouldProcess(string.Join(", ", targets), "Set-Acl")) return;
            RunModel("Set-Acl", Bound("Path", "LiteralPath", "AclObject", "Passthru"));
        }
    }
}
