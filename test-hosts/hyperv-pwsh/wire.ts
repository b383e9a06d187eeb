/**
 * The values that cross the bridge between the test host's PowerShell module and the simulator model, as JSON:
 * plain strings, numbers, booleans, null and arrays as they are; .NET types the JSON cannot say tagged —
 * `{"$guid": "…"}`, `{"$enum": "<full type name>", "name": "…"}`, `{"$date": <ms>}`, objects as
 * `{"$o": "<type name>", "p": [[name, value], …], "s": "<ToString()>"}` (ordered, as Get-Member would list them; the
 * model names CIM instances by their text), hashtables as `{"$h": [[key, value], …]}` (Invoke-CimMethod -Arguments), the
 * VMs and checkpoints a script passes back in (-VM $vm, -VMSnapshot $s) as `{"$ref": "<type name>", "id": "…"}` and the
 * other objects it passes back in (-VMNetworkAdapter, -FirstBootDevice, CIM instances) by value, as `$o`.
 * lib/HyperVSimBridge.cs (called by the compiled cmdlets, lib/HvSimCmdlet.cs) is the other end.
 */
import { ENUMS, enumValue } from '../hyperv-sim/hyperv/objects'
import { PsDate, PsEnum, PsGuid, PsHashtable, PsObject, type PsValue } from '../hyperv-sim/hyperv/values'

export type Wire = null | string | number | boolean | Wire[] | { readonly [k: string]: Wire }

const REFS = new Set(['Microsoft.HyperV.PowerShell.VirtualMachine', 'Microsoft.HyperV.PowerShell.VMSnapshot'])
/** Objects a script may hand back by value: the model reads their properties (ids, CIM keys) and their text. */
const BY_VALUE = new Set(['Microsoft.HyperV.PowerShell.HardDiskDrive', 'Microsoft.HyperV.PowerShell.VMNetworkAdapter', 'Microsoft.HyperV.PowerShell.VMSwitch', 'Microsoft.Management.Infrastructure.CimInstance', 'System.Security.AccessControl.FileSecurity'])
/** .NET enum type names whose model name differs (objects.ts ENUMS keys). */
const ENUM_KEYS: Readonly<Record<string, string>> = { CopyFileSourceType: 'FileSource' }

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** An argument the module bound → the model's value; anything unexpected is refused (the module is ours, but still). */
export function fromWire(v: unknown): PsValue {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error('bridge: a non-finite number')
    return v
  }
  if (Array.isArray(v)) return v.map(fromWire)
  if (!isRecord(v)) throw new Error(`bridge: cannot read an argument of type ${typeof v}`)
  if (typeof v.$guid === 'string') return new PsGuid(v.$guid)
  if (typeof v.$enum === 'string' && typeof v.name === 'string') {
    const last = v.$enum.split('.').pop() ?? ''
    const kind = ENUM_KEYS[last] ?? last
    if (!(kind in ENUMS)) throw new Error(`bridge: unknown enum type ${v.$enum}`)
    const e = enumValue(kind as keyof typeof ENUMS, v.name as never)
    return e.type === v.$enum ? e : new PsEnum(v.$enum, e.name, e.value)
  }
  if (typeof v.$ref === 'string' && typeof v.id === 'string') {
    if (!REFS.has(v.$ref)) throw new Error(`bridge: objects of type ${v.$ref} cannot be passed to the model`)
    // The model reads only the Id of an object passed back in, and looks the rest up in its own state.
    return new PsObject(v.$ref, [['Id', new PsGuid(v.id)]], true, v.id)
  }
  if (typeof v.$o === 'string' && Array.isArray(v.p)) {
    if (!BY_VALUE.has(v.$o)) throw new Error(`bridge: objects of type ${v.$o} cannot be passed to the model`)
    return new PsObject(v.$o, pairs(v.p), true, typeof v.s === 'string' ? v.s : undefined)
  }
  if (Array.isArray(v.$h)) {
    const h = new PsHashtable(false)
    for (const [k, value] of pairs(v.$h)) h.set(k, value)
    return h
  }
  throw new Error(`bridge: an untagged object argument (${Object.keys(v).slice(0, 5).join(', ')})`)
}

function pairs(list: unknown[]): [string, PsValue][] {
  if (list.length > 10_000) throw new Error('bridge: an object with too many properties')
  return list.map((pair) => {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string') throw new Error('bridge: a malformed property')
    return [pair[0], fromWire(pair[1])]
  })
}

/** A value the model's cmdlet returned → JSON for the module. */
export function toWire(v: PsValue): Wire {
  if (v === null || typeof v === 'string' || typeof v === 'boolean' || typeof v === 'number') return v
  if (Array.isArray(v)) return v.map(toWire)
  if (v instanceof PsGuid) return { $guid: v.value }
  if (v instanceof PsEnum) return { $enum: v.type, name: v.name }
  if (v instanceof PsDate) return { $date: v.ms }
  if (v instanceof PsObject) return { $o: v.typeName, p: [...v.props.values()].map((p) => [p.name, toWire(p.value)]), s: v.toString() }
  throw new Error(`bridge: the model returned a ${v.constructor.name}, which the bridge does not carry`)
}
