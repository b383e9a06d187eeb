import { describe, expect, it } from 'vitest'
import { throwIfSudoRefused } from './root-shell'

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
