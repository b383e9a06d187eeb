import { defaultPorts, parseAddress, type HostAddInput, type HostKindDto } from '../../../engine/api/contract'
import type { MessageKey } from '../../i18n/en'

export interface AddHostForm {
  kind: HostKindDto
  name: string
  address: string
  user: string
  authType: 'password' | 'key'
  password: string
  privateKey: string
  passphrase: string
}

export type FormErrors = Partial<Record<'name' | 'address' | 'user' | 'password' | 'privateKey', MessageKey>>

export const defaultUser: Record<HostKindDto, string> = { linux: 'root', hyperv: 'Administrator', xenserver: 'root' }

export function emptyForm(kind: HostKindDto = 'linux'): AddHostForm {
  return { kind, name: '', address: '', user: defaultUser[kind], authType: 'password', password: '', privateKey: '', passphrase: '' }
}

export const MAX_KEY_BYTES = 64 * 1024

/** Field checks in the admin's language, before anything is sent; the engine checks again. */
export function validate(form: AddHostForm, takenNames: readonly string[]): FormErrors {
  const errors: FormErrors = {}
  const name = form.name.trim()
  if (name === '') errors.name = 'validation.name.required'
  else if (name.length > 100) errors.name = 'validation.name.long'
  else if (takenNames.some((n) => n.toLowerCase() === name.toLowerCase())) errors.name = 'validation.name.taken'

  const address = form.address.trim()
  if (address === '') errors.address = 'validation.address.required'
  else {
    const parsed = parseAddress(address)
    if (!parsed.ok) errors.address = /port/i.test(parsed.reason) ? 'validation.address.port' : 'validation.address.invalid'
  }

  const user = form.user.trim()
  if (user === '') errors.user = 'validation.user.required'
  else if (/\s/.test(user)) errors.user = 'validation.user.invalid'

  if (form.authType === 'password' || form.kind === 'xenserver') {
    if (form.password === '') errors.password = 'validation.password.required'
  } else {
    const key = form.privateKey.trim()
    if (key === '') errors.privateKey = 'validation.key.required'
    else if (key.length > MAX_KEY_BYTES) errors.privateKey = 'validation.key.tooBig'
    else if (!key.startsWith('-----BEGIN') || !/PRIVATE KEY-----/.test(key)) errors.privateKey = 'validation.key.invalid'
  }
  return errors
}

export function toInput(form: AddHostForm, acceptFingerprint?: string): HostAddInput {
  const auth: HostAddInput['auth'] =
    form.authType === 'password' || form.kind === 'xenserver'
      ? { type: 'password', password: form.password }
      : form.passphrase !== ''
        ? { type: 'key', privateKey: form.privateKey.trim() + '\n', passphrase: form.passphrase }
        : { type: 'key', privateKey: form.privateKey.trim() + '\n' }
  return {
    kind: form.kind,
    name: form.name.trim(),
    address: form.address.trim(),
    user: form.user.trim(),
    auth,
    ...(acceptFingerprint !== undefined ? { acceptFingerprint } : {}),
  }
}

export function portHint(form: AddHostForm): number {
  return defaultPorts[form.kind]
}

/** The command an admin runs on the host's own console to see the fingerprint to compare. */
export function fingerprintCommand(kind: HostKindDto, keyType: string): string {
  if (keyType === 'tls-certificate') return 'openssl x509 -noout -fingerprint -sha256 -in /etc/xensource/xapi-ssl.pem'
  const file = keyType.includes('ed25519') ? 'ed25519' : keyType.includes('ecdsa') ? 'ecdsa' : 'rsa'
  if (kind === 'hyperv') return `ssh-keygen -lf C:\\ProgramData\\ssh\\ssh_host_${file}_key.pub`
  return `ssh-keygen -lf /etc/ssh/ssh_host_${file}_key.pub`
}
