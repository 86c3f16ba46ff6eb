/*
 * salesflow dashboard logic.
 *
 * Polls GET /api/sales every POLL_MS (5 s) and redraws the five panels of the
 * original Superset dashboard from the `sales` aggregate rows:
 *   1. Total Sales big number (+ order count, quantity)   #total-sales
 *   2. Source by Amount, pie                               #chart-source-pie
 *   3. State by Amount stacked by Source, bar              #chart-state-stacked
 *   4. Top Source/State by Amount, table                   #table-top
 *   5. Source/State by Amount, one bar per pair            #chart-pair-bar
 *
 * Money arrives as JSON numbers with two decimals; it is turned into integer
 * cents at once so that sums here never add floats, and formatted back as
 * "1,234.56". A failed poll shows the #error banner and keeps the last data
 * on screen; the next successful poll hides it. Plain browser JS, no build.
 */
(function () {
  'use strict';

  const API_URL = '/api/sales';
  const POLL_MS = 5000;          // refresh period (the original refreshed every 10 s)
  const FETCH_TIMEOUT_MS = 4000; // a poll that takes longer counts as failed

  // Fixed colours so a source looks the same in every chart.
  const SOURCE_ORDER = ['Dine In', 'Takeaway', 'Home Delivery'];
  const SOURCE_COLORS = {
    'Dine In': '#5470c6',
    'Takeaway': '#91cc75',
    'Home Delivery': '#fac858',
  };
  const EXTRA_COLORS = ['#ee6666', '#73c0de', '#3ba272', '#fc8452', '#9a60b4', '#ea7ccc'];

  const $ = (id) => document.getElementById(id);

  /* ---------- formatting ---------- */

  function toCents(value) {
    const n = Number(value);
    return Number.isFinite(n) ? Math.round(n * 100) : 0;
  }

  function groupThousands(digits) {
    return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  }

  // 210000 -> "2,100.00"
  function formatCents(cents) {
    const abs = Math.abs(cents);
    const whole = Math.floor(abs / 100);
    const frac = String(abs % 100).padStart(2, '0');
    return (cents < 0 ? '-' : '') + groupThousands(String(whole)) + '.' + frac;
  }

  function formatMoney(amount) {
    return formatCents(toCents(amount));
  }

  function formatInt(value) {
    const n = Math.round(Number(value) || 0);
    return (n < 0 ? '-' : '') + groupThousands(String(Math.abs(n)));
  }

  const compactFormat = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

  function pad2(n) {
    return String(n).padStart(2, '0');
  }

  // Local time as "YYYY-MM-DD HH:MM:SS".
  function formatTime(date) {
    return date.getFullYear() + '-' + pad2(date.getMonth() + 1) + '-' + pad2(date.getDate()) +
      ' ' + pad2(date.getHours()) + ':' + pad2(date.getMinutes()) + ':' + pad2(date.getSeconds());
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({
      '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
    })[c]);
  }

  /* ---------- data ---------- */

  // Turns the /api/sales payload into the shape the panels need.
  function normalize(payload) {
    if (!payload || !Array.isArray(payload.rows)) {
      throw new Error('unexpected response from ' + API_URL + ' (no "rows" array)');
    }
    const rows = payload.rows.map((r) => ({
      source: String(r.source ?? ''),
      state: String(r.state ?? ''),
      cents: toCents(r.total_sum_amount),
      orders: Number(r.order_count) || 0,
      quantity: Number(r.quantity) || 0,
      updatedAt: r.updated_at ? String(r.updated_at) : '',
    }));
    rows.sort((a, b) => b.cents - a.cents ||
      a.source.localeCompare(b.source) || a.state.localeCompare(b.state));

    const sum = (pick) => rows.reduce((acc, r) => acc + pick(r), 0);

    const present = new Set(rows.map((r) => r.source));
    const sources = SOURCE_ORDER.filter((s) => present.has(s))
      .concat([...present].filter((s) => !SOURCE_ORDER.includes(s)).sort());

    const stateCents = new Map();
    for (const r of rows) stateCents.set(r.state, (stateCents.get(r.state) || 0) + r.cents);
    const states = [...stateCents.keys()].sort((a, b) =>
      stateCents.get(b) - stateCents.get(a) || a.localeCompare(b));

    let latest = null;
    let latestText = '';
    for (const r of rows) {
      const t = Date.parse(r.updatedAt);
      if (!Number.isNaN(t) && (latest === null || t > latest)) {
        latest = t;
        latestText = r.updatedAt;
      }
    }

    return {
      rows,
      sources,
      states,
      totalCents: payload.total_sum_amount != null ? toCents(payload.total_sum_amount) : sum((r) => r.cents),
      orderCount: payload.order_count != null ? Number(payload.order_count) || 0 : sum((r) => r.orders),
      quantity: payload.quantity != null ? Number(payload.quantity) || 0 : sum((r) => r.quantity),
      latest,
      latestText,
    };
  }

  const extraColorIndex = new Map();
  function colorFor(source) {
    if (SOURCE_COLORS[source]) return SOURCE_COLORS[source];
    if (!extraColorIndex.has(source)) extraColorIndex.set(source, extraColorIndex.size);
    return EXTRA_COLORS[extraColorIndex.get(source) % EXTRA_COLORS.length];
  }

  /* ---------- charts ---------- */

  const chartsAvailable = typeof window.echarts !== 'undefined';
  const CHARTS_MISSING = 'Charts are unavailable: /echarts.min.js did not load.';
  const charts = {};   // id -> echarts instance
  const chartMode = {}; // id -> 'empty' | 'data', to reset options on a switch

  function initCharts() {
    if (!chartsAvailable) return;
    for (const id of ['chart-source-pie', 'chart-state-stacked', 'chart-pair-bar']) {
      // SVG keeps chart text in the DOM, which browser tests can read.
      charts[id] = window.echarts.init($(id), null, { renderer: 'svg' });
    }
    window.addEventListener('resize', () => {
      for (const c of Object.values(charts)) c.resize();
    });
  }

  function emptyOption() {
    return {
      title: {
        text: 'No sales yet',
        left: 'center',
        top: 'middle',
        textStyle: { color: '#9aa5b1', fontSize: 14, fontWeight: 'normal' },
      },
      series: [],
    };
  }

  function setChart(id, option, empty) {
    const chart = charts[id];
    if (!chart) return;
    const mode = empty ? 'empty' : 'data';
    if (chartMode[id] !== mode) {
      chart.setOption(option, { notMerge: true });
      chartMode[id] = mode;
    } else {
      // Series are keyed by id, so a source that vanishes is removed and
      // the rest animate from their previous values.
      chart.setOption(option, { replaceMerge: ['series'] });
    }
  }

  const moneyTooltip = (value) => formatMoney(value);
  const axisMoney = (value) => compactFormat.format(value);

  function pieOption(d) {
    const bySource = new Map();
    for (const r of d.rows) bySource.set(r.source, (bySource.get(r.source) || 0) + r.cents);
    return {
      tooltip: {
        trigger: 'item',
        formatter: (p) => escapeHtml(p.name) + '<br><b>' + formatMoney(p.value) + '</b> (' + p.percent + '%)',
      },
      legend: { bottom: 0, left: 'center' },
      series: [{
        id: 'source',
        name: 'Source',
        type: 'pie',
        radius: ['32%', '58%'],
        center: ['50%', '46%'],
        avoidLabelOverlap: true,
        itemStyle: { borderColor: '#fff', borderWidth: 2 },
        label: { formatter: '{b}\n{d}%', lineHeight: 16 },
        data: d.sources.map((s) => ({
          name: s,
          value: bySource.get(s) / 100,
          itemStyle: { color: colorFor(s) },
        })),
      }],
    };
  }

  function stackedOption(d) {
    const cell = new Map(d.rows.map((r) => [r.source + '\u0000' + r.state, r.cents]));
    return {
      tooltip: {
        trigger: 'axis',
        axisPointer: { type: 'shadow' },
        valueFormatter: moneyTooltip,
      },
      legend: { top: 0 },
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      xAxis: { type: 'category', data: d.states, axisLabel: { interval: 0 } },
      yAxis: { type: 'value', axisLabel: { formatter: axisMoney } },
      series: d.sources.map((s) => ({
        id: s,
        name: s,
        type: 'bar',
        stack: 'amount',
        barMaxWidth: 56,
        itemStyle: { color: colorFor(s) },
        emphasis: { focus: 'series' },
        data: d.states.map((st) => (cell.get(s + '\u0000' + st) || 0) / 100),
      })),
    };
  }

  function pairOption(d) {
    // One category per (source, state) pair, in amount order. Each source is
    // its own series (null elsewhere) on a shared stack, so every bar is
    // centred on its label and the legend shows the source colours.
    const labels = d.rows.map((r) => r.source + ' / ' + r.state);
    const n = labels.length;
    // Every label while they fit; past that ECharts skips some (the tooltip
    // still names each bar).
    const axisLabel = n > 24 ? { interval: 'auto', rotate: 90, fontSize: 10 }
      : n > 6 ? { interval: 0, rotate: 50, fontSize: 11 }
      : { interval: 0, rotate: 0, fontSize: 12 };
    return {
      tooltip: {
        trigger: 'item',
        formatter: (p) => escapeHtml(p.name) + '<br><b>' + formatMoney(p.value) + '</b>',
      },
      legend: { top: 0 },
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      xAxis: {
        type: 'category',
        data: labels,
        axisLabel,
      },
      yAxis: { type: 'value', axisLabel: { formatter: axisMoney } },
      series: d.sources.map((s) => ({
        id: s,
        name: s,
        type: 'bar',
        stack: 'pair',
        barMaxWidth: 48,
        itemStyle: { color: colorFor(s) },
        data: d.rows.map((r) => (r.source === s ? r.cents / 100 : null)),
      })),
    };
  }

  /* ---------- DOM panels ---------- */

  function renderTable(d) {
    const tbody = $('table-top').tBodies[0];
    const frag = document.createDocumentFragment();
    for (const r of d.rows) {
      const tr = document.createElement('tr');
      const cells = [
        [r.source, ''],
        [r.state, ''],
        [formatCents(r.cents), 'num'],
        [formatInt(r.orders), 'num'],
      ];
      for (const [text, cls] of cells) {
        const td = document.createElement('td');
        td.textContent = text;
        if (cls) td.className = cls;
        tr.appendChild(td);
      }
      frag.appendChild(tr);
    }
    tbody.replaceChildren(frag);
  }

  // Shrinks the big number's font until it fits on one line in its card.
  function fitBigNumber() {
    const el = $('total-sales');
    el.style.fontSize = '';
    const avail = el.clientWidth;
    if (avail > 0 && el.scrollWidth > avail) {
      const base = parseFloat(getComputedStyle(el).fontSize);
      el.style.fontSize = Math.floor(base * avail / el.scrollWidth) + 'px';
    }
  }

  function render(d) {
    const empty = d.rows.length === 0;

    $('total-sales').textContent = formatCents(d.totalCents);
    fitBigNumber();
    $('order-count').textContent = formatInt(d.orderCount);
    $('quantity').textContent = formatInt(d.quantity);
    $('empty-hint').hidden = !empty;
    $('table-empty').hidden = !empty;

    const updated = $('updated-at');
    if (d.latest !== null) {
      updated.textContent = formatTime(new Date(d.latest));
      updated.setAttribute('datetime', d.latestText);
    } else {
      updated.textContent = '—';
      updated.removeAttribute('datetime');
    }
    const now = new Date();
    const refreshed = $('refreshed-at');
    refreshed.textContent = formatTime(now);
    refreshed.setAttribute('datetime', now.toISOString());

    renderTable(d);

    setChart('chart-source-pie', empty ? emptyOption() : pieOption(d), empty);
    setChart('chart-state-stacked', empty ? emptyOption() : stackedOption(d), empty);
    setChart('chart-pair-bar', empty ? emptyOption() : pairOption(d), empty);
  }

  /* ---------- error banner ---------- */

  function setError(message) {
    const el = $('error');
    if (message) {
      el.textContent = message;
      el.hidden = false;
    } else {
      el.textContent = '';
      el.hidden = true;
    }
  }

  /* ---------- polling ---------- */

  let timer = null;
  let hasData = false; // true once a poll succeeded

  async function refresh() {
    clearTimeout(timer);
    const ctrl = new AbortController();
    const deadline = setTimeout(() => ctrl.abort(), FETCH_TIMEOUT_MS);
    try {
      const res = await fetch(API_URL, {
        cache: 'no-store',
        headers: { Accept: 'application/json' },
        signal: ctrl.signal,
      });
      if (!res.ok) throw new Error('HTTP ' + res.status + (res.statusText ? ' ' + res.statusText : ''));
      render(normalize(await res.json()));
      hasData = true;
      setError(chartsAvailable ? null : CHARTS_MISSING);
    } catch (err) {
      const why = err && err.name === 'AbortError'
        ? 'no answer within ' + FETCH_TIMEOUT_MS / 1000 + ' s'
        : (err && err.message) || String(err);
      setError('Could not load sales data (' + why + ') at ' + formatTime(new Date()) + '. ' +
        (hasData ? 'Showing the last data received; retrying' : 'Retrying') +
        ' every ' + POLL_MS / 1000 + ' s.');
    } finally {
      clearTimeout(deadline);
      timer = setTimeout(refresh, POLL_MS);
    }
  }

  initCharts();
  window.addEventListener('resize', fitBigNumber);
  if (!chartsAvailable) setError(CHARTS_MISSING);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') refresh();
  });
  refresh();

  // Handle for browser tests and the console: force a poll, reach the charts.
  window.salesflowDashboard = { refresh, charts };
})();
