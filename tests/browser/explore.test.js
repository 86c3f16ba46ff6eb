/*
 * Real-browser tests of issue 18's front end: the dashboard's time range
 * and the Explore page (/explore). Debian's /usr/bin/chromium, headless,
 * driven by playwright-core; no browser is downloaded.
 *
 * Run by tests/e2e/test_explore_browser.py, which starts `salesflow run`
 * on a fresh data directory and passes SALESFLOW_URL and
 * SALESFLOW_ARTIFACTS. The browser runs in Asia/Kolkata (UTC+05:30), the
 * server in the machine's zone, so "today" is the viewer's day and not
 * the server's; a shared link is opened again in America/New_York.
 *
 * Output: one line per case, "RESULT {json}" with name, ok, ms and error.
 * Exit status 0 iff all passed.
 */
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const BASE = process.env.SALESFLOW_URL;
const ARTIFACTS = process.env.SALESFLOW_ARTIFACTS || path.join(os.tmpdir(), 'salesflow-browser');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TZ = 'Asia/Kolkata';
const TZ_OFFSET_MS = 330 * 60000;      // +05:30, no daylight saving
const TZ2 = 'America/New_York';
const MIN = 60000;
const DAY = 86400000;
const LIVE_MS = 1000;                  // the issue: live updates within a second
const PRICE_CENTS = 30000;
const STATES = {1: 'CA', 2: 'CA', 3: 'CA', 4: 'TX', 5: 'TX', 6: 'NY', 7: 'NY', 8: 'NY',
  9: 'KS', 10: 'KS', 11: 'KS', 12: 'KS', 13: 'KY', 14: 'KY', 15: 'KY', 16: 'KY', 17: 'KY'};

if (!BASE) {
  console.error('SALESFLOW_URL is not set');
  process.exit(2);
}

/* ---------- helpers ---------- */

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

async function apiText(pathname) {
  const res = await fetch(BASE + pathname, { cache: 'no-store' });
  const text = await res.text();
  if (!res.ok) throw new Error(pathname + ': HTTP ' + res.status + ' ' + text);
  return text;
}
async function api(pathname) { return JSON.parse(await apiText(pathname)); }

async function postOrders(orders) {
  const res = await fetch(BASE + '/v1/orders', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(orders),
  });
  const body = await res.json();
  if (res.status !== 201) throw new Error('POST /v1/orders: ' + res.status + ' ' + JSON.stringify(body));
  return body;
}

function cents(v) { return Math.round(Number(v) * 100); }
function money(c) {
  const whole = Math.floor(c / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return '$' + whole + '.' + String(c % 100).padStart(2, '0');
}
function orderCents(list) { return list.reduce((a, o) => a + o.quantity * PRICE_CENTS, 0); }

async function waitFor(what, fn, timeoutMs, stepMs = 50) {
  const t0 = Date.now();
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last === true) return Date.now() - t0;
    } catch (e) {
      last = e.message;
    }
    if (Date.now() - t0 > timeoutMs) {
      throw new Error(what + ': not within ' + timeoutMs + ' ms (last: ' + JSON.stringify(last) + ')');
    }
    await sleep(stepMs);
  }
}

function assert(cond, msg) { if (!cond) throw new Error(msg); }
function assertEq(a, b, msg) {
  if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(msg + ': ' + JSON.stringify(a) + ' != ' + JSON.stringify(b));
}

function pad2(n) { return String(n).padStart(2, '0'); }
// ms as RFC 3339 in Kolkata time: "2026-12-07T00:00:00+05:30".
function isoKolkata(ms) { return new Date(ms + TZ_OFFSET_MS).toISOString().slice(0, 19) + '+05:30'; }
// ms as a datetime-local value in Kolkata time.
function inputKolkata(ms) { return new Date(ms + TZ_OFFSET_MS).toISOString().slice(0, 16); }
// Today's midnight in Kolkata, as an instant.
function kolkataMidnight(now) { return Math.floor((now + TZ_OFFSET_MS) / DAY) * DAY - TZ_OFFSET_MS; }

