import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { AdapterError, type GuestFilesCapability } from '../host-adapter'
import type { HyperVContext } from './context'
import { ps } from './powershell'
import { runJson } from './ps-runner'
import { findService } from './integration-services'
import { INTEGRATION_FIELDS, IntegrationRecord, VmRecord, arrayOf } from './schemas'
import { removeFile, uploadFile } from './upload'
import { raw, vmVariable } from './vm-details'

const Check = z.object({ vm: VmRecord.pick({ Name: true, State: true }), integration: arrayOf(IntegrationRecord, 64), staging: z.string().min(1).max(32_767) })

/**
 * Restoring a file back into a running guest: the bytes go to a staging file on the host (SFTP), and Copy-VMFile
 * hands them to the guest through the Guest Service Interface integration service, which must be enabled — Lifeboat
 * does not switch it on by itself. The staging file is removed whatever happens.
 */
export function hypervGuestFiles(ctx: HyperVContext): GuestFilesCapability {
  return {
    async copyIn(vmId, file, signal) {
      if (!/^[A-Za-z]:\\/.test(file.guestPath) && !file.guestPath.startsWith('/')) throw new AdapterError('BAD_RESPONSE', `Give the guest path as an absolute path (C:\\… or /…), not "${file.guestPath.slice(0, 200)}".`)
      const script = ps`${vmVariable(vmId)}
$staging = Join-Path $env:ProgramData ${'Lifeboat\\staging'}
New-Item -ItemType Directory -Force -Path $staging | Out-Null
[pscustomobject]@{
  vm = $vm | Select-Object ${raw('Name, State')}
  integration = @(Hyper-V\\Get-VMIntegrationService -VM $vm | Select-Object ${raw(INTEGRATION_FIELDS)})
  staging = $staging
} | ConvertTo-Json -Depth 4 -Compress`
      const check = await runJson(ctx.runner, script, Check, { signal, what: 'Preparing to copy a file into the guest' })
      if (check.vm.State !== 'Running') throw new AdapterError('COMMAND_FAILED', `${check.vm.Name} is ${check.vm.State.toLowerCase()}; a file can be put into a running guest only.`, { reason: 'invalid-state' })
      // Found by its Id: on a German host it is "Gastdienstschnittstelle"; the message names it as the host does.
      const gsi = findService(check.integration, 'guestServiceInterface')
      if (gsi?.Enabled !== true) {
        const name = gsi?.Name ?? 'Guest Service Interface'
        throw new AdapterError('NOT_SUPPORTED', `The ${name} integration service of ${check.vm.Name} is off. Enable it (Enable-VMIntegrationService -VMName … -Name '${name}') to restore files into the running guest, or restore to a folder instead.`, { reason: 'guest-services-off' })
      }
      const conn = await ctx.connection(signal)
      const staged = `${check.staging.replace(/[\\/]+$/, '')}\\${randomBytes(8).toString('hex')}.tmp`
      try {
        const pieces = (async function* () {
          for await (const data of file.data) yield { kind: 'data' as const, data }
        })()
        const size = await uploadFile(conn, staged, pieces, () => undefined, signal)
        if (size !== file.size) throw new AdapterError('BAD_RESPONSE', `Staged ${size} bytes instead of ${file.size}.`)
        await ctx.runner(ps`${vmVariable(vmId)}\nHyper-V\\Copy-VMFile -VM $vm -SourcePath ${staged} -DestinationPath ${file.guestPath} -FileSource Host -CreateFullPath${file.overwrite ? raw(' -Force') : raw('')}`, { signal, what: 'Copying the file into the guest', timeoutMs: 3_600_000 })
      } finally {
        await removeFile(conn, staged).catch(() => undefined)
      }
    },
  }
}
