/**
 * Smoothed throughput and ETA from a stream of (time, bytesDone) samples. Exponential moving average over
 * samples at least `minIntervalMs` apart, so bursty producers still give a steady figure.
 */
export class RateMeter {
  private lastAt: number | undefined
  private lastBytes = 0
  private rate: number | undefined

  constructor(
    private readonly halfLifeMs = 3000,
    private readonly minIntervalMs = 250,
  ) {}

  /** Feeds a sample; returns the current rate in bytes/s (undefined until two samples exist). */
  sample(at: number, bytesDone: number): number | undefined {
    if (this.lastAt === undefined || bytesDone < this.lastBytes) {
      this.lastAt = at
      this.lastBytes = bytesDone
      this.rate = undefined
      return undefined
    }
    const dt = at - this.lastAt
    if (dt < this.minIntervalMs) return this.rate
    const instant = ((bytesDone - this.lastBytes) * 1000) / dt
    const alpha = 1 - Math.pow(0.5, dt / this.halfLifeMs)
    this.rate = this.rate === undefined ? instant : this.rate + alpha * (instant - this.rate)
    this.lastAt = at
    this.lastBytes = bytesDone
    return this.rate
  }

  eta(bytesDone: number, bytesTotal: number | undefined): number | undefined {
    if (bytesTotal === undefined || this.rate === undefined || this.rate <= 0) return undefined
    return Math.max(0, Math.round((bytesTotal - bytesDone) / this.rate))
  }

  reset(): void {
    this.lastAt = undefined
    this.lastBytes = 0
    this.rate = undefined
  }
}
