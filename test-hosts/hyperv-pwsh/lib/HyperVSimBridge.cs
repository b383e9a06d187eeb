// The Hyper-V module's client of the test host's unix socket, compiled (with HyperVTypes.cs) once per test host.
// It replaced a PowerShell implementation whose first call cost about a second of script compilation and JIT in every
// pwsh (one per adapter call); compiled code and the framework's System.Text.Json do the same in a few milliseconds.
// One request per connection, one JSON line each way; the value tags are those of test-hosts/hyperv-pwsh/wire.ts.
namespace LifeboatTestHost
{
    using System;
    using System.Collections;
    using System.Collections.Generic;
    using System.IO;
    using System.Management.Automation;
    using System.Net.Sockets;
    using System.Runtime.CompilerServices;
    using System.Text;
    using System.Text.Json;

    public sealed class BridgeAnswer
    {
        public List<object> Output { get; } = new List<object>();
        public List<string> Warnings { get; } = new List<string>();
        public ErrorRecord Error { get; set; }
        public string Limit { get; set; }
    }

    public static class HyperVSimBridge
    {
        const int MaxAnswer = 64 * 1024 * 1024;
        const int MaxDepth = 64;

        // .NET types of the numeric properties, as the Hyper-V and Storage modules declare them (JSON only says "number").
        static readonly Dictionary<string, Dictionary<string, Type>> Numeric = new Dictionary<string, Dictionary<string, Type>>
        {
            ["Microsoft.HyperV.PowerShell.VirtualMachine"] = new Dictionary<string, Type> { ["Generation"] = typeof(int), ["ProcessorCount"] = typeof(long), ["MemoryStartup"] = typeof(long), ["MemoryMinimum"] = typeof(long), ["MemoryMaximum"] = typeof(long), ["MemoryAssigned"] = typeof(long), ["CPUUsage"] = typeof(int) },
            ["Microsoft.HyperV.PowerShell.VMSnapshot"] = new Dictionary<string, Type> { ["Generation"] = typeof(int), ["ProcessorCount"] = typeof(long), ["MemoryStartup"] = typeof(long) },
            ["Microsoft.HyperV.PowerShell.HardDiskDrive"] = new Dictionary<string, Type> { ["ControllerNumber"] = typeof(int), ["ControllerLocation"] = typeof(int), ["MaximumIOPS"] = typeof(ulong), ["MinimumIOPS"] = typeof(ulong) },
            ["Microsoft.HyperV.PowerShell.VMHost"] = new Dictionary<string, Type> { ["LogicalProcessorCount"] = typeof(int), ["MemoryCapacity"] = typeof(long) },
            ["Microsoft.Vhd.PowerShell.VirtualHardDisk"] = new Dictionary<string, Type> { ["FileSize"] = typeof(ulong), ["Size"] = typeof(ulong), ["MinimumSize"] = typeof(ulong), ["LogicalSectorSize"] = typeof(uint), ["PhysicalSectorSize"] = typeof(uint), ["BlockSize"] = typeof(uint), ["FragmentationPercentage"] = typeof(int), ["Alignment"] = typeof(int), ["AddressAbstractionType"] = typeof(int) },
        };

        // Passed back to the model by id only: it looks the rest up in its own state.
        static readonly HashSet<string> ByRef = new HashSet<string> { "Microsoft.HyperV.PowerShell.VirtualMachine", "Microsoft.HyperV.PowerShell.VMSnapshot" };
        // Passed back by value (the model reads their properties and text): network adapters, drives, switches, CIM
        // instances, and Get-Acl's security descriptors (Set-Acl).
        static readonly HashSet<string> ByValue = new HashSet<string> { "Microsoft.HyperV.PowerShell.HardDiskDrive", "Microsoft.HyperV.PowerShell.VMNetworkAdapter", "Microsoft.HyperV.PowerShell.VMSwitch", "Microsoft.Management.Infrastructure.CimInstance", "System.Security.AccessControl.FileSecurity" };

        // What the model's objects say for ToString() (CIM instances are named by it), kept beside each object.
        static readonly ConditionalWeakTable<PSObject, string> Texts = new ConditionalWeakTable<PSObject, string>();
        static readonly PSCodeMethod ToStringMethod = new PSCodeMethod("ToString", typeof(HyperVSimBridge).GetMethod(nameof(TextOf)));

        public static string TextOf(PSObject instance)
        {
            return Texts.TryGetValue(instance, out var text) ? text : instance.BaseObject.ToString();
        }

