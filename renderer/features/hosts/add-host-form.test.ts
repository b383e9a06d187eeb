import { describe, expect, it } from 'vitest'
import { emptyForm, fingerprintCommand, toInput, validate } from './add-host-form'

describe('add host form', () => {
  const ok = { ...emptyForm('linux'), name: 'web01', address: '10.0.0.5', password: 'x' }

  it('accepts a complete form and builds the contract input', () => {
    expect(validate(ok, [])).toEqual({})
    expect(toInput(ok, 'SHA256:abc')).toEqual({
      kind: 'linux',
      name: 'web01',
      address: '10.0.0.5',
      user: 'root',
      auth: { type: 'password', password: 'x' },
      acceptFingerprint: 'SHA256:abc',
    })
  })

  it('names each problem', () => {
    expect(validate(emptyForm('linux'), [])).toEqual({
      name: 'validation.name.required',
      address: 'validation.address.required',
      password: 'validation.password.required',
    })
    expect(validate({ ...ok, name: 'WEB01' }, ['web01']).name).toBe('validation.name.taken')
    expect(validate({ ...ok, address: 'host:99999' }, []).address).toBe('validation.address.port')
    expect(validate({ ...ok, address: 'bad host' }, []).address).toBe('validation.address.invalid')
    expect(validate({ ...ok, user: 'a b' }, []).user).toBe('validation.user.invalid')
    expect(validate({ ...ok, authType: 'key', privateKey: 'hello' }, []).privateKey).toBe('validation.key.invalid')
  })

  it('XenServer always signs in with a password', () => {
    const form = { ...emptyForm('xenserver'), name: 'pool', address: 'xen1', authType: 'key' as const, password: 'pw' }
    expect(validate(form, [])).toEqual({})
    expect(toInput(form).auth).toEqual({ type: 'password', password: 'pw' })
  })

  it('tells the admin how to check the fingerprint on the host', () => {
    expect(fingerprintCommand('linux', 'ssh-ed25519')).toBe('ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub')
    expect(fingerprintCommand('xenserver', 'tls-certificate')).toContain('xapi-ssl.pem')
    expect(fingerprintCommand('hyperv', 'ecdsa-sha2-nistp256')).toContain('C:\\ProgramData\\ssh\\ssh_host_ecdsa_key.pub')
  })
})
