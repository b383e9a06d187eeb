/**
 * [System.IO.File]::Open with Windows share modes: a handle opened with FileShare None keeps every other opener out
 * until it is closed or its process (the SSH session) ends. Lifeboat's job-liveness lock relies on exactly that.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { NetObject, PsError } from '../ps/values'
import { normalizeWin, type WinFs } from './winfs'

interface Handle {
  readonly key: string
  readonly share: string
  readonly owner: object
}

export class FileLocks {
  private readonly handles = new Set<Handle>()

  constructor(private readonly fs: WinFs) {}

  /** True when some open handle refuses sharing (SFTP opens of such files fail too). */
  locked(winPath: string): boolean {
    const key = normalizeWin(winPath).toLowerCase()
    return [...this.handles].some((h) => h.key === key && h.share.toLowerCase() === 'none')
  }

  open(owner: object, winPath: string, mode: string, _access: string, share: string): NetObject {
    const key = normalizeWin(winPath).toLowerCase()
    const m = mode.toLowerCase()
    if (!['open', 'openorcreate', 'create', 'createnew'].includes(m)) throw new PsError({ message: `Cannot convert argument "mode", with value: "${mode}", for "Open" to type "System.IO.FileMode".`, fqid: 'MethodArgumentConversionInvalidCastArgument', category: 'NotSpecified', exceptionType: 'System.Management.Automation.MethodException' })
    const local = this.fs.toLocal(winPath)
    const exists = existsSync(local)
    if (m === 'open' && !exists) throw ioError(`Could not find file '${winPath}'.`, 'FileNotFoundException')
    if (m === 'createnew' && exists) throw ioError(`The file '${winPath}' already exists.`, 'IOException')
    const conflict = [...this.handles].some((h) => h.key === key && (h.share.toLowerCase() === 'none' || share.toLowerCase() === 'none'))
    if (conflict) throw ioError(`The process cannot access the file '${winPath}' because it is being used by another process.`, 'IOException')
    if (!exists || m === 'create' || m === 'createnew') {
      mkdirSync(path.dirname(local), { recursive: true })
      writeFileSync(local, '')
    }
    const handle: Handle = { key, share, owner }
    this.handles.add(handle)
    const close = () => {
      this.handles.delete(handle)
      return null
    }
    return new NetObject('System.IO.FileStream', { Close: close, Dispose: close }, { Name: winPath })
  }

  /** The process ended: Windows closes its handles. */
  releaseAll(owner: object): void {
    for (const h of [...this.handles]) if (h.owner === owner) this.handles.delete(h)
  }
}

function ioError(message: string, type: string): PsError {
  return new PsError({ message: `Exception calling "Open" with "4" argument(s): "${message}"`, fqid: type, category: 'NotSpecified', exceptionType: 'System.Management.Automation.MethodInvocationException' })
}
