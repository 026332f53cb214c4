/**
 * Browser test of the status panel: a real daemon (child process) with a real conduit, and
 * Debian's Chromium driven by playwright-core. The page is opened the way `conduit panel`
 * prints it; the test watches a running sync's progress bar move, pauses it, takes a
 * screenshot (kept as an artifact), resumes it, changes settings (a bad schedule is refused),
 * disables and enables the conduit and reads its history. Without the token, the panel and the
 * API refuse.
 *
 * Chromium is `/usr/bin/chromium` (Debian's `chromium`, which `.ci/run` installs) or
 * `$CONDUIT_CHROMIUM`. Without it the test is skipped, unless `CONDUIT_REQUIRE_BROWSER=1`
 * (as in CI), where a missing browser fails it. The screenshot goes to
 * `$CONDUIT_ARTIFACTS` (default `artifacts/` at the repository's root).
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { type Browser, chromium, type Locator, type Page } from "playwright-core"
import { afterAll, afterEach, assert, beforeAll, beforeEach, describe, it } from "vitest"
import { deviceIn, killDaemons, manyFiles, tree } from "./support.js"

const CHROMIUM = process.env.CONDUIT_CHROMIUM ?? "/usr/bin/chromium"
const available = Fs.existsSync(CHROMIUM)
const required = process.env.CONDUIT_REQUIRE_BROWSER === "1"
const ARTIFACTS = process.env.CONDUIT_ARTIFACTS ?? fileURLToPath(new URL("../../../artifacts", import.meta.url))

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

let root: string
let browser: Browser | undefined
const homes: Array<string> = []

beforeAll(async () => {
  if (!available) {
    if (required) throw new Error(`${CHROMIUM} is missing (CONDUIT_REQUIRE_BROWSER=1): install Debian's chromium`)
    return
  }
  // Root (as in CI containers) cannot use Chromium's sandbox.
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage"] })
})

afterAll(async () => {
  await browser?.close()
})

beforeEach(() => {
  root = Fs.realpathSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), "conduit-panel-e2e-")))
})

afterEach(async () => {
  await killDaemons(homes)
  Fs.rmSync(root, { recursive: true, force: true })
})

/** Polls `check` until it gives a value, failing after `timeout` ms. */
const until = async <A>(what: string, timeout: number, check: () => Promise<A | undefined>): Promise<A> => {
  const deadline = Date.now() + timeout
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeout / 1000} s`)
    await sleep(40)
  }
}

const stateOf = (card: Locator) => card.locator('[data-testid="state"]').textContent()
const waitState = (card: Locator, state: string, timeout = 60_000) =>
  until(`the panel shows '${state}'`, timeout, async () => ((await stateOf(card)) === state ? true : undefined))
const progressOf = (card: Locator) => card.locator('[data-testid="progress"]').evaluate((el) => ({ value: (el as unknown as { value: number }).value, max: (el as unknown as { max: number }).max }))
const message = (page: Page) => page.locator('[data-testid="message"]').textContent()

describe.skipIf(!available && !required)("the status panel (Chromium)", () => {
  it("shows a running sync's progress moving, runs, pauses, resumes, changes settings; refuses without the token", async () => {
    const device = deviceIn(root, "panel")
    homes.push(device.home)
    const daemon = (await device.json<{ daemon: { api: string } }>(0, "daemon", "start")).daemon
    const src = tree(device.work, "src", manyFiles(40, 200))
    const dst = tree(device.work, "dst")
    const { id } = (await device.json<{ conduit: { id: string } }>(0, "conduit", "create", src, dst)).conduit
    const { url } = await device.json<{ url: string }>(0, "panel")
    assert.match(url, new RegExp(`^${daemon.api}/panel\\?token=[0-9a-f]{64}$`))

    // -- without the token: refused -------------------------------------------------------
    for (const path of ["/panel", "/panel?token=" + "0".repeat(64), "/", "/v1/conduits", "/v1/conduits/status", "/v1/events"]) {
      const res = await fetch(daemon.api + path, { redirect: "manual" })
      assert.strictEqual(res.status, 401, path)
      assert.notMatch(await res.text(), new RegExp(src), `${path} shows nothing of the library`)
    }
    const forged = await fetch(`${daemon.api}/v1/conduits`, { headers: { cookie: `conduit_panel=${"0".repeat(64)}` } })
    assert.strictEqual(forged.status, 401)
    const stranger = await browser!.newPage()
    const refused = await stranger.goto(`${daemon.api}/panel`)
    assert.strictEqual(refused?.status(), 401)
    assert.include(await stranger.textContent("h1"), "Token needed")
    await stranger.close()

    // -- with it: the token is traded for the cookie, and leaves the address ---------------
    const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    const errors: Array<string> = []
    page.on("pageerror", (e) => errors.push(e.message))
    // A refused request (the bad schedule below) is logged by the browser as a failed load: not a script error.
    page.on("console", (m) => (m.type() === "error" && !m.text().startsWith("Failed to load resource: the server responded with a status of 400") ? errors.push(m.text()) : undefined))
    await page.goto(url)
    assert.strictEqual(page.url(), `${daemon.api}/panel`)
    const card = page.locator(`[data-conduit="${id}"]`)
    await card.waitFor({ timeout: 20_000 })
    await waitState(card, "idle")
    await until("the live event stream", 20_000, async () => ((await page.locator("#live").textContent()) === "live" ? true : undefined))

    // -- run now: the progress bar moves --------------------------------------------------
    await card.locator('[data-action="run"]').click()
    await waitState(card, "running", 30_000)
    const seen = new Set<number>()
    await until("the progress bar moving (three different values while running)", 60_000, async () => {
      const p = await progressOf(card)
      if ((await stateOf(card)) === "running" && p.value > 0 && p.value < p.max) seen.add(p.value)
      return seen.size >= 3 ? true : undefined
    })
    const values = [...seen]
    assert.isTrue(values.every((v, i) => i === 0 || v > values[i - 1]!), `progress only goes up: ${values.join(", ")}`)
    assert.match((await card.locator('[data-testid="progress-text"]').textContent()) ?? "", /^\d+ \/ 8040 operations · /)

    // -- pause ------------------------------------------------------------------------------
    await card.locator('[data-action="pause"]').click()
    await waitState(card, "paused")
    const paused = await progressOf(card)
    assert.isBelow(paused.value, paused.max, "paused midway")
    assert.match((await card.locator('[data-testid="pending"]').textContent()) ?? "", /^pending: [1-9]\d* operations/)
    Fs.mkdirSync(ARTIFACTS, { recursive: true })
    const shot = Path.join(ARTIFACTS, "status-panel.png")
    await page.screenshot({ path: shot, fullPage: true })
    assert.isAbove(Fs.statSync(shot).size, 10_000, "a real screenshot")
    console.log(`status panel screenshot: ${shot}`)

    // -- resume: the run ends, verified -----------------------------------------------------
    await card.locator('[data-action="resume"]').click()
    await waitState(card, "idle", 120_000)
    await until("the last generation completed and verified", 20_000, async () =>
      /completed \(verified\)/.test((await card.locator('[data-testid="last-generation"]').textContent()) ?? "") ? true : undefined)
    assert.strictEqual(Fs.readdirSync(dst).length, 40)
    assert.strictEqual(Fs.readFileSync(Path.join(dst, "d39/f199.txt"), "utf8"), "file 39/199")

    // -- settings: a bad schedule is refused and nothing changes; a good one is stored -------
    await card.locator('[data-testid="settings-box"] summary').click()
    const settings = card.locator('[data-testid="settings"]')
    await settings.locator('input[name="schedule"]').fill("every tuesday")
    await settings.locator('[data-action="save"]').click()
    await until("the refusal", 10_000, async () => ((await message(page))?.includes("not a schedule") ? true : undefined))
    assert.strictEqual((await device.json<{ conduit: { schedule: string } }>(0, "conduit", "show", id)).conduit.schedule, "manual")
    await settings.locator('input[name="schedule"]').fill("interval:1h")
    await settings.locator('input[name="bandwidthLimitMbps"]').fill("50")
    await settings.locator('input[name="parallelTransfers"]').fill("8")
    await settings.locator('[data-action="save"]').click()
    await until("saved", 10_000, async () => ((await message(page))?.includes("saved") ? true : undefined))
    const stored = (await device.json<{ conduit: Record<string, unknown> }>(0, "conduit", "show", id)).conduit
    assert.include(stored, { schedule: "interval:1h", bandwidthLimitMbps: 50, parallelTransfers: 8, conflictStrategy: "last-write-wins" })

    // -- disable, enable --------------------------------------------------------------------
    await card.locator('[data-action="disable"]').click()
    await waitState(card, "disabled")
    assert.isTrue(await card.locator('[data-action="run"]').isDisabled())
    assert.isFalse((await device.json<{ conduit: { enabled: boolean } }>(0, "conduit", "show", id)).conduit.enabled)
    await card.locator('[data-action="enable"]').click()
    await waitState(card, "idle")

    // -- history ----------------------------------------------------------------------------
    await card.locator('[data-testid="history"] summary').click()
    const rows = card.locator('[data-testid="history-table"] tbody tr')
    await rows.first().waitFor({ timeout: 10_000 })
    assert.include(await rows.first().textContent(), "completed")

    assert.deepStrictEqual(errors, [], "no script errors on the page")
    await context.close()
  }, 300_000)

  it("shows a file named like markup as text, never as markup", async () => {
    const device = deviceIn(root, "markup")
    homes.push(device.home)
    await device.json(0, "daemon", "start")
    const src = tree(device.work, "<img src=x onerror=alert(1)>")
    const dst = tree(device.work, "dst")
    await device.json(0, "conduit", "create", src, dst)
    const { url } = await device.json<{ url: string }>(0, "panel")
    const page = await browser!.newPage()
    let dialogs = 0
    page.on("dialog", (d) => {
      dialogs++
      void d.dismiss()
    })
    await page.goto(url)
    await page.locator('[data-testid="conduit"]').waitFor({ timeout: 20_000 })
    assert.include(await page.locator('[data-field="source"]').textContent(), "<img src=x onerror=alert(1)>")
    assert.strictEqual(await page.locator("main img").count(), 0)
    assert.strictEqual(dialogs, 0)
    await page.close()
  }, 120_000)
})
