import { describe, expect, it } from 'vitest'
import { UsageError } from './cli-io'
import { parseDuration } from './commands-check'

describe('parseDuration (--timeout)', () => {
  it('reads seconds, minutes, hours and combinations', () => {
    expect(['90', '90s', '10m', '1h', '1h30m', '2m5s'].map((v) => parseDuration(v, 'timeout'))).toEqual([90, 90, 600, 3600, 5400, 125])
  })

  it('refuses what is not a duration, naming the option', () => {
    for (const bad of ['', 'm', '10x', '-5', '0', '1.5m', '10 m']) expect(() => parseDuration(bad, 'timeout'), bad).toThrow(UsageError)
    expect(() => parseDuration('soon', 'timeout')).toThrow(/--timeout takes a duration/)
  })
})
