/*
 * salesflow: what the dashboard (app.js) and Explore (explore.js) share.
 * Plain browser JS, no build step; loaded before either page's script and
 * exposed as window.salesflowQuery.
 *
 * Time range. A view has a period: a preset relative to now ("15m", "1h",
 * "24h", "7d", "30d"), "today" (the viewer's calendar day, from local
 * midnight to the next), "all" (the default: no bounds), or "custom" (a
 * from and/or a to instant). The URL holds it as period=… or, for custom,
 * from=…&to=… as RFC 3339 with the viewer's offset, so a shared link shows
 * the same instants in any time zone, while "today" and the presets are
 * the viewer's own. The API gets from (inclusive) and to (exclusive) as
 * RFC 3339 with the viewer's offset, computed again at every refresh, so
 * "last 15 min" slides with the clock; a relative period leaves "to" open,
 * so an order stored a moment after the page's clock still counts.
 *
 * Saved charts. A definition is the query (metric, by, source, state)
 * plus a chart type: line, bar, stacked (bars), pie, table or number. The
 * answer of /api/query ({"columns": [...], "rows": [[...]]}, dimensions
 * first, the metric last) becomes an ECharts option or a table; time
 * buckets are asked on the viewer's clock (tz: days are the viewer's days,
 * hours their whole hours; see bucketOffset), their starts shown in the
 * viewer's time zone, and
 * missing buckets of an additive metric are drawn as 0 (no line across a
 * gap), of avg_order as a gap.
 */
