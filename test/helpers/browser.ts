// Harness of the browser tests: Debian's chromium driven by playwright-core, a real relay and real
// device nodes (libp2p, libsignal, SQLCipher) with their local APIs on loopback. A node can be stopped
// and started again on the same data directory and API port (a new token, as at every start).
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test, type TestContext } from 'node:test'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { createApiServer, type ApiServer } from '../../src/api/server.ts'
import { createDeviceHost } from '../../src/messenger/host.ts'
import { startRelay, type RelayHandle } from '../../src/relay/service.ts'
import { silentLogger } from '../../src/platform/logger.ts'
import { call } from './http.ts'
import type { DeviceHost } from '../../src/messenger/types.ts'

export const CHROMIUM = '/usr/bin/chromium'
const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const WEB_DIST = join(ROOT, 'web', 'dist')
export const ARTIFACTS = join(ROOT, 'test', 'artifacts', 'browser')
/** Bounds of one UI step (a delivery over loopback takes well under a second; this is for slow CI). */
export const STEP_MS = 30_000
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']

/** Whether the test must be skipped (no chromium outside CI); in CI a missing chromium fails. */
export const chromiumMissing = !existsSync(CHROMIUM)

function newest (path: string): number {
  const st = statSync(path)
  if (!st.isDirectory()) return st.mtimeMs
  return Math.max(st.mtimeMs, ...readdirSync(path).map((n) => newest(join(path, n))))
}

/** Builds web/dist when it is missing or older than the UI's sources (a stale build tests old code). */
export function ensureWebBuilt (): void {
  const index = join(WEB_DIST, 'index.html')
  const sources = Math.max(newest(join(ROOT, 'web', 'src')), newest(join(ROOT, 'web', 'index.html')), newest(join(ROOT, 'src', 'wire', 'text-limit.ts')))
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return
  const vite = join(ROOT, 'node_modules', '.bin', 'vite')
  const r = spawnSync(vite, ['build', 'web', '--config', 'web/vite.config.ts', '--logLevel', 'warn'], { cwd: ROOT, timeout: 120_000, encoding: 'utf8' })
  assert.equal(r.status, 0, `vite build failed: ${r.stderr}`)
}

export interface Node {
  api: ApiServer
  host: DeviceHost
  /** Stops the API and the device host (the page sees its node go down). */
  stop: () => Promise<void>
  /** Starts both again on the same data directory and API port; the token is new. */
  start: () => Promise<void>
}

export interface Harness {
  relay: RelayHandle
  dir: (name: string) => string
  node: (name: string) => Promise<Node>
  person: (name: string, o?: { width?: number, height?: number }) => Promise<{ ctx: BrowserContext, page: Page }>
  shot: (page: Page, name: string) => Promise<void>
  /** Page errors, console errors and CSP violations seen so far. */
  problems: string[]
}

/** One call of a node's local API with its token; anything but a 2xx fails the test. A 204 answers undefined. */
export async function api<T> (n: Node, method: string, path: string, body?: unknown): Promise<T> {
  const r = await call(n.api.url, method, path, { token: n.api.token, ...(body === undefined ? {} : { body }) })
  assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.text}`)
  return (r.status === 204 ? undefined : r.json()) as T
}

/** In CI a missing Chromium fails the run instead of skipping the browser tests (.ci/run installs it). */
export function requireChromiumInCi (): void {
  if (chromiumMissing && process.env.CI !== undefined) {
    test('browser: chromium is installed', () => { assert.fail(`${CHROMIUM} is missing; CI must install Debian's chromium (.ci/run does).`) })
  }
}

export async function browserHarness (t: TestContext): Promise<Harness> {
  ensureWebBuilt()
  mkdirSync(ARTIFACTS, { recursive: true })
  const root = mkdtempSync(join(tmpdir(), '0m1-browser-'))
  // after-hooks run in the order they were added, so this one (added first) closes the browsers itself before
  // removing their profiles; chromium may still be flushing its cache as it exits, so removal also retries.
  const contexts: BrowserContext[] = []
  t.after(async () => {
    for (const c of contexts) await c.close().catch(() => {})
    rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 })
  })
  const dir = (name: string): string => { const d = join(root, name); mkdirSync(d, { mode: 0o700 }); return d }
  const relay = await startRelay({ dataDir: dir('relay'), listen: ['/ip4/127.0.0.1/tcp/0'], logger: silentLogger })
  t.after(async () => { await relay.stop() })

  const node = async (name: string): Promise<Node> => {
    const dataDir = dir(name)
    let listen = '127.0.0.1:0'
    let running = false
    const n = {} as Node
    n.start = async () => {
      n.host = await createDeviceHost({ dataDir, listen: ['/ip4/127.0.0.1/tcp/0'], relays: relay.addresses, logger: silentLogger })
      n.api = await createApiServer({ host: n.host, dataDir, listen, logger: silentLogger })
      // Later starts take the same port, as a node started again with the same --api does.
      listen = new URL(n.api.url).host
      running = true
    }
    n.stop = async () => {
      running = false
      await n.api.close()
      await n.host.stop()
    }
    t.after(async () => { if (running) await n.stop() })
    await n.start()
    return n
  }

  const problems: string[] = []
  const person = async (name: string, o: { width?: number, height?: number } = {}): Promise<{ ctx: BrowserContext, page: Page }> => {
    const ctx = await chromium.launchPersistentContext(dir(`profile-${name}`), {
      executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: o.width ?? 1100, height: o.height ?? 760 }, timeout: STEP_MS
    })
    contexts.push(ctx)
    ctx.setDefaultTimeout(STEP_MS)
    const page = ctx.pages()[0] ?? await ctx.newPage()
    page.on('pageerror', (err) => { problems.push(`${name}: page error: ${err.message}`) })
    page.on('console', (msg) => {
      if (msg.type() === 'error' || /Content Security Policy/i.test(msg.text())) problems.push(`${name}: console ${msg.type()}: ${msg.text()}`)
    })
    return { ctx, page }
  }
  const shot = async (page: Page, name: string): Promise<void> => { await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true }) }
  return { relay, dir, node, person, shot, problems }
}

