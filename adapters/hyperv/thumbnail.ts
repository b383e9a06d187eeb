/**
 * The console of a Hyper-V VM as a PNG, for health checks: WMI's
 * Msvm_VirtualSystemManagementService.GetVirtualSystemThumbnailImage(TargetSystem = the VM's realized
 * Msvm_VirtualSystemSettingData, WidthPixels, HeightPixels) → ImageData, raw RGB 565 of the size asked for (Hyper-V
 * scales the console to it); return value 0, 4096 (job started) or 32768…32778
 * (learn.microsoft.com/windows/win32/hyperv_v2/getvirtualsystemthumbnailimage-msvm-virtualsystemmanagementservice).
 * Microsoft's page gives no byte order: the words are read little-endian (the host's order, and the layout of GDI's
 * Format16bppRgb565 that scripts copy ImageData into). One PowerShell call carries the pixels back as base64 in the
 * JSON answer; every byte of it is checked (exact length, base64 alphabet) before it becomes a PNG here.
 */
import { z } from 'zod'
import { isAbortError } from '../abort'
import { AdapterError } from '../host-adapter'
import { ppmToPng } from '../linux/ppm-png'
import type { HyperVContext } from './context'
import { ps } from './powershell'
import { runJson } from './ps-runner'

export interface ThumbnailSize {
  readonly width: number
  readonly height: number
}

/** 4:3, as Hyper-V's default console (1024x768); 600 KiB of pixels, 800 KiB of base64. */
export const THUMBNAIL_SIZE: ThumbnailSize = { width: 640, height: 480 }
const MAX_PIXELS = 1920 * 1200
const NAMESPACE = 'root\\virtualization\\v2'
const REALIZED = 'Microsoft:Hyper-V:System:Realized'
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

const CODES: Readonly<Record<number, string>> = {
  4096: 'job started, which Lifeboat does not follow for a thumbnail',
  32768: 'failed',
  32769: 'access denied',
  32770: 'not supported',
  32771: 'status unknown',
  32772: 'timeout',
  32773: 'invalid parameter',
  32774: 'system in use',
  32775: 'invalid state for this operation, for example a VM that is not running',
  32776: 'incorrect data type',
  32777: 'system not available',
  32778: 'out of memory',
}

function checkedSize(size: ThumbnailSize): ThumbnailSize {
  const ok = (n: number) => Number.isInteger(n) && n >= 1 && n <= 0xffff
  if (!ok(size.width) || !ok(size.height) || size.width * size.height > MAX_PIXELS) throw new AdapterError('BAD_RESPONSE', `A console thumbnail of ${size.width}x${size.height} cannot be asked for.`)
  return size
}

/**
 * RGB 565 (little-endian words, rows top to bottom) → PNG, through the PPM → PNG writer the libvirt screenshots use.
 * Each 5- or 6-bit channel is widened to 8 bits by repeating its top bits, so full intensity stays 255.
 */
export function rgb565ToPng(data: Uint8Array, size: ThumbnailSize): Buffer {
  const { width, height } = checkedSize(size)
  if (data.length !== width * height * 2) throw new AdapterError('BAD_RESPONSE', `A ${width}x${height} RGB 565 image has ${width * height * 2} bytes, not ${data.length}.`)
  const header = Buffer.from(`P6\n${width} ${height}\n255\n`, 'latin1')
  const ppm = Buffer.alloc(header.length + width * height * 3)
  header.copy(ppm)
  for (let i = 0, o = header.length; i < data.length; i += 2, o += 3) {
    const word = (data[i] ?? 0) | ((data[i + 1] ?? 0) << 8)
    const r = word >> 11
    const g = (word >> 5) & 0x3f
    const b = word & 0x1f
    ppm[o] = (r << 3) | (r >> 2)
    ppm[o + 1] = (g << 2) | (g >> 4)
    ppm[o + 2] = (b << 3) | (b >> 2)
  }
  const png = ppmToPng(ppm)
  if (png === undefined) throw new AdapterError('BAD_RESPONSE', `The ${width}x${height} console thumbnail could not be written as PNG.`)
  return png
}

