import { join } from 'node:path'
import { expect } from 'vitest'
import { debugfsTree } from './debugfs-tree'
import { sourceOf, type PublicImage } from './public-images'
import { boundedList, exitCode, inPool, listingDiff, type BoundedRun } from './public-run'

/**
 * Test-only: e2fsprogs 1.47.0's e2fsck regression images (tests/f_*), most damaged on purpose. Each must end in a
 * listing or a typed error within bounds. Where `e2fsck -fn` finds one clean and debugfs can open it, Lifeboat's
 * whole tree (names, types, sizes) must equal debugfs's, except the known differences below.
 */
export const E2FSPROGS_KNOWN_DIFFERENCES: Readonly<Record<string, string>> = {}

interface Row extends BoundedRun {
  readonly img: PublicImage
  readonly clean: boolean
  /** 'exact', what differs, or why it was not compared. */
  readonly compared?: 'exact' | string[]
  readonly note?: string
}

async function checkOne(img: PublicImage, scratch: string): Promise<Row> {
  if (img.problem) return { img, clean: false, failure: `not prepared: ${img.problem}`, ms: 0 }
  const fsck = await exitCode('e2fsck', ['-fn', img.path])
  const run = await boundedList(img.path, true)
  if (fsck !== 0 || !run.outcome) return { img, clean: false, ...run, ...(fsck === 'timeout' ? { note: 'e2fsck -fn did not finish in 15 s' } : {}) }
  const theirs = await debugfsTree(img.path, join(scratch, `${img.name}.cmd`))
  if (!theirs) return { img, clean: false, ...run, note: 'e2fsck -fn clean (from a backup superblock) but debugfs cannot open it' }
  if (run.outcome.kind === 'typed-error') return { img, clean: true, ...run, compared: [`Lifeboat refused it: ${run.outcome.error}`] }
  const diff = listingDiff(run.outcome.entries, theirs)
  return { img, clean: true, ...run, compared: diff.length === 0 ? 'exact' : diff }
}

/** Checks the images whose index modulo `of` is `shard` (two test files share the work on two cores). */
export async function checkE2fsprogsImages(images: readonly PublicImage[], shard: number, of: number, scratch: string): Promise<void> {
  const mine = images.filter((_, i) => i % of === shard)
  const rows = await inPool(mine, 2, (img) => checkOne(img, scratch))
  const failures = rows.filter((r) => r.failure !== undefined).map((r) => `${sourceOf(r.img)}: ${r.failure}`)
  const clean = rows.filter((r) => r.clean)
  const exact = clean.filter((r) => r.compared === 'exact')
  const differing = clean.filter((r) => Array.isArray(r.compared))
  const refused = rows.filter((r) => r.outcome?.kind === 'typed-error')
  const slowest = [...rows].sort((a, b) => b.ms - a.ms)[0]
  const known = (name: string): string => (E2FSPROGS_KNOWN_DIFFERENCES[name] ? ` — known: ${E2FSPROGS_KNOWN_DIFFERENCES[name]}` : '')
  console.log(
    [
      `e2fsprogs 1.47.0 f_* images, part ${shard + 1} of ${of}: ${rows.length}; listed ${rows.length - refused.length - failures.length}, refused with a typed error ${refused.length}, failed ${failures.length}; slowest ${slowest?.ms ?? 0} ms (${slowest?.img.name ?? '-'})`,
      `clean (e2fsck -fn, debugfs opens it): ${clean.length}; equal to debugfs: ${exact.length} of ${clean.length}`,
      ...differing.map((r) => `  differs: ${sourceOf(r.img)}: ${(r.compared as string[]).join('; ')}${known(r.img.name)}`),
      ...refused.map((r) => `  refused: ${sourceOf(r.img)}: ${r.outcome?.kind === 'typed-error' ? r.outcome.error : ''}`),
      ...rows.filter((r) => r.note).map((r) => `  not compared: ${sourceOf(r.img)}: ${r.note}`),
    ].join('\n'),
  )
  expect(failures, 'no crash, hang or runaway memory').toEqual([])
  const expectedDiffs = Object.keys(E2FSPROGS_KNOWN_DIFFERENCES).filter((n) => mine.some((i) => i.name === n))
  expect(differing.map((r) => r.img.name).sort(), 'clean images differing from debugfs = the known differences').toEqual(expectedDiffs.sort())
  expect(clean.length, 'some images were compared with debugfs').toBeGreaterThan(10)
}
