/**
 * A cmdlet of the model, as the pwsh host's bridge (test-hosts/hyperv-pwsh/bridge.ts) runs it: real PowerShell has
 * bound the parameters in the Hyper-V module's advanced function, and the bridge hands the bound values over by name.
 */
import { PsError, psToString, type PsValue } from './values'

export type ParamType = 'string' | 'string[]' | 'int' | 'switch' | 'object' | 'any' | 'object[]' | 'guid' | 'enum' | 'bool'

/** A parameter the model's cmdlet reads; what real PowerShell binds it to is the module's declaration. */
export interface ParamDef {
  readonly type: ParamType
  /** For 'enum': the .NET type name and its members. */
  readonly enumType?: string
  readonly members?: Readonly<Record<string, number>>
  readonly position?: number
  readonly aliases?: readonly string[]
}

export interface CmdletContext {
  /** The PowerShell edition the module runs in (the bridge client reports it). */
  readonly edition: 'Desktop' | 'Core'
  /** Aborted when the PowerShell session goes away; what the model's VMMS started goes on. */
  readonly signal: AbortSignal
  warn(message: string): void
  readonly interactive: false
}

export type Bound = ReadonlyMap<string, PsValue>

export interface CmdletDef {
  readonly name: string
  /** Class name used in FullyQualifiedErrorIds, e.g. "Microsoft.HyperV.PowerShell.Commands.GetVM". */
  readonly errorClass: string
  readonly params: Readonly<Record<string, ParamDef>>
  run(ctx: CmdletContext, args: Bound, input: PsValue[] | undefined): Promise<PsValue[]> | PsValue[]
}

export function str(args: Bound, name: string): string | undefined {
  const v = args.get(name)
  return v === undefined || v === null ? undefined : psToString(v)
}

export function flag(args: Bound, name: string): boolean {
  return args.get(name) === true
}

/**
 * Guards for cmdlets with ConfirmImpact High: without -Confirm:$false (or -Force) they prompt, which fails in
 * -NonInteractive. The module fails first with PowerShell's own prompt error; this keeps the model as strict.
 */
export function requireNoPrompt(name: string, errorClass: string, args: Bound, force = false): void {
  if (args.get('Confirm') === false || force) return
  throw new PsError({
    message: 'PowerShell is in NonInteractive mode. Read and Prompt functionality is not available.',
    fqid: `HostFunctionNotImplemented,${errorClass}`,
    category: 'InvalidOperation',
    exceptionType: 'System.Management.Automation.Host.HostException',
    activity: name,
  })
}