/** WCAG 2 relative luminance of an sRGB colour (channels 0..255). */
function luminance ([r, g, b]: readonly number[]): number {
  const lin = (c: number): number => { const s = c / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4 }
  return 0.2126 * lin(r ?? 0) + 0.7152 * lin(g ?? 0) + 0.0722 * lin(b ?? 0)
}

/** WCAG 2 contrast ratio of two opaque colours (1..21). */
export function contrast (a: readonly number[], b: readonly number[]): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number]
  return (hi + 0.05) / (lo + 0.05)
}

/** Parses a computed `rgb()`/`rgba()` colour into [r, g, b, alpha]. */
export function parseColour (css: string): [number, number, number, number] {
  const m = /^rgba?\(([^)]+)\)$/.exec(css.trim())
  assert.ok(m?.[1] !== undefined, `not an rgb() colour: ${css}`)
  const [r, g, b, a] = m[1].split(/[\s,/]+/).filter((x) => x !== '').map(Number)
  return [r ?? 0, g ?? 0, b ?? 0, a ?? 1]
}

/** `top` painted over the opaque `under`. */
function over (top: readonly number[], under: readonly number[]): number[] {
  const a = top[3] ?? 1
  return [0, 1, 2].map((i) => (top[i] ?? 0) * a + (under[i] ?? 0) * (1 - a))
}

/** In the page: every visible element with text of its own (disabled controls excepted, as WCAG does),
 * with its colour and the background colours from it up to the root. A string, so no transpiled helper
 * of this file ends up in the page. */
const TEXT_COLOURS = `(() => {
  const out = []
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim() !== '')
    if (!own || el.closest('.sr-only') !== null || el.closest(':disabled') !== null) continue
    const r = el.getBoundingClientRect()
    if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility !== 'visible') continue
    const backgrounds = []
    for (let e = el; e !== null; e = e.parentElement) backgrounds.push(getComputedStyle(e).backgroundColor)
    out.push({ text: el.textContent.trim().slice(0, 40), colour: getComputedStyle(el).color, backgrounds })
  }
  return out
})()`

/** Texts whose contrast with what is behind them is under `min` (WCAG AA: 4.5). */
export async function lowContrast (page: Page, min = 4.5): Promise<string[]> {
  const items = await page.evaluate(TEXT_COLOURS) as Array<{ text: string, colour: string, backgrounds: string[] }>
  assert.ok(items.length > 0, 'the page shows text')
  const bad: string[] = []
  for (const it of items) {
    // Backgrounds from the root down, each painted over what is under it (the canvas is white).
    let bg: number[] = [255, 255, 255]
    for (const b of [...it.backgrounds].reverse()) bg = over(parseColour(b), bg)
    const fg = over(parseColour(it.colour), bg)
    const ratio = contrast(fg, bg)
    if (ratio < min) bad.push(`${JSON.stringify(it.text)}: ${ratio.toFixed(2)} (${it.colour} on rgb(${bg.map(Math.round).join(', ')}))`)
  }
  return bad
}

/** No horizontal scrolling: neither the document nor the main column is wider than the window. */
export async function horizontalOverflow (page: Page): Promise<string | undefined> {
  return await page.evaluate(`(() => {
    const s = document.scrollingElement
    if (s.scrollWidth > s.clientWidth) return 'document ' + s.scrollWidth + ' > ' + s.clientWidth
    for (const el of document.querySelectorAll('.main, .contacts, .messages, .top')) {
      if (el.scrollWidth > el.clientWidth + 1) return (el.className || el.tagName) + ' ' + el.scrollWidth + ' > ' + el.clientWidth
    }
    return undefined
  })()`) as string | undefined
}

/** Whether the element's box lies entirely inside the viewport. */
export async function inViewport (page: Page, testId: string): Promise<boolean> {
  const box = await page.getByTestId(testId).boundingBox()
  const size = page.viewportSize()
  if (box === null || size === null) return false
  return box.x >= 0 && box.y >= 0 && box.x + box.width <= size.width && box.y + box.height <= size.height
}
