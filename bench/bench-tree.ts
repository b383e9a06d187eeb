/**
 * The browser half of issue 19 point 2: the app's host tree with 20 pools / 500 VMs, from real connections.
 *
 * Starts N XAPI simulator pools in this process (each its own HTTPS server, certificate and VMs: realistic names,
 * every third VM halted, two per pool with a snapshot), a fresh LIFEBOAT_HOME and the app in browser mode (`lifeboat
 * serve`, the same renderer, engine and contract over the local WebSocket bridge) in Debian's Chromium (Playwright),
 * adds every pool the way an admin does (`lifeboat host add --kind xenserver … --accept-fingerprint`) while the page
 * is open (the engine reads the host list every 30 s, so another process's additions show at its next read: the
 * figure is that wait plus the 20 pools' inventories arriving together, and the long tasks meanwhile), restarts the
 * app and measures:
 *   - page load → the whole tree known and drawn (every host expanded, as the tree shows them by default: the first
 *     row's aria-setsize counts every host and VM row), on a cold start (the app connects to every pool) and a reload;
 *   - collapse all and expand all, one chevron click per host, as an admin would (the tree has no "all" button);
 *   - the keyboard: End (the last of 520 rows) and type-ahead (the app has no text filter; type-ahead is what it has);
 *   - scrolling the whole tree top to bottom, a step per frame: frame times and long tasks (PerformanceObserver
 *     'longtask', tasks over 50 ms);
 *   - the JS heap and DOM node count after render (Chrome DevTools Protocol, after a garbage collection);
 *   - the calls the pools received while the page loaded and in a 10 s idle window after (a request storm shows here).
 * It reports figures and never asserts a timing (the machine is shared and noisy); it fails only when the tree is not
 * what the pools hold. One screenshot goes to e2e/output/screenshots/bench-tree-500.png.
 *
 *   node --import tsx bench/bench-tree.ts [--pools 20] [--vms 25] [--profile cold-load.cpuprofile]
 */
