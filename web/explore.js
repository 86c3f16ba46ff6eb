/*
 * salesflow Explore page logic. Plain browser JS, no build step; uses
 * query.js (window.salesflowQuery) for the time range, the query string,
 * the chart options and the table.
 *
 * The question: a metric, up to two group-by dimensions, source and state
 * filters, a time range and a chart type. Each change rewrites the URL
 * (metric=…&by=a,b&source=…&state=…&chart=…&period=…), so a link opens
 * the same question, and asks GET /api/query again. The chart and the
 * table below it always show the same answer. "Download CSV" is the API's
 * own CSV of that answer (format=csv, an attachment). "Add to dashboard"
 * saves the definition with POST /api/charts; the dashboard draws it live
 * beside its own charts.
 *
 * Live: an EventSource on /api/stream; a "commit" notice asks the query
 * again, at most twice a second, never two requests at once; while the
 * stream is down the page polls every 10 s.
 */
(function () {
  'use strict';

  const Q = window.salesflowQuery;
  const $ = (id) => document.getElementById(id);
  const MIN_GAP_MS = 500;
  const POLL_MS = 10000;
  const FETCH_TIMEOUT_MS = 5000;

  const state = {
    def: { metric: 'revenue', by: ['source'], source: [], state: [], chart: 'bar' },
    range: Q.defaultRange(),
  };
  const known = { sources: [], states: [] };
  let chart = null;
  let lastAnswer = null;    // the text of the answer drawn
  let draws = 0;
  let refreshes = 0;

  /* ---------- URL ---------- */

  function readUrl() {
    const q = new URLSearchParams(location.search);
    const d = Q.normalizeDefinition({
      metric: q.get('metric') || 'revenue',
      by: q.has('by') ? q.getAll('by') : ['source'],
      source: q.getAll('source'),
      state: q.getAll('state'),
      chart: q.get('chart') || 'bar',
    });
    if (d) state.def = d;
    state.range = Q.readRange(q);
  }

  function viewQuery() {
    const d = state.def;
    const parts = ['metric=' + d.metric, 'by=' + d.by.join(',')];
    if (d.source.length) parts.push('source=' + d.source.map(encodeURIComponent).join(','));
    if (d.state.length) parts.push('state=' + d.state.map(encodeURIComponent).join(','));
    parts.push('chart=' + d.chart);
    const t = Q.rangeParams(state.range);
    if (t) parts.push(t);
    return parts.join('&');
  }

  function writeUrl() {
    history.replaceState(null, '', location.pathname + '?' + viewQuery());
  }

  // The definition as asked: a big number is one value over everything.
  function asked() {
    return state.def.chart === 'number' ? Object.assign({}, state.def, { by: [] }) : state.def;
  }

  /* ---------- the form ---------- */

  function option(value, text) { return new Option(text, value); }

  function buildForm() {
    const metric = $('metric');
    for (const m of Q.METRICS) metric.add(option(m.id, m.label));
    for (const id of ['by1', 'by2']) {
      const sel = $(id);
      sel.add(option('', id === 'by1' ? 'Nothing (one total)' : 'Nothing'));
      for (const d of Q.DIMENSIONS) sel.add(option(d.id, d.label));
    }
    const types = $('chart-type');
    for (const c of Q.CHART_TYPES) {
      const label = document.createElement('label');
      const r = document.createElement('input');
      r.type = 'radio';
      r.name = 'chart';
      r.value = c.id;
      label.append(r, document.createTextNode(' ' + c.label));
      types.append(label);
    }
    metric.addEventListener('change', () => { state.def.metric = metric.value; changed(); });
    for (const id of ['by1', 'by2']) {
      $(id).addEventListener('change', () => {
        const by = [$('by1').value, $('by2').value].filter(Boolean);
        state.def.by = by.filter((x, i) => by.indexOf(x) === i);
        changed();
      });
    }
    types.addEventListener('change', (e) => {
      if (e.target.name === 'chart') { state.def.chart = e.target.value; changed(); }
    });
    $('question').addEventListener('submit', (e) => e.preventDefault());
    $('csv').addEventListener('click', () => { $('csv').href = csvHref(); });
    $('save').addEventListener('click', save);
    $('save-name').addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); save(); } });
  }

  // The form shows the state.
  function showForm() {
    const d = state.def;
    $('metric').value = d.metric;
    $('by1').value = d.by[0] || '';
    $('by2').value = d.by[1] || '';
    $('by2').disabled = !d.by[0];
    for (const r of document.querySelectorAll('#chart-type input')) r.checked = r.value === d.chart;
    renderChecks('source', 'Source');
    renderChecks('state', 'State');
    $('result-title').textContent = Q.describeDefinition(asked());
    if (!$('save-name').dataset.touched) $('save-name').value = Q.describeDefinition(asked());
    $('csv').href = csvHref();
  }

  function renderChecks(kind, label) {
    const box = $('f-' + kind);
    const selected = state.def[kind];
    const values = known[kind === 'source' ? 'sources' : 'states'].slice();
    for (const v of selected) if (!values.includes(v)) values.push(v);
    const sig = values.join('\u0000') + '|' + selected.join('\u0000');
    if (box.dataset.sig === sig) return;
    box.dataset.sig = sig;
    const legend = box.querySelector('legend');
    const items = values.map((v) => {
      const l = document.createElement('label');
      const c = document.createElement('input');
      c.type = 'checkbox';
      c.value = v;
      c.checked = selected.includes(v);
      c.addEventListener('change', () => {
        const cur = state.def[kind].filter((x) => x !== v);
        if (c.checked) cur.push(v);
        state.def[kind] = cur;
        changed();
      });
      l.append(c, document.createTextNode(' ' + v));
      return l;
    });
    if (!items.length) items.push(Object.assign(document.createElement('p'), { className: 'hint', textContent: 'No ' + label.toLowerCase() + 's yet' }));
    box.replaceChildren(legend, ...items);
  }

  function changed() {
    writeUrl();
    showForm();
    lastAnswer = null;
    refreshNow();
  }

  /* ---------- fetching and drawing ---------- */

  async function getText(path) {
    const ctrl = new AbortController();
    const deadline = setTimeout(() => ctrl.abort(), FETCH_TIMEOUT_MS);
    try {
      const res = await fetch(path, { cache: 'no-store', headers: { Accept: 'application/json' }, signal: ctrl.signal });
      if (!res.ok) {
        let detail = '';
        try { detail = (await res.json()).detail; } catch (e) { /* not JSON */ }
        if (Array.isArray(detail)) detail = detail.map((x) => (x.loc ? x.loc.join('.') + ': ' : '') + x.msg).join('; ');
        const err = new Error(path.split('?')[0] + ': HTTP ' + res.status + (detail ? ' — ' + detail : ''));
        err.status = res.status;
        throw err;
      }
      return await res.text();
    } catch (err) {
      if (err && err.name === 'AbortError') throw new Error(path.split('?')[0] + ': no answer within ' + FETCH_TIMEOUT_MS / 1000 + ' s');
      throw err;
    } finally {
      clearTimeout(deadline);
    }
  }

  function queryString(format) { return Q.queryParams(asked(), state.range, null, format); }
  function csvHref() { return '/api/query?' + queryString('csv'); }

  function setError(text) {
    $('error').textContent = text || '';
    $('error').hidden = !text;
  }

  function say(text) {
    const el = $('announce');
    el.textContent = '';
    el.textContent = text;
  }

  function draw(answer) {
    const def = asked();
    const shape = Q.shapeAnswer(def, answer);
    $('result-msg').textContent = shape.rows.length ? '' : 'No orders match this question in this time range.';
    Q.fillTable($('explore-table'), shape);
    const number = def.chart === 'number';
    const table = def.chart === 'table';
    $('explore-number').hidden = !number;
    $('explore-chart').hidden = number || table;
    if (number) $('explore-number').textContent = Q.formatValue(def.metric, Q.bigNumberOf(shape));
    if (number || table || typeof window.echarts === 'undefined') return;
    if (!chart) {
      chart = window.echarts.init($('explore-chart'), null, { renderer: 'svg' });
      if (typeof ResizeObserver !== 'undefined') new ResizeObserver(() => chart && chart.resize()).observe($('explore-chart'));
    }
    $('explore-chart').setAttribute('aria-label', Q.describeDefinition(def) + ', ' + Q.describe(state.range) +
      ' (the same numbers are in the table below)');
    chart.resize();
    chart.setOption(Q.chartOption(def, shape, state.range, Q.chartStyle()), { notMerge: true });
    draws++;
  }

  async function learnValues() {
    try {
      const s = JSON.parse(await getText('/api/sales'));
      known.sources = Array.isArray(s.sources) ? s.sources.map(String) : [];
      known.states = Array.isArray(s.states) ? s.states.map(String) : [];
      showForm();
    } catch (e) { /* the query's own error says enough */ }
  }

  let busy = null;
  let again = false;
  let lastAt = 0;
  let timer = null;

  async function doRefresh() {
    try {
      const text = await getText('/api/query?' + queryString());
      if (text !== lastAnswer) {
        draw(JSON.parse(text));
        lastAnswer = text;
      }
      setError('');
      refreshes++;
    } catch (e) {
      setError('Could not answer the question: ' + ((e && e.message) || e));
    }
  }

  function refresh() {
    if (busy) { again = true; return busy; }
    clearTimeout(timer);
    const wait = lastAt + MIN_GAP_MS - Date.now();
    if (wait > 0) { timer = setTimeout(refresh, wait); return Promise.resolve(); }
    lastAt = Date.now();
    busy = doRefresh().finally(() => {
      busy = null;
      if (again) { again = false; refresh(); }
    });
    return busy;
  }

  function refreshNow() { lastAt = 0; return refresh(); }

  /* ---------- saving ---------- */

  async function save() {
    const name = $('save-name').value.trim();
    const status = $('save-status');
    if (!name) {
      status.textContent = 'Give the chart a name first.';
      $('save-name').focus();
      return;
    }
    const definition = Q.definitionToSave(state.def, state.range);
    $('save').disabled = true;
    status.textContent = 'Saving…';
    try {
      const res = await fetch('/api/charts', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ name, definition }),
      });
      let body = null;
      try { body = await res.json(); } catch (e) { /* not JSON */ }
      if (!res.ok) {
        let detail = body && body.detail;
        if (Array.isArray(detail)) detail = detail.map((x) => x.msg).join('; ');
        throw new Error('HTTP ' + res.status + (detail ? ' — ' + detail : ''));
      }
      status.textContent = 'Added to the dashboard as "' + name + '"' + (definition.from || definition.to
        ? ', over ' + Q.describe(state.range).toLowerCase() + ' (or the dashboard\u2019s time range, when it has one).'
        : ': it covers the dashboard\u2019s time range.');
      say('Chart added to the dashboard');
    } catch (e) {
      status.textContent = 'Could not add the chart: ' + e.message;
    } finally {
      $('save').disabled = false;
    }
  }

  /* ---------- live ---------- */

  let source = null;
  let pollTimer = null;
  let liveState = 'connecting';

  function setLive(s, text) {
    liveState = s;
    $('live-status').dataset.state = s;
    $('live-status').textContent = text;
  }

  function connect() {
    if (typeof EventSource === 'undefined') {
      setLive('polling', 'Polling every ' + POLL_MS / 1000 + ' s');
      pollTimer = setInterval(refresh, POLL_MS);
      return;
    }
    source = new EventSource('/api/stream');
    source.addEventListener('hello', () => {
      clearInterval(pollTimer);
      pollTimer = null;
      setLive('live', 'Live');
      refresh();
    });
    source.addEventListener('commit', () => refresh());
    source.onerror = () => {
      setLive('polling', 'Live updates interrupted — polling every ' + POLL_MS / 1000 + ' s, reconnecting');
      if (!pollTimer) pollTimer = setInterval(refresh, POLL_MS);
      if (source.readyState === EventSource.CLOSED) setTimeout(connect, 5000);
    };
  }

  readUrl();
  buildForm();
  $('save-name').addEventListener('input', () => { $('save-name').dataset.touched = '1'; });
  Q.bindRangeControl(() => state.range, (r) => { state.range = r; changed(); say('Time range: ' + Q.describe(r)); });
  showForm();
  writeUrl();
  learnValues();
  refresh();
  connect();
  const darkQuery = window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null;
  if (darkQuery && darkQuery.addEventListener) {
    darkQuery.addEventListener('change', () => {
      if (chart) { chart.dispose(); chart = null; }
      lastAnswer = null;
      refreshNow();
    });
  }

  // Handle for browser tests and the console.
  window.salesflowExplore = {
    state,
    refresh: refreshNow,
    get chart() { return chart; },
    get live() { return liveState; },
    get draws() { return draws; },
    get refreshes() { return refreshes; },
    get answer() { return lastAnswer; },
  };
})();
