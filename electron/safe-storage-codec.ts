import { safeStorage } from 'electron'
import { fileCodec, type SecretCodec } from '../engine/state/secret-store'

/**
 * Credentials sealed by the OS keychain through Electron's safeStorage (Keychain on macOS, DPAPI on Windows,
 * libsecret/kwallet on Linux). On a Linux desktop without a keyring safeStorage would only obfuscate with a
 * fixed key, so Lifeboat says so plainly and uses the 0600 file instead of pretending. Call after app ready.
 */
export async function desktopSecretCodec(): Promise<SecretCodec> {
  const backend = process.platform === 'linux' ? safeStorage.getSelectedStorageBackend() : 'os'
  if (!(await safeStorage.isAsyncEncryptionAvailable()) || backend === 'basic_text' || backend === 'unknown') return fileCodec
  return {
    scheme: 'electron-safe-storage',
    description: 'encrypted with your operating system’s keychain',
    seal: async (plain) => ({ scheme: 'electron-safe-storage', data: (await safeStorage.encryptStringAsync(plain)).toString('base64') }),
    open: async (sealed) => (await safeStorage.decryptStringAsync(Buffer.from(sealed.data, 'base64'))).result,
  }
}
