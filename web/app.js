/*
 * salesflow dashboard logic. Plain browser JS, no build step.
 *
 * Data: one JSON endpoint per panel, all taking the same source/state
 * filters (several values each, comma-separated: source=A,B):
 *   /api/sales          Total Sales, Source pie, State stacked bar, Top
 *                       Source/State table, Source/State bar, filter lists
 *   /api/sales/minute   Revenue by source over 15 min / 1 h / 1 day, in
 *                       buckets of 1 / 1 / 30 minutes (the grain follows
 *                       the range); the bucket still in progress is marked
 *   /api/sales/second   Orders per second, last 5 minutes (complete seconds)
 *   /api/orders         Latest orders
 *   /api/pipeline       Ingest rate, lag per partition, rejected,
 *                       quarantined, last commit (not filtered)
 *
 * Live: an EventSource on /api/stream. A "commit" notice asks for a refresh
 * of every panel; refreshes never overlap and come at most once per redraw
 * interval (the "Redraw" menu: 2/s, 1/s — the default —, every 5 s or
 * 30 s), a panel whose answer did not change is not redrawn, and the
 * panels that did change are drawn together once all answers are in.
 * "Pause" stops redrawing until resumed (notices are counted meanwhile). Charts do not
 * animate updates, categorical axes keep a fixed order (by name), and only
 * a few new rows of Latest Orders are highlighted (none when most rows are
 * new, none with prefers-reduced-motion). While the stream is down the
 * status pill says so, the page polls every POLL_MS, and it keeps trying to
 * reconnect; while requests fail the pill turns amber.
 *
 * Time range (issue 18): the "Time range" menu (query.js) applies to
 * every panel but Orders per Second and Pipeline: /api/sales and
 * /api/orders get from/to (RFC 3339 with the viewer's offset, computed at
 * each refresh), and Revenue by Source shows the range instead of its own
 * window (planRevenue). Saved charts (GET /api/charts, built in /explore)
 * are cards after the original panels, refreshed with them from
 * /api/query under the same range and filters.
 *
 * Filters: multi-select menus, chips for what is selected (each removable;
 * a value the server does not know is shown as such, never hidden), and
 * cross-filtering: a click on a pie slice, a bar or a table cell adds (or
 * removes) that source/state. Filters and the Revenue window live in the URL
 * (?source=A,B&state=KY&range=15m) so a view can be bookmarked; each chart
 * card has an info tip, PNG and CSV downloads and a copy-link button. The
 * URL also holds the time range (period=…, or from=/to= for a custom one).
 *
 * Colours: per-theme palettes with at least 3:1 contrast against the card,
 * and a pattern (decal) per source as a second cue; a theme switch redraws
 * every chart from its data.
 *
 * Money arrives as JSON numbers with two decimals and is turned into
 * integer cents at once, so sums never add floats; it is formatted back
 * from cents ("$1,234.56").
 */
