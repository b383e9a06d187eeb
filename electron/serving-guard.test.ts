import { describe, expect, it } from 'vitest'
import type { JobDto } from '../engine/api/contract-jobs'
import { closeAction, hiddenNotice, quitAction, ServedRuns, servingPrompt, trayText } from './serving-guard'

const job = (id: string, state: JobDto['state'], phase: string, detail?: string, kind = 'points.run') => ({ id, kind, state, title: `Run ${id} on kvm1`, progress: { phase, bytesDone: 0, ...(detail !== undefined ? { detail } : {}) } })

// The tray and the native dialogs cannot run in browser mode (no Electron binary here), so the decisions main.ts
// wires to them are tested on their own.
describe('closing the desktop window while a VM runs from a backup', () => {
  it('follows the points.run jobs: named by their VM once serving, gone when they end', () => {
    const served = new ServedRuns()
    expect(served.update(job('a', 'running', 'start', 'define'))).toBe(true)
    expect(served.names()).toEqual(['Run a on kvm1'])
    expect(served.update(job('a', 'running', 'running', 'web01-from-backup'))).toBe(true)
    expect(served.update(job('a', 'running', 'running', 'web01-from-backup'))).toBe(false)
    expect(served.update(job('b', 'running', 'copy', 'vda', 'runs.makePermanent'))).toBe(false)
    expect(served.update(job('c', 'running', 'running', 'db-from-backup'))).toBe(true)
    expect(served.names()).toEqual(['db-from-backup', 'web01-from-backup'])
    expect(served.update(job('a', 'succeeded', 'running', 'web01-from-backup'))).toBe(true)
    expect(served.update(job('c', 'cancelled', 'running', 'db-from-backup'))).toBe(true)
    expect(served.names()).toEqual([])
    expect(served.update(job('z', 'failed', 'start'))).toBe(false)
  })

  it('hides to the tray when there is one, asks when there is none and a VM is served, closes otherwise', () => {
    expect(closeAction({ quitting: false, hasTray: true, served: ['web'] })).toBe('hide-to-tray')
    expect(closeAction({ quitting: false, hasTray: true, served: [] })).toBe('hide-to-tray')
    expect(closeAction({ quitting: false, hasTray: false, served: ['web'] })).toBe('ask')
    expect(closeAction({ quitting: false, hasTray: false, served: [] })).toBe('close')
    expect(closeAction({ quitting: true, hasTray: false, served: ['web'] })).toBe('close')
  })

  it('asks before quitting ends the serving, once', () => {
    expect(quitAction({ served: ['web'], confirmed: false })).toBe('ask')
    expect(quitAction({ served: ['web'], confirmed: true })).toBe('quit')
    expect(quitAction({ served: [], confirmed: false })).toBe('quit')
  })

  it('says what quitting discards and offers keeping it as the first (default) choice', () => {
    const one = servingPrompt(['web01-from-backup'], { hasTray: true })
    expect(one.message).toBe('web01-from-backup runs from a backup that this Lifeboat serves.')
    expect(one.detail).toContain('Quitting turns it off and discards it, with everything written inside')
    expect(one.buttons).toEqual(['Keep serving in the tray', 'Quit and discard the VM'])
    const many = servingPrompt(['a', 'b', 'c', 'd', 'e'], { hasTray: false })
    expect(many.message).toBe('5 VMs run from backups that this Lifeboat serves: a, b, c and 2 more.')
    expect(many.detail).toContain('(the window is minimised)')
    expect(many.buttons).toEqual(['Keep serving', 'Quit and discard 5 VMs'])
  })

  it('tells in the tray what still runs, and in a notice once the window is hidden', () => {
    expect(trayText([]).quitLabel).toBe('Quit (scheduled backups stop)')
    expect(trayText(['web'])).toEqual({ tooltip: 'Lifeboat — serving web from a backup: keep it running', quitLabel: 'Quit… (asks: the VM running from a backup would be discarded)' })
    expect(hiddenNotice([])).toBeUndefined()
    expect(hiddenNotice(['web'])?.body).toBe('web runs from a backup and needs Lifeboat until made permanent.')
  })
})