(function () {
  'use strict';

  const MINUTE = 60000;
  const HOUR = 60 * MINUTE;
  const DAY = 24 * HOUR;

  const PERIODS = [
    { id: '15m', label: 'Last 15 minutes', ms: 15 * MINUTE },
    { id: '1h', label: 'Last hour', ms: HOUR },
    { id: 'today', label: 'Today' },
    { id: '24h', label: 'Last 24 hours', ms: DAY },
    { id: '7d', label: 'Last 7 days', ms: 7 * DAY },
    { id: '30d', label: 'Last 30 days', ms: 30 * DAY },
    { id: 'all', label: 'All time' },
    { id: 'custom', label: 'Custom…' },
  ];
  const PERIOD = Object.fromEntries(PERIODS.map((p) => [p.id, p]));

  const METRICS = [
    { id: 'revenue', label: 'Revenue', money: true, additive: true },
    { id: 'orders', label: 'Orders', money: false, additive: true },
    { id: 'quantity', label: 'Quantity', money: false, additive: true },
    { id: 'avg_order', label: 'Average order', money: true, additive: false },
  ];
  const METRIC = Object.fromEntries(METRICS.map((m) => [m.id, m]));
  const DIMENSIONS = [
    { id: 'source', label: 'Source' },
    { id: 'state', label: 'State' },
    { id: 'customer_id', label: 'Customer' },
    { id: 'minute', label: 'Minute', step: MINUTE },
    { id: 'hour', label: 'Hour', step: HOUR },
    { id: 'day', label: 'Day', step: DAY },
  ];
  const DIMENSION = Object.fromEntries(DIMENSIONS.map((d) => [d.id, d]));
  const CHART_TYPES = [
    { id: 'line', label: 'Line' },
    { id: 'bar', label: 'Bar' },
    { id: 'stacked', label: 'Stacked bar' },
    { id: 'pie', label: 'Pie' },
    { id: 'table', label: 'Table' },
    { id: 'number', label: 'Big number' },
  ];
  const CHART_TYPE = Object.fromEntries(CHART_TYPES.map((c) => [c.id, c]));
  const MAX_FILL = 10000;   // never draw more buckets than the API answers

  /* ---------- time ---------- */

  function pad2(n) { return String(n).padStart(2, '0'); }
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

  // RFC 3339 with the viewer's offset: "2026-12-07T00:00:00+01:00".
  function isoLocal(ms) {
    const d = new Date(ms);
    const off = -d.getTimezoneOffset();
    const a = Math.abs(off);
    return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate()) + 'T' +
      pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds()) +
      (off < 0 ? '-' : '+') + pad2(Math.floor(a / 60)) + ':' + pad2(a % 60);
  }

  // For <input type="datetime-local">: "2026-12-07T14:05".
  function inputLocal(ms) {
    const d = new Date(ms);
    return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate()) + 'T' +
      pad2(d.getHours()) + ':' + pad2(d.getMinutes());
  }

  function parseTime(text) {
    if (!text) return null;
    // An offset's "+" typed into an address arrives as a space.
    const t = Date.parse(text.replace(/ (\d\d:?\d\d)$/, '+$1'));
    return Number.isNaN(t) ? null : t;
  }

  // "Dec 7 14:05", or "Dec 7" at local midnight; the year when not this one.
  function shortTime(ms, withSeconds) {
    const d = new Date(ms);
    const year = d.getFullYear() !== new Date().getFullYear() ? ' ' + d.getFullYear() : '';
    const day = MONTHS[d.getMonth()] + ' ' + d.getDate() + year;
    if (!withSeconds && d.getHours() === 0 && d.getMinutes() === 0 && d.getSeconds() === 0) return day;
    return day + ' ' + pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + (withSeconds ? ':' + pad2(d.getSeconds()) : '');
  }

  /* ---------- the time range of a view ---------- */

  function defaultRange() { return { period: 'all', from: null, to: null }; }

  // From URL parameters (URLSearchParams). What cannot be read is named in
  // .invalid ("from=…, period=…"), for the page to say so.
  function readRange(q) {
    const period = q.get('period');
    if (period && PERIOD[period] && period !== 'custom') return { period, from: null, to: null };
    const bad = [];
    if (period && !PERIOD[period]) bad.push('period=' + period);
    const f = q.get('from');
    const t = q.get('to');
    const from = parseTime(f);
    const to = parseTime(t);
    if (f && from === null) bad.push('from=' + f);
    if (t && to === null) bad.push('to=' + t);
    const r = from !== null || to !== null ? { period: 'custom', from, to } : defaultRange();
    if (bad.length) r.invalid = bad.join(', ');
    return r;
  }

  // URL parameters for a range ('' for all time).
  function rangeParams(r) {
    if (r.period === 'custom') {
      const parts = [];
      if (r.from !== null) parts.push('from=' + encodeURIComponent(isoLocal(r.from)));
      if (r.to !== null) parts.push('to=' + encodeURIComponent(isoLocal(r.to)));
      return parts.join('&');
    }
    return r.period && r.period !== 'all' ? 'period=' + r.period : '';
  }

  // The instants (ms, or null for open) a range covers now.
  function bounds(r, now) {
    now = now === undefined ? Date.now() : now;
    const p = PERIOD[r.period];
    if (r.period === 'custom') return { from: r.from, to: r.to };
    if (r.period === 'today') {
      const d = new Date(now);
      return { from: new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime(),
        to: new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1).getTime() };
    }
    if (p && p.ms) return { from: now - p.ms, to: null };
    return { from: null, to: null };
  }

  // "from=…&to=…" for the API ('' for all time).
  function apiParams(r, now) {
    const b = bounds(r, now);
    const parts = [];
    if (b.from !== null) parts.push('from=' + encodeURIComponent(isoLocal(b.from)));
    if (b.to !== null) parts.push('to=' + encodeURIComponent(isoLocal(b.to)));
    return parts.join('&');
  }

  function isAllTime(r) { return !r || r.period === 'all'; }

  // A person's words for a range: "Today (Dec 7)", "Dec 1 00:00 – Dec 2 00:00".
  function describe(r, now) {
    if (isAllTime(r)) return 'All time';
    const b = bounds(r, now);
    if (r.period === 'today') return 'Today (' + shortTime(b.from) + ')';
    if (r.period !== 'custom') return PERIOD[r.period].label;
    return (b.from === null ? 'the start' : shortTime(b.from)) + ' – ' + (b.to === null ? 'now' : shortTime(b.to));
  }

  function sameRange(a, b) {
    return a.period === b.period && a.from === b.from && a.to === b.to;
  }

  /*
   * The range control: a <select> of periods and, for Custom, two
   * datetime-local fields with an Apply button. ids: prefix + "period",
   * "range-custom", "range-from", "range-to", "range-apply", "range-error",
   * "range-text". get() returns the current range; onChange(range) is
   * called for a new one.
   */
  function bindRangeControl(get, onChange) {
    const $ = (id) => document.getElementById(id);
    const sel = $('period');
    const custom = $('range-custom');
    const from = $('range-from');
    const to = $('range-to');
    const err = $('range-error');
    if (!sel.options.length) {
      for (const p of PERIODS) sel.add(new Option(p.label, p.id));
    }
    function showError(text) {
      err.textContent = text || '';
      err.hidden = !text;
    }
    function show() {
      const r = get();
      sel.value = r.period;
      custom.hidden = r.period !== 'custom';
      if (r.period === 'custom') {
        from.value = r.from === null ? '' : inputLocal(r.from);
        to.value = r.to === null ? '' : inputLocal(r.to);
      }
      $('range-text').textContent = r.period === 'custom' || r.period === 'today' ? describe(r) : '';
    }
    function apply() {
      const f = from.value ? parseTime(from.value) : null;   // datetime-local: the viewer's time
      const t = to.value ? parseTime(to.value) : null;
      if (f === null && t === null) {
        showError('Enter a start, an end, or both.');
        return;
      }
      if (f !== null && t !== null && f >= t) {
        showError('The start must be before the end.');
        return;
      }
      showError('');
      onChange({ period: 'custom', from: f, to: t });
      show();
    }
    sel.addEventListener('change', () => {
      showError('');
      if (sel.value === 'custom') {
        // Start from what was shown, so Apply alone keeps it.
        const b = bounds(get());
        const now = Date.now();
        custom.hidden = false;
        from.value = inputLocal(b.from !== null ? b.from : now - DAY);
        to.value = b.to !== null ? inputLocal(b.to) : '';
        from.focus();
        return;
      }
      onChange({ period: sel.value, from: null, to: null });
      show();
    });
    $('range-apply').addEventListener('click', apply);
    for (const el of [from, to]) {
      el.addEventListener('keydown', (e) => { if (e.key === 'Enter') apply(); });
    }
    show();
    const first = get();
    if (first.invalid) {
      showError('The address holds ' + first.invalid + ', which is not a time range ' +
        '(an RFC 3339 time such as 2026-12-07T00:00:00+05:30, or a period from this menu). ' +
        'Showing ' + describe(first) + ' instead; choose a range to replace it.');
    }
    return { show };
  }

  /* ---------- definitions of saved charts ---------- */

  function splitList(values) {
    const out = [];
    for (const v of values) for (const x of String(v).split(',')) if (x && !out.includes(x)) out.push(x);
    return out;
  }

  // A definition with known values only, or null. Accepts by as "a,b" or
  // an array, source/state as a list or "a,b", the chart type as "type"
  // (the API's name) or "chart"; from/to (a saved chart's own range, in
  // any form the API takes, e.g. "-1h") are kept as they are.
  function normalizeDefinition(d) {
    if (!d || typeof d !== 'object') return null;
    const metric = String(d.metric || '');
    if (!METRIC[metric]) return null;
    const by = splitList(Array.isArray(d.by) ? d.by : d.by ? [d.by] : []);
    if (by.length > 2 || !by.every((x) => DIMENSION[x])) return null;
    const chart = String(d.type || d.chart || 'table');
    if (!CHART_TYPE[chart]) return null;
    const list = (v) => splitList(Array.isArray(v) ? v : v ? [v] : []);
    const out = { metric, by, source: list(d.source), state: list(d.state), chart };
    if (typeof d.from === 'string' && d.from) out.from = d.from;
    if (typeof d.to === 'string' && d.to) out.to = d.to;
    return out;
  }

  /*
   * A saved chart's own range, as the API takes it: a preset relative to
   * the server's now ("-15m" … "-30d"), or a custom range's instants.
   * "today" and all time have none (a saved chart then covers what the
   * dashboard's range says). Returns { from, to } (strings or absent).
   */
  const SAVED_PRESETS = { '15m': '-15m', '1h': '-1h', '24h': '-24h', '7d': '-7d', '30d': '-30d' };
  function savedRange(r) {
    if (SAVED_PRESETS[r.period]) return { from: SAVED_PRESETS[r.period] };
    if (r.period === 'custom') {
      const out = {};
      if (r.from !== null) out.from = isoLocal(r.from);
      if (r.to !== null) out.to = isoLocal(r.to);
      return out;
    }
    return {};
  }

  // The range a saved definition's from/to stand for (for "Open in Explore").
  function rangeOfSaved(def) {
    for (const [id, v] of Object.entries(SAVED_PRESETS)) if (def.from === v && !def.to) return { period: id, from: null, to: null };
    const from = parseTime(def.from);
    const to = parseTime(def.to);
    if (from !== null || to !== null) return { period: 'custom', from, to };
    return defaultRange();
  }

  // The definition to POST for a question and its range (the API's names:
  // lists as arrays, "type"; empty lists left out).
  function definitionToSave(def, range) {
    const out = { metric: def.metric };
    if (def.by.length) out.by = def.by.slice();
    if (def.source.length) out.source = def.source.slice();
    if (def.state.length) out.state = def.state.slice();
    out.type = def.chart;
    return Object.assign(out, savedRange(range));
  }

  // The offset (ms east of UTC) a time bucket is asked on: days are the
  // viewer's days (their offset now); hours are whole hours of the
  // viewer's clock, asked as the minutes past the hour of a zone off the
  // hour (+05:30 -> +00:30), so they stay whole local hours across a
  // daylight-saving change of a whole hour; minutes need none.
  function bucketOffset(dim) {
    const off = -new Date().getTimezoneOffset();
    return (dim === 'day' ? off : dim === 'hour' ? off % 60 : 0) * MINUTE || 0;
  }

  // "tz=%2B05%3A30" for /api/query, '' for UTC.
  function tzParam(ms) {
    if (!ms) return '';
    const a = Math.abs(ms) / MINUTE;
    return 'tz=' + encodeURIComponent((ms < 0 ? '-' : '+') + pad2(Math.floor(a / 60)) + ':' + pad2(a % 60));
  }

  // The query string of /api/query for a definition over a range (all
  // time: the definition's own from/to, if it has them); filters are the
  // definition's, narrowed by extra ones (the dashboard's) when given:
  // both lists set means the values in both. null: the filters leave
  // nothing.
  function queryParams(def, range, extra, format) {
    const parts = ['metric=' + def.metric];
    if (def.by.length) parts.push('by=' + def.by.join(','));
    const tz = tzParam(bucketOffset(def.by.find((d) => DIMENSION[d] && DIMENSION[d].step)));
    if (tz) parts.push(tz);
    const r = range ? apiParams(range) : '';
    if (r) {
      parts.push(r);
    } else {
      if (def.from) parts.push('from=' + encodeURIComponent(def.from));
      if (def.to) parts.push('to=' + encodeURIComponent(def.to));
    }
    for (const kind of ['source', 'state']) {
      let vals = def[kind];
      const more = extra && extra[kind] ? extra[kind] : [];
      if (vals.length && more.length) {
        vals = vals.filter((v) => more.includes(v));
        if (!vals.length) return null;
      } else if (!vals.length) {
        vals = more;
      }
      for (const v of vals) parts.push(kind + '=' + encodeURIComponent(v));
    }
    if (format) parts.push('format=' + format);
    return parts.join('&');
  }

  /* ---------- formatting of values ---------- */

  function toCents(value) {
    const n = Number(value);
    return Number.isFinite(n) ? Math.round(n * 100) : 0;
  }

  function groupThousands(digits) { return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ','); }

  function formatMoneyCents(cents) {
    const abs = Math.abs(cents);
    return (cents < 0 ? '-$' : '$') + groupThousands(String(Math.floor(abs / 100))) + '.' +
      String(abs % 100).padStart(2, '0');
  }

  function formatValue(metric, v) {
    if (v === null || v === undefined || v === '') return '—';
    if (METRIC[metric] && METRIC[metric].money) return formatMoneyCents(toCents(v));
    const n = Number(v);
    return Number.isFinite(n) ? (n < 0 ? '-' : '') + groupThousands(String(Math.abs(Math.round(n)))) : String(v);
  }

  function formatDim(dim, v) {
    if (DIMENSION[dim] && DIMENSION[dim].step) {
      const t = parseTime(v);
      return t === null ? String(v) : shortTime(t);
    }
    return String(v);
  }

  /* ---------- a query answer as table and chart data ---------- */

  // { dims, metric, rows: [{ keys: [...], value: Number|null }] }; the
  // metric column is the last.
  function shapeAnswer(def, answer) {
    if (!answer || !Array.isArray(answer.columns) || !Array.isArray(answer.rows)) {
      throw new Error('unexpected answer from /api/query (no columns and rows)');
    }
    const nd = answer.columns.length - 1;
    const rows = answer.rows.map((r) => ({
      keys: r.slice(0, nd).map((k) => (k === null || k === undefined ? '' : String(k))),
      value: r[nd] === null || r[nd] === undefined ? null : Number(r[nd]),
    }));
    return { dims: answer.columns.slice(0, nd), metric: def.metric, rows };
  }

  // The first dimension's categories in order: time buckets from the
  // range's start (or the first row) to its end (or the last row), every
  // step; others by name (customer ids by number).
  function categories(dim, rows, range) {
    const seen = [...new Set(rows.map((r) => r.keys[0]))];
    const d = DIMENSION[dim];
    if (d && d.step) {
      const times = seen.map((k) => parseTime(k)).filter((t) => t !== null).sort((a, b) => a - b);
      const b = range ? bounds(range) : { from: null, to: null };
      const off = bucketOffset(dim);
      let first = b.from !== null ? Math.floor((b.from + off) / d.step) * d.step - off : times[0];
      let last = Math.min(b.to !== null ? b.to - 1 : Date.now(), Date.now());
      if (times.length) last = Math.max(last, times[times.length - 1]);
      if (times.length && (first === undefined || times[0] < first)) first = times[0];
      if (first === undefined || (last - first) / d.step > MAX_FILL) {
        return { keys: times, time: true };
      }
      // Buckets as asked (bucketOffset): step from the first one.
      const keys = [];
      for (let t = first; t <= last; t += d.step) keys.push(t);
      return { keys, time: true };
    }
    if (dim === 'customer_id') return { keys: seen.sort((a, b) => Number(a) - Number(b)), time: false };
    return { keys: seen.sort((a, b) => a.localeCompare(b)), time: false };
  }

  // Rows as a table: header and cells, formatted for people.
  function tableOf(shape) {
    const head = shape.dims.map((d) => (DIMENSION[d] ? DIMENSION[d].label : d))
      .concat([METRIC[shape.metric].label]);
    const body = shape.rows.map((r) => r.keys.map((k, i) => formatDim(shape.dims[i], k))
      .concat([formatValue(shape.metric, r.value)]));
    return { head, body };
  }

  function fillTable(table, shape) {
    const t = tableOf(shape);
    const thead = table.tHead || table.createTHead();
    const tr = document.createElement('tr');
    t.head.forEach((h, i) => {
      const th = document.createElement('th');
      th.scope = 'col';
      th.textContent = h;
      if (i === t.head.length - 1) th.className = 'num';
      tr.append(th);
    });
    thead.replaceChildren(tr);
    const tbody = table.tBodies[0] || table.createTBody();
    tbody.replaceChildren(...t.body.map((cells) => {
      const row = document.createElement('tr');
      cells.forEach((c, i) => {
        const td = document.createElement('td');
        td.textContent = c;
        if (i === cells.length - 1) td.className = 'num';
        row.append(td);
      });
      return row;
    }));
  }

  // The big number of an answer: the single value, or, grouped, the sum
  // of an additive metric (an average is not summed: null).
  function bigNumberOf(shape) {
    if (shape.rows.length === 1 && shape.dims.length === 0) return shape.rows[0].value;
    if (!METRIC[shape.metric].additive) return shape.rows.length === 1 ? shape.rows[0].value : null;
    let cents = 0;
    let n = 0;
    for (const r of shape.rows) {
      if (METRIC[shape.metric].money) cents += toCents(r.value); else n += r.value || 0;
    }
    return METRIC[shape.metric].money ? cents / 100 : n;
  }

  /*
   * An ECharts option for a chart type. style: { theme, colorFor(name) →
   * colour or undefined, decalFor(name), base() → the page's base option,
   * axis(extra) → axis style }.
   */
  function chartOption(def, shape, range, style) {
    const metric = METRIC[def.metric];
    const money = metric.money;
    const fmt = (v) => formatValue(def.metric, v);
    const base = style.base();
    const theme = style.theme;
    const dim0 = shape.dims[0];
    const dim1 = shape.dims[1];
    const label = (dim, k) => formatDim(dim, k);
    const seriesStyle = (name, i) => {
      const c = style.colorFor(name, i);
      return c ? { color: c, decal: style.decalFor(name, i) } : {};
    };
    if (def.chart === 'pie') {
      const data = shape.rows.map((r) => ({
        name: r.keys.map((k, i) => label(shape.dims[i], k)).join(' / ') || metric.label,
        value: r.value || 0,
      }));
      data.forEach((d, i) => { d.itemStyle = seriesStyle(d.name, i); });
      return Object.assign(base, {
        tooltip: Object.assign(base.tooltip, { trigger: 'item',
          formatter: (p) => escapeHtml(p.name) + '<br><b>' + fmt(p.value) + '</b> (' + p.percent + '%)' }),
        legend: Object.assign(base.legend, { bottom: 0, left: 'center' }),
        series: [{ id: 'pie', name: metric.label, type: 'pie', radius: ['30%', '52%'], center: ['50%', '44%'],
          itemStyle: { borderColor: theme.card, borderWidth: 2 },
          label: { formatter: (p) => Math.round(p.percent) + '%', color: theme.text, fontSize: 12 },
          labelLine: { length: 6, length2: 6, lineStyle: { color: theme.muted } },
          data }],
      });
    }
    // line / bar / stacked: x = the first dimension, a series per value of
    // the second (or one series).
    const cats = dim0 ? categories(dim0, shape.rows, range) : { keys: [''], time: false };
    const keyOf = (k) => (cats.time ? String(parseTime(k)) : k);
    const index = new Map(cats.keys.map((k, i) => [String(k), i]));
    const names = dim1 ? [...new Set(shape.rows.map((r) => r.keys[1]))].sort((a, b) =>
      (dim1 === 'customer_id' ? Number(a) - Number(b) : a.localeCompare(b))) : [metric.label];
    const fill = metric.additive ? 0 : null;
    const values = new Map(names.map((n) => [n, cats.keys.map(() => fill)]));
    for (const r of shape.rows) {
      const i = dim0 ? index.get(keyOf(r.keys[0])) : 0;
      const n = dim1 ? r.keys[1] : metric.label;
      if (i !== undefined && values.has(n)) values.get(n)[i] = r.value;
    }
    const type = def.chart === 'line' ? 'line' : 'bar';
    const xLabels = cats.keys.map((k) => (cats.time ? shortTime(k) : dim0 ? label(dim0, k) : metric.label));
    return Object.assign(base, {
      tooltip: Object.assign(base.tooltip, { trigger: 'axis', valueFormatter: fmt,
        axisPointer: { type: type === 'bar' ? 'shadow' : 'line' } }),
      legend: Object.assign(base.legend, { top: 0, show: Boolean(dim1) }),
      grid: { left: 8, right: 24, top: dim1 ? 36 : 16, bottom: 8, containLabel: true },
      xAxis: style.axis({ type: 'category', data: xLabels,
        axisLabel: { color: theme.muted, hideOverlap: true } }),
      yAxis: style.axis({ type: 'value', minInterval: money || def.metric === 'avg_order' ? 0 : 1,
        axisLabel: { color: theme.muted,
        formatter: money ? (v) => '$' + compact.format(v) : (v) => compact.format(v) } }),
      series: names.map((n, i) => Object.assign({
        id: 's:' + n,
        name: dim1 ? label(dim1, n) : n,
        type,
        // One series by source: each bar in its source's colour and pattern.
        data: !dim1 && dim0 === 'source' && type === 'bar'
          ? values.get(n).map((v, k) => ({ value: v, itemStyle: seriesStyle(cats.keys[k], k) })) : values.get(n),
        itemStyle: seriesStyle(dim1 ? n : '', i),
        emphasis: { focus: 'series' },
      }, type === 'line' ? { showSymbol: cats.keys.length < 60, connectNulls: false }
        : { barMaxWidth: 40, stack: def.chart === 'stacked' ? 'total' : undefined })),
    });
  }

  /*
   * Colours for query charts: a source keeps its dashboard colour and
   * pattern (the same palettes as app.js: 3:1 against the card in each
   * theme); other categories take the palette in turn, with the patterns
   * in turn as the second cue.
   */
  const PALETTES = {
    light: { 'Dine In': '#3559c7', 'Takeaway': '#237a3b', 'Home Delivery': '#b35900',
      extra: ['#be185d', '#0e7490', '#7e22ce', '#c2410c'], ink: 'rgba(255,255,255,0.6)' },
    dark: { 'Dine In': '#7c9cff', 'Takeaway': '#4cc38a', 'Home Delivery': '#e3a008',
      extra: ['#f472b6', '#22d3ee', '#c084fc', '#fb923c'], ink: 'rgba(15,20,25,0.55)' },
  };
  const SOURCES = ['Dine In', 'Takeaway', 'Home Delivery'];
  const PATTERNS = ['solid', 'stripes', 'dots', 'bars'];

  function decal(pattern, color) {
    switch (pattern) {
      case 'stripes':
        return { symbol: 'rect', symbolSize: 1, dashArrayX: [1, 0], dashArrayY: [3, 4], rotation: -Math.PI / 4, color };
      case 'dots':
        return { symbol: 'circle', symbolSize: 0.7, dashArrayX: [[4, 4]], dashArrayY: [4, 4], color };
      case 'bars':
        return { symbol: 'rect', symbolSize: 1, dashArrayX: [2, 5], dashArrayY: [1, 0], color };
      default:
        return { symbol: 'none' };
    }
  }

  function chartStyle() {
    const css = getComputedStyle(document.documentElement);
    const v = (n) => css.getPropertyValue(n).trim();
    const dark = Boolean(window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches);
    const p = PALETTES[dark ? 'dark' : 'light'];
    const cycle = SOURCES.map((s) => p[s]).concat(p.extra);
    const theme = { dark, text: v('--text'), muted: v('--muted'), faint: v('--faint'), grid: v('--grid-line'),
      border: v('--border'), card: v('--card'), accent: v('--accent') };
    return {
      theme,
      base: () => ({
        backgroundColor: 'transparent',
        animation: false,
        aria: { enabled: true, decal: { show: true } },
        textStyle: { color: theme.text, fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif' },
        legend: { textStyle: { color: theme.muted }, inactiveColor: theme.faint, type: 'scroll',
          pageTextStyle: { color: theme.muted }, pageIconColor: theme.muted },
        tooltip: { backgroundColor: theme.card, borderColor: theme.border, textStyle: { color: theme.text },
          confine: true },
      }),
      axis: (extra) => Object.assign({
        axisLine: { lineStyle: { color: theme.border } },
        axisTick: { lineStyle: { color: theme.border } },
        axisLabel: { color: theme.muted },
        splitLine: { lineStyle: { color: theme.grid } },
      }, extra || {}),
      colorFor: (name, i) => (SOURCES.includes(name) ? p[name] : cycle[i % cycle.length]),
      decalFor: (name, i) => decal(PATTERNS[(SOURCES.includes(name) ? SOURCES.indexOf(name) : i) % PATTERNS.length], p.ink),
    };
  }

  const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({
      '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
    })[c]);
  }

  // A short sentence for a definition: "Revenue by source and hour".
  function describeDefinition(def) {
    const by = def.by.map((d) => DIMENSION[d].label.toLowerCase());
    let s = METRIC[def.metric].label + (by.length ? ' by ' + by.join(' and ') : '');
    const f = [];
    if (def.source.length) f.push(def.source.join(', '));
    if (def.state.length) f.push(def.state.join(', '));
    if (f.length) s += ' (' + f.join('; ') + ')';
    return s;
  }

  window.salesflowQuery = {
    PERIODS, METRICS, DIMENSIONS, CHART_TYPES, METRIC, DIMENSION, CHART_TYPE,
    isoLocal, shortTime, parseTime, splitList, defaultRange, readRange, rangeParams, bounds,
    apiParams, isAllTime, describe, sameRange, bindRangeControl, normalizeDefinition,
    queryParams, bucketOffset, tzParam, shapeAnswer, definitionToSave, rangeOfSaved, savedRange, tableOf, fillTable, bigNumberOf, chartOption, formatValue,
    formatDim, describeDefinition, escapeHtml, chartStyle, decal,
  };
})();