function base64Length(size: ThumbnailSize): number {
  return Math.ceil((size.width * size.height * 2) / 3) * 4
}

function answerSchema(size: ThumbnailSize) {
  return z.object({
    Settings: z.number().int().min(0).max(1_000_000),
    ReturnValue: z.number().int().nullish(),
    ImageData: z.string().max(base64Length(size)).nullish(),
  })
}

/** The VM's console now, as a PNG of `size`; AdapterError when the host cannot give it (e.g. the VM is off). */
export async function consoleThumbnail(ctx: HyperVContext, vmId: string, signal: AbortSignal, size: ThumbnailSize = THUMBNAIL_SIZE): Promise<Buffer> {
  const what = 'Taking a console thumbnail (GetVirtualSystemThumbnailImage)'
  const { width, height } = checkedSize(size)
  if (!GUID.test(vmId)) throw new AdapterError('BAD_RESPONSE', `${what}: "${vmId.slice(0, 60)}" is not a VM id.`)
  // The id is a bare GUID (checked above), so it needs no WQL escaping inside the filter's quotes.
  const script = ps`$ns = ${NAMESPACE}
$s = @(CimCmdlets\\Get-CimInstance -Namespace $ns -ClassName 'Msvm_VirtualSystemSettingData' -Filter ${`VirtualSystemIdentifier = '${vmId}'`} | Where-Object { $_.VirtualSystemType -eq ${REALIZED} })
if ($s.Count -ne 1) {
  [pscustomobject]@{ Settings = $s.Count } | ConvertTo-Json -Compress
} else {
  $svc = CimCmdlets\\Get-CimInstance -Namespace $ns -ClassName 'Msvm_VirtualSystemManagementService'
  $r = CimCmdlets\\Invoke-CimMethod -InputObject $svc -MethodName 'GetVirtualSystemThumbnailImage' -Arguments @{ TargetSystem = $s[0]; WidthPixels = [uint16]${width}; HeightPixels = [uint16]${height} }
  $data = $null
  if ($r.ReturnValue -eq 0 -and $null -ne $r.ImageData) { $data = [System.Convert]::ToBase64String([byte[]]$r.ImageData) }
  [pscustomobject]@{ Settings = 1; ReturnValue = $r.ReturnValue; ImageData = $data } | ConvertTo-Json -Compress
}`
  const answer = await runJson(ctx.runner, script, answerSchema({ width, height }), { signal, what, timeoutMs: 120_000, maxOutputBytes: 4096 + base64Length({ width, height }) })
  if (answer.Settings !== 1) throw new AdapterError('NOT_FOUND', `${what}: WMI lists ${answer.Settings} realized settings for the VM ${vmId}.`)
  const code = answer.ReturnValue ?? -1
  if (code !== 0) throw new AdapterError('COMMAND_FAILED', `${what}: return value ${code}${CODES[code] !== undefined ? ` (${CODES[code]})` : ''}.`, { returnValue: code, ...(code === 32775 ? { reason: 'invalid-state' } : {}) })
  const text = answer.ImageData ?? ''
  if (text.length % 4 !== 0 || !BASE64.test(text)) throw new AdapterError('BAD_RESPONSE', `${what}: ImageData is not base64.`)
  return rgb565ToPng(Buffer.from(text, 'base64'), { width, height })
}

/**
 * The screenshot a health check keeps, or undefined when the host could not give one: the check reaches its verdict
 * either way, and the log says why there is no screenshot. A cancel is not swallowed.
 */
export async function checkScreenshot(ctx: HyperVContext, vmId: string, log: (level: 'info' | 'warn', message: string) => void, signal: AbortSignal): Promise<{ readonly format: 'png'; readonly data: Uint8Array } | undefined> {
  try {
    return { format: 'png', data: await consoleThumbnail(ctx, vmId, signal) }
  } catch (err) {
    if (signal.aborted || isAbortError(err)) throw err
    log('warn', `No console screenshot: ${err instanceof Error ? err.message : String(err)}`)
    return undefined
  }
}
