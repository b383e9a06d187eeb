import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { AlertEpisodes } from './alert-episodes'
import { spaceLowEvents, type LocalRepository } from './condition-alerts'
import { startReceiver } from './testing/http-receiver'
import { notifyFixture } from './testing/notify-fixture'
import { localRepositories } from '../scheduler/plan-alerts'
import { Repositories } from '../repository-access/repositories'
import { nodeSecretStore } from '../state/secret-store'
import type { Plan } from '../api/contract-plans'

const GiB = 1024 ** 3

describe('alerts about conditions that last', () => {
  it('says "repository space low" once when a repository goes below 10 % free, and again only after it recovered', async () => {
    await using fx = await notifyFixture()
    const episodes = new AlertEpisodes(path.join(fx.home, 'notify-episodes.json'))
    const repo: LocalRepository = { location: '/srv/lifeboat', path: '/srv/lifeboat' }
    let free = 5 * GiB
    const measure = (repos: readonly LocalRepository[]) => Promise.resolve(repos.map((r) => ({ repo: r, freeBytes: free, totalBytes: 100 * GiB })))
    const at = new Date('2026-12-07T12:00:00Z')
    expect(await spaceLowEvents([repo], episodes, at, measure)).toEqual([{ kind: 'repo-space-low', repository: '/srv/lifeboat', freeBytes: 5 * GiB, totalBytes: 100 * GiB }])
    expect(await spaceLowEvents([repo], episodes, at, measure)).toEqual([])
    free = 50 * GiB
    expect(await spaceLowEvents([repo], episodes, at, measure)).toEqual([])
    free = 1 * GiB
    expect((await spaceLowEvents([repo], episodes, at, measure)).map((e) => e.kind)).toEqual(['repo-space-low'])
  })

  it('measures a real folder and stays quiet while there is room', async () => {
    await using fx = await notifyFixture()
    await using receiver = await startReceiver()
    await fx.service.config.addWebhook({ kind: 'json', url: `${receiver.base}/hook` })
    // The test machine's own disk: not below 10 % here, or the machine has bigger problems than this test.
    expect(await fx.service.checkRepositorySpace([{ location: fx.home, path: fx.home }])).toEqual([])
    expect(receiver.received).toEqual([])
  })

  it('reminds of a snapshot past its review date once, and again if it comes back after being kept or removed', async () => {
    await using receiver = await startReceiver()
    await using fx = await notifyFixture()
    const overdue = [{ key: 'snap-1', vm: 'web01', snapshot: 'before patching', reviewBy: '2026-12-01T00:00:00Z' }]
    // No channel yet: nothing is sent and no episode opens, so the channel added next still hears of it.
    expect(await fx.service.checkSnapshotReviews('xen1/web01', overdue)).toEqual([])
    await fx.service.config.addWebhook({ kind: 'json', url: `${receiver.base}/hook` })
    expect((await fx.service.checkSnapshotReviews('xen1/web01', overdue)).map((d) => d.ok)).toEqual([true])
    expect(await fx.service.checkSnapshotReviews('xen1/web01', overdue)).toEqual([])
    // Another VM's list does not end this VM's episode.
    expect(await fx.service.checkSnapshotReviews('xen1/db01', [])).toEqual([])
    expect(await fx.service.checkSnapshotReviews('xen1/web01', overdue)).toEqual([])
    expect(await fx.service.checkSnapshotReviews('xen1/web01', [])).toEqual([])
    expect((await fx.service.checkSnapshotReviews('xen1/web01', overdue)).map((d) => d.ok)).toEqual([true])
    const subjects = receiver.received.map((r) => (JSON.parse(r.body) as { event: string }).event)
    expect(subjects).toEqual(['snapshot-review', 'snapshot-review'])
  })

  it("measures the enabled plans' local repositories only, each once", () => {
    const repositories = new Repositories({ defaultPath: '/var/lib/lifeboat/repository', secrets: nodeSecretStore('/nonexistent/secrets.json', {}), env: {} })
    const plan = (id: string, repo: string | undefined, enabled = true) => ({ plan: { id, enabled, ...(repo !== undefined ? { repo } : {}) } as unknown as Plan, state: { missedRuns: 0 } })
    const found = localRepositories([plan('a', undefined), plan('b', '/srv/repo'), plan('c', '/srv/repo'), plan('d', 's3://bucket/x'), plan('e', '/srv/off', false)], repositories)
    expect(found).toEqual([
      { location: '/var/lib/lifeboat/repository', path: '/var/lib/lifeboat/repository' },
      { location: '/srv/repo', path: '/srv/repo' },
    ])
  })
})
