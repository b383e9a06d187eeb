/**
 * A JPEG of a running VM's console, for health checks: xapi's `GET /vncsnapshot?ref=<VM>` (ocaml/xapi/
 * xapi_vncsnapshot.ml, console.ml) takes the VM's default console — the one with protocol `rfb` in `VM.consoles` — and
 * answers 200 with the JPEG file dom0's `/usr/bin/vncsnapshot` wrote of it. Anything else fails the request (a non-200
 * status, the connection closed): no such VM, no VNC console, a VM not running on that host (404), a dom0 without the
 * vncsnapshot binary or a snapshot that failed or took longer than xapi's 30 s. The console lives on the host the VM
 * runs on (its xenopsd knows the VNC port), so the request goes to that member over the pool's pinned connections
 * (xapi-http.ts). The answer is untrusted: it must fit MAX_SNAPSHOT_BYTES and be a whole JPEG (jpeg.ts).
 */
import type { Readable } from 'node:stream'
import { AdapterError } from '../host-adapter'
import { duration } from '../boot-proof'
import { jpegInfo, type JpegInfo } from './jpeg'
import type { XapiClient } from './xapi-client'
import { HostRecord, VMRecord } from './xapi-records.generated'
import { isNullRef } from './xapi-schema-kit'

/** A console JPEG is tens of KiB (a 4K text screen a few hundred); anything near this is not a screenshot. */
export const MAX_SNAPSHOT_BYTES = 8 * 1024 * 1024
/** xapi gives vncsnapshot 30 s; a little more for the transfer. */
export const SNAPSHOT_TIMEOUT_MS = 40_000

export interface ConsoleSnapshotOptions {
  readonly timeoutMs?: number
  readonly maxBytes?: number
}

export interface ConsoleSnapshot {
  readonly data: Buffer
  readonly info: JpegInfo
}

/** Stops reading an answer and closes its connection (undici then reports the abort as an error nobody needs). */
function discard(body: Readable): void {
  body.on('error', () => undefined)
  body.destroy()
}

/** The VM's console now, as a JPEG; AdapterError (its message in plain words) when the pool cannot give one. */
export async function consoleSnapshot(client: XapiClient, vmRef: string, signal: AbortSignal, options: ConsoleSnapshotOptions = {}): Promise<ConsoleSnapshot> {
  const timeoutMs = options.timeoutMs ?? SNAPSHOT_TIMEOUT_MS
  const maxBytes = options.maxBytes ?? MAX_SNAPSHOT_BYTES
  const vm = await client.record('VM', vmRef, VMRecord, signal)
  if (vm.power_state !== 'Running') throw new AdapterError('NOT_FOUND', `the VM is not running (power state ${vm.power_state}), so it has no console to take`)
  const host = isNullRef(vm.resident_on) ? undefined : (await client.record('host', vm.resident_on, HostRecord, signal)).address
  const timer = AbortSignal.timeout(timeoutMs)
  const both = AbortSignal.any([signal, timer])
  try {
    const { body, length } = await client.http.get('/vncsnapshot', { query: { ref: vmRef }, signal: both, ...(host !== undefined && host !== '' ? { host } : {}) })
    const tooLarge = (n: number) => new AdapterError('BAD_RESPONSE', `the answer is larger (${n} bytes or more) than any console screenshot (at most ${maxBytes}); it was not kept`)
    if (length !== undefined && length > maxBytes) {
      discard(body)
      throw tooLarge(length)
    }
    const chunks: Buffer[] = []
    let total = 0
    for await (const chunk of body as AsyncIterable<Buffer>) {
      total += chunk.length
      if (total > maxBytes) {
        discard(body)
        throw tooLarge(total)
      }
      chunks.push(chunk)
    }
    const data = Buffer.concat(chunks, total)
    return { data, info: jpegInfo(data) }
  } catch (err) {
    if (signal.aborted) throw err
    if (timer.aborted) throw new AdapterError('CONNECTION_TIMEOUT', `the pool did not answer /vncsnapshot within ${timeoutMs < 1000 ? `${timeoutMs} ms` : duration(timeoutMs)}`)
    throw err
  }
}

/**
 * The screenshot a health check keeps, or undefined when the pool could not take one: the check reaches its verdict
 * either way, and one log line says why there is no screenshot. A cancel of the check is not swallowed.
 */
export async function checkScreenshot(
  client: XapiClient,
  vmRef: string,
  log: (level: 'info' | 'warn', message: string) => void,
  signal: AbortSignal,
  options: ConsoleSnapshotOptions = {},
): Promise<{ readonly format: 'jpeg'; readonly data: Uint8Array } | undefined> {
  try {
    const shot = await consoleSnapshot(client, vmRef, signal, options)
    log('info', `Kept a screenshot of the console (JPEG, ${shot.info.width}x${shot.info.height}, ${Math.ceil(shot.data.length / 1024)} KiB).`)
    return { format: 'jpeg', data: shot.data }
  } catch (err) {
    if (signal.aborted) throw err
    const message = (err instanceof Error ? err.message : String(err)).replace(/\.$/, '')
    const why = /^The [a-z]/.test(message) ? `t${message.slice(1)}` : message
    log('warn', `The pool could not take a console screenshot: ${why}.`)
    return undefined
  }
}
