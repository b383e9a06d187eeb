import { describe, expect, it } from 'vitest'
import type { HostAdapter, HostKind } from '../../adapters/host-adapter'
import { ApiError } from '../api/contract-errors'
import type { SavedHost } from '../state/hosts-store'
import { requireInstantRun } from './run-job'

const host = (kind: HostKind): SavedHost => ({ id: 'h1', kind, name: `${kind}1`, address: '10.0.0.1', port: 22, user: 'root', authType: 'key', fingerprint: 'SHA256:x', fingerprintType: 'ssh-ed25519', addedAt: '2026-01-01T00:00:00Z' })
const without = (kind: HostKind) => ({ kind }) as unknown as HostAdapter

describe('points run where the host cannot run a VM from a backup', () => {
  it.each([
    ['xenserver', /XenServer\/XCP-ng cannot yet be given a disk that Lifeboat serves/],
    ['hyperv', /Hyper-V cannot yet boot a disk that Lifeboat serves/],
  ] as const)('%s: says why in plain words and names the full restore', (kind, why) => {
    let error: unknown
    try {
      requireInstantRun(without(kind), host(kind), 'p-42')
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(ApiError)
    expect((error as ApiError).code).toBe('NOT_SUPPORTED')
    expect((error as ApiError).message).toMatch(why)
    expect((error as ApiError).message).toContain(`Restore it in full instead: lifeboat restore p-42 --to-host ${kind}1 --as NAME`)
  })
})
