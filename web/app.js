/*
 * salesflow dashboard logic. Plain browser JS, no build step.
 *
 * Data: one JSON endpoint per panel, all taking the same source/state
 * filters:
 *   /api/sales          Total Sales, Source pie, State stacked bar, Top
 *                       Source/State table, Source/State bar, filter lists
 *   /api/sales/minute   Revenue per minute by source (15 min / 1 h / 1 day)
 *   /api/sales/second   Orders per second, last 5 minutes
 *   /api/orders         Latest orders
 *   /api/pipeline       Ingest rate, lag per partition, rejected,
 *                       quarantined, last commit (not filtered)
 *
 * Live: an EventSource on /api/stream. Each "commit" notice (the server
 * coalesces them to a few per second) triggers one refresh of every panel;
 * refreshes never overlap, and a notice that arrives during one schedules
 * exactly one more. While the stream is down the status pill says so, the
 * page polls every POLL_MS, and it keeps trying to reconnect (the browser
 * retries a dropped stream by itself; a refused one is re-opened here).
 *
 * Money arrives as JSON numbers with two decimals and is turned into
 * integer cents at once, so sums never add floats; it is formatted back
 * from cents ("$1,234.56"). Filters and the time range live in the URL
 * (?source=&state=&range=) so a view can be bookmarked.
 */