async function bigNumber(page) { return (await page.textContent('#total-sales')).trim(); }
async function live(page) {
  await waitFor('live', async () => (await page.getAttribute('#live-status', 'data-state')) === 'live', 15000);
}

async function pickFilter(page, kind, value) {
  await page.click('#menu-' + kind + ' summary');
  const box = page.locator('#menu-' + kind + ' input[type=checkbox][value="' + value + '"]');
  if (!(await box.isChecked())) await box.click();
  if (await page.evaluate((k) => document.getElementById('menu-' + k).open, kind)) {
    await page.click('#menu-' + kind + ' summary');
  }
}

// The saved charts on the dashboard: name -> { sum (cents, over every
// series), n } from their ECharts options.
async function savedOnDashboard(page) {
  return page.evaluate(() => {
    const out = {};
    for (const s of window.salesflowDashboard.saved.values()) {
      let sum = 0;
      let points = 0;
      if (s.chart) {
        for (const ser of s.chart.getOption().series || []) {
          for (const p of ser.data) {
            const v = p && typeof p === 'object' ? p.value : p;
            if (v !== null && v !== undefined) { sum += Math.round(Number(v) * 100); points++; }
          }
        }
      }
      out[s.name] = { sum, points, card: s.card.id };
    }
    return out;
  });
}

