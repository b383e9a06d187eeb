import { z } from 'zod'
import { AdapterError } from '../host-adapter'

/** The error record the bootstrap prints after its error marker (see powershell.ts). */
export const ErrorRecordSchema = z.object({
  message: z.string().max(100_000),
  id: z.string().max(2000),
  category: z.string().max(200),
  reason: z.string().max(2000).nullish(),
  target: z.string().max(100_000).nullish(),
  activity: z.string().max(2000).nullish(),
  exception: z.string().max(2000).nullish(),
})
export type PsErrorRecord = z.infer<typeof ErrorRecordSchema>

export function parseErrorRecord(text: string): PsErrorRecord | undefined {
  try {
    const parsed = ErrorRecordSchema.safeParse(JSON.parse(text.trim()))
    return parsed.success ? parsed.data : undefined
  } catch {
    return undefined
  }
}

/** Host text in a message: one line, no control characters, bounded. */
export function clean(text: string, max = 400): string {
  const oneLine = text.replace(/\p{Cc}/gu, ' ').replace(/\s+/g, ' ').trim()
  return oneLine.length > max ? `${oneLine.slice(0, max)}…` : oneLine
}

/**
 * PowerShell error → typed adapter error. Decided on FullyQualifiedErrorId and category, never on the message text:
 * messages are localized on non-English Windows and everything the host prints is untrusted.
 */
export function mapPsError(record: PsErrorRecord, what: string): AdapterError {
  const id = record.id
  const first = id.split(',')[0] ?? ''
  const command = (record.activity ?? '').trim()
  const params = { psErrorId: clean(id, 200), psCategory: clean(record.category, 60), ...(command !== '' ? { psCommand: clean(command, 80) } : {}) }
  const message = `${what} failed on the host: ${clean(record.message)} [${clean(id, 160)}]`
  if (record.category === 'PermissionDenied' || first === 'AccessDenied' || first === 'UnauthorizedAccess' || (record.exception ?? '').endsWith('UnauthorizedAccessException')) {
    return new AdapterError('PERMISSION_DENIED', `${what}: the host refused. The SSH user must be a member of Administrators or Hyper-V Administrators. (${clean(record.message, 200)})`, params)
  }
  // A module-qualified name (Hyper-V\Get-VM) whose module is not installed: CouldNotAutoLoadModule, ObjectNotFound.
  if (first === 'CommandNotFoundException' || first === 'CouldNotAutoLoadModule' || (record.exception ?? '').endsWith('.CommandNotFoundException')) {
    return new AdapterError('NOT_SUPPORTED', `${what}: the host has no "${clean(record.target ?? '', 60)}" command. Is the Hyper-V PowerShell module installed (Install-WindowsFeature RSAT-Hyper-V-Tools)?`, params)
  }
  if (record.category === 'ObjectNotFound' || (record.category === 'InvalidArgument' && first === 'InvalidParameter' && /^Get-/.test(command))) {
    return new AdapterError('NOT_FOUND', message, params)
  }
  if (first === 'HostFunctionNotImplemented') {
    return new AdapterError('COMMAND_FAILED', `${what}: the command wanted to ask a question, which a non-interactive session cannot answer (Lifeboat bug: a -Confirm:$false is missing). ${clean(record.message, 200)}`, params)
  }
  if (first === 'InvalidState' || record.category === 'InvalidOperation' || record.category === 'ResourceBusy') {
    return new AdapterError('COMMAND_FAILED', message, { ...params, reason: 'invalid-state' })
  }
  return new AdapterError('COMMAND_FAILED', message, params)
}