(function () {
  'use strict';

  const POLL_MS = 10000;          // polling period while the live stream is down
  const TICK_MS = 1000;           // live: refresh orders per second this often,
  const PIPELINE_EVERY = 5;       // and the pipeline panel every 5th tick
  const FETCH_TIMEOUT_MS = 5000;  // a request that takes longer counts as failed
  const REDRAW_MS = [500, 1000, 5000, 30000]; // choices of the "Redraw" menu
  const DEFAULT_REDRAW_MS = 1000;
  const RECONNECT_MS = [2000, 5000, 10000]; // re-open a refused stream after
  const ORDERS_LIMIT = 20;
  // minutes shown, and the bucket (grain) in minutes
  const RANGES = { '15m': { minutes: 15, grain: 1 }, '1h': { minutes: 60, grain: 1 },
    '24h': { minutes: 1440, grain: 30 } };
  const RANGE_TEXT = { '15m': '15 minutes', '1h': 'hour', '24h': 'day' };
  const CURRENCY = '$';

  // Fixed colours so a source looks the same in every chart; each has at
  // least 3:1 contrast against the card in its theme, and a pattern.
  const SOURCE_ORDER = ['Dine In', 'Takeaway', 'Home Delivery'];
  const PALETTES = {
    light: { 'Dine In': '#3559c7', 'Takeaway': '#237a3b', 'Home Delivery': '#b35900',
      extra: ['#be185d', '#0e7490', '#7e22ce', '#c2410c'], ink: 'rgba(255,255,255,0.6)' },
    dark: { 'Dine In': '#7c9cff', 'Takeaway': '#4cc38a', 'Home Delivery': '#e3a008',
      extra: ['#f472b6', '#22d3ee', '#c084fc', '#fb923c'], ink: 'rgba(15,20,25,0.55)' },
  };
  const PATTERN_NAMES = ['solid', 'stripes', 'dots', 'bars'];

  const $ = (id) => document.getElementById(id);
  const motionQuery = window.matchMedia ? window.matchMedia('(prefers-reduced-motion: reduce)') : null;
  const reducedMotion = () => Boolean(motionQuery && motionQuery.matches);

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
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

  function pad2(n) { return String(n).padStart(2, '0'); }

  // Local time as "YYYY-MM-DD HH:MM:SS".
  function formatTime(date) {
    return date.getFullYear() + '-' + pad2(date.getMonth() + 1) + '-' + pad2(date.getDate()) +
      ' ' + pad2(date.getHours()) + ':' + pad2(date.getMinutes()) + ':' + pad2(date.getSeconds());
  }

  function formatClock(date) {
    return pad2(date.getHours()) + ':' + pad2(date.getMinutes()) + ':' + pad2(date.getSeconds());
  }

  function formatHM(date) { return pad2(date.getHours()) + ':' + pad2(date.getMinutes()); }

  // A time-axis label: "14:30", or the date ("Dec 7") at local midnight.
  function axisTimeLabel(ms) {
    const d = new Date(ms);
    return d.getHours() === 0 && d.getMinutes() === 0 ? MONTHS[d.getMonth()] + ' ' + d.getDate() : formatHM(d);
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

  /* ---------- colours and patterns ---------- */

  const extraIndex = new Map();
  function sourceIndex(source) {
    const i = SOURCE_ORDER.indexOf(source);
    if (i >= 0) return i;
    if (!extraIndex.has(source)) extraIndex.set(source, extraIndex.size);
    return SOURCE_ORDER.length + extraIndex.get(source);
  }

  function palette() { return PALETTES[isDark() ? 'dark' : 'light']; }

  function colorFor(source) {
    const p = palette();
    if (p[source] && SOURCE_ORDER.includes(source)) return p[source];
    return p.extra[(sourceIndex(source) - SOURCE_ORDER.length) % p.extra.length];
  }

  function patternName(source) { return PATTERN_NAMES[sourceIndex(source) % PATTERN_NAMES.length]; }

  // ECharts decal: the second cue beside colour (legend icons show it too).
  // (query.js draws the patterns, shared with the Explore page.)
  function decalFor(source) {
    return window.salesflowQuery.decal(patternName(source), palette().ink);
  }

  function orderSources(present) {
    return SOURCE_ORDER.filter((s) => present.has(s))
      .concat([...present].filter((s) => !SOURCE_ORDER.includes(s)).sort());
  }

  const byName = (a, b) => a.localeCompare(b);

  /* ---------- view state (filters, range, sort, redraw) ---------- */

  // time: the dashboard's time range (query.js), all time by default;
  // range: the Revenue chart's own window, used while time is all time.
  const Q = window.salesflowQuery;
  const view = { sources: [], states: [], range: '1h', time: Q.defaultRange(), sortKey: 'cents', sortDir: 'desc',
    redrawMs: DEFAULT_REDRAW_MS, paused: false };
  // What the server knows (from the last /api/sales): for the menus and to
  // tell an unknown filter value from a known one.
  const known = { sources: null, states: null };

  function splitList(values) {
    const out = [];
    for (const v of values) for (const x of v.split(',')) if (x && !out.includes(x)) out.push(x);
    return out;
  }

  function readUrl() {
    const q = new URLSearchParams(location.search);
    view.sources = splitList(q.getAll('source'));
    view.states = splitList(q.getAll('state'));
    view.range = RANGES[q.get('range')] ? q.get('range') : '1h';
    view.time = Q.readRange(q);
  }

  function viewQuery() {
    const parts = [];
    if (view.sources.length) parts.push('source=' + view.sources.map(encodeURIComponent).join(','));
    if (view.states.length) parts.push('state=' + view.states.map(encodeURIComponent).join(','));
    if (view.range !== '1h') parts.push('range=' + view.range);
    const t = Q.rangeParams(view.time);
    if (t) parts.push(t);
    return parts.join('&');
  }

  function writeUrl() {
    const s = viewQuery();
    history.replaceState(null, '', location.pathname + (s ? '?' + s : '') + location.hash);
  }

  // "source=…&state=…" for the API (encodeURIComponent: spaces as %20).
  function filterQuery() {
    const parts = [];
    if (view.sources.length) parts.push('source=' + view.sources.map(encodeURIComponent).join(','));
    if (view.states.length) parts.push('state=' + view.states.map(encodeURIComponent).join(','));
    return parts.join('&');
  }

  // The API path with extra parameters, the filters and (timed: true)
  // the dashboard's time range.
  function withQuery(path, extra, timed) {
    const q = [extra, filterQuery(), timed ? Q.apiParams(view.time) : ''].filter(Boolean).join('&');
    return q ? path + '?' + q : path;
  }

  function filtersChanged() {
    writeUrl();
    renderFilters();
    forceRedraw();
    refreshNow();
  }

  // Add value to the kind's filter, or remove it if it is there.
  function toggleFilter(kind, value) {
    const list = kind === 'source' ? view.sources : view.states;
    const i = list.indexOf(value);
    if (i >= 0) list.splice(i, 1); else list.push(value);
    filtersChanged();
  }

  // Cross-filter on a (source, state) pair: both added, or both removed if
  // both are there.
  function togglePair(source, state) {
    if (view.sources.includes(source) && view.states.includes(state)) {
      view.sources = view.sources.filter((x) => x !== source);
      view.states = view.states.filter((x) => x !== state);
    } else {
      if (!view.sources.includes(source)) view.sources.push(source);
      if (!view.states.includes(state)) view.states.push(state);
    }
    filtersChanged();
  }

  /* ---------- theme (light/dark from prefers-color-scheme) ---------- */

  const darkQuery = window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null;
  function isDark() { return Boolean(darkQuery && darkQuery.matches); }

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  let theme = {};
  function readTheme() {
    theme = {
      dark: isDark(),
      text: cssVar('--text'), muted: cssVar('--muted'), faint: cssVar('--faint'),
      grid: cssVar('--grid-line'), border: cssVar('--border'), card: cssVar('--card'),
      accent: cssVar('--accent'),
    };
  }

  function baseOption() {
    return {
      backgroundColor: 'transparent',
      // Live updates do not animate: bars never slide under other labels.
      animation: false,
      aria: { enabled: true, decal: { show: true } },
      textStyle: { color: theme.text, fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif' },
      legend: { textStyle: { color: theme.muted }, inactiveColor: theme.faint, type: 'scroll',
        pageTextStyle: { color: theme.muted }, pageIconColor: theme.muted },
      tooltip: { backgroundColor: theme.card, borderColor: theme.border, textStyle: { color: theme.text },
        confine: true },
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

  function sourceSeriesStyle(s) {
    return { color: colorFor(s), decal: decalFor(s) };
  }

  /* ---------- charts ---------- */

  // Per panel: its card, what its info tip says, and (charts) its element.
  const PANELS = {
    'chart-source-pie': { card: 'card-pie', title: 'Source by Amount', chart: true,
      info: 'Sales amount per order source: the sum of quantity × unit price (USD) of every ' +
        'stored order in the time range that matches the filters. Click a slice to filter by its source.' },
    'table-top': { card: 'card-top', title: 'Top Source/State by Amount', chart: false,
      info: 'Amount (quantity × unit price, USD) and number of orders per source and state, ' +
        'over the stored orders in the time range that match the filters. Click a source or state to filter by it.' },
    'chart-revenue-minute': { card: 'card-minute', title: 'Revenue by Source', chart: true,
      info: 'Amount (quantity × unit price, USD) per source in buckets of order time (created_at): ' +
        '1 minute for 15 min and 1 hour, 30 minutes for 1 day. With a time range it shows that range: ' +
        '1- or 30-minute buckets up to a day, 3 hours up to 8 days, then days. The bucket still in progress is ' +
        'shaded and labelled "in progress": it is not a drop. Click a bar to filter by its source.' },
    'chart-orders-second': { card: 'card-second', title: 'Orders per Second', chart: true,
      info: 'Orders counted by processing time: how many reached the store in each complete ' +
        'second of the last 5 minutes (history starts when the server does). The second in ' +
        'progress is not shown until it is complete. It is the live rate: it does not follow the time range.' },
    'chart-state-stacked': { card: 'card-stacked', title: 'State by Amount, by Source', chart: true,
      info: 'Amount (quantity × unit price, USD) per state (by the customer\'s state), stacked ' +
        'by source; states in alphabetical order. Click a bar to filter by its state.' },
    'chart-pair-bar': { card: 'card-pair', title: 'Source/State by Amount', chart: true,
      info: 'Amount (quantity × unit price, USD) per source and state pair, in a fixed order ' +
        '(source, then state by name). Click a bar to filter by that source and state.' },
    'table-orders': { card: 'card-orders', title: 'Latest Orders', chart: false,
      info: 'The 20 newest stored orders by order time (created_at) in the time range that match the filters. ' +
        'Total = quantity × unit price. New rows are highlighted briefly (not when most rows ' +
        'are new, nor when reduced motion is asked for). Click a source or state to filter by it.' },
  };
  const CHART_IDS = Object.keys(PANELS).filter((id) => PANELS[id].chart);
  const chartsAvailable = typeof window.echarts !== 'undefined';
  const CHARTS_MISSING = 'Charts are unavailable: /echarts.min.js did not load.';
  const charts = {};    // id -> echarts instance
  const chartMode = {}; // id -> 'empty' | 'data', to reset options on a switch
  const built = {};     // id -> { build: () => option, empty }, to rebuild on a theme change
  const csvRows = {};   // id -> rows (arrays) for the CSV download, header first
  let draws = 0;        // setOption calls, for tests and the bench

  // A chart instance with its cross-filter clicks. SVG keeps chart text in
  // the DOM, which browser tests can read.
  function makeChart(id) {
    const c = window.echarts.init($(id), null, { renderer: 'svg' });
    const click = {
      'chart-source-pie': (p) => { if (p.componentType === 'series') toggleFilter('source', p.name); },
      'chart-state-stacked': (p) => { if (p.componentType === 'series') toggleFilter('state', p.name); },
      'chart-pair-bar': (p) => {
        if (p.componentType === 'series' && p.data && p.data.pair) togglePair(p.data.pair[0], p.data.pair[1]);
      },
      'chart-revenue-minute': (p) => { if (p.componentType === 'series') toggleFilter('source', p.seriesName); },
    }[id];
    if (click) c.on('click', click);
    return c;
  }

  function initCharts() {
    if (!chartsAvailable) return;
    for (const id of CHART_IDS) charts[id] = makeChart(id);
    if (typeof ResizeObserver !== 'undefined') {
      const ro = new ResizeObserver((entries) => {
        for (const e of entries) {
          const id = e.target.id;
          if (!charts[id]) continue;
          charts[id].resize();
          // The time axis spaces its labels by the chart's width.
          if (id === 'chart-revenue-minute' && built[id]) setChart(id, built[id].build, built[id].empty);
        }
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
        textStyle: { color: theme.muted, fontSize: 14, fontWeight: 'normal' },
      },
      series: [],
    });
  }

  // build: a function returning the option, called again after a theme
  // change so that every colour follows the theme.
  function setChart(id, build, empty) {
    built[id] = { build, empty };
    const chart = charts[id];
    if (!chart) return;
    const option = build();
    const mode = empty ? 'empty' : 'data';
    draws++;
    if (chartMode[id] !== mode) {
      chart.setOption(option, { notMerge: true });
      chartMode[id] = mode;
    } else {
      // Series are keyed by id, so a source that vanishes is removed.
      chart.setOption(option, { replaceMerge: ['series'] });
    }
  }

  function redrawAll() {
    readTheme();
    for (const id of Object.keys(built)) {
      chartMode[id] = null;
      // A new instance, not clear(): ECharts 5 reuses a cleared chart's
      // tooltip view with its content element already gone, and the next
      // hover threw "Cannot set properties of null (setting 'innerHTML')".
      if (charts[id]) {
        charts[id].dispose();
        charts[id] = makeChart(id);
      }
      setChart(id, built[id].build, built[id].empty);
    }
    // Table dots follow the theme's palette too.
    for (const dot of document.querySelectorAll('.dot[data-source]')) styleDot(dot, dot.dataset.source);
  }

  function pieOption(d) {
    const bySource = new Map();
    for (const r of d.rows) bySource.set(r.source, (bySource.get(r.source) || 0) + r.cents);
    const total = d.rows.reduce((a, r) => a + r.cents, 0) || 1;
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
        radius: ['30%', '52%'],
        center: ['50%', '44%'],
        avoidLabelOverlap: true,
        itemStyle: { borderColor: theme.card, borderWidth: 2 },
        // The percentage beside each slice; names in the legend below (with
        // the same patterns), so no label can run off the card.
        label: { formatter: (p) => Math.round(p.value * 100 / total * 100) + '%', color: theme.text, fontSize: 12 },
        labelLine: { length: 6, length2: 6, lineStyle: { color: theme.muted } },
        data: d.sources.map((s) => ({
          name: s,
          value: (bySource.get(s) || 0) / 100,
          itemStyle: sourceSeriesStyle(s),
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
      xAxis: axisStyle({ type: 'category', data: d.states, axisLabel: { interval: 0, color: theme.muted, hideOverlap: true } }),
      yAxis: axisStyle({ type: 'value', axisLabel: { formatter: axisMoney, color: theme.muted } }),
      series: d.sources.map((s) => ({
        id: s,
        name: s,
        type: 'bar',
        stack: 'amount',
        barMaxWidth: 56,
        itemStyle: sourceSeriesStyle(s),
        emphasis: { focus: 'series' },
        data: d.states.map((st) => (cell.get(s + '\u0000' + st) || 0) / 100),
      })),
    });
  }

  // Rows in a fixed order: source (in the usual source order), then state.
  function pairOrder(rows) {
    return rows.slice().sort((a, b) => sourceIndex(a.source) - sourceIndex(b.source) ||
      a.source.localeCompare(b.source) || a.state.localeCompare(b.state));
  }

  function pairOption(d) {
    // Horizontal bars, one per (source, state) pair in a fixed order, so
    // labels never collide or rotate. Each source is its own series (null
    // elsewhere) on a shared stack, so every bar is centred on its label
    // and the legend shows the source colours and patterns.
    const rows = pairOrder(d.rows);
    const labels = rows.map((r) => r.source + ' / ' + r.state);
    return Object.assign(baseOption(), {
      tooltip: Object.assign(baseOption().tooltip, {
        trigger: 'item',
        formatter: (p) => escapeHtml(p.name) + '<br><b>' + moneyTooltip(p.value) + '</b>',
      }),
      legend: Object.assign(baseOption().legend, { top: 0 }),
      grid: { left: 20, right: 24, top: 32, bottom: 10, containLabel: true },
      yAxis: axisStyle({ type: 'category', data: labels, inverse: true,
        axisLabel: { color: theme.muted, fontSize: 11, interval: labels.length > 20 ? 'auto' : 0 } }),
      xAxis: axisStyle({ type: 'value', axisLabel: { formatter: axisMoney, color: theme.muted, hideOverlap: true } }),
      series: d.sources.map((s) => ({
        id: s,
        name: s,
        type: 'bar',
        stack: 'pair',
        barMaxWidth: 22,
        itemStyle: sourceSeriesStyle(s),
        data: rows.map((r) => (r.source === s ? { value: r.cents / 100, pair: [r.source, r.state] } : null)),
      })),
    });
  }

  /*
   * What the Revenue chart asks for. All time: its own window (15 min,
   * 1 hour, 1 day) from /api/sales/minute. A time range: that range, from
   * /api/sales/minute up to 26 hours (1- or 30-minute buckets), else from
   * /api/query by hour (3-hour buckets up to 8 days, local days up to 62)
   * or by day (UTC days). from/to: ms, null when open.
   */
  const MIN_MS = 60000;
  const HOUR_MS = 60 * MIN_MS;
  const DAY_MS = 24 * HOUR_MS;

  function planRevenue() {
    const fq = filterQuery();
    const minute = (extra) => '/api/sales/minute?' + [extra, fq].filter(Boolean).join('&');
    if (Q.isAllTime(view.time)) {
      const r = RANGES[view.range];
      return { path: minute('from=-' + r.minutes + 'm'), grain: r.grain * MIN_MS, kind: 'minute', from: null, to: null };
    }
    const now = Date.now();
    const b = Q.bounds(view.time, now);
    const span = b.from === null ? Infinity : Math.min(b.to === null ? now : b.to, now) - b.from;
    const time = Q.apiParams(view.time, now);
    if (span <= 26 * HOUR_MS) {
      return { path: minute(time), grain: span <= 2 * HOUR_MS ? MIN_MS : 30 * MIN_MS, kind: 'minute',
        from: b.from, to: b.to };
    }
    const by = span <= 62 * DAY_MS ? 'hour' : 'day';
    // Local 3-hour buckets and days are made of UTC hours, except in a
    // zone off the hour (+05:30, -03:30): there local days (over 8 days)
    // are asked as the days of the viewer's offset when it is one over
    // the range (tz=+05:30: whole hours from the hour rollup), else, and
    // for 3-hour buckets, hours on the zone's minutes past the hour
    // (tz=+00:30, read from the minute rollup), so that none straddles a
    // local midnight.
    let ask = by;
    let tz = '';
    if (by === 'hour' && Q.bucketOffset('hour')) {
      const off = (t) => -new Date(t).getTimezoneOffset() * MIN_MS;
      const end = b.to === null ? now : b.to;
      if (span > 8 * DAY_MS && off(b.from) === off(end) && off(b.from) === off(now)) {
        ask = 'day';
        tz = Q.tzParam(off(now));
      } else {
        tz = Q.tzParam(Q.bucketOffset('hour'));
      }
    }
    return { path: '/api/query?metric=revenue&by=' + ask + ',source&' + [time, tz, fq].filter(Boolean).join('&'),
      grain: span <= 8 * DAY_MS ? 3 * HOUR_MS : DAY_MS, kind: 'query', local: by === 'hour', from: b.from, to: b.to };
  }

  // The Revenue chart's answer as { from, to (ms), rows: [{ t, source, cents }] }.
  function revenueRows(m, plan) {
    if (plan.kind === 'minute') {
      return { from: Date.parse(m.from), to: Date.parse(m.to),
        rows: m.rows.map((r) => ({ t: Date.parse(r.minute), source: String(r.source), cents: toCents(r.total) })) };
    }
    if (!m || !Array.isArray(m.rows)) throw new Error('unexpected response from /api/query (no "rows" array)');
    const rows = m.rows.map((r) => ({ t: Date.parse(r[0]), source: String(r[1]), cents: toCents(r[2]) }))
      .filter((r) => !Number.isNaN(r.t));
    let from = plan.from;
    if (from === null) from = rows.length ? Math.min(...rows.map((r) => r.t)) : Date.now() - DAY_MS;
    return { from, to: plan.to === null ? Date.now() + 1 : plan.to, rows };
  }

  // The start of the bucket holding t: whole multiples of the grain, or,
  // for local buckets, from the viewer's midnight.
  function bucketStart(t, grain, local) {
    if (!local) return Math.floor(t / grain) * grain;
    const d = new Date(t);
    if (grain >= DAY_MS) return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
    const h = grain / HOUR_MS;
    return new Date(d.getFullYear(), d.getMonth(), d.getDate(), Math.floor(d.getHours() / h) * h).getTime();
  }

  function nextBucket(t, grain, local) {
    if (!local) return t + grain;
    const d = new Date(t);
    if (grain >= DAY_MS) return new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1).getTime();
    return new Date(d.getFullYear(), d.getMonth(), d.getDate(), d.getHours() + grain / HOUR_MS).getTime();
  }

  // Buckets of the range at its grain; partial: the bucket is still in
  // progress, or starts before the range does.
  function minuteBuckets(rr, plan) {
    const grain = plan.grain;
    const local = Boolean(plan.local);
    const now = Date.now();
    const buckets = [];
    for (let t = bucketStart(rr.from, grain, local); t < rr.to && t <= now && buckets.length < 2000;) {
      const end = nextBucket(t, grain, local);
      buckets.push({ t, end, partial: end > now || t < rr.from });
      t = end;
    }
    return { grain, buckets };
  }

  function minuteData(m, plan) {
    const rr = revenueRows(m, plan);
    const { grain, buckets } = minuteBuckets(rr, plan);
    const present = new Set(rr.rows.map((r) => r.source));
    const sources = orderSources(present);
    const sums = new Map();   // source -> cents per bucket
    for (const s of sources) sums.set(s, buckets.map(() => 0));
    const starts = buckets.map((b) => b.t);
    for (const r of rr.rows) {
      // the last bucket starting at or before r.t
      let lo = 0, hi = starts.length - 1, i = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (starts[mid] <= r.t) { i = mid; lo = mid + 1; } else hi = mid - 1;
      }
      if (i >= 0 && r.t < buckets[i].end) sums.get(r.source)[i] += r.cents;
    }
    return { grain, buckets, sources, sums, empty: rr.rows.length === 0, utcDays: grain >= DAY_MS && !plan.local };
  }

  function minuteOption(md) {
    const { grain, buckets, sources, sums } = md;
    // UTC days (a range over 62 days) are named by their UTC date.
    const utcDay = (t) => { const d = new Date(t); return MONTHS[d.getUTCMonth()] + ' ' + d.getUTCDate() + ' ' + d.getUTCFullYear() + ' UTC'; };
    const when = (t) => (md.utcDays ? utcDay(t) : grain >= HOUR_MS ? Q.shortTime(t) : formatHM(new Date(t)));
    const keys = buckets.map((b) => String(b.t));
    const partialKeys = buckets.filter((b) => b.partial && b.end > Date.now()).map((b) => String(b.t));
    // About one label per 80 px of chart, so they never overlap.
    const width = ($('chart-revenue-minute') || {}).clientWidth || 600;
    const labelEvery = Math.max(1, Math.ceil(buckets.length / Math.max(2, Math.floor(width / 80))));
    // Labels start half a step in, clear of the value axis's "$0".
    const labelAt = Math.floor(labelEvery / 2);
    // Buckets of hours or days: labels at local midnights only (a date),
    // as many as fit.
    let labelled = (i) => i % labelEvery === labelAt;
    if (grain >= HOUR_MS && !md.utcDays) {
      const mids = [];
      buckets.forEach((b, i) => {
        const d = new Date(b.t);
        if (d.getHours() === 0 && d.getMinutes() === 0) mids.push(i);
      });
      const every = Math.max(1, Math.ceil(mids.length / Math.max(2, Math.floor(width / 80))));
      const show = new Set(mids.filter((_, k) => k % every === 0));
      labelled = (i) => show.has(i);
    }
    return Object.assign(baseOption(), {
      tooltip: Object.assign(baseOption().tooltip, {
        trigger: 'axis',
        axisPointer: { type: 'shadow' },
        formatter: (ps) => {
          if (!ps.length) return '';
          const b = buckets[ps[0].dataIndex];
          let html = escapeHtml(when(b.t) + '–' + when(b.end));
          if (b.partial) html += ' <i>(' + (b.end > Date.now() ? 'in progress' : 'part of the bucket') + ')</i>';
          for (const p of ps) html += '<br>' + p.marker + escapeHtml(p.seriesName) + ' <b>' + moneyTooltip(p.value) + '</b>';
          return html;
        },
      }),
      legend: Object.assign(baseOption().legend, { top: 0 }),
      grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
      xAxis: axisStyle({ type: 'category', data: keys,
        axisLabel: { color: theme.muted, hideOverlap: true, interval: (i) => labelled(i),
          formatter: (v) => (md.utcDays ? utcDay(Number(v)).replace(' ' + new Date().getUTCFullYear() + ' UTC', '').replace(' UTC', '')
            : grain >= DAY_MS ? Q.shortTime(Number(v))
            : axisTimeLabel(Number(v))) },
        axisTick: { alignWithLabel: true, lineStyle: { color: theme.border } } }),
      yAxis: axisStyle({ type: 'value', axisLabel: { formatter: axisMoney, color: theme.muted } }),
      series: sources.map((s, si) => ({
        id: s,
        name: s,
        type: 'bar',
        stack: 'revenue',
        barMaxWidth: 18,
        barCategoryGap: '20%',
        itemStyle: sourceSeriesStyle(s),
        emphasis: { focus: 'series' },
        data: sums.get(s).map((c, i) => (buckets[i].partial
          ? { value: c / 100, partial: true, itemStyle: { opacity: 0.5 } } : c / 100)),
        // The bucket in progress: shaded, labelled, on the first series.
        markArea: si === 0 && partialKeys.length ? {
          silent: true,
          itemStyle: { color: theme.grid, opacity: 0.6 },
          label: { show: true, position: 'insideTop', color: theme.muted, fontSize: 11,
            formatter: grain > 60000 ? 'in progress' : 'now' },
          data: partialKeys.map((k) => [{ xAxis: k }, { xAxis: k }]),
        } : undefined,
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
      grid: { left: 8, right: 36, top: 12, bottom: 8, containLabel: true },  // a tick near the end is centred: half a "06:13:25" label
      xAxis: axisStyle({ type: 'time', axisLabel: { color: theme.muted, hideOverlap: true, alignMinLabel: 'left', alignMaxLabel: 'right',
        formatter: (v) => (new Date(v).getSeconds() ? formatClock(new Date(v)) : axisTimeLabel(v)) },
      splitLine: { show: false } }),
      // No "0" label: it would sit on the first time label on a phone.
      yAxis: axisStyle({ type: 'value', minInterval: 1, axisLabel: { color: theme.muted, showMinLabel: false } }),
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
    // States by name: a fixed order that live updates never reshuffle.
    const states = [...new Set(rows.map((r) => r.state))].sort(byName);
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

  /* ---------- filter menus and chips ---------- */

  const FILTERS = [
    { kind: 'source', label: 'Source', all: 'All sources', list: () => view.sources,
      set: (v) => { view.sources = v; }, known: () => known.sources },
    { kind: 'state', label: 'State', all: 'All states', list: () => view.states,
      set: (v) => { view.states = v; }, known: () => known.states },
  ];

  function isUnknown(f, value) {
    const k = f.known();
    return Boolean(k) && !k.includes(value);
  }

  function renderFilters() {
    for (const f of FILTERS) {
      const selected = f.list();
      const values = (f.known() || []).slice();
      for (const v of selected) if (!values.includes(v)) values.push(v);
      const menu = $('menu-' + f.kind);
      const summary = menu.querySelector('summary .ms-value');
      summary.textContent = selected.length === 0 ? f.all
        : selected.length === 1 ? selected[0] : selected.length + ' selected';
      const panel = menu.querySelector('.ms-panel');
      const want = values.map((v) => v + (selected.includes(v) ? '\u0001' : '') +
        (isUnknown(f, v) ? '\u0002' : '')).join('\u0000');
      if (panel.dataset.sig !== want) {
        panel.dataset.sig = want;
        panel.replaceChildren(...(values.length ? values.map((v) => {
          const label = document.createElement('label');
          const box = document.createElement('input');
          box.type = 'checkbox';
          box.value = v;
          box.checked = selected.includes(v);
          box.addEventListener('change', () => {
            const cur = f.list().filter((x) => x !== v);
            if (box.checked) cur.push(v);
            f.set(cur);
            filtersChanged();
          });
          label.append(box, document.createTextNode(' ' + v));
          if (isUnknown(f, v)) {
            const note = document.createElement('small');
            note.textContent = ' (not in the data)';
            label.append(note);
          }
          return label;
        }) : [Object.assign(document.createElement('p'), { textContent: 'No values yet' })]));
      }
    }
    const chips = $('filter-chips');
    // Rebuilt only when what they show changes: a chip must not be replaced
    // under the pointer by a refresh.
    const chipSig = FILTERS.map((f) => f.list().map((v) => v + (isUnknown(f, v) ? '?' : '')).join(',')).join('|');
    if (chips.dataset.sig === chipSig) return;
    chips.dataset.sig = chipSig;
    const items = [];
    for (const f of FILTERS) {
      for (const v of f.list()) {
        const li = document.createElement('li');
        const unknown = isUnknown(f, v);
        li.className = 'chip' + (unknown ? ' unknown' : '');
        li.dataset.kind = f.kind;
        li.dataset.value = v;
        const text = document.createElement('span');
        text.textContent = f.label + ': ' + v + (unknown ? ' — unknown ' + f.kind : '');
        const x = document.createElement('button');
        x.type = 'button';
        x.className = 'chip-remove';
        x.textContent = '×';
        x.setAttribute('aria-label', 'Remove filter ' + f.label + ' ' + v);
        x.addEventListener('click', () => {
          f.set(f.list().filter((y) => y !== v));
          filtersChanged();
        });
        li.append(text, x);
        items.push(li);
      }
    }
    chips.replaceChildren(...items);
    chips.hidden = items.length === 0;
    $('filter-clear').hidden = items.length === 0;
  }

  /* ---------- DOM panels ---------- */

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

  function styleDot(dot, source) {
    dot.style.background = colorFor(source);
    dot.dataset.pattern = patternName(source);
  }

  // A table cell whose value filters the page when clicked.
  function filterCell(kind, value, withDot) {
    const td = document.createElement('td');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'cell-filter';
    b.dataset.kind = kind;
    b.dataset.value = value;
    const active = (kind === 'source' ? view.sources : view.states).includes(value);
    b.setAttribute('aria-label', (active ? 'Remove filter ' : 'Filter by ') + kind + ' ' + value);
    if (withDot) {
      const dot = document.createElement('span');
      dot.className = 'dot';
      dot.dataset.source = value;
      dot.setAttribute('aria-hidden', 'true');
      styleDot(dot, value);
      b.append(dot);
    }
    b.append(document.createTextNode(value));
    b.addEventListener('click', () => toggleFilter(kind, value));
    td.append(b);
    return td;
  }

  function renderTopTable(d) {
    const tbody = $('table-top').tBodies[0];
    const frag = document.createDocumentFragment();
    const rows = sortRows(d.rows);
    for (const r of rows) {
      const tr = document.createElement('tr');
      tr.append(filterCell('source', r.source, true), filterCell('state', r.state),
        cell(formatMoneyCents(r.cents), 'num'), cell(formatInt(r.orders), 'num'));
      frag.appendChild(tr);
    }
    tbody.replaceChildren(frag);
    csvRows['table-top'] = [['source', 'state', 'amount', 'orders']].concat(
      rows.map((r) => [r.source, r.state, formatCents(r.cents).replace(/,/g, ''), r.orders]));
    for (const th of $('table-top').tHead.rows[0].cells) {
      if (th.dataset.key === view.sortKey) {
        th.setAttribute('aria-sort', view.sortDir === 'asc' ? 'ascending' : 'descending');
      } else {
        th.removeAttribute('aria-sort');
      }
    }
  }

  // Shrinks the big number's font until it fits on one line in its card.
  // It reads the layout (a forced reflow), so a refresh calls it only when
  // the text's length changed: digits are tabular (style.css), so a text of
  // the same length has the same width. A resize always re-fits.
  let bigLength = -1;
  function fitBigNumber() {
    const el = $('total-sales');
    el.style.fontSize = '';
    const avail = el.clientWidth;
    if (avail > 0 && el.scrollWidth > avail) {
      const base = parseFloat(getComputedStyle(el).fontSize);
      el.style.fontSize = Math.floor(base * avail / el.scrollWidth) + 'px';
    }
  }

  const plainCents = (c) => formatCents(c).replace(/,/g, '');

  let lastSales = null;

  function renderSales(d) {
    lastSales = d;
    const storeEmpty = d.allStates.length === 0;  // no sales at all, unfiltered
    const empty = d.rows.length === 0;
    const emptyText = storeEmpty ? 'No orders yet' : 'No orders match these filters';
    known.sources = d.allSources;
    known.states = d.allStates;

    $('empty-state').hidden = !storeEmpty;
    const big = formatMoneyCents(d.totalCents);
    $('total-sales').textContent = big;
    if (big.length !== bigLength) {
      bigLength = big.length;
      fitBigNumber();
    }
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

    renderFilters();
    renderTopTable(d);
    const bySource = new Map();
    for (const r of d.rows) bySource.set(r.source, (bySource.get(r.source) || 0) + r.cents);
    csvRows['chart-source-pie'] = [['source', 'amount']].concat(
      d.sources.map((s) => [s, plainCents(bySource.get(s) || 0)]));
    csvRows['chart-state-stacked'] = [['state', 'source', 'amount']].concat(
      d.rows.slice().sort((a, b) => a.state.localeCompare(b.state) || sourceIndex(a.source) - sourceIndex(b.source))
        .map((r) => [r.state, r.source, plainCents(r.cents)]));
    csvRows['chart-pair-bar'] = [['source', 'state', 'amount']].concat(
      pairOrder(d.rows).map((r) => [r.source, r.state, plainCents(r.cents)]));
    setChart('chart-source-pie', () => (empty ? emptyOption(emptyText) : pieOption(d)), empty);
    setChart('chart-state-stacked', () => (empty ? emptyOption(emptyText) : stackedOption(d)), empty);
    setChart('chart-pair-bar', () => (empty ? emptyOption(emptyText) : pairOption(d)), empty);
  }

  function renderMinute(m, plan) {
    const md = minuteData(m, plan);
    const empty = md.empty;
    const text = lastSales && lastSales.allStates.length === 0 ? 'No orders yet'
      : Q.isAllTime(view.time) ? 'No orders in the last ' + RANGE_TEXT[view.range] : 'No orders in this time range';
    const head = ['bucket_start', 'bucket_minutes', 'source', 'amount', 'complete'];
    const rows = [];
    md.buckets.forEach((b, i) => {
      for (const s of md.sources) {
        rows.push([new Date(b.t).toISOString(), md.grain / 60000, s, plainCents(md.sums.get(s)[i]),
          b.partial ? 'no' : 'yes']);
      }
    });
    csvRows['chart-revenue-minute'] = [head].concat(rows);
    setChart('chart-revenue-minute', () => (empty ? emptyOption(text) : minuteOption(md)), empty);
  }

  function renderSecond(s) {
    const pts = Array.isArray(s.points) ? s.points : [];
    const empty = pts.length === 0;
    csvRows['chart-orders-second'] = [['second', 'orders', 'amount']].concat(pts.map((p) => [p.t, p.orders, p.total]));
    setChart('chart-orders-second', () => (empty ? emptyOption('Collecting…') : secondOption(pts)), empty);
  }

  const orderRows = new Map();  // order id -> its <tr>, kept while listed
  let ordersPrimed = false;

  function renderOrders(o) {
    const list = Array.isArray(o.orders) ? o.orders : [];
    const tbody = $('table-orders').tBodies[0];
    const ids = list.map((r) => String(r.order_id));
    const fresh = ids.filter((id) => !orderRows.has(id));
    // A highlight says "this one is new": only when a few rows are, never
    // when (nearly) all turned over, never with reduced motion.
    const highlight = ordersPrimed && !reducedMotion() && fresh.length <= list.length / 2;
    const next = new Map();
    const trs = list.map((r, i) => {
      const id = ids[i];
      let tr = orderRows.get(id);
      if (!tr) {
        tr = document.createElement('tr');
        const created = new Date(Date.parse(r.created_at));
        tr.append(
          cell(Number.isNaN(created.getTime()) ? String(r.created_at) : formatClock(created), '',
            Number.isNaN(created.getTime()) ? '' : formatTime(created)),
          cell(id.length > 13 ? id.slice(0, 8) + '…' + id.slice(-4) : id, 'mono opt', id),
          cell(formatInt(r.customer_id), 'num opt'),
          filterCell('source', String(r.source), true),
          filterCell('state', String(r.state)),
          cell(formatInt(r.quantity), 'num'),
          cell(formatMoneyCents(toCents(r.total)), 'num'));
        if (highlight) {
          tr.className = 'fresh';
          tr.addEventListener('animationend', () => tr.classList.remove('fresh'), { once: true });
        }
      }
      next.set(id, tr);
      return tr;
    });
    orderRows.clear();
    for (const [k, v] of next) orderRows.set(k, v);
    ordersPrimed = true;
    // Move only what moved: rows that stay keep their node (and state).
    trs.forEach((tr, i) => { if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null); });
    while (tbody.children.length > trs.length) tbody.lastChild.remove();
    csvRows['table-orders'] = [['created_at', 'order_id', 'customer_id', 'source', 'state', 'quantity', 'total']]
      .concat(list.map((r) => [r.created_at, r.order_id, r.customer_id, r.source, r.state, r.quantity, r.total]));
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

  /* ---------- per-panel tools: info, PNG, CSV, link ---------- */

  function say(text) {
    const el = $('announce');
    el.textContent = '';
    el.textContent = text;
  }

  function csvText(rows) {
    const q = (v) => {
      let s = v === null || v === undefined ? '' : String(v);
      // A text cell a spreadsheet would run as a formula gets an apostrophe
      // first (an order_id may start with "="); numbers never start so.
      if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = "'" + s;
      return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
    };
    return rows.map((r) => r.map(q).join(',')).join('\r\n') + '\r\n';
  }

  function fileStem(id) {
    const d = new Date();
    return 'salesflow-' + id.replace(/^(chart|table)-/, '') + '-' + d.getFullYear() + pad2(d.getMonth() + 1) +
      pad2(d.getDate()) + '-' + pad2(d.getHours()) + pad2(d.getMinutes()) + pad2(d.getSeconds());
  }

  function download(href, name) {
    const a = document.createElement('a');
    a.href = href;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  function downloadCsv(id) {
    const rows = csvRows[id] || [[]];
    const url = URL.createObjectURL(new Blob([csvText(rows)], { type: 'text/csv' }));
    download(url, fileStem(id) + '.csv');
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    say('CSV of ' + PANELS[id].title + ' downloaded');
  }

  // A PNG through a hidden canvas-rendered copy of the chart (the page's
  // charts are SVG).
  function downloadPng(id) {
    const b = built[id];
    if (!b || !chartsAvailable) return;
    const el = $(id);
    const holder = document.createElement('div');
    holder.style.cssText = 'position:fixed;left:-10000px;top:0;width:' + el.clientWidth + 'px;height:' +
      el.clientHeight + 'px';
    document.body.appendChild(holder);
    const c = window.echarts.init(holder, null, { renderer: 'canvas' });
    try {
      const option = b.build();
      option.title = [Object.assign({ text: PANELS[id].title, left: 8, top: 0,
        textStyle: { color: theme.text, fontSize: 13 } }, b.empty ? option.title || {} : {})];
      // This chart is disposed at once: no tooltip (its timers would write
      // into the disposed chart's element) and nothing to animate.
      option.tooltip = { show: false };
      option.animation = false;
      c.setOption(option);
      download(c.getDataURL({ type: 'png', pixelRatio: 2, backgroundColor: theme.card }), fileStem(id) + '.png');
      say('PNG of ' + PANELS[id].title + ' downloaded');
    } finally {
      c.dispose();
      holder.remove();
    }
  }

  function panelLink(id) {
    const q = viewQuery();
    return location.origin + location.pathname + (q ? '?' + q : '') + '#' + PANELS[id].card;
  }

  async function copyLink(id, button) {
    const url = panelLink(id);
    try {
      await navigator.clipboard.writeText(url);
      say('Link to ' + PANELS[id].title + ' copied');
      button.dataset.done = 'copied';
    } catch (e) {
      // No clipboard (permissions, plain http on another host): show it.
      const out = $(PANELS[id].card).querySelector('.link-out');
      out.hidden = false;
      out.value = url;
      out.select();
      say('Copy the link from the field below the title');
    }
  }

  function toolButton(cls, text, label, onClick) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'tool ' + cls;
    b.textContent = text;
    b.setAttribute('aria-label', label);
    b.title = label;
    b.addEventListener('click', onClick);
    return b;
  }

  function buildTools() {
    for (const id of Object.keys(PANELS)) {
      const p = PANELS[id];
      const card = $(p.card);
      const tools = card.querySelector('.tools');
      const tip = document.createElement('p');
      tip.className = 'info-tip';
      tip.id = 'info-' + id;
      tip.hidden = true;
      tip.textContent = p.info;
      const info = toolButton('info', 'i', 'About ' + p.title, () => {
        tip.hidden = !tip.hidden;
        info.setAttribute('aria-expanded', String(!tip.hidden));
      });
      info.setAttribute('aria-expanded', 'false');
      info.setAttribute('aria-controls', tip.id);
      const buttons = [info];
      if (p.chart) buttons.push(toolButton('png', 'PNG', 'Download ' + p.title + ' as PNG', () => downloadPng(id)));
      buttons.push(toolButton('csv', 'CSV', 'Download ' + p.title + ' data as CSV', () => downloadCsv(id)));
      const link = toolButton('link', 'Link', 'Copy a link to ' + p.title, () => copyLink(id, link));
      buttons.push(link);
      tools.replaceChildren(...buttons);
      const out = document.createElement('input');
      out.type = 'text';
      out.readOnly = true;
      out.className = 'link-out';
      out.hidden = true;
      out.setAttribute('aria-label', 'Link to ' + p.title);
      tools.parentElement.after(tip, out);
    }
  }

  /* ---------- error banner ---------- */

  function setError(message) {
    const el = $('error');
    el.textContent = message || '';
    el.hidden = !message;
  }

  /* ---------- fetching ---------- */

  // The JSON text of a path; a failure carries the server's detail.
  async function getText(path) {
    const ctrl = new AbortController();
    const deadline = setTimeout(() => ctrl.abort(), FETCH_TIMEOUT_MS);
    try {
      const res = await fetch(path, { cache: 'no-store', headers: { Accept: 'application/json' }, signal: ctrl.signal });
      if (!res.ok) {
        let detail = '';
        try { detail = (await res.json()).detail; } catch (e) { /* not JSON */ }
        const err = new Error(path.split('?')[0] + ': HTTP ' + res.status + (detail ? ' — ' + detail : ''));
        err.status = res.status;
        err.detail = typeof detail === 'string' ? detail : '';
        throw err;
      }
      return await res.text();
    } catch (err) {
      if (err && err.name === 'AbortError') {
        throw new Error(path.split('?')[0] + ': no answer within ' + FETCH_TIMEOUT_MS / 1000 + ' s');
      }
      throw err;
    } finally {
      clearTimeout(deadline);
    }
  }

  // Panels are redrawn only when their answer changed (or forceRedraw()).
  const lastText = {};
  function forceRedraw() { for (const k of Object.keys(lastText)) delete lastText[k]; }

  // sig: what else the drawing depends on (the Revenue chart's plan).
  // Resolves to the panel's drawing (a function), or null when its answer
  // did not change: doRefresh draws every changed panel of a refresh
  // together, in one task, so that the browser lays out and paints the
  // page once per refresh instead of once per answer.
  async function panel(key, path, render, sig) {
    const text = (sig || '') + '\u0000' + await getText(path);
    if (lastText[key] === text) return null;
    return () => {
      render(JSON.parse(text.slice(text.indexOf('\u0000') + 1)));
      lastText[key] = text;
    };
  }

  let hasData = false;
  let dataFailing = false;
  let refreshing = null;     // the refresh in flight
  let again = false;         // another one was asked for meanwhile
  let lastRefreshAt = 0;     // the last full refresh
  let lastTickAt = 0;        // the last ticker refresh
  let refreshTimer = null;
  let refreshCount = 0;

  // A filter value the server refused (400 "source … is unknown"): learn
  // what it does know, so that the chips can say which value is unknown.
  async function learnKnownValues() {
    try {
      const d = normalizeSales(JSON.parse(await getText('/api/sales')));
      known.sources = d.allSources;
      known.states = d.allStates;
      renderFilters();
    } catch (e) { /* the banner already says what failed */ }
  }

  // parts: 'all', or 'ticker' (orders per second, and the pipeline when
  // withPipeline).
  async function doRefresh(parts, withPipeline) {
    const all = parts === 'all';
    const plan = all ? planRevenue() : null;
    if (all) showTimeRange();
    const jobs = [
      all ? panel('sales', withQuery('/api/sales', '', true), (p) => renderSales(normalizeSales(p))) : null,
      // The plan is part of the key: the same answer means another thing
      // under another plan.
      all ? panel('minute', plan.path, (m) => renderMinute(m, plan), plan.kind + plan.grain + ':' + plan.from) : null,
      panel('second', withQuery('/api/sales/second'), renderSecond),
      all ? panel('orders', withQuery('/api/orders', 'limit=' + ORDERS_LIMIT, true), renderOrders) : null,
      all || withPipeline ? panel('pipeline', '/api/pipeline', renderPipeline) : null,
      all ? refreshSaved() : null,
    ].filter(Boolean);
    const results = await Promise.allSettled(jobs);
    const errors = results.filter((r) => r.status === 'rejected').map((r) => r.reason);
    for (const r of results) {
      if (r.status !== 'fulfilled' || typeof r.value !== 'function') continue;
      try {
        r.value();
      } catch (e) {
        errors.push(e);
      }
    }
    const failed = errors.map((e) => (e && e.message) || String(e));
    dataFailing = failed.length > 0;
    if (failed.length) {
      const badFilter = errors.find((e) => e && e.status === 400 && /unknown|not a state/.test(e.detail || '') &&
        !/query parameter/.test(e.detail || ''));
      if (badFilter) {
        await learnKnownValues();
        setError('The filter is not valid: ' + badFilter.detail + '. Remove it with × on its chip above, or ' +
          'use Clear filters.');
      } else {
        const mode = liveState === 'live' ? '' : ' Retrying every ' + POLL_MS / 1000 + ' s.';
        setError('Could not load ' + (failed.length === jobs.length ? 'the dashboard data' : 'some panels') +
          ' at ' + formatClock(new Date()) + ' (' + failed[0] + ').' +
          (hasData ? ' Showing the last data received.' : '') + mode);
      }
    } else {
      hasData = hasData || all;
      setError(chartsAvailable ? null : CHARTS_MISSING);
      const now = new Date();
      $('refreshed-at').textContent = formatTime(now);
      $('refreshed-at').setAttribute('datetime', now.toISOString());
    }
    showPill();
    if (all) refreshCount++;
  }

  // Run a full refresh now, or as soon as the one in flight is done; never
  // more often than the redraw interval, never while paused.
  let userAsked = false;     // a user action: refresh even while paused
  function refresh() {
    if (view.paused && !userAsked) return Promise.resolve();
    if (refreshing) {
      again = true;
      return refreshing;
    }
    clearTimeout(refreshTimer);
    refreshTimer = null;
    const wait = lastRefreshAt + view.redrawMs - Date.now();
    if (wait > 0) {
      refreshTimer = setTimeout(refresh, wait);
      return Promise.resolve();
    }
    lastRefreshAt = Date.now();
    userAsked = false;
    refreshing = doRefresh('all').finally(() => {
      refreshing = null;
      if (again) {
        again = false;
        refresh();
      }
    });
    return refreshing;
  }

  // A user action (filter, range): at once, whatever the redraw interval.
  function refreshNow() {
    lastRefreshAt = 0;
    userAsked = true;
    return refresh();
  }

  /* ---------- time range ---------- */

  let rangeControl = null;

  // The Revenue chart follows the time range; its own window picker is
  // for all time only.
  function showTimeRange() {
    const all = Q.isAllTime(view.time);
    $('range-picker').hidden = !all;
    $('minute-follows').hidden = all;
    // "Today" moves on at midnight.
    if (view.time.period === 'today') $('range-text').textContent = Q.describe(view.time);
  }

  function timeChanged(r) {
    view.time = r;
    writeUrl();
    showTimeRange();
    forceRedraw();
    say('Time range: ' + Q.describe(r));
    refreshNow();
  }

  /* ---------- saved charts (built in Explore, GET /api/charts) ---------- */

  // id -> { card, def, chart (echarts or null), key (its answer last drawn) }
  const saved = new Map();
  let savedListText = null;

  function savedList(payload) {
    const list = Array.isArray(payload) ? payload : payload && Array.isArray(payload.charts) ? payload.charts : [];
    return list.filter((c) => c && c.id !== undefined && c.id !== null);
  }

  function savedCard(c) {
    const id = String(c.id);
    const def = Q.normalizeDefinition(c.definition);
    const card = document.createElement('section');
    card.className = 'card span-6 saved-card';
    card.id = 'saved-' + id.replace(/[^A-Za-z0-9_-]/g, '_');
    card.dataset.chartId = id;
    const head = document.createElement('div');
    head.className = 'card-head';
    const h = document.createElement('h2');
    h.id = card.id + '-title';
    const name = String(c.name || 'Saved chart');
    h.textContent = name;
    card.setAttribute('aria-labelledby', h.id);
    const sub = document.createElement('span');
    sub.className = 'sub';
    sub.textContent = def ? Q.describeDefinition(def) : '';
    // The chart's own range, shown while it applies (the dashboard at all time).
    const own = document.createElement('span');
    own.className = 'sub own-range';
    h.append(' ', sub, own);
    const tools = document.createElement('div');
    tools.className = 'saved-tools';
    const open = document.createElement('a');
    open.className = 'tool';
    open.textContent = 'Open';
    open.href = def ? '/explore?' + exploreParams(def) : '/explore';
    open.setAttribute('aria-label', 'Open ' + name + ' in Explore');
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'tool remove';
    remove.textContent = 'Remove';
    remove.setAttribute('aria-label', 'Remove ' + name + ' from the dashboard');
    remove.addEventListener('click', () => removeSaved(id, remove));
    const csv = document.createElement('a');
    csv.className = 'tool';
    csv.textContent = 'CSV';
    csv.setAttribute('download', '');
    csv.setAttribute('aria-label', 'Download ' + name + ' data as CSV');
    csv.href = '/api/query';
    csv.hidden = !def;
    // The API's CSV of what the card shows (the range as of the click).
    csv.addEventListener('click', (e) => {
      const q = def ? Q.queryParams(savedAsked(def), view.time, { source: view.sources, state: view.states }, 'csv') : null;
      if (q === null) { e.preventDefault(); return; }
      csv.href = '/api/query?' + q;
    });
    tools.append(open, csv, remove);
    head.append(h, tools);
    const body = document.createElement('div');
    body.className = 'saved-body';
    const msg = document.createElement('p');
    msg.className = 'saved-msg';
    msg.setAttribute('aria-live', 'polite');
    if (!def) {
      msg.textContent = 'This saved chart cannot be shown' + (c.error ? ' (' + String(c.error) + ')' : '') +
        '; remove it and save it again from Explore.';
    }
    card.append(head, msg, body);
    return { card, def, body, msg, own, chart: null, key: null, name };
  }

  // The Explore address of a definition (for "Open"): the dashboard's
  // range, or the chart's own under all time.
  function exploreParams(def) {
    const parts = ['metric=' + def.metric, 'by=' + def.by.join(','), 'chart=' + def.chart];
    if (def.source.length) parts.push('source=' + def.source.map(encodeURIComponent).join(','));
    if (def.state.length) parts.push('state=' + def.state.map(encodeURIComponent).join(','));
    const t = Q.rangeParams(Q.isAllTime(view.time) ? Q.rangeOfSaved(def) : view.time);
    if (t) parts.push(t);
    return parts.join('&');
  }

  async function removeSaved(id, button) {
    const s = saved.get(id);
    if (!s) return;
    // Two steps: the first click asks, the second removes.
    if (button.dataset.confirm !== 'yes') {
      button.dataset.confirm = 'yes';
      button.textContent = 'Remove? Click again';
      say('Click Remove again to remove ' + s.name);
      setTimeout(() => {
        if (button.isConnected) { button.dataset.confirm = ''; button.textContent = 'Remove'; }
      }, 5000);
      return;
    }
    button.disabled = true;
    try {
      const res = await fetch('/api/charts/' + encodeURIComponent(id), { method: 'DELETE' });
      if (!res.ok && res.status !== 404) {
        let detail = '';
        try { detail = (await res.json()).detail; } catch (e) { /* not JSON */ }
        throw new Error('HTTP ' + res.status + (typeof detail === 'string' && detail ? ' — ' + detail : ''));
      }
      dropSaved(id);
      savedListText = null;
      say(s.name + ' removed from the dashboard');
    } catch (e) {
      button.disabled = false;
      s.msg.textContent = 'Could not remove this chart: ' + e.message;
    }
  }

  function dropSaved(id) {
    const s = saved.get(id);
    if (!s) return;
    if (s.chart) s.chart.dispose();
    s.card.remove();
    saved.delete(id);
  }

  // Draw one saved chart's answer.
  function drawSaved(s, answer) {
    const def = s.def;
    const shape = Q.shapeAnswer(def, answer);
    s.msg.textContent = shape.rows.length ? '' : 'No orders match this chart in this time range.';
    if (def.chart === 'table' || def.chart === 'number') {
      if (s.chart) { s.chart.dispose(); s.chart = null; }
      if (def.chart === 'number') {
        let p = s.body.querySelector('.big-number');
        if (!p) {
          p = document.createElement('p');
          p.className = 'big-number';
          s.body.replaceChildren(p);
        }
        p.textContent = Q.formatValue(def.metric, Q.bigNumberOf(shape));
      } else {
        let wrap = s.body.querySelector('.table-wrap');
        if (!wrap) {
          wrap = document.createElement('div');
          wrap.className = 'table-wrap';
          wrap.append(document.createElement('table'));
          s.body.replaceChildren(wrap);
        }
        Q.fillTable(wrap.firstChild, shape);
      }
      return;
    }
    if (!chartsAvailable) return;
    if (!s.chart) {
      const el = document.createElement('div');
      el.className = 'chart';
      el.setAttribute('role', 'img');
      el.setAttribute('aria-label', s.name + ': ' + Q.describeDefinition(def));
      s.body.replaceChildren(el);
      s.chart = window.echarts.init(el, null, { renderer: 'svg' });
      if (typeof ResizeObserver !== 'undefined') new ResizeObserver(() => s.chart && s.chart.resize()).observe(el);
    }
    draws++;
    s.chart.setOption(Q.chartOption(def, shape, view.time, Q.chartStyle()), { notMerge: true });
  }

  // What a saved chart asks: a big number is one total, without group-by.
  function savedAsked(def) { return def.chart === 'number' ? Object.assign({}, def, { by: [] }) : def; }

  // The list, then each chart's answer (a chart that fails says so in its
  // card; only the list's failure reaches the banner).
  async function refreshSaved() {
    let text;
    try {
      text = await getText('/api/charts');
    } catch (e) {
      if (e.status === 404) return;   // a server without saved charts
      throw e;
    }
    if (text !== savedListText) {
      const list = savedList(JSON.parse(text));
      const ids = new Set(list.map((c) => String(c.id)));
      for (const id of [...saved.keys()]) if (!ids.has(id)) dropSaved(id);
      const grid = document.querySelector('main.grid');
      for (const c of list) {
        const id = String(c.id);
        if (saved.has(id)) continue;
        const s = savedCard(c);
        saved.set(id, s);
        grid.append(s.card);
      }
      savedListText = text;
    }
    const filters = { source: view.sources, state: view.states };
    await Promise.all([...saved.values()].filter((s) => s.def).map(async (s) => {
      const own = Q.isAllTime(view.time) && (s.def.from || s.def.to) ? ' · ' + Q.describe(Q.rangeOfSaved(s.def)) : '';
      if (s.own.textContent !== own) s.own.textContent = own;
      const q = Q.queryParams(savedAsked(s.def), view.time, filters);
      if (q === null) {
        s.key = null;
        if (s.chart) { s.chart.dispose(); s.chart = null; }
        s.body.replaceChildren();
        s.msg.textContent = 'This chart\u2019s own filters and the dashboard\u2019s leave nothing to show.';
        return;
      }
      try {
        const answer = await getText('/api/query?' + q);
        // A relative range moves its from at every refresh: the same
        // answer under the same other parameters is not drawn again.
        const key = q.replace(/(^|&)(from|to)=[^&]*/g, '') + '\u0000' + answer;
        if (key === s.key) return;
        drawSaved(s, JSON.parse(answer));
        s.key = key;
      } catch (e) {
        s.key = null;
        s.msg.textContent = 'Could not load this chart: ' + ((e && e.message) || e);
      }
    }));
  }

  // A theme switch: draw saved charts again in the new colours.
  function redrawSaved() {
    for (const s of saved.values()) {
      if (s.chart) { s.chart.dispose(); s.chart = null; }
      s.key = null;
    }
    refreshNow();
  }

  /* ---------- live stream and fallback polling ---------- */

  let liveState = 'connecting';  // 'live' | 'connecting' | 'polling'
  let liveText = 'Connecting…';
  let source = null;
  let pollTimer = null;
  let tickTimer = null;
  let reconnectTimer = null;
  let reconnectTries = 0;
  let notices = 0;
  let missed = 0;                // notices while paused

  // The pill: the stream's state, amber while data requests fail, grey
  // while paused.
  function showPill() {
    const el = $('live-status');
    let state = liveState;
    let text = liveText;
    if (view.paused) {
      state = 'paused';
      text = 'Paused' + (missed ? ' — ' + missed + ' update' + (missed === 1 ? '' : 's') + ' waiting' : '');
    } else if (dataFailing && liveState === 'live') {
      state = 'failing';
      text = 'Live — data requests failing';
    } else if (dataFailing && liveState === 'polling') {
      text = 'Live updates interrupted — data requests failing, retrying every ' + POLL_MS / 1000 + ' s';
    }
    el.dataset.state = state;
    el.textContent = text;
  }

  function setLive(state, text) {
    liveState = state;
    liveText = text;
    showPill();
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
      if (view.paused) {
        missed++;
        showPill();
      } else {
        refresh();
      }
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
  // without commits (time passes, rates decay): refresh them on a tick,
  // unless a full refresh ran within the redraw interval.
  let ticks = 0;
  function startTicker() {
    tickTimer = setInterval(() => {
      ticks++;
      if (liveState === 'live' && !view.paused && !refreshing && document.visibilityState === 'visible' &&
          Date.now() - Math.max(lastRefreshAt, lastTickAt) >= Math.max(TICK_MS, view.redrawMs) - 50) {
        lastTickAt = Date.now();
        doRefresh('ticker', ticks % PIPELINE_EVERY === 0).catch(() => {});
      }
    }, TICK_MS);
  }

  /* ---------- controls ---------- */

  function setPaused(paused) {
    view.paused = paused;
    const b = $('pause');
    b.setAttribute('aria-pressed', String(paused));
    b.textContent = paused ? 'Resume' : 'Pause';
    b.setAttribute('aria-label', paused ? 'Resume live updates' : 'Pause live updates');
    if (!paused) {
      missed = 0;
      showPill();
      refreshNow();
    } else {
      showPill();
    }
  }

  function bindControls() {
    $('filter-clear').addEventListener('click', () => {
      view.sources = [];
      view.states = [];
      filtersChanged();
    });
    // Close an open menu on Escape or a click elsewhere.
    document.addEventListener('click', (e) => {
      for (const m of document.querySelectorAll('.ms[open]')) if (!m.contains(e.target)) m.open = false;
    });
    document.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape') return;
      for (const m of document.querySelectorAll('.ms[open]')) {
        m.open = false;
        m.querySelector('summary').focus();
      }
    });
    for (const b of $('range-picker').querySelectorAll('button')) {
      b.setAttribute('aria-pressed', String(b.dataset.range === view.range));
      b.addEventListener('click', () => {
        view.range = b.dataset.range;
        for (const x of $('range-picker').querySelectorAll('button')) {
          x.setAttribute('aria-pressed', String(x === b));
        }
        writeUrl();
        refreshNow();
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
    $('pause').addEventListener('click', () => setPaused(!view.paused));
    const rate = $('redraw-rate');
    rate.value = String(view.redrawMs);
    rate.addEventListener('change', () => {
      const ms = Number(rate.value);
      view.redrawMs = REDRAW_MS.includes(ms) ? ms : DEFAULT_REDRAW_MS;
    });
    const retheme = () => { redrawAll(); renderFilters(); redrawSaved(); };
    if (darkQuery && darkQuery.addEventListener) darkQuery.addEventListener('change', retheme);
    window.addEventListener('resize', fitBigNumber);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') refresh();
    });
  }

  readUrl();
  readTheme();
  buildTools();
  initCharts();
  bindControls();
  rangeControl = Q.bindRangeControl(() => view.time, timeChanged);
  showTimeRange();
  renderFilters();
  if (!chartsAvailable) setError(CHARTS_MISSING);
  refresh();
  connect();
  startTicker();

  // Handle for browser tests and the console.
  window.salesflowDashboard = {
    refresh,
    charts,
    view,
    csvRows,
    saved,
    get live() { return liveState; },
    get notices() { return notices; },
    get refreshes() { return refreshCount; },
    get draws() { return draws; },
  };
})();
