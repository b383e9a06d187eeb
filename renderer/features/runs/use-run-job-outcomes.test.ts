import { describe, expect, it } from 'vitest'
import type { JobDto } from '../../../engine/api/contract'
import { translate, type Translate } from '../../i18n/i18n'
import { runJobOutcome } from './use-run-job-outcomes'
import type { WatchedRunJob } from './run-store'

const t: Translate = (key, params) => translate('en', key, params)
const job = (state: JobDto['state'], over: Partial<JobDto> = {}): JobDto => ({ id: 'j1', kind: 'points.run', title: 'Run p1 on kvm1', state, createdAt: '2026-12-07T05:00:00Z', progress: { phase: 'start', bytesDone: 0 }, steps: [], leftBehind: [], ...over })
const run: WatchedRunJob = { jobId: 'j1', kind: 'run', vm: 'web-rescue', hostId: 'h1', hostName: 'kvm1' }
const permanent: WatchedRunJob = { ...run, kind: 'permanent' }
const error = { code: 'COMMAND_FAILED' as const, message: 'virsh start failed: no space left on device', params: {} }

describe('what the admin is told when a run job ends', () => {
  it('a failed start: what happened, then what was left on the host or that nothing was', () => {
    const clean = runJobOutcome(t, run, job('failed', { error }))
    expect(clean?.tone).toBe('error')
    expect(clean?.text).toMatch(/^Could not run web-rescue from the backup on kvm1: .*no space left on device.* Nothing of it was left on kvm1\.$/)
    const left = runJobOutcome(t, run, job('failed', { error, leftBehind: ['/var/lib/libvirt/images/web-rescue-vda.qcow2 could not be removed.'] }))
    expect(left?.text).toMatch(/Left behind: \/var\/lib\/libvirt\/images\/web-rescue-vda\.qcow2 could not be removed\.$/)
    expect(left?.text).not.toContain('Nothing of it was left')
  })

  it('make permanent: done, failed (still running from the backup) or cancelled (nothing lost); nothing while it runs', () => {
    expect(runJobOutcome(t, permanent, job('succeeded'))).toEqual({ tone: 'success', text: 'web-rescue runs on kvm1\'s own storage now and no longer needs Lifeboat.' })
    expect(runJobOutcome(t, permanent, job('failed', { error }))?.text).toMatch(/^Making web-rescue permanent failed: .*no space left on device.* It still runs from the backup\.$/)
    expect(runJobOutcome(t, permanent, job('cancelled'))?.text).toBe('Copy cancelled: web-rescue still runs from the backup; nothing it wrote was lost.')
    expect(runJobOutcome(t, permanent, job('running'))).toBeUndefined()
    expect(runJobOutcome(t, run, job('succeeded'))).toBeUndefined()
  })

  it('stopped: removed with everything it wrote, or, when the host was out of reach, what stayed there and how to remove it', () => {
    expect(runJobOutcome(t, run, job('cancelled'))).toEqual({ tone: 'info', text: 'web-rescue was turned off and removed from kvm1, with everything it wrote.' })
    const left = runJobOutcome(t, run, job('cancelled', { leftBehind: ['web-rescue could not be discarded (connect ECONNREFUSED); discard it with lifeboat runs discard web-rescue --host kvm1.'] }))
    expect(left).toEqual({ tone: 'error', text: 'Lifeboat stopped serving web-rescue, but could not remove everything from kvm1: web-rescue could not be discarded (connect ECONNREFUSED); discard it with lifeboat runs discard web-rescue --host kvm1.' })
  })
})
