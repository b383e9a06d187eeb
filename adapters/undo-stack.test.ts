import { describe, expect, it } from 'vitest'
import { UndoStack, withUndo } from './undo-stack'

const signal = new AbortController().signal

describe('UndoStack', () => {
  it('undoes live steps newest first, skips done ones, and runs each even when one throws', async () => {
    const ran: string[] = []
    const s = new UndoStack()
    s.push('remove the lock', () => void ran.push('lock'))
    const thaw = s.push('thaw the guest', () => void ran.push('thaw'))
    s.push('merge the overlays', () => {
      ran.push('merge')
      throw new Error('blockcommit failed')
    })
    s.push('delete the checkpoint', () => {
      ran.push('checkpoint')
      return ['checkpoint cp1 is still there']
    })
    thaw.done()
    expect(s.pending).toEqual(['delete the checkpoint', 'merge the overlays', 'remove the lock'])
    const left = await s.unwind(signal)
    expect(ran).toEqual(['checkpoint', 'merge', 'lock'])
    expect(left).toEqual(['checkpoint cp1 is still there', 'Could not merge the overlays: blockcommit failed'])
    expect(await s.unwind(signal)).toEqual([])
    expect(() => s.push('late', () => undefined)).toThrow(/while the flow is being undone/)
  })

  it('replace() swaps what a step undoes', async () => {
    const s = new UndoStack()
    const h = s.push('delete the new checkpoint', () => 'deleted')
    h.replace(() => 'kept')
    expect(await s.unwind(signal)).toEqual(['kept'])
  })

  it('withUndo unwinds on failure and names what was left behind in the error', async () => {
    const ran: string[] = []
    const failing = withUndo(signal, (s) => {
      s.push('resume web01', () => void ran.push('resume'))
      s.push('remove snapshot', () => 'snapshot s1 could not be removed')
      return Promise.reject(new Error('read failed.'))
    })
    await expect(failing).rejects.toThrow('read failed. Left behind: snapshot s1 could not be removed')
    expect(ran).toEqual(['resume'])
    const ok = await withUndo(signal, (s) => {
      s.push('x', () => void ran.push('x'))
      return Promise.resolve(s)
    })
    expect(ok.pending).toEqual(['x'])
    expect(ran).toEqual(['resume'])
  })

  it('after commit() a later failure undoes only what was registered since', async () => {
    const ran: string[] = []
    const failing = withUndo(AbortSignal.timeout(1000), (s) => {
      s.push('put the original disk back', () => void ran.push('put back'))
      s.commit()
      s.push('stop the started VM', () => void ran.push('stop'))
      return Promise.reject(new Error('start failed.'))
    })
    await expect(failing).rejects.toThrow('start failed.')
    expect(ran).toEqual(['stop'])
  })
})
