import { describe, expect, it } from 'vitest'
import { copiesBadge } from './copies-model'

const place = (location: string, offMachine: boolean, primary = false) => ({ location, offMachine, primary })

describe('the copies badge', () => {
  it('counts the repository itself and names every place; two copies with one away is not weak', () => {
    const b = copiesBadge({ vmId: 'v', vmName: 'web01', pointId: 'p', copies: 2, offMachine: 1, places: [place('/srv/repo', false, true), place('s3://b/copy/', true)] })
    expect(b).toEqual({ key: 'copies.badge', params: { copies: 2, off: 1 }, weak: false, places: ['/srv/repo', 's3://b/copy/'] })
  })

  it('warns when there is one copy only, or none away from this machine', () => {
    expect(copiesBadge({ vmId: 'v', vmName: 'web01', pointId: 'p', copies: 1, offMachine: 0, places: [place('/srv/repo', false, true)] })?.weak).toBe(true)
    expect(copiesBadge({ vmId: 'v', vmName: 'web01', pointId: 'p', copies: 1, offMachine: 0, places: [] })?.key).toBe('copies.badge.one')
    expect(copiesBadge({ vmId: 'v', vmName: 'web01', pointId: 'p', copies: 2, offMachine: 0, places: [] })?.weak).toBe(true)
    expect(copiesBadge(undefined)).toBeUndefined()
  })
})
