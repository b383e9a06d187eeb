/**
 * Which steps an undo walk takes (1-based): every step of a short flow, otherwise the first, the last and `budget - 2`
 * inner steps spread evenly from an offset that LIFEBOAT_WALK_SEED (default: the day of the month) rotates, so that
 * every step is walked within a month of daily CI runs. LIFEBOAT_WALK_FULL=1 (or LIFEBOAT_WALK_ALL=1) walks all.
 */
const FULL = process.env.LIFEBOAT_WALK_FULL === '1' || process.env.LIFEBOAT_WALK_ALL === '1'
const SEED = Number(process.env.LIFEBOAT_WALK_SEED ?? new Date().getUTCDate())

export function walkSample(steps: number, budget: number, full = FULL, seed = SEED): number[] {
  const all = Array.from({ length: steps }, (_, i) => i + 1)
  if (full || steps <= budget + 1) return all
  const inner = all.slice(1, -1)
  const picks = Math.max(1, budget - 2)
  const stride = Math.ceil(inner.length / picks)
  const offset = ((seed % stride) + stride) % stride
  const chosen = [1, steps]
  for (let k = 0; k < picks; k++) {
    const step = inner[offset + k * stride]
    if (step !== undefined) chosen.push(step)
  }
  return [...new Set(chosen)].sort((a, b) => a - b)
}
