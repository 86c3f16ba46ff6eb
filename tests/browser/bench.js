/*
 * Dashboard cost in a real browser, for bench/run: Debian's /usr/bin/chromium
 * (headless, 1280x800, light) on the dashboard at URL while something else
 * (bench/run: `salesflow gen --rate 1000`) loads the server. After a warm-up
 * it records SECONDS of a Chrome trace and reports, for the page's renderer
 * main thread:
 *   busy   share of wall time spent in tasks (sum of top-level RunTask
 *          durations / the window)
 *   p95    95th percentile of task durations (ms), and the max
 *   long   tasks of 50 ms or more
 *   draws  chart redraws (setOption calls) per second, all charts together
 *   cpu    the same from the thread's CPU time (trace "tdur"): what the
 *          page costs even when the machine is busy with other work and a
 *          task's wall time includes waiting for a core
 *
 *   node bench.js URL [SECONDS]   -> one line of key=value pairs
 *
 * Goals (issue 24): busy <= 30 %, p95 <= 50 ms at 1,000 orders/s.
 */
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const URL = process.argv[2];
const SECONDS = Number(process.argv[3] || 20);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-bench-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    viewport: { width: 1280, height: 800 }, colorScheme: 'light',
  });
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    await page.goto(URL + '/');
    await page.waitForFunction(() => window.salesflowDashboard && window.salesflowDashboard.live === 'live',
      null, { timeout: 60000 });
    await sleep(3000);    // warm-up: first draws, JIT
    const cdp = await ctx.newCDPSession(page);
    const chunks = [];
    cdp.on('Tracing.dataCollected', (e) => chunks.push(...e.value));
    const done = new Promise((r) => cdp.once('Tracing.tracingComplete', r));
    await cdp.send('Tracing.start', {
      categories: 'disabled-by-default-devtools.timeline,devtools.timeline,toplevel',
      transferMode: 'ReportEvents',
    });
    const t0 = Date.now();
    const draws0 = await page.evaluate(() => window.salesflowDashboard.draws || 0);
    await sleep(SECONDS * 1000);
    const draws = (await page.evaluate(() => window.salesflowDashboard.draws || 0)) - draws0;
    const wall = (Date.now() - t0) / 1000;
    await cdp.send('Tracing.end');
    await done;

    // The renderer main thread(s): thread_name CrRendererMain.
    const mains = new Set(chunks.filter((e) => e.ph === 'M' && e.name === 'thread_name' &&
      e.args && e.args.name === 'CrRendererMain').map((e) => e.pid + ':' + e.tid));
    const all = chunks.filter((e) => e.ph === 'X' && (e.name === 'RunTask' ||
      e.name === 'ThreadControllerImpl::RunTask') && mains.has(e.pid + ':' + e.tid));
    // Tasks that start within the recorded window (trace clock, µs).
    const start = Math.min(...all.map((e) => e.ts));
    // Top-level tasks only: a task inside another (nested run loop, or the
    // same task under both names) is part of its parent's time.
    all.sort((a, b) => a.ts - b.ts);
    const tasks = [];
    const cpu = [];
    let end = -Infinity;
    for (const e of all) {
      if (e.ts - start > wall * 1e6) break;
      if (e.ts < end) continue;
      tasks.push(e.dur / 1000);
      if (typeof e.tdur === 'number') cpu.push(e.tdur / 1000);
      end = e.ts + e.dur;
    }
    cpu.sort((a, b) => a - b);
    const cpuSum = cpu.reduce((a, b) => a + b, 0);
    const cpuP95 = cpu.length ? cpu[Math.min(cpu.length - 1, Math.floor(0.95 * cpu.length))] : NaN;
    // Only the busiest main thread (the dashboard's renderer).
    tasks.sort((a, b) => a - b);
    const sum = tasks.reduce((a, b) => a + b, 0);
    const p95 = tasks.length ? tasks[Math.min(tasks.length - 1, Math.floor(0.95 * tasks.length))] : 0;
    const max = tasks.length ? tasks[tasks.length - 1] : 0;
    const long = tasks.filter((d) => d >= 50).length;
    process.stdout.write(['busy_pct=' + (100 * sum / 1000 / wall).toFixed(1), 'p95_ms=' + p95.toFixed(1),
      'max_ms=' + max.toFixed(1), 'long=' + long,
      'cpu_pct=' + (cpu.length ? (100 * cpuSum / 1000 / wall).toFixed(1) : 'n/a'),
      'cpu_p95_ms=' + (cpu.length ? cpuP95.toFixed(1) : 'n/a'), 'tasks=' + tasks.length, 'seconds=' + wall.toFixed(1),
      'draws_per_s=' + (draws / wall).toFixed(1)].join(' ') + '\n');
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e && e.stack || e); process.exit(1); });
