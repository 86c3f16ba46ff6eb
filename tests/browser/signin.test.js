/*
 * The sign-in page in a real browser (Debian's chromium, headless, through
 * playwright-core), against `salesflow run --read-key … --api-key …` started
 * by tests/e2e/test_access_browser.py, which passes SALESFLOW_URL,
 * SALESFLOW_READ_KEY and SALESFLOW_INGEST_KEY.
 *
 * One run, in order: the dashboard URL shows the sign-in form; a wrong key
 * shows an error and sets no cookie; the read key brings the dashboard
 * back, whose live stream (EventSource, which sends the cookie by itself)
 * delivers a commit after an order is posted, and whose total follows it;
 * the cookie is invisible to the page's script (HttpOnly); signing out
 * makes /api/* refuse again. Prints "OK" or the error, exit 0 or 1.
 */
'use strict';

const http = require('http');
const os = require('os');
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const BASE = process.env.SALESFLOW_URL;
const READ_KEY = process.env.SALESFLOW_READ_KEY;
const INGEST_KEY = process.env.SALESFLOW_INGEST_KEY;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

function postOrder() {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ customer_id: 3, source: 'Dine In', quantity: 7 });
    const req = http.request(BASE + '/orderitem', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + INGEST_KEY },
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', reject);
    req.end(body);
  });
}

function check(cond, what) {
  if (!cond) throw new Error(what);
}

async function main() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sf-signin-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const errors = [];
  try {
    const page = ctx.pages()[0] || await ctx.newPage();
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error' && !/401/.test(m.text())) errors.push(m.text()); });

    let resp = await page.goto(BASE + '/?from=today');
    check(resp.status() === 401, 'the dashboard without a key answered ' + resp.status());
    check(await page.locator('form[action="/signin"] input[name="key"]').count() === 1,
      'no sign-in form');

    await page.fill('input[name="key"]', 'not-the-key');
    await Promise.all([page.waitForLoadState('load'), page.click('button[type="submit"]')]);
    check(/does not open/.test(await page.textContent('body')), 'no error for a wrong key');
    check((await ctx.cookies()).length === 0, 'a wrong key set a cookie');

    await page.fill('input[name="key"]', READ_KEY);
    await Promise.all([page.waitForURL(BASE + '/?from=today'), page.click('button[type="submit"]')]);
    await page.waitForSelector('#total-sales');
    const cookies = await ctx.cookies();
    check(cookies.length === 1 && cookies[0].httpOnly && cookies[0].sameSite === 'Strict',
      'cookie: ' + JSON.stringify(cookies.map((c) => [c.name, c.httpOnly, c.sameSite])));
    check(await page.evaluate(() => document.cookie) === '', 'the page script sees the cookie');
    check(await page.evaluate(async () => (await fetch('/api/sales')).status) === 200,
      'fetch /api/sales with the session');

    // The live stream, on the session's cookie alone.
    await page.evaluate(() => {
      window.__commits = 0;
      window.__es = new EventSource('/api/stream');
      window.__es.addEventListener('commit', () => { window.__commits++; });
      window.__es.onopen = () => { window.__open = true; };
    });
    await page.waitForFunction(() => window.__open === true, null, { timeout: 10000 });
    check(await postOrder() === 201, 'posting an order failed');
    await page.waitForFunction(() => window.__commits > 0, null, { timeout: 10000 });
    await page.waitForFunction(() => /2,?100/.test(document.getElementById('total-sales').textContent),
      null, { timeout: 10000 });
    await page.evaluate(() => window.__es.close());

    // Sign out: the session ends.
    await page.goto(BASE + '/signout');
    await Promise.all([page.waitForURL(BASE + '/signin'), page.click('button[type="submit"]')]);
    // (the sign-in page's own CSP forbids fetch: ask through the context,
    // which holds the same cookies)
    check((await ctx.request.get(BASE + '/api/sales')).status() === 401,
      '/api/sales after sign-out');
    check((await ctx.cookies()).length === 0, 'the cookie outlived sign-out');
    check(errors.length === 0, 'page errors: ' + errors.join(' | '));
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().then(() => { console.log('OK'); process.exit(0); },
  (e) => { console.log('FAILED ' + (e && e.stack || e)); process.exit(1); });
