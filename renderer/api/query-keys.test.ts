import { QueryClient, type QueryKey } from '@tanstack/react-query'
import { describe, expect, it } from 'vitest'
import type { DiskSourceRef } from '../../engine/api/contract'
import { keysAfterJob, queryKeys } from './query-keys'

const source: DiskSourceRef = { kind: 'point', pointId: 'p1' }

/** Fills a cache with one entry per key, invalidates `target`, and says which entries it reached. */
async function reached(target: QueryKey, keys: Record<string, QueryKey>): Promise<string[]> {
  const client = new QueryClient()
  for (const key of Object.values(keys)) client.setQueryData(key, 1)
  await client.invalidateQueries({ queryKey: target })
  return Object.entries(keys)
    .filter(([, key]) => client.getQueryState(key)?.isInvalidated === true)
    .map(([name]) => name)
}

const cache = {
  pointsAll: queryKeys.pointsOf(),
  pointsVm1: queryKeys.pointsOf('vm-1'),
  snapshotsVm1: queryKeys.snapshots('h1', 'vm-1'),
  snapshotsVm2: queryKeys.snapshots('h1', 'vm-2'),
  plans: queryKeys.plans,
  repoInfo: queryKeys.repoInfo,
  repoInfoS3: queryKeys.repoInfoAt('s3://bucket/lifeboat'),
  job7: queryKeys.job('7'),
  job8: queryKeys.job('8'),
  modesVm1: queryKeys.backupModes('h1', 'vm-1'),
  rootDir: queryKeys.directory(source, 'v1', '/'),
  etcDir: queryKeys.directory(source, 'v1', '/etc'),
  diskTree: queryKeys.diskTree(source),
}

describe('queryKeys', () => {
  it('lets the points prefix reach every restore-point list, and nothing else', async () => {
    expect(await reached(queryKeys.points, cache)).toEqual(['pointsAll', 'pointsVm1'])
  })

  it("invalidates one VM's snapshots with the key its list was fetched under", async () => {
    expect(await reached(queryKeys.snapshots('h1', 'vm-1'), cache)).toEqual(['snapshotsVm1'])
  })

  it("keeps one repository's facts apart from the default one's; the default's key is the prefix of all", async () => {
    expect(queryKeys.repoInfoAt()).toEqual(queryKeys.repoInfo)
    expect(await reached(queryKeys.repoInfoAt('s3://bucket/lifeboat'), cache)).toEqual(['repoInfoS3'])
    expect(await reached(queryKeys.repoInfoAt(), cache)).toEqual(['repoInfo', 'repoInfoS3'])
  })

  it('keeps each folder of a disk source apart, even with an equal but separate source object', async () => {
    expect(await reached(queryKeys.directory({ ...source }, 'v1', '/etc'), cache)).toEqual(['etcDir'])
  })

  it('after a job, reaches the restore points, the repository, the plans and that job only', async () => {
    const hit = new Set<string>()
    for (const key of keysAfterJob('7')) for (const name of await reached(key, cache)) hit.add(name)
    expect([...hit].sort()).toEqual(['job7', 'plans', 'pointsAll', 'pointsVm1', 'repoInfo', 'repoInfoS3'])
  })
})
