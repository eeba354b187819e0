import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { launchChromium } from './support/browser.js';
import { Gate } from './support/gate.js';
import { ENDED_STATUSES } from './support/http.js';
import { REPO_ROOT, freePort } from './support/processes.js';
import { eventually } from './support/wait.js';

/** The dashboard's fetch of the caller's requests. */
const LIST_URL = '**/bgrs?limit=*';
const LIST_UNAVAILABLE = 'Background requests cannot be looked up right now; try again shortly.';

/** One month of the demo's sales report: 12 of them take about 6 s, long enough to watch, short for a test. */
const MONTH_MS = 500;
const REPORT_PATH = '/v2.5/reports/sales?year=2024';
const START_BUTTON = 'Run sales report in background';
const SCREENSHOT = join(REPO_ROOT, 'test/artifacts/dashboard.png');
const TEST_TIMEOUT_MS = 90_000;

/**
 * The demo's dashboard at `/`, driven end to end in headless Chromium: the demo runs as `npm start` runs it
 * (`node build/demo/main.js`, embedded SQLite) in a temp folder, its report made quick but still slow enough to
 * see its progress move.
 */
describe('the demo dashboard in headless Chromium', () => {
  let cwd: string;
  let demo: ChildProcess | undefined;
  let output = '';
  let base: string;
  let browser: Browser | undefined;
  let page: Page;
  const pageErrors: string[] = [];

  let chromiumMissing: Error | undefined;

  /** The page, in Chromium; a machine without Chromium fails each browser test with the reason (never skips). */
  function browserPage(): Page {
    if (chromiumMissing) {
      throw chromiumMissing;
    }
    return page;
  }

  before(async () => {
    browser = await launchChromium().catch((error: Error) => {
      chromiumMissing = error;
      return undefined;
    });

    cwd = await mkdtemp(join(tmpdir(), 'bgrs-dashboard-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: String(port),
      DEMO_REPORT_MONTH_MS: String(MONTH_MS),
      DEMO_IMPORT_ROW_MS: '1',
    };
    delete env.DATABASE_URL;
    const child = spawn(process.execPath, [join(REPO_ROOT, 'build/demo/main.js')], {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    demo = child;
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    await eventually(
      'the demo to serve its dashboard at /',
      async () => {
        assert.equal(child.exitCode, null, `the demo exited with ${child.exitCode}:\n${output}`);
        const res = await fetch(`${base}/`).catch(() => undefined);
        return res?.status === 200 ? true : undefined;
      },
      { describeLast: () => output.slice(-2000) },
    );

    if (!browser) {
      return;
    }
    page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
    page.setDefaultTimeout(30_000);
    page.on('pageerror', (error) => pageErrors.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') {
        pageErrors.push(`console error: ${message.text()} (${message.location().url})`);
      }
    });
  });

  after(async () => {
    await browser?.close();
    if (demo && demo.exitCode === null && demo.signalCode === null) {
      const exited = new Promise((resolve) => demo!.once('exit', resolve));
      demo.kill('SIGTERM');
      const timer = setTimeout(() => demo!.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    if (cwd) {
      await rm(cwd, { recursive: true, force: true });
    }
  });

  /** Clicks the start button and returns the rid of the row that appears for it. */
  async function startReport(): Promise<string> {
    const before = await page.locator('#requests > li').count();
    await page.getByRole('button', { name: START_BUTTON }).click();
    await eventually('a row for the new request', async () =>
      (await page.locator('#requests > li').count()) === before + 1 ? true : undefined,
    );
    const rid = await page.locator('#requests > li').first().getAttribute('data-rid');
    assert.match(rid ?? '', /^[0-9a-f]{32}$/, 'the new row names its rid');
    return rid!;
  }

  const rowOf = (rid: string): Locator => page.locator(`#requests > li[data-rid="${rid}"]`);

  /** Where the row's progress bar stands (`aria-valuenow`) and the status it shows. */
  async function stateOf(row: Locator): Promise<{ value: number; width: string; status: string }> {
    // `any`: the callback runs in the page, and this project compiles without the DOM's types.
    return row.evaluate((element: any) => ({
      value: Number(element.querySelector('[role="progressbar"]').getAttribute('aria-valuenow')),
      width: String(element.querySelector('.progress-fill').style.width),
      status: String(element.dataset.status ?? ''),
    }));
  }

  /** Samples the row until it shows `status`; returns every progress value seen on the way, in order. */
  async function watchUntil(
    row: Locator,
    status: string,
    options: { until?: (value: number) => boolean } = {},
  ): Promise<number[]> {
    const seen: number[] = [];
    let last = '';
    await eventually(
      `the row to show ${status}`,
      async () => {
        const state = await stateOf(row);
        last = JSON.stringify(state);
        assert.equal(state.width, `${state.value}%`, 'the bar is as wide as its aria-valuenow says');
        if (seen.at(-1) !== state.value) {
          seen.push(state.value);
        }
        if (ENDED_STATUSES.includes(state.status) && state.status !== status) {
          assert.fail(`the row shows ${state.status}, not ${status}; progress seen: ${seen.join(', ')}`);
        }
        if (options.until) {
          return options.until(state.value) && state.status === status ? true : undefined;
        }
        return state.status === status ? true : undefined;
      },
      { deadlineMs: 60_000, describeLast: () => `${last}; progress seen: ${seen.join(', ')}` },
    );
    return seen;
  }

  async function recordOf(rid: string): Promise<{ status_name: string; progress: string }> {
    const res = await fetch(`${base}/bgrs/${rid}`);
    assert.equal(res.status, 200);
    return ((await res.json()) as Array<{ status_name: string; progress: string }>)[0];
  }

  it('serves the page, its script and its style with their Content-Types', async () => {
    const expected: Array<[string, RegExp]> = [
      ['/', /^text\/html; charset=utf-8$/i],
      ['/dashboard.js', /^text\/javascript; charset=utf-8$/i],
      ['/dashboard.css', /^text\/css; charset=utf-8$/i],
    ];
    for (const [path, type] of expected) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 200, `GET ${path}`);
      assert.match(res.headers.get('content-type') ?? '', type, `Content-Type of ${path}`);
      assert.ok((await res.text()).length > 100, `${path} has content`);
    }
    const html = await fetch(`${base}/`);
    assert.match(html.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  });

  it(
    'says it is loading until the list answers, why when it cannot be listed, and lists it on Try again',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const held = new Gate();
      let logged: string[];
      try {
        // The list's first fetch waits until the test has seen the page while it loads.
        await browserPage().route(LIST_URL, async (route) => {
          await held.wait();
          await route.continue();
        });
        await page.goto(`${base}/`);
        assert.ok(await page.locator('#loading').isVisible(), 'a loading note while the list is fetched');
        assert.ok(await page.locator('#empty').isHidden(), 'no "no requests" note before the list is known');
        assert.equal(await page.locator('#requests').getAttribute('aria-busy'), 'true');
        held.open();
        await page.locator('#requests[aria-busy="false"]').waitFor({ state: 'attached' });
        assert.ok(await page.locator('#loading').isHidden(), 'the loading note goes once the list answers');
        assert.ok(await page.locator('#empty').isVisible(), 'then an empty list says so');
        await page.unroute(LIST_URL);

        // The list cannot be fetched: the page says why instead of showing an empty list.
        await page.route(LIST_URL, (route) =>
          route.fulfill({
            status: 503,
            contentType: 'application/json',
            headers: { 'Retry-After': '5' },
            body: JSON.stringify({ message: LIST_UNAVAILABLE, error: 'Service Unavailable', statusCode: 503 }),
          }),
        );
        await page.reload();
        const loadError = page.locator('#load-error');
        await loadError.waitFor({ state: 'visible' });
        assert.equal(await loadError.getAttribute('role'), 'alert');
        assert.equal(
          await page.locator('#load-error-text').textContent(),
          `Your requests could not be listed: ${LIST_UNAVAILABLE}`,
        );
        assert.ok(await page.locator('#loading').isHidden(), 'no loading note once the fetch has failed');
        assert.ok(await page.locator('#empty').isHidden(), 'no "no requests" note when the list is not known');
        await page.unroute(LIST_URL);

        await loadError.getByRole('button', { name: 'Try again' }).click();
        await loadError.waitFor({ state: 'hidden' });
        assert.ok(await page.locator('#empty').isVisible(), 'listed on Try again');
      } finally {
        // Whatever failed, the later tests get the real list, and none of this test's errors.
        held.open();
        await page?.unrouteAll();
        logged = pageErrors.splice(0);
      }
      // The browser logs the 503 of the failed fetch; nothing else may be logged.
      assert.deepEqual(
        logged.filter((error) => !/status of 503/.test(error)),
        [],
      );
    },
  );

  it(
    'starts the sales report from its button and follows it live to its result',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      await browserPage().goto(`${base}/`);
      await page.locator('#requests[aria-busy="false"]').waitFor({ state: 'attached' });
      assert.ok(await page.locator('#empty').isVisible(), 'an empty list says so');

      const rid = await startReport();
      const row = rowOf(rid);
      assert.ok(await page.locator('#empty').isHidden(), 'the empty note goes away');
      assert.equal(await row.locator('.request-name').textContent(), `${REPORT_PATH}&bgrs=yes`);
      assert.ok(await row.getByRole('button', { name: /^Cancel/ }).isVisible(), 'a running request can be cancelled');
      assert.ok(await row.locator('.result-link').isHidden(), 'no result link before it is finished');

      // Details shown while it runs: the rows already there, then each new one from the `detail` events.
      const toggle = row.getByRole('button', { name: 'Show details' });
      await toggle.click();
      assert.equal(await row.locator('.details-toggle').getAttribute('aria-expanded'), 'true');

      const seen = await watchUntil(row, 'finished');
      assert.deepEqual(
        seen,
        [...seen].sort((a, b) => a - b),
        `progress never goes back: ${seen.join(', ')}`,
      );
      const inFlight = seen.filter((value) => value < 100);
      assert.ok(
        inFlight.length >= 2 && inFlight.at(-1)! > inFlight[0],
        `the bar advanced while the report ran (values seen: ${seen.join(', ')})`,
      );
      assert.equal(seen.at(-1), 100);
      assert.equal((await recordOf(rid)).status_name, 'finished');

      assert.equal(await row.locator('.status').textContent(), 'finished · HTTP 200');
      assert.ok(await row.locator('.cancel').isHidden(), 'no Cancel button once it ended');
      const link = row.getByRole('link', { name: /^Result/ });
      assert.equal(await link.getAttribute('href'), `/bgrs/${rid}/result`);

      const details = row.locator('.details > li');
      await eventually('the twelve details rows', async () => ((await details.count()) === 12 ? true : undefined));
      const texts = (await details.allTextContents()).map((text) => text.replace(/^\d{2}:\d{2}:\d{2}/, ''));
      assert.deepEqual(
        texts.map((text) => /month (\d+)\/12 done/.exec(text)?.[1]),
        Array.from({ length: 12 }, (_, index) => String(index + 1)),
        `the details in order, each once: ${texts.join(' | ')}`,
      );

      // The result link opens the original response: the same bytes as the report in the foreground.
      const [response] = await Promise.all([
        page.waitForEvent('response', (res) => res.url().endsWith(`/bgrs/${rid}/result`)),
        link.click(),
      ]);
      await page.waitForURL(`**/bgrs/${rid}/result`);
      assert.equal(response.status(), 200);
      assert.match(response.headers()['content-type'], /^application\/json/);
      const result = await response.body();
      const report = JSON.parse(result.toString('utf8'));
      assert.equal(report.year, 2024);
      assert.equal(report.currency, 'EUR');
      assert.equal(report.rows.length, 48);
      assert.ok((await page.locator('body').innerText()).includes('"currency":"EUR"'), 'the browser shows the JSON');
      const foreground = Buffer.from(await (await fetch(`${base}${REPORT_PATH}`)).arrayBuffer());
      assert.ok(result.equals(foreground), 'the result is byte for byte the foreground answer');

      await page.goBack();
      await page.locator(`#requests > li[data-rid="${rid}"][data-status="finished"]`).waitFor();
      assert.deepEqual(pageErrors, []);
    },
  );

  it('cancels a running report from its Cancel button', { timeout: TEST_TIMEOUT_MS }, async () => {
    await browserPage().goto(`${base}/`);
    await page.locator('#requests[aria-busy="false"]').waitFor({ state: 'attached' });
    const rid = await startReport();
    const row = rowOf(rid);
    await watchUntil(row, 'processing', { until: (value) => value > 0 });
    await row.getByRole('button', { name: /^Cancel/ }).click();

    await row.locator('[data-status="cancelled"]').waitFor();
    const { value } = await stateOf(row);
    assert.ok(value < 100, `stopped part-way (${value})`);
    assert.ok(await row.locator('.cancel').isHidden(), 'no Cancel button once cancelled');
    assert.ok(await row.locator('.result-link').isHidden(), 'no result link for a cancelled request');
    assert.equal((await recordOf(rid)).status_name, 'cancelled');
    await page.waitForTimeout(MONTH_MS * 2);
    assert.equal((await stateOf(row)).status, 'cancelled', 'it stays cancelled');
    assert.match((await page.locator('#announcer').textContent()) ?? '', /cancelled/);
    assert.deepEqual(pageErrors, []);
  });

  it(
    'lists earlier requests after a reload, follows a running one live, and takes a screenshot',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      await browserPage().goto(`${base}/`);
      await page.locator('#requests[aria-busy="false"]').waitFor({ state: 'attached' });
      const rid = await startReport();
      await watchUntil(rowOf(rid), 'processing', { until: (value) => value > 0 });

      // Reloaded, the running request comes from the listing and is followed live from there.
      await page.reload();
      await page.locator('#requests[aria-busy="false"]').waitFor({ state: 'attached' });
      const statuses = await page
        .locator('#requests > li')
        .evaluateAll((items: any[]) => items.map((item) => String(item.dataset.status)));
      assert.equal(statuses.length, 3);
      assert.deepEqual(statuses.slice(1), ['cancelled', 'finished'], 'newest first');
      const row = rowOf(rid);
      assert.equal(await page.locator('#requests > li').first().getAttribute('data-rid'), rid);
      const start = (await stateOf(row)).value;
      await row.getByRole('button', { name: 'Show details' }).click();
      await watchUntil(row, 'processing', { until: (value) => value > start });

      await mkdir(join(REPO_ROOT, 'test/artifacts'), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true, animations: 'disabled' });
      assert.ok((await stat(SCREENSHOT)).size > 10_000, `a screenshot in ${SCREENSHOT}`);

      const seen = await watchUntil(row, 'finished');
      assert.equal(seen.at(-1), 100);
      assert.equal(await row.locator('.details > li').count(), 12);
      assert.deepEqual(pageErrors, []);
    },
  );
});