(function () {
  'use strict';

  const POLL_MS = 10000;          // polling period while the live stream is down
  const TICK_MS = 1000;           // live: refresh orders per second this often,
  const PIPELINE_EVERY = 5;       // and the pipeline panel every 5th tick
  const FETCH_TIMEOUT_MS = 5000;  // a request that takes longer counts as failed
  const MIN_REFRESH_GAP_MS = 300; // at most ~3 full refreshes per second
  const RECONNECT_MS = [2000, 5000, 10000]; // re-open a refused stream after
  const ORDERS_LIMIT = 20;
  const RANGES = { '15m': 15, '1h': 60, '24h': 1440 }; // minutes
  const CURRENCY = '$';

  // Fixed colours so a source looks the same in every chart.
  const SOURCE_ORDER = ['Dine In', 'Takeaway', 'Home Delivery'];
  const SOURCE_COLORS = { 'Dine In': '#5470c6', 'Takeaway': '#91cc75', 'Home Delivery': '#fac858' };
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

  // 210000 -> "$2,100.00"
  function formatMoneyCents(cents) {
    return (cents < 0 ? '-' : '') + CURRENCY + formatCents(Math.abs(cents));
  }

  function formatInt(value) {
    const n = Math.round(Number(value) || 0);
    return (n < 0 ? '-' : '') + groupThousands(String(Math.abs(n)));
  }

  function formatRate(v) {
    if (v === null || v === undefined) return '—';
    return (v >= 100 ? formatInt(v) : Number(v).toFixed(1));
  }

  const compactFormat = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
  const axisMoney = (value) => CURRENCY + compactFormat.format(value);
  const moneyTooltip = (value) => formatMoneyCents(toCents(value));

  function pad2(n) { return String(n).padStart(2, '0'); }

  // Local time as "YYYY-MM-DD HH:MM:SS".
  function formatTime(date) {
    return date.getFullYear() + '-' + pad2(date.getMonth() + 1) + '-' + pad2(date.getDate()) +
      ' ' + pad2(date.getHours()) + ':' + pad2(date.getMinutes()) + ':' + pad2(date.getSeconds());
  }

  function formatClock(date) {
    return pad2(date.getHours()) + ':' + pad2(date.getMinutes()) + ':' + pad2(date.getSeconds());
  }

  function formatAgo(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return Math.floor(s / 86400) + ' d ago';
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({
      '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
    })[c]);
  }

  const extraColorIndex = new Map();
  function colorFor(source) {
    if (SOURCE_COLORS[source]) return SOURCE_COLORS[source];
    if (!extraColorIndex.has(source)) extraColorIndex.set(source, extraColorIndex.size);
    return EXTRA_COLORS[extraColorIndex.get(source) % EXTRA_COLORS.length];
  }

  function orderSources(present) {
    return SOURCE_ORDER.filter((s) => present.has(s))
      .concat([...present].filter((s) => !SOURCE_ORDER.includes(s)).sort());
  }

  /* ---------- view state (filters, range, sort) ---------- */

  const view = { source: '', state: '', range: '1h', sortKey: 'cents', sortDir: 'desc' };

  function readUrl() {
    const q = new URLSearchParams(location.search);
    view.source = q.get('source') || '';
    view.state = q.get('state') || '';
    view.range = RANGES[q.get('range')] ? q.get('range') : '1h';
  }

  function writeUrl() {
    const q = new URLSearchParams();
    if (view.source) q.set('source', view.source);
    if (view.state) q.set('state', view.state);
    if (view.range !== '1h') q.set('range', view.range);
    const s = q.toString();
    history.replaceState(null, '', location.pathname + (s ? '?' + s : ''));
  }

  // "source=…&state=…" for the API (encodeURIComponent: spaces as %20).
  function filterQuery() {
    const parts = [];
    if (view.source) parts.push('source=' + encodeURIComponent(view.source));
    if (view.state) parts.push('state=' + encodeURIComponent(view.state));
    return parts.join('&');
  }

  function withQuery(path, extra) {
    const q = [extra, filterQuery()].filter(Boolean).join('&');
    return q ? path + '?' + q : path;
  }

  /* ---------- theme (light/dark from prefers-color-scheme) ---------- */

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  let theme = {};
  function readTheme() {
    theme = {
      text: cssVar('--text'), muted: cssVar('--muted'), faint: cssVar('--faint'),
      grid: cssVar('--grid-line'), border: cssVar('--border'), card: cssVar('--card'),
      accent: cssVar('--accent'),
    };
  }

  function baseOption() {
    return {
      backgroundColor: 'transparent',
      textStyle: { color: theme.text, fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif' },
      legend: { textStyle: { color: theme.muted }, inactiveColor: theme.faint, type: 'scroll',
        pageTextStyle: { color: theme.muted } },
      tooltip: { backgroundColor: theme.card, borderColor: theme.border, textStyle: { color: theme.text } },
      animationDuration: 400,
      animationDurationUpdate: 300,
    };
  }

  function axisStyle(extra) {
    return Object.assign({
      axisLine: { lineStyle: { color: theme.border } },
      axisTick: { lineStyle: { color: theme.border } },
      axisLabel: { color: theme.muted },
      splitLine: { lineStyle: { color: theme.grid } },
    }, extra || {});
  }

  /* ---------- charts ---------- */

  const CHART_IDS = ['chart-source-pie', 'chart-state-stacked', 'chart-pair-bar',
    'chart-revenue-minute', 'chart-orders-second'];
  const chartsAvailable = typeof window.echarts !== 'undefined';
  const CHARTS_MISSING = 'Charts are unavailable: /echarts.min.js did not load.';
  const charts = {};    // id -> echarts instance
  const chartMode = {}; // id -> 'empty' | 'data', to reset options on a switch
  const lastOption = {}; // id -> last option, to redraw after a theme change

  function initCharts() {
    if (!chartsAvailable) return;
    for (const id of CHART_IDS) {
      // SVG keeps chart text in the DOM, which browser tests can read.
      charts[id] = window.echarts.init($(id), null, { renderer: 'svg' });
    }
    if (typeof ResizeObserver !== 'undefined') {
      const ro = new ResizeObserver((entries) => {
        for (const e of entries) if (charts[e.target.id]) charts[e.target.id].resize();
      });
      for (const id of CHART_IDS) ro.observe($(id));
    } else {
      window.addEventListener('resize', () => { for (const c of Object.values(charts)) c.resize(); });
    }
  }

  function emptyOption(text) {
    return Object.assign(baseOption(), {
      title: {
        text: text || 'No orders yet',
        left: 'center',
        top: 'middle',
        textStyle: { color: theme.faint, fontSize: 14, fontWeight: 'normal' },
      },
      series: [],
    });
  }

  function setChart(id, option, empty) {
    const chart = charts[id];
    lastOption[id] = { option, empty };
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

  function redrawAll() {
    readTheme();
    for (const id of Object.keys(lastOption)) {
      chartMode[id] = null;
      const { option, empty } = lastOption[id];
      if (charts[id]) charts[id].clear();
      setChart(id, option, empty);
    }
  }

  function pieOption(d) {
    const bySource = new Map();
    for (const r of d.rows) bySource.set(r.source, (bySource.get(r.source) || 0) + r.cents);
    return Object.assign(baseOption(), {
      tooltip: Object.assign(baseOption().tooltip, {
        trigger: 'item',
        formatter: (p) => escapeHtml(p.name) + '<br><b>' + moneyTooltip(p.value) + '</b> (' + p.percent + '%)',
      }),
      legend: Object.assign(baseOption().legend, { bottom: 0, left: 'center' }),
      series: [{
        id: 'source',
        name: 'Source',
        type: 'pie',
        radius: ['32%', '56%'],
        center: ['50%', '45%'],
        avoidLabelOverlap: true,
        itemStyle: { borderColor: theme.card, borderWidth: 2 },
        // Labels aligned to the chart's edges never run off a narrow chart.
        label: { formatter: '{b}\n{d}%', lineHeight: 15, color: theme.text, alignTo: 'edge',
          edgeDistance: 6, overflow: 'break' },
        labelLine: { length: 8, length2: 0, maxSurfaceAngle: 80, lineStyle: { color: theme.faint } },
        data: d.sources.map((s) => ({
          name: s,
          value: (bySource.get(s) || 0) / 100,
          itemStyle: { color: colorFor(s) },
        })),
      }],
    });
  }

  function stackedOption(d) {
    const cell = new Map(d.rows.map((r) => [r.source + '\u0000' + r.state, r.cents]));
    return Object.assign(baseOption(), {
      tooltip: Object.assign(baseOption().tooltip, {
        trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: moneyTooltip,
      }),
      legend: Object.assign(baseOption().legend, { top: 0 }),
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      xAxis: axisStyle({ type: 'category', data: d.states, axisLabel: { interval: 0, color: theme.muted } }),
      yAxis: axisStyle({ type: 'value', axisLabel: { formatter: axisMoney, color: theme.muted } }),
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
    });
  }

  function pairOption(d) {
    // One category per (source, state) pair, in amount order. Each source is
    // its own series (null elsewhere) on a shared stack, so every bar is
    // centred on its label and the legend shows the source colours.
    const labels = d.rows.map((r) => r.source + ' / ' + r.state);
    const n = labels.length;
    const axisLabel = n > 24 ? { interval: 'auto', rotate: 90, fontSize: 10 }
      : n > 6 ? { interval: 0, rotate: 50, fontSize: 11 }
      : { interval: 0, rotate: 0, fontSize: 12 };
    axisLabel.color = theme.muted;
    return Object.assign(baseOption(), {
      tooltip: Object.assign(baseOption().tooltip, {
        trigger: 'item',
        formatter: (p) => escapeHtml(p.name) + '<br><b>' + moneyTooltip(p.value) + '</b>',
      }),
      legend: Object.assign(baseOption().legend, { top: 0 }),
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      xAxis: axisStyle({ type: 'category', data: labels, axisLabel }),
      yAxis: axisStyle({ type: 'value', axisLabel: { formatter: axisMoney, color: theme.muted } }),
      series: d.sources.map((s) => ({
        id: s,
        name: s,
        type: 'bar',
        stack: 'pair',
        barMaxWidth: 48,
        itemStyle: { color: colorFor(s) },
        data: d.rows.map((r) => (r.source === s ? r.cents / 100 : null)),
      })),
    });
  }

  function minuteOption(m) {
    // Dense series: every minute of the range, zero where nothing sold.
    const from = Date.parse(m.from);
    const to = Date.parse(m.to);
    const byKey = new Map(m.rows.map((r) => [Date.parse(r.minute) + '\u0000' + r.source, toCents(r.total)]));
    const present = new Set(m.rows.map((r) => r.source));
    const sources = orderSources(present);
    const stamps = [];
    for (let t = from; t < to; t += 60000) stamps.push(t);
    const many = stamps.length > 120;
    return Object.assign(baseOption(), {
      tooltip: Object.assign(baseOption().tooltip, { trigger: 'axis', valueFormatter: moneyTooltip }),
      legend: Object.assign(baseOption().legend, { top: 0 }),
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      xAxis: axisStyle({ type: 'time', min: from, max: to - 60000,
        axisLabel: { color: theme.muted, hideOverlap: true }, splitLine: { show: false } }),
      yAxis: axisStyle({ type: 'value', axisLabel: { formatter: axisMoney, color: theme.muted } }),
      series: sources.map((s) => ({
        id: s,
        name: s,
        type: many ? 'line' : 'bar',
        stack: 'revenue',
        showSymbol: false,
        barMaxWidth: 18,
        areaStyle: many ? { opacity: 0.35 } : undefined,
        lineStyle: many ? { width: 1.5 } : undefined,
        itemStyle: { color: colorFor(s) },
        emphasis: { focus: 'series' },
        data: stamps.map((t) => [t, (byKey.get(t + '\u0000' + s) || 0) / 100]),
      })),
    });
  }

  function secondOption(points) {
    return Object.assign(baseOption(), {
      tooltip: Object.assign(baseOption().tooltip, {
        trigger: 'axis',
        formatter: (ps) => {
          const p = ps[0];
          return formatClock(new Date(p.value[0])) + '<br><b>' + formatInt(p.value[1]) + '</b> orders/s';
        },
      }),
      legend: { show: false },
      grid: { left: 8, right: 24, top: 12, bottom: 8, containLabel: true },
      xAxis: axisStyle({ type: 'time', axisLabel: { color: theme.muted, hideOverlap: true },
        splitLine: { show: false } }),
      yAxis: axisStyle({ type: 'value', minInterval: 1 }),
      series: [{
        id: 'orders',
        name: 'Orders per second',
        type: 'line',
        showSymbol: false,
        step: 'end',
        lineStyle: { width: 1.5, color: theme.accent },
        itemStyle: { color: theme.accent },
        areaStyle: { opacity: 0.18, color: theme.accent },
        data: points.map((p) => [Date.parse(p.t), p.orders]),
      }],
    });
  }

  /* ---------- data shaping ---------- */

  function normalizeSales(payload) {
    if (!payload || !Array.isArray(payload.rows)) {
      throw new Error('unexpected response from /api/sales (no "rows" array)');
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
    const sources = orderSources(new Set(rows.map((r) => r.source)));
    const stateCents = new Map();
    for (const r of rows) stateCents.set(r.state, (stateCents.get(r.state) || 0) + r.cents);
    const states = [...stateCents.keys()].sort((a, b) =>
      stateCents.get(b) - stateCents.get(a) || a.localeCompare(b));
    return {
      rows,
      sources,
      states,
      totalCents: toCents(payload.total_sum_amount),
      orderCount: Number(payload.order_count) || 0,
      quantity: Number(payload.quantity) || 0,
      updatedAt: payload.updated_at || null,
      allSources: Array.isArray(payload.sources) ? payload.sources.map(String) : [],
      allStates: Array.isArray(payload.states) ? payload.states.map(String) : [],
    };
  }

  /* ---------- DOM panels ---------- */

  function fillSelect(sel, values, current, allLabel) {
    const want = [''].concat(values);
    if (current && !values.includes(current)) want.push(current);
    const have = [...sel.options].map((o) => o.value);
    if (have.length !== want.length || have.some((v, i) => v !== want[i])) {
      sel.replaceChildren(...want.map((v) => {
        const o = document.createElement('option');
        o.value = v;
        o.textContent = v || allLabel;
        return o;
      }));
    }
    sel.value = current;
  }

  function sortRows(rows) {
    const k = view.sortKey;
    const dir = view.sortDir === 'asc' ? 1 : -1;
    return rows.slice().sort((a, b) => {
      const x = a[k], y = b[k];
      const c = typeof x === 'string' ? x.localeCompare(y) : x - y;
      return c * dir || b.cents - a.cents;
    });
  }

  function cell(text, cls, title) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    if (title) td.title = title;
    return td;
  }

  function sourceCell(source) {
    const td = document.createElement('td');
    const dot = document.createElement('span');
    dot.className = 'dot';
    dot.style.background = colorFor(source);
    td.append(dot, document.createTextNode(source));
    return td;
  }

  function renderTopTable(d) {
    const tbody = $('table-top').tBodies[0];
    const frag = document.createDocumentFragment();
    for (const r of sortRows(d.rows)) {
      const tr = document.createElement('tr');
      tr.append(sourceCell(r.source), cell(r.state), cell(formatMoneyCents(r.cents), 'num'),
        cell(formatInt(r.orders), 'num'));
      frag.appendChild(tr);
    }
    tbody.replaceChildren(frag);
    for (const th of $('table-top').tHead.rows[0].cells) {
      if (th.dataset.key === view.sortKey) {
        th.setAttribute('aria-sort', view.sortDir === 'asc' ? 'ascending' : 'descending');
      } else {
        th.removeAttribute('aria-sort');
      }
    }
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

  let lastSales = null;

  function renderSales(d) {
    lastSales = d;
    const filtered = Boolean(view.source || view.state);
    const storeEmpty = d.allStates.length === 0;  // no sales at all, unfiltered
    const empty = d.rows.length === 0;
    const emptyText = storeEmpty ? 'No orders yet' : 'No orders match these filters';

    $('empty-state').hidden = !storeEmpty;
    $('total-sales').textContent = formatMoneyCents(d.totalCents);
    fitBigNumber();
    $('order-count').textContent = formatInt(d.orderCount);
    $('quantity').textContent = formatInt(d.quantity);
    $('avg-order').textContent = d.orderCount ? formatMoneyCents(Math.round(d.totalCents / d.orderCount)) : '—';
    $('empty-hint').hidden = !empty;
    $('empty-hint').textContent = storeEmpty ? 'No sales yet — charts fill in as orders arrive.'
      : 'No sales match these filters.';
    $('table-empty').hidden = !empty;
    $('table-empty').textContent = emptyText;

    const updated = $('updated-at');
    const t = d.updatedAt ? Date.parse(d.updatedAt) : NaN;
    if (!Number.isNaN(t)) {
      updated.textContent = formatTime(new Date(t));
      updated.setAttribute('datetime', d.updatedAt);
    } else {
      updated.textContent = '—';
      updated.removeAttribute('datetime');
    }

    fillSelect($('filter-source'), d.allSources, view.source, 'All sources');
    fillSelect($('filter-state'), d.allStates, view.state, 'All states');
    $('filter-clear').hidden = !filtered;

    renderTopTable(d);
    setChart('chart-source-pie', empty ? emptyOption(emptyText) : pieOption(d), empty);
    setChart('chart-state-stacked', empty ? emptyOption(emptyText) : stackedOption(d), empty);
    setChart('chart-pair-bar', empty ? emptyOption(emptyText) : pairOption(d), empty);
  }

  function renderMinute(m) {
    const empty = !m.rows.length;
    const text = lastSales && lastSales.allStates.length === 0 ? 'No orders yet'
      : 'No orders in the last ' + { '15m': '15 minutes', '1h': 'hour', '24h': 'day' }[view.range];
    setChart('chart-revenue-minute', empty ? emptyOption(text) : minuteOption(m), empty);
  }

  function renderSecond(s) {
    const pts = Array.isArray(s.points) ? s.points : [];
    const empty = pts.length === 0;
    setChart('chart-orders-second', empty ? emptyOption('Collecting…') : secondOption(pts), empty);
  }

  const seenOrders = new Set();
  let ordersPrimed = false;

  function renderOrders(o) {
    const list = Array.isArray(o.orders) ? o.orders : [];
    const tbody = $('table-orders').tBodies[0];
    const frag = document.createDocumentFragment();
    for (const r of list) {
      const tr = document.createElement('tr');
      const created = new Date(Date.parse(r.created_at));
      const id = String(r.order_id);
      tr.append(
        cell(Number.isNaN(created.getTime()) ? String(r.created_at) : formatClock(created), '',
          Number.isNaN(created.getTime()) ? '' : formatTime(created)),
        cell(id.length > 13 ? id.slice(0, 8) + '…' + id.slice(-4) : id, 'mono', id),
        cell(formatInt(r.customer_id), 'num'),
        sourceCell(String(r.source)),
        cell(String(r.state)),
        cell(formatInt(r.quantity), 'num'),
        cell(formatMoneyCents(toCents(r.total)), 'num'));
      if (ordersPrimed && !seenOrders.has(id)) tr.className = 'fresh';
      frag.appendChild(tr);
    }
    seenOrders.clear();
    for (const r of list) seenOrders.add(String(r.order_id));
    ordersPrimed = true;
    tbody.replaceChildren(frag);
    const none = list.length === 0;
    $('orders-empty').hidden = !none;
    $('orders-empty').textContent = lastSales && lastSales.allStates.length === 0
      ? 'No orders yet' : 'No orders match these filters';
  }

  function renderPipeline(p) {
    const ingest = p.ingest;
    const proc = p.processor || {};
    $('pl-ingest-rate').innerHTML = ingest ? escapeHtml(formatRate(ingest.rate_per_s)) + ' <small>orders/s</small>'
      : '<small>other process</small>';
    $('pl-proc-rate').innerHTML = escapeHtml(formatRate(proc.rate_per_s)) + ' <small>orders/s</small>';
    const lag = $('pl-lag');
    lag.innerHTML = proc.lag === null || proc.lag === undefined ? '<small>unknown</small>'
      : escapeHtml(formatInt(proc.lag)) + ' <small>records</small>';
    lag.classList.toggle('bad', Number(proc.lag) > 10000);
    const last = proc.last_commit_at ? Date.parse(proc.last_commit_at) : NaN;
    const lc = $('pl-last-commit');
    if (Number.isNaN(last)) {
      lc.textContent = '—';
      lc.title = '';
    } else {
      const now = p.now ? Date.parse(p.now) : Date.now();
      lc.innerHTML = escapeHtml(formatAgo(now - last)) + ' <small>' + escapeHtml(formatClock(new Date(last))) + '</small>';
      lc.title = formatTime(new Date(last));
    }
    $('pl-rejected').textContent = ingest ? formatInt(ingest.rejected) : '—';
    $('pl-quarantined').textContent = ingest ? formatInt(ingest.quarantined) : '—';
    $('pl-rejected').classList.toggle('bad', ingest && ingest.rejected > 0);
    // --raw-store: the Cassandra raw-order sink (absent without one)
    const raw = p.raw_store;
    $('pl-raw-row').hidden = !raw;
    if (raw) {
      const ok = raw.connected && !raw.failing;
      const el = $('pl-raw');
      el.innerHTML = ok ? escapeHtml(formatRate(raw.rate_per_s)) + ' <small>rows/s</small>'
        : '<small>' + (raw.connected ? 'writes failing' : 'not connected') + '</small>';
      el.classList.toggle('bad', !ok);
      el.title = formatInt(raw.rows) + ' rows written, ' + formatInt(raw.errors) + ' errors';
    }

    const parts = Array.isArray(proc.partitions) ? proc.partitions : [];
    const maxLag = Math.max(1, ...parts.map((x) => Number(x.lag) || 0));
    const ul = $('pl-partitions');
    ul.replaceChildren(...parts.map((x) => {
      const li = document.createElement('li');
      const name = document.createElement('span');
      name.textContent = 'P' + x.partition;
      const bar = document.createElement('span');
      bar.className = 'bar';
      const fill = document.createElement('span');
      fill.style.width = (x.lag === null ? 0 : Math.round(100 * (Number(x.lag) || 0) / maxLag)) + '%';
      bar.appendChild(fill);
      const val = document.createElement('span');
      val.className = 'val';
      val.textContent = x.lag === null ? formatInt(x.committed) : formatInt(x.lag);
      li.title = 'partition ' + x.partition + ': committed ' + formatInt(x.committed) +
        (x.log_end === null ? '' : ', log end ' + formatInt(x.log_end));
      li.append(name, bar, val);
      return li;
    }));
  }

  /* ---------- error banner ---------- */

  function setError(message) {
    const el = $('error');
    el.textContent = message || '';
    el.hidden = !message;
  }

  /* ---------- fetching ---------- */

  async function getJSON(path) {
    const ctrl = new AbortController();
    const deadline = setTimeout(() => ctrl.abort(), FETCH_TIMEOUT_MS);
    try {
      const res = await fetch(path, { cache: 'no-store', headers: { Accept: 'application/json' }, signal: ctrl.signal });
      if (!res.ok) {
        let detail = '';
        try { detail = (await res.json()).detail; } catch (e) { /* not JSON */ }
        throw new Error(path.split('?')[0] + ': HTTP ' + res.status + (detail ? ' — ' + detail : ''));
      }
      return await res.json();
    } catch (err) {
      if (err && err.name === 'AbortError') {
        throw new Error(path.split('?')[0] + ': no answer within ' + FETCH_TIMEOUT_MS / 1000 + ' s');
      }
      throw err;
    } finally {
      clearTimeout(deadline);
    }
  }

  let hasData = false;
  let refreshing = null;     // the refresh in flight
  let again = false;         // another one was asked for meanwhile
  let lastRefreshAt = 0;
  let refreshTimer = null;
  let refreshCount = 0;

  // parts: 'all', or 'ticker' (orders per second, and the pipeline when
  // withPipeline).
  async function doRefresh(parts, withPipeline) {
    const all = parts === 'all';
    const jobs = [
      all ? getJSON(withQuery('/api/sales')).then((p) => renderSales(normalizeSales(p))) : null,
      all ? getJSON(withQuery('/api/sales/minute', 'from=-' + RANGES[view.range] + 'm')).then(renderMinute) : null,
      getJSON(withQuery('/api/sales/second')).then(renderSecond),
      all ? getJSON(withQuery('/api/orders', 'limit=' + ORDERS_LIMIT)).then(renderOrders) : null,
      all || withPipeline ? getJSON('/api/pipeline').then(renderPipeline) : null,
    ].filter(Boolean);
    const results = await Promise.allSettled(jobs);
    const failed = results.filter((r) => r.status === 'rejected').map((r) => (r.reason && r.reason.message) || String(r.reason));
    if (failed.length) {
      const mode = liveState === 'live' ? '' : ' Retrying every ' + POLL_MS / 1000 + ' s.';
      setError('Could not load ' + (failed.length === jobs.length ? 'the dashboard data' : 'some panels') +
        ' at ' + formatClock(new Date()) + ' (' + failed[0] + ').' +
        (hasData ? ' Showing the last data received.' : '') + mode);
    } else {
      hasData = hasData || all;
      setError(chartsAvailable ? null : CHARTS_MISSING);
      const now = new Date();
      $('refreshed-at').textContent = formatTime(now);
      $('refreshed-at').setAttribute('datetime', now.toISOString());
    }
    if (all) refreshCount++;
  }

  // Run a full refresh now, or as soon as the one in flight is done; never
  // more often than MIN_REFRESH_GAP_MS.
  function refresh() {
    if (refreshing) {
      again = true;
      return refreshing;
    }
    clearTimeout(refreshTimer);
    refreshTimer = null;
    const wait = lastRefreshAt + MIN_REFRESH_GAP_MS - Date.now();
    if (wait > 0) {
      refreshTimer = setTimeout(refresh, wait);
      return Promise.resolve();
    }
    lastRefreshAt = Date.now();
    refreshing = doRefresh('all').finally(() => {
      refreshing = null;
      if (again) {
        again = false;
        refresh();
      }
    });
    return refreshing;
  }

  /* ---------- live stream and fallback polling ---------- */

  let liveState = 'connecting';  // 'live' | 'connecting' | 'polling'
  let source = null;
  let pollTimer = null;
  let tickTimer = null;
  let reconnectTimer = null;
  let reconnectTries = 0;
  let notices = 0;

  function setLive(state, text) {
    liveState = state;
    const el = $('live-status');
    el.dataset.state = state;
    el.textContent = text;
  }

  function startPolling() {
    if (pollTimer) return;
    pollTimer = setInterval(refresh, POLL_MS);
  }

  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = null;
  }

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (source) source.close();
    if (typeof EventSource === 'undefined') {
      setLive('polling', 'Polling every ' + POLL_MS / 1000 + ' s');
      startPolling();
      return;
    }
    source = new EventSource('/api/stream');
    source.addEventListener('hello', () => {
      reconnectTries = 0;
      stopPolling();
      setLive('live', 'Live');
      refresh();  // catch up on anything missed while disconnected
    });
    source.addEventListener('commit', () => {
      notices++;
      refresh();
    });
    source.onerror = () => {
      // The browser retries a dropped stream by itself (readyState
      // CONNECTING); a refused one (e.g. 503: too many dashboards) is
      // CLOSED and we re-open it later. Poll meanwhile either way.
      setLive('polling', 'Live updates interrupted — polling every ' + POLL_MS / 1000 + ' s, reconnecting');
      startPolling();
      if (source.readyState === EventSource.CLOSED) {
        const delay = RECONNECT_MS[Math.min(reconnectTries, RECONNECT_MS.length - 1)];
        reconnectTries++;
        clearTimeout(reconnectTimer);
        reconnectTimer = setTimeout(connect, delay);
      }
    };
  }

  // While live, the per-second series and the pipeline figures move even
  // without commits (time passes, rates decay): refresh them on a tick.
  let ticks = 0;
  function startTicker() {
    tickTimer = setInterval(() => {
      ticks++;
      if (liveState === 'live' && !refreshing && document.visibilityState === 'visible') {
        doRefresh('ticker', ticks % PIPELINE_EVERY === 0).catch(() => {});
      }
    }, TICK_MS);
  }

  /* ---------- controls ---------- */

  function bindControls() {
    $('filter-source').addEventListener('change', (e) => {
      view.source = e.target.value;
      writeUrl();
      refresh();
    });
    $('filter-state').addEventListener('change', (e) => {
      view.state = e.target.value;
      writeUrl();
      refresh();
    });
    $('filter-clear').addEventListener('click', () => {
      view.source = '';
      view.state = '';
      writeUrl();
      refresh();
    });
    for (const b of $('range-picker').querySelectorAll('button')) {
      b.setAttribute('aria-pressed', String(b.dataset.range === view.range));
      b.addEventListener('click', () => {
        view.range = b.dataset.range;
        for (const x of $('range-picker').querySelectorAll('button')) {
          x.setAttribute('aria-pressed', String(x === b));
        }
        writeUrl();
        refresh();
      });
    }
    for (const th of $('table-top').tHead.rows[0].cells) {
      th.querySelector('button').addEventListener('click', () => {
        const k = th.dataset.key;
        if (view.sortKey === k) {
          view.sortDir = view.sortDir === 'asc' ? 'desc' : 'asc';
        } else {
          view.sortKey = k;
          view.sortDir = k === 'source' || k === 'state' ? 'asc' : 'desc';
        }
        if (lastSales) renderTopTable(lastSales);
      });
    }
    const dark = window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null;
    if (dark && dark.addEventListener) dark.addEventListener('change', redrawAll);
    window.addEventListener('resize', fitBigNumber);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') refresh();
    });
  }

  readUrl();
  readTheme();
  initCharts();
  bindControls();
  if (!chartsAvailable) setError(CHARTS_MISSING);
  refresh();
  connect();
  startTicker();

  // Handle for browser tests and the console.
  window.salesflowDashboard = {
    refresh,
    charts,
    view,
    get live() { return liveState; },
    get notices() { return notices; },
    get refreshes() { return refreshCount; },
  };
})();
