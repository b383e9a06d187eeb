import { describe, expect, it } from 'vitest'
import { duration } from '../boot-proof'
import { screenText } from './guest-proof'

describe('screenText', () => {
  it('decodes the character bytes of the PC text screen as QEMU prints it (xp /Nxw), attributes dropped', () => {
    const words = (text: string) => {
      const out: string[] = []
      for (let i = 0; i < text.length; i += 2) out.push(`0x${(0x07000700 | text.charCodeAt(i) | ((text.charCodeAt(i + 1) || 0x20) << 16)).toString(16).padStart(8, '0')}`)
      return out
    }
    const w = words('Booting from Hard Disk...    No bootable device.  ')
    const lines: string[] = []
    for (let i = 0; i < w.length; i += 4) lines.push(`${(0xb8000 + i * 4).toString(16).padStart(16, '0')}: ${w.slice(i, i + 4).join(' ')}`)
    const monitor = lines.join('\n')
    expect(screenText(monitor)).toBe('Booting from Hard Disk... No bootable device.')
  })

  it('ignores what is not a word of the dump (errors, garbage, control characters)', () => {
    expect(screenText('error: no such command\n0000: zz 0x00410001')).toBe('A')
  })
})

describe('duration', () => {
  it('says seconds under two minutes, minutes above', () => {
    expect([duration(14_200), duration(600_000), duration(150_000)]).toEqual(['14 s', '10 min', '2 min 30 s'])
  })
})
