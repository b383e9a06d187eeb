/**
 * The test host's side of the Hyper-V module: a unix socket that runs one cmdlet of the simulator model per
 * connection. The module (real pwsh, inside the sshd's network namespace) has already bound the parameters; this
 * looks up the model's cmdlet, runs it with those arguments and answers with its output or its error record.
 * When pwsh goes away (the SSH channel closed), the socket closes and the cmdlet stops waiting — but what the
 * model's "VMMS" started goes on, as on a real host.
 */
import { rm } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import type { CmdletDef } from '../hyperv-sim/hyperv/cmdlet-def'
import { PsError, SimulatorLimit } from '../hyperv-sim/hyperv/values'
import { aclCmdlets } from '../hyperv-sim/hyperv/cmdlets-acl'
import { configCmdlets } from '../hyperv-sim/hyperv/cmdlets-config'
import { powerCmdlets } from '../hyperv-sim/hyperv/cmdlets-power'
import { queryCmdlets } from '../hyperv-sim/hyperv/cmdlets-query'
import type { HyperVHost } from '../hyperv-sim/hyperv/host'
import { cimCmdlets } from '../hyperv-sim/hyperv/rct'
import { newDirectoryCmdlet, resolvePathCmdlet } from './file-cmdlets'
import { fromWire, toWire, type Wire } from './wire'

const MAX_REQUEST = 16 * 1024 * 1024

export interface ModelBridge {
  readonly socketPath: string
  /** Cmdlets run, in order ("Get-VM", …), for tests that check what a script did. */
  readonly calls: string[]
  /** Requests the model could not serve (simulator limits, internal errors): a test expects none. */
  readonly problems: string[]
  close(): Promise<void>
}

type Answer = { output: Wire[]; warnings: string[] } | { error: Wire; warnings: string[] } | { limit: string }

export async function startModelBridge(host: HyperVHost, socketPath: string): Promise<ModelBridge> {
  // The file cmdlets (configCmdlets' Test-Path, Remove-Item, Rename-Item; Get-Acl, Set-Acl; file-cmdlets.ts's literal
  // New-Item, which replaces the model's) serve C:\ paths for modules/WindowsPaths; Resolve-HvSimPath maps one for
  // lib/WindowsPaths.cs ([System.IO.File]::Open).
  const all = [...queryCmdlets(host), ...powerCmdlets(host), ...configCmdlets(host), ...aclCmdlets(host), ...cimCmdlets(host), newDirectoryCmdlet(host), resolvePathCmdlet(host)]
  const defs = new Map<string, CmdletDef>(all.map((d) => [d.name.toLowerCase(), d]))
  const calls: string[] = []
  const problems: string[] = []
  const sockets = new Set<Socket>()

  async function serve(line: string, signal: AbortSignal): Promise<Answer> {
    const warnings: string[] = []
    let cmdlet = '?'
    try {
      const request: unknown = JSON.parse(line)
      if (typeof request !== 'object' || request === null) throw new Error('bridge: the request is not an object')
      const { cmdlet: name, edition, args } = request as { cmdlet?: unknown; edition?: unknown; args?: unknown }
      if (typeof name !== 'string' || typeof args !== 'object' || args === null || Array.isArray(args)) throw new Error('bridge: malformed request')
      cmdlet = name
      const def = defs.get(name.toLowerCase())
      if (!def) throw new SimulatorLimit(`the model has no cmdlet ${name}`)
      calls.push(def.name)
      const bound = new Map(Object.entries(args as Record<string, unknown>).map(([k, v]) => [k, fromWire(v)]))
      const output = await def.run({ edition: edition === 'Desktop' ? 'Desktop' : 'Core', signal, warn: (m) => warnings.push(m), interactive: false }, bound, undefined)
      return { output: output.map(toWire), warnings }
    } catch (err) {
      if (err instanceof PsError) {
        const i = err.info
        return { error: { message: i.message, id: i.fqid.split(',')[0] ?? i.fqid, fqid: i.fqid, category: i.category, exception: i.exceptionType, target: i.targetName ?? null }, warnings }
      }
      const message = err instanceof SimulatorLimit ? err.message : `Hyper-V test host: internal error in ${cmdlet}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`
      problems.push(message)
      return { limit: message }
    }
  }

  function onConnection(socket: Socket): void {
    sockets.add(socket)
    const abort = new AbortController()
    let buffer = ''
    let answered = false
    socket.setEncoding('utf8')
    socket.on('close', () => {
      sockets.delete(socket)
      abort.abort(new Error('the PowerShell session went away'))
    })
    socket.on('error', () => undefined)
    socket.on('data', (chunk: string) => {
      if (answered) return
      buffer += chunk
      if (buffer.length > MAX_REQUEST) {
        answered = true
        socket.destroy()
        return
      }
      const nl = buffer.indexOf('\n')
      if (nl < 0) return
      answered = true
      void serve(buffer.slice(0, nl), abort.signal).then((answer) => {
        if (!socket.destroyed) socket.end(`${JSON.stringify(answer)}\n`)
      })
    })
  }

  await rm(socketPath, { force: true })
  const server: Server = createServer(onConnection)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(socketPath, () => resolve())
  })
  return {
    socketPath,
    calls,
    problems,
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await rm(socketPath, { force: true })
    },
  }
}
