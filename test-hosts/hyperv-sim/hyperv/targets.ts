/** How Hyper-V cmdlets find their VMs and checkpoints: -VM objects, -Name with wildcards, -Id, pipeline input. */
import type { Bound } from './cmdlet-def'
import { PsObject, SimulatorLimit, asArray, psToString, type PsValue } from './values'
import { hvError, type HyperVHost, type SimCheckpoint, type SimVm } from './host'
import { idOf } from './objects'

/** PowerShell's WildcardPattern: * ? [abc] [a-z], backtick escapes; case-insensitive. */
export function wildcard(pattern: string): RegExp | undefined {
  if (!/[*?[]/.test(pattern.replace(/`./g, ''))) return undefined
  let rx = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string
    if (c === '`' && i + 1 < pattern.length) rx += escape(pattern[++i] as string)
    else if (c === '*') rx += '.*'
    else if (c === '?') rx += '.'
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1)
      if (end < 0) throw new SimulatorLimit(`the wildcard pattern ${pattern}`)
      rx += `[${pattern.slice(i + 1, end).replace(/[\\^]/g, '\\$&')}]`
      i = end
    } else rx += escape(c)
  }
  return new RegExp(`^${rx}$`, 'is')
}

function escape(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}

function vmOf(host: HyperVHost, v: PsValue, cmdlet: string): SimVm {
  if (v instanceof PsObject && v.typeName === 'Microsoft.HyperV.PowerShell.VirtualMachine') {
    const id = idOf(v)
    if (id !== undefined) return host.vmById(id, cmdlet)
  }
  throw hvError(cmdlet, `Cannot bind parameter 'VM'. Cannot convert the "${psToString(v)}" value of type "${v instanceof PsObject ? v.typeName : typeof v}" to type "Microsoft.HyperV.PowerShell.VirtualMachine".`, 'CannotConvertArgumentNoMessage', 'InvalidArgument')
}

/** VMs named by -VM, -Name/-VMName (wildcards as Hyper-V allows them) or the pipeline. */
export function targetVms(host: HyperVHost, args: Bound, input: PsValue[] | undefined, cmdlet: string, nameParam = 'Name'): SimVm[] {
  if (args.has('VM')) return asArray(args.get('VM') ?? null).map((v) => vmOf(host, v, cmdlet))
  if (args.has(nameParam)) return asArray(args.get(nameParam) ?? null).flatMap((n) => byName(host, psToString(n), cmdlet))
  // Pipeline input, even none at all: a cmdlet fed an empty pipeline simply does nothing.
  if (input !== undefined) return input.map((v) => vmOf(host, v, cmdlet))
  throw hvError(cmdlet, `Cannot process command because of one or more missing mandatory parameters: ${nameParam}.`, 'MissingMandatoryParameter', 'InvalidArgument')
}

export function byName(host: HyperVHost, name: string, cmdlet: string): SimVm[] {
  const rx = wildcard(name)
  const all = [...host.vms.values()]
  if (rx) return all.filter((v) => rx.test(v.name))
  const hits = all.filter((v) => v.name.toLowerCase() === name.toLowerCase())
  if (hits.length === 0) throw hvError(cmdlet, `Hyper-V was unable to find a virtual machine with name "${name}".`, 'InvalidParameter', 'InvalidArgument', name)
  return hits
}

export function snapshotOf(host: HyperVHost, v: PsValue, cmdlet: string): SimCheckpoint {
  if (v instanceof PsObject && v.typeName === 'Microsoft.HyperV.PowerShell.VMSnapshot') {
    const id = idOf(v)
    const c = id !== undefined ? host.checkpoints.get(id) : undefined
    if (c) return c
    throw hvError(cmdlet, 'The operation cannot be performed because the object is not in a valid state: the checkpoint no longer exists.', 'ObjectNotFound', 'ObjectNotFound', psToString(v))
  }
  throw hvError(cmdlet, `Cannot bind parameter 'VMSnapshot'. Cannot convert the "${psToString(v)}" value to type "Microsoft.HyperV.PowerShell.VMSnapshot".`, 'CannotConvertArgumentNoMessage', 'InvalidArgument')
}
