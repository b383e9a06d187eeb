/**
 * Files held open with FileShare None, which SFTP refuses to open (sftp.ts), as Windows does. On the pwsh host
 * Lifeboat's job locks are real .NET FileShare.None opens (an exclusive flock) inside the PowerShell sessions
 * (lib/WindowsPaths.cs), which SFTP does not see; what is held here is what a test holds with hold() — a file some
 * other program on the host has open.
 */
import type { WinFs } from './winfs'

export class FileLocks {
  private readonly held = new Map<string, number>()

  constructor(private readonly fs: WinFs) {}

  /** True when some open handle refuses sharing. */
  locked(winPath: string): boolean {
    if (this.held.size === 0) return false
    try {
      return (this.held.get(this.key(winPath)) ?? 0) > 0
    } catch {
      // A path no drive of the model holds: nothing can hold it either.
      return false
    }
  }

  /** Holds the file with FileShare None until the returned function is called. */
  hold(winPath: string): () => void {
    const k = this.key(winPath)
    this.held.set(k, (this.held.get(k) ?? 0) + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const n = (this.held.get(k) ?? 1) - 1
      if (n > 0) this.held.set(k, n)
      else this.held.delete(k)
    }
  }

  /** One key per file however a script spells it (Windows paths are case-insensitive, files not yet made too). */
  private key(winPath: string): string {
    return this.fs.toLocal(winPath).toLowerCase()
  }
}
