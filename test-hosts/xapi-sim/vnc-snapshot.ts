import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { GLYPH_HEIGHT, GLYPH_WIDTH, glyphLit } from './console-font'
import type { SimCore, SimHost } from './core'
import { NULL_REF, text } from './datamodel-values'
import { enterCall } from './faults'
import type { ConsoleScreen } from './guest'
import type { VmOps } from './vm-ops'

/** A VGA text screen: 80x25 cells of 8x16 pixels, light grey on black. */
export const SCREEN = { columns: 80, rows: 25, cellWidth: 8, cellHeight: 16, width: 640, height: 400 } as const
const FOREGROUND = [0xaa, 0xaa, 0xaa] as const
const MAX_JPEG = 16 * 1024 * 1024

/** The text on a VM's console: the BIOS, or the guest's login prompt once it booted. */
export function screenLines(screen: ConsoleScreen, vm: { readonly name: string; readonly os?: string }): string[] {
  const bios = ['SeaBIOS (version 1.16.0-simulated)', '', 'Booting from Hard Disk...']
  if (screen === 'no-bootable-device') return [...bios, 'Boot failed: not a bootable disk', '', 'No bootable device.']
  if (screen === 'booting') return [...bios, 'Loading the operating system from the first disk...']
  return [vm.os ?? 'Simulated guest', 'Kernel on an x86_64 (tty1)', '', `${vm.name} login: _`]
}

/** The lines drawn as a 640x400 picture, as a binary PPM (P6): each glyph cell doubled in height, as VGA's 8x16 font. */
export function renderScreen(lines: readonly string[]): Buffer {
  const { width, height, cellWidth, cellHeight, columns, rows } = SCREEN
  const header = Buffer.from(`P6\n${width} ${height}\n255\n`, 'latin1')
  const ppm = Buffer.alloc(header.length + width * height * 3)
  header.copy(ppm)
  for (const [row, line] of lines.slice(0, rows).entries()) {
    // By UTF-16 unit: anything outside the font (non-ASCII included) is drawn as an empty box.
    for (let column = 0; column < Math.min(line.length, columns); column++) {
      const char = line.charAt(column)
      for (let y = 0; y < GLYPH_HEIGHT * 2; y++) {
        for (let x = 0; x < GLYPH_WIDTH; x++) {
          if (!glyphLit(char, x, y >> 1)) continue
          const px = column * cellWidth + 1 + x
          const py = row * cellHeight + 1 + y
          ppm.set(FOREGROUND, header.length + (py * width + px) * 3)
        }
      }
    }
  }
  return ppm
}

/** A PPM as JPEG through libjpeg-turbo's cjpeg: dom0's vncsnapshot is an external binary too. */
export function encodeJpeg(ppm: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('cjpeg', ['-quality', '90'], { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let size = 0
    let err = ''
    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_JPEG) child.kill()
      else out.push(chunk)
    })
    child.stderr.on('data', (chunk: Buffer) => (err = (err + chunk.toString('utf8')).slice(0, 2000)))
    child.on('error', reject)
    child.on('close', (code) => {
      if (code === 0 && size <= MAX_JPEG) resolve(Buffer.concat(out))
      else reject(new Error(`cjpeg failed (exit ${code ?? 'signal'}): ${err.trim()}`))
    })
    child.stdin.on('error', () => undefined)
    child.stdin.end(ppm)
  })
}

class SnapshotFailure extends Error {}

/**
 * GET /vncsnapshot, as xapi's xapi_vncsnapshot.ml with console.ml's lookup: `uuid=` names a VM or else a console,
 * `ref=` a VM or a console reference; a VM means its default console, the one with protocol rfb (a halted VM has
 * none). The console's address is asked of this host's xenopsd, which knows only domains running here: a VM that does
 * not run on this host answers 404. Then dom0's /usr/bin/vncsnapshot writes a JPEG of the console, answered with 200;
 * any failure on the way (no such reference, no rfb console, the binary missing — `faults.vncsnapshotMissing` — or
 * failing) fails the request: HTTP 500 and the connection closed, as xapi's with_context does with an exception.
 */
