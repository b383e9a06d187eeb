import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { getConfig, validateConfiguration } from 'app-builder-lib/out/util/config/config.js'
import { DebugLogger } from 'builder-util'
import { describe, expect, it } from 'vitest'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')

/**
 * electron-builder.yml is read and validated by the installed electron-builder's own loader and schema, so a
 * misspelled fuse (which electron-builder would refuse, or a future version silently ignore) fails here.
 */
describe('packaged app fuses (electron-builder.yml)', () => {
  it('turns off every way to run the app as a debuggable Node and locks it to its signed asar', async () => {
    const config = await getConfig(root, null, null)
    await validateConfiguration(config, new DebugLogger(false))
    expect(config.asar).toBe(true)
    expect(config.electronFuses).toEqual({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableCookieEncryption: true,
      onlyLoadAppFromAsar: true,
      enableEmbeddedAsarIntegrityValidation: true,
      grantFileProtocolExtraPrivileges: false,
    })
  })

  it('would notice a misspelled fuse (the schema is strict)', async () => {
    const config = await getConfig(root, null, null)
    const misspelled = { ...config, electronFuses: { ...config.electronFuses, runAsNodes: false } }
    await expect(validateConfiguration(misspelled, new DebugLogger(false))).rejects.toThrow(/configuration.electronFuses/)
  })
})
