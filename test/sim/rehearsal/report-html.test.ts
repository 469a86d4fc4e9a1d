/**
 * The HTML report opened in headless Chromium (Debian's package, see
 * test/support/ensure-chromium.sh): it renders, one chart row per pod, the
 * heartbeats, the deadline and the completion marked, nothing fetched.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { renderReport } from '../../../sim/rehearsal/report-html';
import { rehearse, type RehearsalResult } from '../../../sim/rehearsal/rehearse';
import { loadScenario } from '../../../sim/rehearsal/scenario-file';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('the HTML report', () => {
  let result: RehearsalResult;
  let html: string;
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: the report test needs Debian's chromium (apt-get install chromium)`);
    }
    result = await rehearse(loadScenario(join(__dirname, '../../../examples/pdb-blocks-forever.yaml')));
    html = renderReport(result);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  });
  afterAll(() => browser?.close());

  test('is self-contained: no external URL, no linked script or stylesheet', () => {
    // Assert
    expect(html).not.toMatch(/(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i);
    expect(html).not.toMatch(/<(script|link|img|iframe)\b/i);
  });

  test('renders in Chromium with one chart row per pod, the markers and the summary', async () => {
    // Arrange
    const file = join(mkdtempSync(join(tmpdir(), 'rehearsal-report-')), 'drain.html');
    writeFileSync(file, html);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const fetched: string[] = [];
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (!url.startsWith('file://')) fetched.push(url);
      return url.startsWith('file://') ? route.continue() : route.abort();
    });

    // Act
    await page.goto(`file://${file}`);

    // Assert
    const rows = page.locator('svg.timeline [data-pod-row]');
    expect(await rows.count()).toBe(result.pods.length);
    expect(await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-pod-row')))).toEqual(result.pods.map((p) => p.pod));
    const heights = await rows.evaluateAll((els) => els.map((e) => (e as unknown as { getBoundingClientRect(): { height: number } }).getBoundingClientRect().height));
    expect(heights.every((h) => h > 0)).toBe(true);
    for (const marker of ['heartbeat', 'deadline-acts', 'completed']) {
      expect(await page.locator(`svg.timeline [data-marker="${marker}"]`).count()).toBeGreaterThan(0);
    }
    // One force-deleted bar per pod the deadline policy deleted (a PDB never let them go).
    const forced = result.pods.filter((p) => p.forceDeletedAt !== undefined).length;
    expect(forced).toBeGreaterThan(0);
    expect(await page.locator('svg.timeline .seg-forced').count()).toBe(forced);
    expect(await page.locator('[data-verdict]').getAttribute('data-verdict')).toBe('passed');
    expect(await page.locator('table.summary').innerText()).toMatch(/estimated cost\s+\$0\.\d+/);
    expect(fetched).toEqual([]);
    await page.close();
  });
});
