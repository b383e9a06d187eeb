/**
 * The SFTP subsystem as Windows OpenSSH's sftp-server shows it: absolute paths like /C:/ProgramData/…, home at
 * /C:/Users/Administrator. Windows sharing rules apply: a disk a running VM has open (its active AVHDX/VHDX) or a file
 * held with FileShare None cannot be opened; a checkpoint's read-only parent can be read but not written.
 */
import { constants, type Stats } from 'node:fs'
import { open, readdir, rename, rm, rmdir, mkdir, stat, truncate, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import ssh2, { type SFTPWrapper } from 'ssh2'
import type { HyperVHost } from './hyperv/host'
import type { FileLocks } from './hyperv/locks'

const { OPEN_MODE, STATUS_CODE } = ssh2.utils.sftp

interface OpenFile {
  readonly fh: FileHandle
  readonly win: string
  readonly writable: boolean
}

function attrsOf(st: Stats) {
  return { mode: st.mode, uid: 0, gid: 0, size: st.size, atime: Math.floor(st.atimeMs / 1000), mtime: Math.floor(st.mtimeMs / 1000) }
}

export function serveSftp(sftp: SFTPWrapper, host: HyperVHost, locks: FileLocks): void {
  const handles = new Map<number, OpenFile | { dir: string; done: boolean }>()
  let next = 1
  const newHandle = (v: OpenFile | { dir: string; done: boolean }): Buffer => {
    const id = next++
    handles.set(id, v)
    const b = Buffer.alloc(4)
    b.writeUInt32BE(id)
    return b
  }
  const lookup = (h: Buffer) => (h.length === 4 ? handles.get(h.readUInt32BE(0)) : undefined)
  const resolve = (p: string): { win: string; local: string } | undefined => {
    try {
      const win = host.fs.fromSftp(p)
      return { win, local: host.fs.toLocal(win) }
    } catch {
      return undefined
    }
  }
  const fail = (reqid: number, e: unknown) => {
    const code = (e as { code?: string }).code
    if (code === 'ENOENT') sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE, 'The system cannot find the file specified.')
    else if (code === 'EACCES' || code === 'EPERM') sftp.status(reqid, STATUS_CODE.PERMISSION_DENIED, 'Access is denied.')
    else sftp.status(reqid, STATUS_CODE.FAILURE, e instanceof Error ? e.message : String(e))
  }
  const busy = (reqid: number) => sftp.status(reqid, STATUS_CODE.PERMISSION_DENIED, 'The process cannot access the file because it is being used by another process.')

  sftp.on('REALPATH', (reqid, p) => {
    const r = resolve(p)
    const win = r?.win ?? host.fs.fromSftp('.')
    sftp.name(reqid, [{ filename: host.fs.toSftp(win), longname: host.fs.toSftp(win), attrs: {} as never }])
  })
  sftp.on('OPEN', (reqid, filename, flags) => {
    void (async () => {
      const r = resolve(filename)
      if (!r) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE, 'The system cannot find the path specified.')
      const writable = (flags & OPEN_MODE.WRITE) !== 0
      if (host.inUse(r.win) || locks.locked(r.win)) return busy(reqid)
      if (writable && host.disks.get(r.win)?.readOnly === true) return sftp.status(reqid, STATUS_CODE.PERMISSION_DENIED, 'Access is denied.')
      let mode = writable ? ((flags & OPEN_MODE.READ) !== 0 ? constants.O_RDWR : constants.O_WRONLY) : constants.O_RDONLY
      if ((flags & OPEN_MODE.CREAT) !== 0) mode |= constants.O_CREAT
      if ((flags & OPEN_MODE.TRUNC) !== 0) mode |= constants.O_TRUNC
      if ((flags & OPEN_MODE.EXCL) !== 0) mode |= constants.O_EXCL
      if ((flags & OPEN_MODE.APPEND) !== 0) mode |= constants.O_APPEND
      try {
        if ((flags & OPEN_MODE.CREAT) !== 0) await mkdir(path.dirname(r.local), { recursive: false }).catch(() => undefined)
        const created = (flags & OPEN_MODE.CREAT) !== 0 && !(await stat(r.local).then(() => true, () => false))
        const fh = await open(r.local, mode, 0o644)
        // A new file has only what it inherits from its folder.
        if (created) host.acls.removed(r.win)
        sftp.handle(reqid, newHandle({ fh, win: host.fs.toWin(r.local), writable }))
      } catch (e) {
        fail(reqid, e)
      }
    })()
  })
  sftp.on('READ', (reqid, handle, offset, length) => {
    const f = lookup(handle)
    if (!f || !('fh' in f)) return sftp.status(reqid, STATUS_CODE.FAILURE, 'invalid handle')
    void (async () => {
      try {
        const buf = Buffer.alloc(Math.min(length, 256 * 1024))
        const { bytesRead } = await f.fh.read(buf, 0, buf.length, offset)
        if (bytesRead === 0) sftp.status(reqid, STATUS_CODE.EOF)
        else {
          const key = f.win.toLowerCase()
          host.bytesRead.set(key, (host.bytesRead.get(key) ?? 0) + bytesRead)
          sftp.data(reqid, buf.subarray(0, bytesRead))
        }
      } catch (e) {
        fail(reqid, e)
      }
    })()
  })
  sftp.on('WRITE', (reqid, handle, offset, data) => {
    const f = lookup(handle)
    if (!f || !('fh' in f) || !f.writable) return sftp.status(reqid, STATUS_CODE.FAILURE, 'invalid handle')
    void (async () => {
      try {
        await f.fh.write(data, 0, data.length, offset)
        sftp.status(reqid, STATUS_CODE.OK)
      } catch (e) {
        fail(reqid, e)
      }
    })()
  })
  sftp.on('FSTAT', (reqid, handle) => {
    const f = lookup(handle)
    if (!f || !('fh' in f)) return sftp.status(reqid, STATUS_CODE.FAILURE, 'invalid handle')
    f.fh.stat().then((st) => sftp.attrs(reqid, attrsOf(st)), (e: unknown) => fail(reqid, e))
  })
  const onStat = (reqid: number, p: string) => {
    const r = resolve(p)
    if (!r) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE)
    stat(r.local).then((st) => sftp.attrs(reqid, attrsOf(st)), (e: unknown) => fail(reqid, e))
  }
  sftp.on('STAT', onStat)
  sftp.on('LSTAT', onStat)
  sftp.on('FSETSTAT', (reqid, handle, attrs) => {
    const f = lookup(handle)
    if (!f || !('fh' in f)) return sftp.status(reqid, STATUS_CODE.FAILURE, 'invalid handle')
    const size = (attrs as { size?: number }).size
    if (size === undefined) return sftp.status(reqid, STATUS_CODE.OK)
    f.fh.truncate(size).then(() => sftp.status(reqid, STATUS_CODE.OK), (e: unknown) => fail(reqid, e))
  })
  sftp.on('SETSTAT', (reqid, p, attrs) => {
    const r = resolve(p)
    const size = (attrs as { size?: number }).size
    if (!r) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE)
    if (size === undefined) return sftp.status(reqid, STATUS_CODE.OK)
    truncate(r.local, size).then(() => sftp.status(reqid, STATUS_CODE.OK), (e: unknown) => fail(reqid, e))
  })
  sftp.on('CLOSE', (reqid, handle) => {
    const f = lookup(handle)
    if (!f) return sftp.status(reqid, STATUS_CODE.FAILURE, 'invalid handle')
    handles.delete(handle.readUInt32BE(0))
    if (!('fh' in f)) return sftp.status(reqid, STATUS_CODE.OK)
    if (f.writable) host.disks.invalidate(f.win)
    f.fh.close().then(() => sftp.status(reqid, STATUS_CODE.OK), (e: unknown) => fail(reqid, e))
  })
  sftp.on('OPENDIR', (reqid, p) => {
    const r = resolve(p)
    if (!r) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE)
    stat(r.local).then(
      (st) => (st.isDirectory() ? sftp.handle(reqid, newHandle({ dir: r.local, done: false })) : sftp.status(reqid, STATUS_CODE.FAILURE, 'not a directory')),
      (e: unknown) => fail(reqid, e),
    )
  })
  sftp.on('READDIR', (reqid, handle) => {
    const d = lookup(handle)
    if (!d || 'fh' in d) return sftp.status(reqid, STATUS_CODE.FAILURE, 'invalid handle')
    if (d.done) return sftp.status(reqid, STATUS_CODE.EOF)
    d.done = true
    void (async () => {
      try {
        const names = await readdir(d.dir)
        const list = []
        for (const n of names) {
          const st = await stat(path.join(d.dir, n))
          list.push({ filename: n, longname: `${st.isDirectory() ? 'd' : '-'}rw-r--r-- 1 Administrator None ${st.size} ${n}`, attrs: attrsOf(st) })
        }
        if (list.length === 0) sftp.status(reqid, STATUS_CODE.EOF)
        else sftp.name(reqid, list)
      } catch (e) {
        fail(reqid, e)
      }
    })()
  })
  sftp.on('REMOVE', (reqid, p) => {
    const r = resolve(p)
    if (!r) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE)
    if (host.inUse(r.win) || locks.locked(r.win)) return busy(reqid)
    void (async () => {
      try {
        await stat(r.local)
        if (host.disks.get(r.win)) await host.disks.remove(r.win)
        else await rm(r.local)
        host.acls.removed(r.win)
        sftp.status(reqid, STATUS_CODE.OK)
      } catch (e) {
        fail(reqid, e)
      }
    })()
  })
  sftp.on('RENAME', (reqid, from, to) => {
    const a = resolve(from)
    const b = resolve(to)
    if (!a || !b) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE)
    if (host.inUse(a.win) || locks.locked(a.win)) return busy(reqid)
    void (async () => {
      try {
        const exists = await stat(b.local).then(() => true, () => false)
        if (exists) return sftp.status(reqid, STATUS_CODE.FAILURE, 'Cannot create a file when that file already exists.')
        await rename(a.local, b.local)
        host.disks.renamed(a.win, host.fs.toWin(b.local))
        host.acls.moved(a.win, host.fs.toWin(b.local))
        sftp.status(reqid, STATUS_CODE.OK)
      } catch (e) {
        fail(reqid, e)
      }
    })()
  })
  sftp.on('MKDIR', (reqid, p) => {
    const r = resolve(p)
    if (!r) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE)
    mkdir(r.local).then(() => sftp.status(reqid, STATUS_CODE.OK), (e: unknown) => fail(reqid, e))
  })
  sftp.on('RMDIR', (reqid, p) => {
    const r = resolve(p)
    if (!r) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE)
    rmdir(r.local).then(() => sftp.status(reqid, STATUS_CODE.OK), (e: unknown) => fail(reqid, e))
  })
  sftp.on('READLINK', (reqid) => sftp.status(reqid, STATUS_CODE.OP_UNSUPPORTED))
  sftp.on('SYMLINK', (reqid) => sftp.status(reqid, STATUS_CODE.OP_UNSUPPORTED))
  sftp.on('end', () => {
    for (const f of handles.values()) if ('fh' in f) void f.fh.close().catch(() => undefined)
    handles.clear()
  })
}