        // Runs one cmdlet of the model with the arguments PowerShell bound. The calling cmdlet (HvSimCmdlet.cs) writes the
        // answer (output, warnings, error record, or a simulator limit as a terminating error) as Microsoft's would.
        public static BridgeAnswer Invoke(string name, IDictionary arguments)
        {
            var socketPath = Environment.GetEnvironmentVariable("LB_HVPWSH_SOCKET");
            if (string.IsNullOrEmpty(socketPath)) throw new InvalidOperationException("HyperVSim bridge: LB_HVPWSH_SOCKET is not set");
            var request = new MemoryStream();
            using (var w = new Utf8JsonWriter(request))
            {
                w.WriteStartObject();
                w.WriteString("cmdlet", name);
                w.WriteString("edition", "Core");
                w.WritePropertyName("args");
                w.WriteStartObject();
                foreach (DictionaryEntry e in arguments)
                {
                    w.WritePropertyName(e.Key.ToString());
                    WriteArgument(w, e.Value, 0);
                }
                w.WriteEndObject();
                w.WriteEndObject();
            }
            request.WriteByte((byte)'\n');
            byte[] bytes = Exchange(socketPath, request.ToArray(), name);
            var answer = new BridgeAnswer();
            using (var doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 256 }))
            {
                var root = doc.RootElement;
                if (root.TryGetProperty("warnings", out var warnings) && warnings.ValueKind == JsonValueKind.Array)
                    foreach (var warning in warnings.EnumerateArray()) answer.Warnings.Add(warning.GetString() ?? "");
                if (root.TryGetProperty("limit", out var limit)) answer.Limit = limit.GetString() ?? "?";
                else if (root.TryGetProperty("error", out var error)) answer.Error = ErrorRecordOf(error);
                else if (root.TryGetProperty("output", out var output) && output.ValueKind == JsonValueKind.Array)
                    foreach (var item in output.EnumerateArray()) if (item.ValueKind != JsonValueKind.Null) answer.Output.Add(ValueOf(item, null, 0));
            }
            return answer;
        }

        static byte[] Exchange(string socketPath, byte[] request, string name)
        {
            using (var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                socket.Connect(new UnixDomainSocketEndPoint(socketPath));
                socket.Send(request);
                var buffer = new MemoryStream();
                var chunk = new byte[65536];
                while (true)
                {
                    int n = socket.Receive(chunk);
                    if (n == 0) break;
                    buffer.Write(chunk, 0, n);
                    if (chunk[n - 1] == (byte)'\n') break;
                    if (buffer.Length > MaxAnswer) throw new InvalidDataException("HyperVSim bridge: the answer to " + name + " is too large");
                }
                if (buffer.Length == 0) throw new IOException("HyperVSim bridge: the test host closed the connection during " + name);
                return buffer.ToArray();
            }
        }

        static void WriteArgument(Utf8JsonWriter w, object value, int depth)
        {
            if (depth > MaxDepth) throw new InvalidDataException("HyperVSim bridge: an argument nested too deeply");
            if (value is PSObject pso && !(pso.BaseObject is PSCustomObject))
            {
                value = pso.BaseObject;
            }
            switch (value)
            {
                case null:
                    w.WriteNullValue();
                    return;
                case string s:
                    w.WriteStringValue(s);
                    return;
                case bool b:
                    w.WriteBooleanValue(b);
                    return;
                case SwitchParameter sw:
                    w.WriteBooleanValue(sw.IsPresent);
                    return;
                case Guid g:
                    w.WriteStartObject();
                    w.WriteString("$guid", g.ToString());
                    w.WriteEndObject();
                    return;
                case Enum en:
                    w.WriteStartObject();
                    w.WriteString("$enum", en.GetType().FullName);
                    w.WriteString("name", en.ToString());
                    w.WriteEndObject();
                    return;
                case byte or sbyte or short or ushort or int or uint or long or ulong or float or double or decimal:
                    w.WriteRawValue(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture));
                    return;
                case IDictionary dict:
                    w.WriteStartObject();
                    w.WritePropertyName("$h");
                    w.WriteStartArray();
                    foreach (DictionaryEntry e in dict)
                    {
                        w.WriteStartArray();
                        w.WriteStringValue(e.Key.ToString());
                        WriteArgument(w, e.Value, depth + 1);
                        w.WriteEndArray();
                    }
                    w.WriteEndArray();
                    w.WriteEndObject();
                    return;
                case PSObject custom:
                    WriteObjectArgument(w, custom, depth);
                    return;
                case IEnumerable list:
                    w.WriteStartArray();
                    foreach (var item in list) WriteArgument(w, item, depth + 1);
                    w.WriteEndArray();
                    return;
                default:
                    throw new ArgumentException("HyperVSim bridge: cannot pass a " + value.GetType().FullName + " to the model");
            }
        }

        static void WriteObjectArgument(Utf8JsonWriter w, PSObject o, int depth)
        {
            // Not TypeNames[0]: Select-Object (even -First 1) puts "Selected.…PSCustomObject" in front of a PSCustomObject's
            // type names, which it does not do to the real module's .NET objects.
            string type = "";
            foreach (var name in o.TypeNames) if (ByRef.Contains(name) || ByValue.Contains(name)) { type = name; break; }
            w.WriteStartObject();
            if (ByRef.Contains(type))
            {
                w.WriteString("$ref", type);
                w.WriteString("id", o.Properties["Id"]?.Value?.ToString() ?? "");
            }
            else if (ByValue.Contains(type))
            {
                w.WriteString("$o", type);
                w.WriteString("s", o.ToString());
                w.WritePropertyName("p");
                w.WriteStartArray();
                foreach (var p in o.Properties)
                {
                    w.WriteStartArray();
                    w.WriteStringValue(p.Name);
                    WriteArgument(w, p.Value, depth + 1);
                    w.WriteEndArray();
                }
                w.WriteEndArray();
            }
            else throw new ArgumentException("HyperVSim bridge: objects of type " + (o.TypeNames.Count > 0 ? o.TypeNames[0] : "?") + " cannot be passed to the model");
            w.WriteEndObject();
        }

        static object ValueOf(JsonElement v, Type numeric, int depth)
        {
            if (depth > MaxDepth) throw new InvalidDataException("HyperVSim bridge: an answer nested too deeply");
            switch (v.ValueKind)
            {
                case JsonValueKind.Null:
                    return null;
                case JsonValueKind.True:
                    return true;
                case JsonValueKind.False:
                    return false;
                case JsonValueKind.String:
                    return v.GetString();
                case JsonValueKind.Number:
                    if (numeric != null) return Convert.ChangeType(v.GetDecimal(), numeric, System.Globalization.CultureInfo.InvariantCulture);
                    // As ConvertFrom-Json reads them: Int64, else Double.
                    if (v.TryGetInt64(out long l)) return l;
                    return v.GetDouble();
                case JsonValueKind.Array:
                    var items = new List<object>();
                    foreach (var item in v.EnumerateArray()) items.Add(ValueOf(item, null, depth + 1));
                    return items.ToArray();
            }
            if (v.TryGetProperty("$guid", out var guid)) return Guid.Parse(guid.GetString());
            if (v.TryGetProperty("$date", out var date)) return DateTimeOffset.FromUnixTimeMilliseconds(date.GetInt64()).LocalDateTime;
            if (v.TryGetProperty("$enum", out var enumType))
            {
                var t = Type.GetType(enumType.GetString() + ", " + typeof(HyperVSimBridge).Assembly.FullName);
                if (t == null || !t.IsEnum) throw new InvalidDataException("HyperVSim bridge: the enum type " + enumType.GetString() + " is not defined in HyperVTypes.cs");
                return Enum.Parse(t, v.GetProperty("name").GetString());
            }
            if (v.TryGetProperty("$o", out var typeName))
            {
                string type = typeName.GetString();
                Numeric.TryGetValue(type, out var types);
                var o = new PSObject();
                foreach (var pair in v.GetProperty("p").EnumerateArray())
                {
                    string name = pair[0].GetString();
                    Type t = null;
                    types?.TryGetValue(name, out t);
                    o.Properties.Add(new PSNoteProperty(name, ValueOf(pair[1], t, depth + 1)));
                }
                o.TypeNames.Insert(0, type);
                if (v.TryGetProperty("s", out var text) && text.ValueKind == JsonValueKind.String)
                {
                    Texts.AddOrUpdate(o, text.GetString());
                    o.Methods.Add(ToStringMethod);
                }
                return o;
            }
            throw new InvalidDataException("HyperVSim bridge: an untagged object came back from the model");
        }

        static ErrorRecord ErrorRecordOf(JsonElement failure)
        {
            string message = failure.GetProperty("message").GetString();
            Exception exception = null;
            var type = Type.GetType(failure.GetProperty("exception").GetString() + ", " + typeof(HyperVSimBridge).Assembly.FullName)
                ?? Type.GetType(failure.GetProperty("exception").GetString());
            if (type != null && typeof(Exception).IsAssignableFrom(type))
            {
                try { exception = (Exception)Activator.CreateInstance(type, message); } catch (MissingMethodException) { exception = null; }
            }
            exception ??= new Exception(message);
            Enum.TryParse(failure.GetProperty("category").GetString(), out ErrorCategory category);
            object target = failure.TryGetProperty("target", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            return new ErrorRecord(exception, failure.GetProperty("id").GetString(), category, target);
        }
    }
}
