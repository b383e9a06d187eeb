/**
 * A small seeded PRNG (mulberry32) so that every random moment of a campaign can be replayed from the printed seed.
 * Each fault and repository kind draws from its own stream (`Prng.derive`), so `--only`/`--repos` do not shift the
 * draws of the others.
 */
export class Prng {
  private state: number

  constructor(seed: number) {
    this.state = seed >>> 0
  }

  /** A uniform float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0
    let t = this.state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** A whole number in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)]
    if (item === undefined) throw new Error('Prng.pick: nothing to pick from.')
    return item
  }

  /** An independent stream for one part of the campaign, fixed by the seed and the part's name. */
  static derive(seed: number, name: string): Prng {
    let h = (seed ^ 0x811c9dc5) >>> 0
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0
    return new Prng(h)
  }
}

/** A seed for a run nobody asked to replay. */
export function freshSeed(): number {
  return 1 + Math.floor(Math.random() * 0x7ffffffe)
}
