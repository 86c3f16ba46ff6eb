/*
 * The dashboard with a time range, drawn in a real browser (issue 18 goal:
 * a 30-day range fully drawn in at most 1 s). Debian's /usr/bin/chromium,
 * headless, 1280x800, light; each round loads URL/?period=PERIOD in a new
 * tab and measures, from the start of the navigation (performance.now()),
 * until the page's first full refresh has drawn every panel (its
 * `refreshes` count reaches 1) and two animation frames have passed (the
 * charts are painted). The first round warms the server's caches and is
 * left out.
 *
 *   node bench_range.js URL [PERIOD=30d] [ROUNDS=10]
 *     -> one line: period=… rounds=… p50_ms=… max_ms=… requests=…
 */
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const URL = process.argv[2];
const PERIOD = process.argv[3] || '30d';
const ROUNDS = Number(process.argv[4] || 10);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

async function main() {
  if (!URL) {
    console.error('usage: node bench_range.js URL [PERIOD] [ROUNDS]');
    return 2;
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-bench-range-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    viewport: { width: 1280, height: 800 }, colorScheme: 'light',
  });
  const times = [];
  let requests = 0;
  try {
    for (let i = 0; i <= ROUNDS; i++) {
      const page = await ctx.newPage();
      let n = 0;
      page.on('request', (r) => { if (/\/api\//.test(r.url()) && !/\/api\/stream/.test(r.url())) n++; });
      await page.goto(URL + '/?period=' + encodeURIComponent(PERIOD), { waitUntil: 'domcontentloaded' });
      const ms = await page.evaluate(() => new Promise((resolve, reject) => {
        const t0 = performance.now();
        const frame = () => {
          const d = window.salesflowDashboard;
          if (d && d.refreshes >= 1) {
            requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now())));
          } else if (performance.now() - t0 > 30000) {
            reject(new Error('no full refresh within 30 s'));
          } else {
            requestAnimationFrame(frame);
          }
        };
        frame();
      }));
      const err = (await page.textContent('#error')).trim();
      if (err) throw new Error('the page reports: ' + err);
      if (i > 0) {
        times.push(ms);
        requests += n;
      }
      await page.close();
    }
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  times.sort((a, b) => a - b);
  const p50 = times[Math.floor((times.length - 1) / 2)];
  console.log('period=' + PERIOD + ' rounds=' + times.length + ' p50_ms=' + p50.toFixed(0) +
    ' max_ms=' + times[times.length - 1].toFixed(0) + ' requests=' + (requests / times.length).toFixed(1));
  return 0;
}

main().then((rc) => process.exit(rc), (e) => {
  console.error(e && e.stack || e);
  process.exit(1);
});
