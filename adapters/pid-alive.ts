/**
 * Whether a process of this machine with that pid still runs (one we may not signal counts as running). Anything
 * but a positive integer is no process: `kill(0)` and `kill(-1)` would ask about whole process groups.
 */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
