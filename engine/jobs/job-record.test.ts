import { mkdtemp, writeFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { JobDetailDtoSchema, JobDtoSchema } from '../api/contract-jobs'
import { toJobDetailDto, toJobDto } from './job-record'
import { JobStore } from './job-store'

// A record as the job store wrote it before the runner had a model of its own (the wire type, `retryable` included).
const earlierFile = {
  owner: { pid: process.pid, host: hostname() },
  job: {
    id: 'job-1',
    kind: 'backup',
    title: 'Hot backup of web01 on kvm1',
    state: 'failed',
    hostId: 'h1',
    createdAt: '2026-12-01T02:00:00.000Z',
    startedAt: '2026-12-01T02:00:00.000Z',
    endedAt: '2026-12-01T02:03:00.000Z',
    progress: { phase: 'reading', bytesDone: 10, bytesTotal: 100, rate: 5 },
    steps: [{ id: 'snapshot', label: 'Snapshot', state: 'done' }, { id: 'read', label: 'Read disks', state: 'failed' }],
    error: { code: 'HOST_UNREACHABLE', message: 'kvm1 cannot be reached.', params: { host: 'kvm1' } },
    leftBehind: [],
    retryable: true,
    log: [{ at: '2026-12-01T02:03:00.000Z', level: 'error', message: 'kvm1 cannot be reached.' }],
    retry: { channel: 'backup.start', input: { host: 'kvm1', vm: 'web01', mode: 'hot' } },
  },
}

describe('the job record', () => {
  it('reads job files written before it existed, and answers the doors in the contract’s own shape', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lb-job-record-'))
    await writeFile(path.join(dir, 'job-1.json'), JSON.stringify(earlierFile))
    const record = await new JobStore(dir).load('job-1')
    expect(record?.state).toBe('failed')
    const detail = toJobDetailDto(record!)
    expect(JobDetailDtoSchema.strict().parse(detail)).toEqual(detail)
    expect(detail).toMatchObject({ retryable: true, retry: earlierFile.job.retry, error: earlierFile.job.error })
    expect(detail.log).toHaveLength(1)
    const summary = toJobDto(record!)
    expect(JobDtoSchema.strict().parse(summary)).toEqual(summary)
    expect(summary).not.toHaveProperty('log')
    expect(summary).not.toHaveProperty('retry')
  })
})
