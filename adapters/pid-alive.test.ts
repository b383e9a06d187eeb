import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { pidAlive } from './pid-alive'

describe('pidAlive', () => {
  it('tells a running process from an ended one, and never asks about process groups', async () => {
    expect(pidAlive(process.pid)).toBe(true)
    const child = spawn('true')
    await new Promise((resolve) => child.once('exit', resolve))
    expect(pidAlive(child.pid ?? -1)).toBe(false)
    for (const odd of [0, -1, -process.pid, 1.5, Number.NaN, Number.MAX_VALUE]) expect(pidAlive(odd)).toBe(false)
  })
})