export function vncSnapshotRoute(core: SimCore, vms: VmOps, host: SimHost) {
  const db = core.db

  function consoleOfRequest(url: URL): string {
    const uuid = url.searchParams.get('uuid')
    const ref = url.searchParams.get('ref')
    let target: string
    if (uuid !== null) {
      const vm = db.all('VM').find(([, r]) => r.uuid === uuid)?.[0]
      const console = db.all('console').find(([, r]) => r.uuid === uuid)?.[0]
      if (vm === undefined && console === undefined) throw new SnapshotFailure(`no VM or console has the uuid ${uuid}`)
      target = vm ?? console ?? ''
    } else if (ref !== null) target = ref
    else throw new SnapshotFailure("the request lacked a 'ref' or 'uuid' parameter")
    if (db.has('console', target)) return target
    if (!db.has('VM', target)) throw new SnapshotFailure(`${target} is neither a VM ref or a console ref`)
    const rfb = (db.get('VM', target).consoles as string[]).find((c) => db.find('console', c)?.protocol === 'rfb')
    if (rfb === undefined) throw new SnapshotFailure('Failed to find default VNC console for VM')
    return rfb
  }

  async function snapshot(res: ServerResponse, url: URL): Promise<void> {
    if (!core.checkSessionQuietly(url.searchParams.get('session_id') ?? '')) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('Unauthorised (session invalid)\n')
      return
    }
    try {
      enterCall(core.faults, url.pathname)
      const console = consoleOfRequest(url)
      const record = db.get('console', console)
      const vmRef = record.VM as string
      const vm = db.get('VM', vmRef)
      const here = (vm.power_state === 'Running' || vm.power_state === 'Paused') && vm.resident_on === host.ref
      if (!here) {
        res.writeHead(404, { 'content-type': 'text/plain', connection: 'close' }).end('Failed to find the VNC console address\n')
        return
      }
      const delay = core.faults.vncsnapshotDelayMs
      if (delay > 0) await new Promise((r) => setTimeout(r, delay))
      if (core.faults.vncsnapshotMissing) throw new SnapshotFailure('/usr/bin/vncsnapshot: No such file or directory')
      // vncsnapshot speaks RFB: pointed at the text console's port it finds no VNC server and exits non-zero.
      if (record.protocol !== 'rfb') throw new SnapshotFailure(`vncsnapshot exited with code 1 (the ${text(record.protocol)} console is not a VNC server)`)
      const gm = vm.guest_metrics as string
      const os = gm !== NULL_REF && db.has('VM_guest_metrics', gm) ? (db.get('VM_guest_metrics', gm).os_version as Record<string, string>).name : undefined
      const jpeg = core.faults.vncsnapshotAnswer ?? (await encodeJpeg(renderScreen(screenLines(await vms.consoleScreen(vmRef), { name: text(vm.name_label), ...(os !== undefined ? { os } : {}) }))))
      res
        .writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-length': jpeg.length,
          'content-disposition': `attachment; filename="snapshot${randomBytes(3).toString('hex')}.jpg"`,
        })
        .end(jpeg)
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err)
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain', connection: 'close' })
      res.end(`Internal Server Error: Taking snapshot of VM console: ${why}\n`)
    }
  }

  return async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> => {
    if (req.method !== 'GET' || url.pathname !== '/vncsnapshot') return false
    await snapshot(res, url)
    return true
  }
}

/** For tests: a JPEG decoded by libjpeg-turbo's djpeg, as a binary PPM. */
export function decodeJpeg(jpeg: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('djpeg', ['-pnm'], { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let err = ''
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => (err = (err + chunk.toString('utf8')).slice(0, 2000)))
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`djpeg failed (exit ${code ?? 'signal'}): ${err.trim()}`))))
    child.stdin.on('error', () => undefined)
    child.stdin.end(jpeg)
  })
}

/**
 * For tests: how many pixels differ between two pictures of the screen's size (binary PPMs with the same header),
 * each pixel taken as lit or dark (a channel at a third of full intensity or more). JPEG's losses blur the edges of
 * the glyphs but leave nearly every pixel on its side of that line; a different line of text differs in hundreds.
 */
export function differingPixels(a: Buffer, b: Buffer): number {
  const header = `P6\n${SCREEN.width} ${SCREEN.height}\n255\n`.length
  const size = SCREEN.width * SCREEN.height * 3
  if (a.length !== header + size || b.length !== header + size) throw new Error(`not two ${SCREEN.width}x${SCREEN.height} PPMs (${a.length} and ${b.length} bytes)`)
  const lit = (p: Buffer, i: number) => Math.max(p[i] ?? 0, p[i + 1] ?? 0, p[i + 2] ?? 0) >= 85
  let count = 0
  for (let i = header; i < header + size; i += 3) if (lit(a, i) !== lit(b, i)) count++
  return count
}