import type { ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { chromium, type Browser, type Page } from '@playwright/test'
import { startXapiSim, type XapiSim } from '../test-hosts/xapi-sim/sim'
import { runCli, startBridge, stopProcess } from '../e2e/support/cli'

const root = path.resolve(import.meta.dirname, '..')

export interface BenchTreeOptions {
  /** Pools to start (default 20). */
  readonly pools?: number
  /** VMs per pool (default 25). */
  readonly vmsPerPool?: number
  /** Chromium to drive (default $LIFEBOAT_CHROMIUM or /usr/bin/chromium). */
  readonly chromium?: string
  /** Where the screenshot goes (default e2e/output/screenshots/bench-tree-500.png). */
  readonly screenshot?: string
  /** Where to write a CPU profile of the cold page load (Chrome's .cpuprofile, for DevTools), if anywhere; the scroll's goes beside it (…-scroll.cpuprofile). */
  readonly profile?: string
  /** Told each line as it is known (default: nothing; the lines are also returned). */
  readonly log?: (line: string) => void
}

export interface LoadFigures {
  /** ms from navigation start to the first tree row drawn. */
  readonly firstRowMs: number
  /** ms from navigation start to every host's VMs known and the rows in view drawn. */
  readonly fullTreeMs: number
  readonly longTasks: number
  readonly longestTaskMs: number
}

export interface ScrollFigures {
  readonly frames: number
  readonly pixels: number
  readonly medianFrameMs: number
  readonly p95FrameMs: number
  readonly maxFrameMs: number
  readonly longTasks: number
  readonly longestTaskMs: number
}

export interface BenchTreeFigures {
  readonly pools: number
  readonly vms: number
  readonly rows: number
  readonly setupMs: number
  readonly addHostsMs: number
  /** With the app open while the hosts are added: the full tree after the last `host add` ended, long tasks meanwhile. */
  readonly live: { readonly afterLastAddMs: number; readonly longTasks: number; readonly longestTaskMs: number }
  readonly cold: LoadFigures
  readonly reload: LoadFigures
  /** Calls all pools received from page load until the full tree, and in the 10 s after (idle). */
  readonly callsDuringLoad: number
  /** Calls all pools received from `lifeboat serve`'s start until the full tree (connecting, reading the inventory). */
  readonly callsFromStart: number
  readonly callsIdle10s: number
  readonly idleCallsByMethod: Readonly<Record<string, number>>
  readonly collapseAll: { readonly totalMs: number; readonly maxClickMs: number }
  readonly expandAll: { readonly totalMs: number; readonly maxClickMs: number }
  readonly endKeyMs: number
  readonly typeAheadMs: number
  readonly scroll: ScrollFigures
  readonly heapUsedBytes: number
  readonly domNodes: number
  readonly treeRowsInDom: number
  readonly screenshot: string
}

const SITES = ['hq', 'leeds', 'york', 'bristol', 'cardiff', 'derby', 'exeter', 'hull', 'kent', 'luton', 'bath', 'ely', 'wells', 'truro', 'perth', 'stirling', 'newry', 'bangor', 'lincoln', 'oxford']
const ROLES = ['dc', 'files', 'mail', 'web', 'db', 'erp', 'crm', 'print', 'vpn', 'wiki', 'git', 'ci-runner', 'monitor', 'dns', 'proxy', 'rds', 'sql', 'app', 'cache', 'queue', 'logs', 'ldap', 'intranet', 'helpdesk', 'backup-gw']

/** The pool's VM names: role-site-NN, unique within the pool (names repeat roles past 25 VMs with a higher number). */
export function poolVmNames(pool: number, count: number): string[] {
  const site = SITES[pool % SITES.length] ?? 'site'
  const suffix = pool >= SITES.length ? String(Math.floor(pool / SITES.length) + 1) : ''
  return Array.from({ length: count }, (_, i) => `${ROLES[i % ROLES.length] ?? 'vm'}-${site}${suffix}-${String(Math.floor(i / ROLES.length) + 1).padStart(2, '0')}`)
}

function poolName(pool: number): string {
  const site = SITES[pool % SITES.length] ?? 'site'
  return `xcp-${site}${pool >= SITES.length ? String(Math.floor(pool / SITES.length) + 1) : ''}`
}

/** Runs `work` on each item, at most `limit` at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (let i = next++; i < items.length; i = next++) await work(items[i] as T, i)
  })
  await Promise.all(lanes)
}

/** Installed before any page script: keeps every long task (> 50 ms) the page has. */
const LONG_TASK_SCRIPT = `
  // tsx compiles this file keeping function names, which wraps the in-page functions' inner functions in __name().
  globalThis.__name ??= (f) => f;
  window.__benchLongTasks = [];
  try {
    new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__benchLongTasks.push({ start: e.startTime, duration: e.duration }) })
      .observe({ type: 'longtask', buffered: true });
  } catch { /* no longtask timing in this browser: the figures say 0 */ }
`

/** The few DOM members the in-page functions use (this project's Node-side TypeScript has no DOM library). */
interface PageElement {
  getAttribute(name: string): string | null
  querySelector(selector: string): PageElement | null
  querySelectorAll(selector: string): Iterable<PageElement>
  click(): void
  scrollTop: number
  readonly clientHeight: number
  readonly scrollHeight: number
}
interface PageGlobal {
  readonly document: {
    querySelector(selector: string): PageElement | null
    querySelectorAll(selector: string): Iterable<PageElement>
    addEventListener(type: 'keydown', listener: (event: { readonly timeStamp: number }) => void, options: { capture: boolean; once: boolean }): void
  }
  requestAnimationFrame(callback: () => void): number
  __benchLongTasks: LongTask[]
  __benchFirstRow?: number
  __benchKey?: Promise<number>
}

interface LongTask {
  readonly start: number
  readonly duration: number
}

/** Waits (polling every frame, in the page) until the tree holds `rows` rows and every host row in view is online. */
async function measureLoad(page: Page, rows: number, timeoutMs: number): Promise<LoadFigures> {
  const handle = await page.waitForFunction(
    (expected: number) => {
      const w = globalThis as unknown as PageGlobal
      const first = w.document.querySelector('[role="tree"] [role="treeitem"]')
      if (first && w.__benchFirstRow === undefined) w.__benchFirstRow = performance.now()
      if (first?.getAttribute('aria-setsize') !== String(expected)) return false
      const hosts = [...w.document.querySelectorAll('[role="tree"] [role="treeitem"][aria-level="1"]')]
      if (hosts.some((h) => !/\bOnline\b/.test(h.getAttribute('aria-label') ?? ''))) return false
      return { firstRowMs: w.__benchFirstRow ?? performance.now(), fullTreeMs: performance.now() }
    },
    rows,
    { polling: 'raf', timeout: timeoutMs },
  )
  const at = (await handle.jsonValue()) as { firstRowMs: number; fullTreeMs: number }
  const tasks = await page.evaluate(() => (globalThis as unknown as PageGlobal).__benchLongTasks)
  return { firstRowMs: at.firstRowMs, fullTreeMs: at.fullTreeMs, longTasks: tasks.length, longestTaskMs: Math.max(0, ...tasks.map((t) => t.duration)) }
}

/** Clicks the chevron of one host after another, in the page, timing each click until the next frame. */
async function toggleAll(page: Page, expand: boolean): Promise<{ totalMs: number; maxClickMs: number; clicks: number }> {
  return page.evaluate(async (expandAll: boolean) => {
    const g = globalThis as unknown as PageGlobal
    const frame = () => new Promise<void>((resolve) => g.requestAnimationFrame(() => setTimeout(resolve, 0)))
    const tree = g.document.querySelector('[role="tree"]')
    if (!tree) throw new Error('no tree')
    tree.scrollTop = 0
    await frame()
    const start = performance.now()
    let maxClickMs = 0
    let clicks = 0
    for (;;) {
      const wanted = expandAll ? 'false' : 'true'
      const hosts = [...tree.querySelectorAll(`[role="treeitem"][aria-level="1"][aria-expanded="${wanted}"]`)]
      // Collapse from the top (the next host moves up into view); expand from the bottom (the hosts above stay put).
      const host = expandAll ? hosts[hosts.length - 1] : hosts[0]
      const chevron = host?.querySelector('.tree-chevron')
      if (!host || !chevron) break
      const t0 = performance.now()
      chevron.click()
      await frame()
      maxClickMs = Math.max(maxClickMs, performance.now() - t0)
      clicks++
      if (clicks > 10_000) throw new Error('the tree does not change when its chevrons are clicked')
    }
    return { totalMs: performance.now() - start, maxClickMs, clicks }
  }, expand)
}

/** Presses a key on the focused tree and times keydown → the next frame drawn with the new active row. */
async function keyLatency(page: Page, key: string): Promise<number> {
  await page.evaluate(() => {
    const w = globalThis as unknown as PageGlobal
    w.__benchKey = new Promise<number>((resolve) => {
      w.document.addEventListener(
        'keydown',
        (e) => {
          const t0 = e.timeStamp
          w.requestAnimationFrame(() => setTimeout(() => resolve(performance.now() - t0), 0))
        },
        { capture: true, once: true },
      )
    })
  })
  await page.keyboard.press(key)
  return page.evaluate(() => (globalThis as unknown as PageGlobal).__benchKey ?? -1)
}

async function scrollWhole(page: Page): Promise<ScrollFigures> {
  return page.evaluate(async () => {
    const w = globalThis as unknown as PageGlobal
    const tree = w.document.querySelector('[role="tree"]')
    if (!tree) throw new Error('no tree')
    tree.scrollTop = 0
    await new Promise<void>((r) => w.requestAnimationFrame(r))
    const seen = w.__benchLongTasks.length
    const step = Math.max(40, Math.round(tree.clientHeight / 3))
    const deltas: number[] = []
    let last = performance.now()
    let pixels = 0
    while (tree.scrollTop + tree.clientHeight < tree.scrollHeight - 1) {
      const before = tree.scrollTop
      tree.scrollTop = before + step
      if (tree.scrollTop === before) break
      pixels += tree.scrollTop - before
      await new Promise<void>((r) => w.requestAnimationFrame(r))
      const now = performance.now()
      deltas.push(now - last)
      last = now
    }
    // Long-task entries arrive after the task; give the observer a moment.
    await new Promise((r) => setTimeout(r, 200))
    const tasks = w.__benchLongTasks.slice(seen)
    const sorted = [...deltas].sort((a, b) => a - b)
    const pick = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
    return { frames: deltas.length, pixels, medianFrameMs: pick(0.5), p95FrameMs: pick(0.95), maxFrameMs: sorted[sorted.length - 1] ?? 0, longTasks: tasks.length, longestTaskMs: Math.max(0, ...tasks.map((t) => t.duration)) }
  })
}

function callsSoFar(sims: readonly XapiSim[]): number {
  return sims.reduce((n, s) => n + s.stats.calls.length, 0)
}

const ms = (n: number) => `${Math.round(n)} ms`

export async function benchTree(options: BenchTreeOptions = {}): Promise<{ figures: BenchTreeFigures; lines: string[] }> {
  const pools = Math.max(1, Math.floor(options.pools ?? 20))
  const vmsPerPool = Math.max(1, Math.floor(options.vmsPerPool ?? 25))
  const screenshot = options.screenshot ?? path.join(root, 'e2e/output/screenshots/bench-tree-500.png')
  const lines: string[] = []
  const say = (line: string) => {
    lines.push(line)
    options.log?.(line)
  }
  const sims: XapiSim[] = []
  let home: string | undefined
  let serve: ChildProcess | undefined
  let browser: Browser | undefined
  try {
    const setupStart = performance.now()
    for (let p = 0; p < pools; p++) {
      const names = poolVmNames(p, vmsPerPool)
      const sim = await startXapiSim({ diskSize: 64 * 1024, vms: names.map((name, i) => ({ name, powerState: i % 3 === 2 ? 'Halted' : 'Running' })) })
      sims.push(sim)
      // A few VMs with snapshots, as an admin leaves before patching: the tree must not count them as VMs.
      for (const name of names.slice(0, 2)) await sim.vms.snapshot(sim.vmByName(name).ref, `${name} before patching`, { memory: false })
    }
    const setupMs = performance.now() - setupStart
    say(`tree bench: ${pools} pools × ${vmsPerPool} VMs started in ${ms(setupMs)} (every third VM halted, 2 per pool with a snapshot)`)

    home = await mkdtemp(path.join(tmpdir(), 'lb-bench-tree-home-'))
    browser = await chromium.launch({
      executablePath: options.chromium ?? process.env.LIFEBOAT_CHROMIUM ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', '--enable-precise-memory-info'],
    })
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    await context.addInitScript({ content: LONG_TASK_SCRIPT })
    const page = await context.newPage()
    const rows = pools * (vmsPerPool + 1)

    // Live: the app is open while the admin adds the pools one after another (each arrives as inventory events).
    const empty = await startBridge(home, 60_000)
    serve = empty.child
    await page.goto(empty.url)
    await page.locator('.main-nav').waitFor()
    const seenTasks = await page.evaluate(() => (globalThis as unknown as PageGlobal).__benchLongTasks.length)
    const addStart = performance.now()
    const lifeboatHome = home
    await eachLimited(sims, 2, async (sim, p) => {
      const added = await runCli(lifeboatHome, ['host', 'add', '--kind', 'xenserver', '--name', poolName(p), '--address', `127.0.0.1:${sim.port}`, '--user', sim.user, '--password-stdin', '--accept-fingerprint', sim.fingerprint], sim.password)
      if (added.code !== 0) throw new Error(`lifeboat host add ${poolName(p)} failed (${added.code}): ${added.stderr || added.stdout}`)
    })
    const addHostsMs = performance.now() - addStart
    const addedAt = await page.evaluate(() => performance.now())
    const liveDone = await measureLoad(page, rows, 180_000)
    const liveTasks = (await page.evaluate(() => (globalThis as unknown as PageGlobal).__benchLongTasks)).slice(seenTasks)
    const live = { afterLastAddMs: Math.max(0, liveDone.fullTreeMs - addedAt), longTasks: liveTasks.length, longestTaskMs: Math.max(0, ...liveTasks.map((t) => t.duration)) }
    say(`  app open while lifeboat host add ×${pools} runs (two at a time, ${ms(addHostsMs)}): full tree ${ms(live.afterLastAddMs)} after the last add (the engine's 30 s host-list read); ${live.longTasks} long tasks meanwhile (longest ${ms(live.longestTaskMs)})`)
    await stopProcess(serve)

    const callsBeforeServe = callsSoFar(sims)
    const started = await startBridge(home, 60_000)
    serve = started.child

    const callsBefore = callsSoFar(sims)
    const profiler = options.profile !== undefined ? await context.newCDPSession(page) : undefined
    if (profiler) {
      await profiler.send('Profiler.enable')
      await profiler.send('Profiler.setSamplingInterval', { interval: 200 })
      await profiler.send('Profiler.start')
    }
    await page.goto(started.url)
    const cold = await measureLoad(page, rows, 180_000)
    if (profiler && options.profile !== undefined) {
      const { profile } = await profiler.send('Profiler.stop')
      await writeFile(options.profile, JSON.stringify(profile))
      await profiler.detach()
    }
    const callsDuringLoad = callsSoFar(sims) - callsBefore
    const callsFromStart = callsSoFar(sims) - callsBeforeServe
    say(`  app restarted, first page load (the app connects to ${pools} pools): first row ${ms(cold.firstRowMs)}, full tree (${rows} rows) ${ms(cold.fullTreeMs)} after navigation start; ${cold.longTasks} long tasks (longest ${ms(cold.longestTaskMs)}); ${callsDuringLoad} calls to the pools during the page load, ${callsFromStart} since the app started (${(callsFromStart / pools).toFixed(1)} per pool)`)

    const idleFrom = sims.map((s) => s.stats.calls.length)
    await new Promise((r) => setTimeout(r, 10_000))
    const idleCallsByMethod: Record<string, number> = {}
    sims.forEach((s, i) => {
      for (const method of s.stats.calls.slice(idleFrom[i])) idleCallsByMethod[method] = (idleCallsByMethod[method] ?? 0) + 1
    })
    const callsIdle10s = Object.values(idleCallsByMethod).reduce((a, b) => a + b, 0)
    const idleTop = Object.entries(idleCallsByMethod).sort((a, b) => b[1] - a[1]).slice(0, 4).map(([m, n]) => `${m} ${n}`).join(', ')
    say(`  idle 10 s with the tree open: ${callsIdle10s} calls to the ${pools} pools (${(callsIdle10s / pools / 10).toFixed(2)} per pool per s${idleTop ? `; ${idleTop}` : ''})`)

    await page.reload()
    const reload = await measureLoad(page, rows, 120_000)
    say(`  reload (engine already connected): first row ${ms(reload.firstRowMs)}, full tree ${ms(reload.fullTreeMs)}; ${reload.longTasks} long tasks (longest ${ms(reload.longestTaskMs)})`)

    const cdp = await context.newCDPSession(page)
    await cdp.send('Performance.enable')
    await cdp.send('HeapProfiler.collectGarbage')
    const metrics = (await cdp.send('Performance.getMetrics')).metrics
    const metric = (name: string) => metrics.find((m) => m.name === name)?.value ?? 0
    const heapUsedBytes = metric('JSHeapUsedSize')
    const domNodes = metric('Nodes')
    const treeRowsInDom = await page.locator('[role="tree"] [role="treeitem"]').count()
    say(`  after render: JS heap ${(heapUsedBytes / 1024 / 1024).toFixed(1)} MiB (after GC), ${domNodes} DOM nodes, ${treeRowsInDom} of ${rows} tree rows in the DOM (windowed)`)

    // The sidebar's main navigation above the tree must keep its whole height however long the tree is.
    const nav = await page.locator('.main-nav').evaluate((el: PageElement) => ({ shown: el.clientHeight, needed: el.scrollHeight }))
    if (nav.shown < nav.needed) throw new Error(`the ${rows}-row tree squeezes the main navigation to ${nav.shown} of ${nav.needed} px`)

    await mkdir(path.dirname(screenshot), { recursive: true })
    await page.screenshot({ path: screenshot })

    const scrollProfiler = options.profile !== undefined ? await context.newCDPSession(page) : undefined
    if (scrollProfiler) {
      await scrollProfiler.send('Profiler.enable')
      await scrollProfiler.send('Profiler.setSamplingInterval', { interval: 200 })
      await scrollProfiler.send('Profiler.start')
    }
    const scroll = await scrollWhole(page)
    if (scrollProfiler && options.profile !== undefined) {
      const { profile } = await scrollProfiler.send('Profiler.stop')
      await writeFile(options.profile.replace(/(\.cpuprofile)?$/, '-scroll.cpuprofile'), JSON.stringify(profile))
      await scrollProfiler.detach()
    }
    say(`  scroll the whole tree (${scroll.pixels} px in ${scroll.frames} frames): frame median ${scroll.medianFrameMs.toFixed(1)} ms, p95 ${scroll.p95FrameMs.toFixed(1)} ms, max ${scroll.maxFrameMs.toFixed(1)} ms; ${scroll.longTasks} long tasks (longest ${ms(scroll.longestTaskMs)})`)

    const collapsed = await toggleAll(page, false)
    const hostLabels = await page.locator('[role="tree"] [role="treeitem"][aria-level="1"]').evaluateAll((els: PageElement[]) => els.map((e) => e.getAttribute('aria-label') ?? ''))
    const wrong = hostLabels.filter((l) => !l.includes(`, Online, ${vmsPerPool} VMs`))
    if (hostLabels.length !== pools || wrong.length > 0) throw new Error(`with every host collapsed the tree shows ${hostLabels.length} hosts; not "${vmsPerPool} VMs, Online": ${wrong.join(' | ')}`)
    say(`  collapse all (${collapsed.clicks} chevron clicks): ${ms(collapsed.totalMs)}, slowest click to next frame ${ms(collapsed.maxClickMs)}; then all ${pools} hosts show "Online, ${vmsPerPool} VMs"`)
    const expanded = await toggleAll(page, true)
    say(`  expand all (${expanded.clicks} clicks, bottom up): ${ms(expanded.totalMs)}, slowest click ${ms(expanded.maxClickMs)}`)

    await page.locator('[role="tree"]').focus()
    const endKeyMs = await keyLatency(page, 'End')
    const lastActive = await page.locator('[role="tree"]').getAttribute('aria-activedescendant')
    const lastPos = lastActive ? await page.locator(`[id="${lastActive}"]`).getAttribute('aria-posinset') : null
    if (lastPos !== String(rows)) throw new Error(`End did not move to row ${rows} (active row ${lastPos ?? 'none'})`)
    await keyLatency(page, 'Home')
    const target = poolVmNames(pools - 1, vmsPerPool).at(-1) ?? ''
    const letter = (target[0] ?? 'b').toLowerCase()
    const typeAheadMs = await keyLatency(page, letter)
    const jumped = await page.locator('[role="tree"]').getAttribute('aria-activedescendant')
    const jumpedLabel = jumped ? await page.locator(`[id="${jumped}"]`).getAttribute('aria-label') : null
    if (!jumpedLabel?.toLowerCase().startsWith(letter)) throw new Error(`type-ahead "${letter}" moved to ${jumpedLabel ?? 'no row'}`)
    say(`  keyboard: End (row ${rows} of ${rows}) ${ms(endKeyMs)} keydown → frame; type-ahead "${target[0] ?? ''}" from the top ${ms(typeAheadMs)} (the tree has no text filter)`)

    const figures: BenchTreeFigures = { pools, vms: pools * vmsPerPool, rows, setupMs, addHostsMs, live, cold, reload, callsDuringLoad, callsFromStart, callsIdle10s, idleCallsByMethod, collapseAll: { totalMs: collapsed.totalMs, maxClickMs: collapsed.maxClickMs }, expandAll: { totalMs: expanded.totalMs, maxClickMs: expanded.maxClickMs }, endKeyMs, typeAheadMs, scroll, heapUsedBytes, domNodes, treeRowsInDom, screenshot }
    say(`  screenshot: ${path.relative(root, screenshot)}`)
    return { figures, lines }
  } finally {
    await browser?.close().catch(() => undefined)
    if (serve) await stopProcess(serve)
    await Promise.all(sims.map((s) => s.stop().catch(() => undefined)))
    if (home) await rm(home, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2)
  const opt = (name: string): number | undefined => {
    const i = args.indexOf(`--${name}`)
    const value = i >= 0 ? Number(args[i + 1]) : NaN
    return Number.isFinite(value) && value > 0 ? value : undefined
  }
  const pools = opt('pools')
  const vmsPerPool = opt('vms')
  const profileAt = args.indexOf('--profile')
  const profile = profileAt >= 0 ? args[profileAt + 1] : undefined
  await benchTree({ ...(pools !== undefined ? { pools } : {}), ...(vmsPerPool !== undefined ? { vmsPerPool } : {}), ...(profile !== undefined ? { profile: path.resolve(profile) } : {}), log: (line) => console.log(line) })
}
