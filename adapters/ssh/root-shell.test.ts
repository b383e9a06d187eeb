import { describe, expect, it } from 'vitest'
import { RootShell, throwIfSudoRefused } from './root-shell'
import type { SshConnection } from './ssh-connection'

describe("sudo's refusals", () => {
  it('are found behind the warnings sudo prints first', () => {
    const stderr = 'sudo: unable to resolve host web1: Temporary failure in name resolution\nsudo: a password is required'
    expect(() => throwIfSudoRefused(stderr, 'kvm1')).toThrow(expect.objectContaining({ code: 'PERMISSION_DENIED', params: { reason: 'sudo-password' } }))
  })

  it('name the missing sudo and the missing sudoers entry apart', () => {
    expect(() => throwIfSudoRefused('sh: 1: sudo: not found', 'kvm1')).toThrow(/sudo is not installed/)
    expect(() => throwIfSudoRefused('sudo: alice is not in the sudoers file.', 'kvm1')).toThrow(/may not use sudo/)
  })

  it('leave a command’s own failure alone', () => {
    expect(() => throwIfSudoRefused('sudo: unable to resolve host web1\ncat: /x: No such file or directory', 'kvm1')).not.toThrow()
    expect(() => throwIfSudoRefused('', 'kvm1')).not.toThrow()
  })
})

describe('the privilege of a login', () => {
  /** A connection that fails any command: what RootShell learns must come from remember(). */
  const silent = (): SshConnection => ({ run: () => Promise.reject(new Error('no round trip expected')) }) as unknown as SshConnection

  it('is taken from an id -u answer the caller already has, without asking the host again', async () => {
    const root = silent()
    RootShell.remember(root, '0')
    expect((await RootShell.for(root)).privilege).toBe('root')
    const alice = silent()
    RootShell.remember(alice, '1000')
    expect((await RootShell.for(alice)).privilege).toBe('sudo')
  })

  it('ignores an answer that is no number, and then asks the host', async () => {
    const conn = silent()
    RootShell.remember(conn, 'root')
    await expect(RootShell.for(conn)).rejects.toThrow('no round trip expected')
  })
})