// The explore table as text rows.
async function exploreTable(page) {
  return page.$$eval('#explore-table tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent.trim())));
}

/* ---------- the cases ---------- */

const results = [];
async function runCase(name, fn) {
  if (process.env.ONLY && !new RegExp(process.env.ONLY).test(name)) return;
  const t0 = Date.now();
  try {
    await fn();
    results.push({ name, ok: true, ms: Date.now() - t0 });
  } catch (e) {
    results.push({ name, ok: false, ms: Date.now() - t0, error: String(e && e.stack || e) });
  }
  process.stdout.write('RESULT ' + JSON.stringify(results[results.length - 1]) + '\n');
}

async function main() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const ctx = await browser.newContext({ timezoneId: TZ, viewport: { width: 1280, height: 800 },
    colorScheme: 'light', acceptDownloads: true });
  const pageErrors = [];
  const watch = (p) => {
    p.on('pageerror', (e) => pageErrors.push(e.message + ' @ ' + (e.stack || '').split('\n').slice(0, 4).join(' | ')));
    // Both pages run under their Content-Security-Policy.
    p.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) pageErrors.push(m.text()); });
  };
  const page = await ctx.newPage();
  watch(page);
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));

  // Orders around the viewer's midnight: one before (yesterday there),
  // one after, and one now.
  const now = Date.now();
  const midnight = kolkataMidnight(now);
  const before = { customer_id: 4, source: 'Takeaway', quantity: 3, created_at: new Date(midnight - 30 * MIN).toISOString() };
  const after = { customer_id: 13, source: 'Dine In', quantity: 5, created_at: new Date(Math.min(midnight + MIN, now - 1000)).toISOString() };
  const nowOrder = { customer_id: 1, source: 'Home Delivery', quantity: 2, created_at: new Date(now).toISOString() };
  const posted = [before, after, nowOrder];

  try {
    await runCase('today_total_equals_api_in_the_viewers_time_zone', async () => {
      await postOrders(posted);
      await page.goto(BASE + '/');
      await live(page);
      await waitFor('all-time total', async () => (await bigNumber(page)) === money(orderCents(posted)), 5000);
      requests.length = 0;
      await page.selectOption('#period', 'today');
      await waitFor('today in the URL', async () => page.url().includes('period=today') || page.url(), 2000);
      const want = orderCents([after, nowOrder]);
      const q = 'from=' + encodeURIComponent(isoKolkata(midnight)) + '&to=' + encodeURIComponent(isoKolkata(midnight + DAY));
      const sales = await api('/api/sales?' + q);
      assertEq(cents(sales.total_sum_amount), want, 'the API for the viewer\'s today vs the orders posted');
      await waitFor('Total Sales shows today', async () => (await bigNumber(page)) === money(want) || await bigNumber(page), 3000);
      // The page asked with the viewer's own midnight and offset.
      assert(requests.some((u) => u.includes('/api/sales?') && u.includes(q)),
        'no /api/sales request with ' + q + ' in ' + JSON.stringify(requests.filter((u) => /api\/sales\?/.test(u)).slice(0, 3)));
      assert(/Today/.test(await page.textContent('#range-text')), 'the range is named');
      // Every panel follows: the pie and the tables hold today's orders only.
      const pie = await page.evaluate(() => {
        const s = window.salesflowDashboard.charts['chart-source-pie'].getOption().series[0];
        return Object.fromEntries(s.data.map((d) => [d.name, Math.round(d.value * 100)]).filter((x) => x[1] > 0));
      });
      assertEq(pie, { 'Dine In': 5 * PRICE_CENTS, 'Home Delivery': 2 * PRICE_CENTS }, 'pie for today');
      await waitFor('latest orders for today', async () => {
        const n = await page.$$eval('#table-orders tbody tr', (t) => t.length);
        return n === 2 || n;
      }, 3000);
      await waitFor('revenue chart for today', async () => {
        const s = await page.evaluate(() => {
          let sum = 0;
          for (const ser of window.salesflowDashboard.charts['chart-revenue-minute'].getOption().series || []) {
            if (!ser) continue;   // a series replaceMerge removed (a source gone) stays as a null
            for (const p of ser.data) sum += Math.round((p && typeof p === 'object' ? p.value : p) * 100);
          }
          return sum;
        });
        return s === want || s;
      }, 3000);
      assert(await page.isHidden('#range-picker'), 'the chart\'s own window picker is hidden with a range');
      await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-today-1280x800.png') });
    });

    await runCase('seven_days_buckets_split_at_the_viewers_midnight', async () => {
      // Kolkata is 5:30 from UTC: the UTC hour 18:00-19:00 holds the
      // orders of the half hour before its midnight and of the half hour
      // after. The 3-hour buckets of "last 7 days" must split it there.
      // Over 8 days the buckets are local days (asked as days of +05:30).
      for (const [period, step, asked] of [['7d', 3 * 3600000, 'by=hour,source&from=&tz=%2B00%3A30'],
        ['30d', DAY, 'by=day,source&from=&tz=%2B05%3A30']]) {
      requests.length = 0;
      await page.selectOption('#period', period);
      await waitFor(period + ' in the URL', async () => page.url().includes('period=' + period), 2000);
      const edges = [midnight - step, midnight, midnight + step];
      const want = [];
      for (let i = 0; i < 2; i++) {
        const s = await api('/api/sales?from=' + encodeURIComponent(isoKolkata(edges[i])) +
          '&to=' + encodeURIComponent(isoKolkata(edges[i + 1])));
        want.push(cents(s.total_sum_amount));
      }
      assert(want[0] > 0 && want[1] > 0, 'orders on both sides of midnight: ' + want);
      await waitFor(period + ': the buckets before and after midnight', async () => {
        const got = await page.evaluate((keys) => {
          const o = window.salesflowDashboard.charts['chart-revenue-minute'].getOption();
          const xs = o.xAxis[0].data.map(String);
          return keys.map((k) => {
            const i = xs.indexOf(String(k));
            if (i < 0) return 'no bucket at ' + new Date(k).toISOString();
            let sum = 0;
            for (const ser of o.series) {
              const p = ser.data[i];
              sum += Math.round(((p && typeof p === 'object' ? p.value : p) || 0) * 100);
            }
            return sum;
          });
        }, [edges[0], edges[1]]);
        return JSON.stringify(got) === JSON.stringify(want) || got;
      }, 5000);
      const [by, , tz] = asked.split('&');
      assert(requests.some((u) => u.includes('/api/query?metric=revenue&' + by + '&') && u.includes(tz)),
        period + ': no request with ' + by + ' and ' + tz + ' in ' + JSON.stringify(requests.filter((u) => /api\/query/.test(u))));
      }
      await page.selectOption('#period', 'today');
      await waitFor('today in the URL', async () => page.url().includes('period=today'), 2000);
      const sales = await api('/api/sales?' + Q_bounds('today'));
      await waitFor('today again', async () => (await bigNumber(page)) === money(cents(sales.total_sum_amount)) ||
        await bigNumber(page), 3000);
    });

    await runCase('long_saved_chart_name_does_not_widen_the_dashboard', async () => {
      const res = await fetch(BASE + '/api/charts', { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: 'W'.repeat(200), definition: { metric: 'orders', type: 'number' } }) });
      const reply = await res.text();
      assert(res.status === 201, 'saved: ' + res.status + ' ' + reply);
      const id = JSON.parse(reply).id;
      try {
        for (const width of [1280, 390]) {
          await page.setViewportSize({ width, height: 800 });
          await waitFor('the chart shown', async () => page.evaluate(() => [...document.querySelectorAll('.saved-card h2')]
            .some((x) => x.textContent.includes('WWWW'))), 5000);
          const m = await page.evaluate(() => {
            const h = [...document.querySelectorAll('.saved-card h2')].find((x) => x.textContent.includes('WWWW'));
            const card = h.closest('.saved-card');
            return { doc: document.documentElement.scrollWidth, win: window.innerWidth,
              card: card.getBoundingClientRect().width, cardScroll: card.scrollWidth, cardClient: card.clientWidth,
              grid: card.parentElement.getBoundingClientRect().width };
          });
          assert(m.doc <= m.win && m.cardScroll <= m.cardClient && m.card <= m.grid,
            'at ' + width + ' px the long name widens the page: ' + JSON.stringify(m));
        }
      } finally {
        await page.setViewportSize({ width: 1280, height: 800 });
        await fetch(BASE + '/api/charts/' + id, { method: 'DELETE' });
      }
      await waitFor('removed', async () => (await page.$$('.saved-card')).length === 1 || (await page.$$('.saved-card')).length, 5000);
    });

    await runCase('damaged_saved_definition_shown_removable_page_loads', async () => {
      // The runner stored a chart whose definition does not validate.
      await waitFor('the damaged chart says so', async () => {
        const t = await page.$$eval('.saved-card', (cs) => cs.map((c) => c.textContent));
        return (t.length === 1 && /Damaged chart/.test(t[0]) && /cannot be shown/.test(t[0]) && /unknown metric/.test(t[0])) || t;
      }, 3000);
      assert(await page.isHidden('#error'), 'no error banner: ' + await page.textContent('#error'));
      const sales = await api('/api/sales?' + Q_bounds('today'));
      assertEq(await bigNumber(page), money(cents(sales.total_sum_amount)), 'the dashboard loaded around it');
      const card = await page.$eval('.saved-card', (c) => c.id);
      await page.click('#' + card + ' .tool.remove');
      await page.click('#' + card + ' .tool.remove');
      await waitFor('removed', async () => !(await page.$('#' + card)), 3000);
      const list = await api('/api/charts');
      assertEq(list.charts.length, 0, 'charts left');
    });

    await runCase('live_updates_within_1s_with_a_range', async () => {
      for (const period of ['today', '15m']) {
        await page.selectOption('#period', period);
        await waitFor(period + ' in the URL', async () => page.url().includes('period=' + period), 2000);
        await sleep(700);
        // The best of three: a busy machine may stall one round.
        let best = Infinity;
        const tries = [];
        for (let i = 0; i < 3 && best > LIVE_MS; i++) {
          const o = { customer_id: 2 + i, source: 'Takeaway', quantity: 1 + i };
          const shown = await bigNumber(page);
          await postOrders([o]);
          const t0 = Date.now();
          posted.push(o);
          await waitFor('total changes', async () => (await bigNumber(page)) !== shown, 5000, 10);
          const took = Date.now() - t0;
          tries.push(took);
          best = Math.min(best, took);
          const b = Q_bounds(period);
          const sales = await api('/api/sales?' + b);
          await waitFor('total equals the API', async () => (await bigNumber(page)) === money(cents(sales.total_sum_amount)), 2000);
          await sleep(600);
        }
        assert(best <= LIVE_MS, period + ': updates took ' + JSON.stringify(tries) + ' ms (limit ' + LIVE_MS + ')');
      }
    });

    await runCase('custom_range_and_shared_url_restore_the_view', async () => {
      await page.selectOption('#period', 'custom');
      assert(await page.isVisible('#range-from'), 'custom fields shown');
      await page.fill('#range-from', inputKolkata(midnight - 60 * MIN));
      await page.fill('#range-to', inputKolkata(midnight + 30 * MIN));
      await page.click('#range-apply');
      // The API's answer for the range: in the first half hour after the
      // viewer's midnight it also holds the orders posted "now" (here and by
      // the cases before), so it is asked rather than assumed.
      const rq = 'from=' + encodeURIComponent(isoKolkata(midnight - 60 * MIN)) + '&to=' +
        encodeURIComponent(isoKolkata(midnight + 30 * MIN));
      const want = cents((await api('/api/sales?' + rq)).total_sum_amount);
      const wantTakeaway = cents((await api('/api/sales?' + rq + '&source=Takeaway')).total_sum_amount);
      assert(want >= orderCents([before, after]), 'the range holds the orders around midnight');
      assert(wantTakeaway >= orderCents([before]), 'the range holds the Takeaway order before midnight');
      await waitFor('custom total', async () => (await bigNumber(page)) === money(want) || await bigNumber(page), 3000);
      const url = new URL(page.url());
      assertEq(url.searchParams.get('from'), isoKolkata(midnight - 60 * MIN), 'from in the URL, with the offset');
      assertEq(url.searchParams.get('to'), isoKolkata(midnight + 30 * MIN), 'to in the URL, with the offset');
      // A bad range is refused in words, and changes nothing.
      await page.fill('#range-to', inputKolkata(midnight - 2 * 60 * MIN));
      await page.click('#range-apply');
      assert(/before/.test(await page.textContent('#range-error')), 'from after to is refused');
      assertEq(new URL(page.url()).searchParams.get('to'), isoKolkata(midnight + 30 * MIN), 'URL kept');
      await pickFilter(page, 'source', 'Takeaway');
      await waitFor('filtered custom total', async () => (await bigNumber(page)) === money(wantTakeaway), 3000);
      const shared = page.url();
      // The link in another browser, in another time zone: the same instants.
      const ctx2 = await browser.newContext({ timezoneId: TZ2, viewport: { width: 1280, height: 800 } });
      try {
        const p2 = await ctx2.newPage();
        watch(p2);
        await p2.goto(shared);
        await live(p2);
        await waitFor('same total from the link', async () => (await bigNumber(p2)) === money(wantTakeaway) ||
          await bigNumber(p2), 3000);
        assertEq(await p2.inputValue('#period'), 'custom', 'period select');
        const fromNy = await p2.evaluate((ms) => {
          const d = new Date(ms);
          const p = (n) => String(n).padStart(2, '0');
          return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes());
        }, midnight - 60 * MIN);
        assertEq(await p2.inputValue('#range-from'), fromNy, 'from shown in the viewer\'s time');
        assertEq(await p2.$$eval('#filter-chips .chip', (c) => c.map((x) => x.dataset.value)), ['Takeaway'], 'filter chip');
        // An Explore link restores its question too.
        await p2.goto(BASE + '/explore?metric=orders&by=state,source&chart=pie&period=today');
        await waitFor('explore form from the link', async () => {
          const f = await p2.evaluate(() => ({
            metric: document.getElementById('metric').value,
            by1: document.getElementById('by1').value, by2: document.getElementById('by2').value,
            chart: (document.querySelector('#chart-type input:checked') || {}).value,
            period: document.getElementById('period').value,
          }));
          return JSON.stringify(f) === JSON.stringify({ metric: 'orders', by1: 'state', by2: 'source', chart: 'pie', period: 'today' }) || f;
        }, 3000);
      } finally {
        await ctx2.close();
      }
      await page.click('#filter-clear');
      await page.selectOption('#period', 'all');
      await waitFor('back to all time', async () => !/period=|from=/.test(page.url()), 2000);
    });

    await runCase('explore_chart_and_table_equal_the_api', async () => {
      await page.click('#explore-link');
      await waitFor('explore page', async () => new URL(page.url()).pathname === '/explore', 5000);
      await live(page);
      // The default question: revenue by source, as bars.
      const json = await api('/api/query?metric=revenue&by=source');
      await waitFor('table equals the API', async () => {
        const t = await exploreTable(page);
        const want = json.rows.map((r) => [r[0], money(cents(r[1]))]).sort();
        return JSON.stringify(t.slice(1).sort()) === JSON.stringify(want) || t;
      }, 3000);
      // Another question through the form.
      await page.selectOption('#metric', 'quantity');
      await page.selectOption('#by1', 'state');
      await page.check('#chart-type input[value="line"]');
      await waitFor('URL holds the question', async () => /metric=quantity&by=state&chart=line/.test(page.url()) || page.url(), 2000);
      const q = await api('/api/query?metric=quantity&by=state');
      const want = Object.fromEntries(q.rows.map((r) => [r[0], Number(r[1])]));
      await waitFor('line chart equals the API', async () => {
        const got = await page.evaluate(() => {
          const o = window.salesflowExplore.chart.getOption();
          const out = {};
          o.xAxis[0].data.forEach((k, i) => { if (o.series[0].data[i]) out[k] = o.series[0].data[i]; });
          return out;
        });
        return JSON.stringify(got) === JSON.stringify(want) || got;
      }, 3000);
      await page.check('#chart-type input[value="number"]');
      const total = q.rows.reduce((a, r) => a + Number(r[1]), 0);
      await waitFor('big number', async () => (await page.textContent('#explore-number')).trim() === String(total), 3000);
      await page.screenshot({ path: path.join(ARTIFACTS, 'explore-1280x800.png'), fullPage: true });
    });

    await runCase('explore_days_are_the_viewers_days', async () => {
      // On the Explore page the case before left (a navigation more would
      // hold one more of the 8 streams a client may have a while).
      assert(new URL(page.url()).pathname === '/explore', 'on Explore: ' + page.url());
      await page.selectOption('#metric', 'orders');
      await page.selectOption('#by2', '');
      await page.selectOption('#by1', 'day');
      await page.check('#chart-type input[value=table]');
      await page.selectOption('#period', '7d');
      const today = await api('/api/sales?from=' + encodeURIComponent(isoKolkata(midnight)) +
        '&to=' + encodeURIComponent(isoKolkata(midnight + DAY)));
      const yesterday = await api('/api/sales?from=' + encodeURIComponent(isoKolkata(midnight - DAY)) +
        '&to=' + encodeURIComponent(isoKolkata(midnight)));
      const name = (ms) => new Date(ms + TZ_OFFSET_MS).toUTCString().slice(8, 11) + ' ' + new Date(ms + TZ_OFFSET_MS).getUTCDate();
      await waitFor('the table holds the viewer\'s days', async () => {
        const rows = (await exploreTable(page)).slice(1);
        const by = Object.fromEntries(rows.map((r) => [r[0], Number(r[1].replace(/,/g, ''))]));
        const want = { [name(midnight)]: today.order_count };
        if (yesterday.order_count) want[name(midnight - DAY)] = yesterday.order_count;
        const ok = Object.keys(want).every((k) => by[k] === want[k]) && rows.every((r) => /^[A-Z][a-z]{2} \d+$/.test(r[0]));
        return ok || JSON.stringify({ rows, want });
      }, 5000);
    });

    await runCase('explore_csv_download_equals_json', async () => {
      await page.goto(BASE + '/explore?metric=revenue&by=source,state&chart=table');
      await waitFor('table', async () => (await exploreTable(page)).length > 1, 3000);
      const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
      const csv = fs.readFileSync(await dl.path(), 'utf8').trim().split(/\r?\n/).map((l) => l.split(','));
      const json = await api('/api/query?metric=revenue&by=source,state');
      assertEq(csv[0], json.columns, 'CSV header vs JSON columns');
      const norm = (r) => r.map((v, i) => (i === r.length - 1 ? String(cents(v)) : String(v)));
      assertEq(csv.slice(1).map(norm).sort(), json.rows.map(norm).sort(), 'CSV rows vs JSON rows');
      assertEq(csv.length - 1, (await exploreTable(page)).length - 1, 'CSV rows vs the table on the page');
    });

    const NAME = 'Revenue by source (browser test)';
    await runCase('explore_add_to_dashboard_reload_live_remove', async () => {
      await page.goto(BASE + '/explore?metric=revenue&by=source&chart=bar');
      await waitFor('chart', async () => page.evaluate(() => Boolean(window.salesflowExplore.chart)), 3000);
      await page.fill('#save-name', NAME);
      await page.click('#save');
      await waitFor('saved', async () => /Added/.test(await page.textContent('#save-status')) || await page.textContent('#save-status'), 3000);
      const list = await api('/api/charts');
      const charts = Array.isArray(list) ? list : list.charts;
      assert(charts.some((c) => c.name === NAME), 'the server lists the chart: ' + JSON.stringify(list));
      await page.click('#dashboard-link');
      await live(page);
      const total = async () => cents((await api('/api/sales')).total_sum_amount);
      await waitFor('saved chart on the dashboard', async () => {
        const s = await savedOnDashboard(page);
        return (s[NAME] && s[NAME].sum === await total()) || s;
      }, 3000);
      await page.reload();
      await live(page);
      await waitFor('still there after a reload', async () => {
        const s = await savedOnDashboard(page);
        return (s[NAME] && s[NAME].sum === await total()) || s;
      }, 3000);
      // Live: new orders reach the saved chart without a reload.
      await page.evaluate(() => { window.__same = true; });
      const more = [{ customer_id: 7, source: 'Dine In', quantity: 4 }, { customer_id: 9, source: 'Takeaway', quantity: 6 }];
      const t0 = Date.now();
      await postOrders(more);
      const want = await total();
      await waitFor('saved chart updates', async () => {
        const s = await savedOnDashboard(page);
        return s[NAME].sum === want || s[NAME];
      }, 3000, 25);
      assert(Date.now() - t0 <= 2000, 'the saved chart took ' + (Date.now() - t0) + ' ms');
      assert(await page.evaluate(() => window.__same === true), 'the page was reloaded');
      await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-saved-chart-1280.png'), fullPage: true });
      // The dashboard's time range and filters apply to saved charts too.
      await page.selectOption('#period', 'today');
      const q = 'from=' + encodeURIComponent(isoKolkata(midnight)) + '&to=' + encodeURIComponent(isoKolkata(midnight + DAY));
      const today = cents((await api('/api/sales?' + q)).total_sum_amount);
      assert(today !== want, 'orders outside today exist (' + today + ' vs ' + want + ')');
      await waitFor('saved chart for today', async () => (await savedOnDashboard(page))[NAME].sum === today ||
        (await savedOnDashboard(page))[NAME], 3000);
      await pickFilter(page, 'source', 'Takeaway');
      const tk = cents((await api('/api/sales?source=Takeaway&' + q)).total_sum_amount);
      await waitFor('saved chart for today and Takeaway', async () => (await savedOnDashboard(page))[NAME].sum === tk ||
        (await savedOnDashboard(page))[NAME], 3000);
      // Its CSV: the API's, for what the card shows.
      const card0 = (await savedOnDashboard(page))[NAME].card;
      const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#' + card0 + ' a.tool[download]')]);
      const lines = fs.readFileSync(await dl.path(), 'utf8').trim().split(/\r?\n/).map((l) => l.split(','));
      assertEq(lines[0], ['source', 'revenue'], 'saved chart CSV header');
      assertEq(lines.slice(1).reduce((a, l) => a + cents(l[1]), 0), tk, 'saved chart CSV sum');
      await page.click('#filter-clear');
      await page.selectOption('#period', 'all');
      // Remove it: asked once, removed on the second click.
      const card = (await savedOnDashboard(page))[NAME].card;
      await page.click('#' + card + ' .tool.remove');
      assert(await page.isVisible('#' + card), 'one click only asks');
      await page.click('#' + card + ' .tool.remove');
      await waitFor('card gone', async () => !(await page.$('#' + card)), 3000);
      const after = await api('/api/charts');
      assert(!(Array.isArray(after) ? after : after.charts).some((c) => c.name === NAME), 'still listed: ' + JSON.stringify(after));
      await page.reload();
      await live(page);
      await sleep(500);
      assertEq(Object.keys(await savedOnDashboard(page)), [], 'saved charts after removing and reloading');
    });

    await runCase('explore_accessibility_axe_and_named_controls', async () => {
      const axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
      await page.goto(BASE + '/explore?metric=revenue&by=source&chart=bar&period=custom&from=' +
        encodeURIComponent(isoKolkata(midnight)));
      await live(page);
      await page.evaluate(axeSource);
      for (const [w, h, scheme] of [[1280, 800, 'light'], [1280, 800, 'dark'], [390, 844, 'light'], [390, 844, 'dark']]) {
        await page.setViewportSize({ width: w, height: h });
        await page.emulateMedia({ colorScheme: scheme });
        await sleep(300);
        const res = await page.evaluate(() => window.axe.run({ exclude: [['.chart']] }, { resultTypes: ['violations'],
          runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } }));
        const bad = res.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
          .map((v) => v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; '));
        assertEq(bad, [], w + 'x' + h + ' ' + scheme + ': axe serious/critical violations');
        const unnamed = await page.evaluate(() => [...document.querySelectorAll('button, select, input, a')]
          .filter((e) => e.offsetParent !== null && !(e.getAttribute('aria-label') || e.textContent.trim() ||
            (e.labels && e.labels.length) || e.closest('label')))
          .map((e) => e.outerHTML.slice(0, 80)));
        assertEq(unnamed, [], 'unnamed controls at ' + w + ' ' + scheme);
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert(overflow <= 0, w + ': the page scrolls sideways by ' + overflow + ' px');
      }
      // The keyboard reaches the form and the chart types.
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.emulateMedia({ colorScheme: 'light' });
      await page.focus('#metric');
      await page.keyboard.press('ArrowDown');
      await waitFor('metric changed from the keyboard', async () => /metric=orders/.test(page.url()) || page.url(), 2000);
      await page.screenshot({ path: path.join(ARTIFACTS, 'explore-keyboard-1280.png') });
    });

    await runCase('no_script_errors', async () => {
      assertEq(pageErrors, [], 'uncaught errors or CSP violations in the pages');
    });
  } finally {
    await browser.close();
  }
  return results.every((r) => r.ok) ? 0 : 1;

  // The API's range for a preset, as the test computes it.
  function Q_bounds(period) {
    const t = Date.now();
    if (period === 'today') {
      const m = kolkataMidnight(t);
      return 'from=' + encodeURIComponent(isoKolkata(m)) + '&to=' + encodeURIComponent(isoKolkata(m + DAY));
    }
    return 'from=' + encodeURIComponent(isoKolkata(t - 15 * MIN));
  }
}

main().then((rc) => process.exit(rc), (e) => {
  console.error(e && e.stack || e);
  process.exit(2);
});
