import { utils } from 'ssh2'
import { describe, expect, it } from 'vitest'
import { ed25519Pair } from './server'

describe('simulator keys', () => {
  // ssh2's generator drops a leading zero byte of about 1 public key in 256: 2,000 pairs meet it several times.
  it('are always ones ssh2 itself can read back', () => {
    let unreadable = 0
    for (let i = 0; i < 2000; i++) {
      const pair = ed25519Pair()
      if (utils.parseKey(pair.public) instanceof Error || utils.parseKey(pair.private) instanceof Error) unreadable++
    }
    expect(unreadable).toBe(0)
  })
})
