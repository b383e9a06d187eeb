import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { XapiSim } from '../../test-hosts/xapi-sim/sim'
import { AdapterError } from '../host-adapter'
import { adapterFor, backupOptions, MiB, signal, startSim } from './testing/sim-fixture'

/**
 * Users with a role below pool-admin (Active Directory subjects on a real pool): XAPI refuses what their role may not
 * do with RBAC_PERMISSION_DENIED [permission; "No permission in user session. (Roles with this permission: …)"]
 * (xen-api ocaml/xapi/rbac.ml). That is a role to change, never "wrong password".
 */
describe('XenServer with a user whose role is too small', () => {
  let sim: XapiSim

  beforeAll(async () => {
    sim = await startSim({ vms: [{ name: 'web', diskSize: MiB }], users: [{ name: 'auditor', password: 'read-only-pw', role: 'read-only' }] })
  })
  afterAll(async () => {
    await sim.stop()
  })

  it('a read-only user sees the inventory, and a backup is refused as a role that may not, naming the roles that may', async () => {
    const a = adapterFor(sim, { user: 'auditor', password: 'read-only-pw' })
    try {
      const vm = (await a.inventory(signal())).vms.find((v) => v.name === 'web')
      expect(vm).toBeDefined()
      const err = await a.backup.begin(vm?.id ?? '', backupOptions({ incremental: false }), signal()).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(AdapterError)
      const e = err as AdapterError
      expect(e.code).toBe('PERMISSION_DENIED')
      expect(e.message).toMatch(/^Your user's role on the pool may not vm\.[a-z_]+ \(only pool-admin, pool-operator[a-z, -]* may\)/)
      expect(e.message).not.toMatch(/password/)
      expect(e.params.xapiCode).toBe('RBAC_PERMISSION_DENIED')
      // Nothing was left on the pool: the refused call changed nothing.
      expect(sim.lifeboatObjects()).toEqual([])
    } finally {
      await a.close()
    }
  })

  it('a wrong password is still AUTH_FAILED', async () => {
    const a = adapterFor(sim, { user: 'auditor', password: 'not-it' })
    try {
      await expect(a.inventory(signal())).rejects.toMatchObject({ code: 'AUTH_FAILED' })
    } finally {
      await a.close()
    }
  })
})
