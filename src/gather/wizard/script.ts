/**
 * The gather wizard's behaviour, served as `/wizard.js`: plain JavaScript, no framework and no
 * build step. It calls the API (`api.ts`) with the connection from the form, and puts every
 * value it shows into the page as text (`textContent`), never as markup, so a label value from
 * the source cannot inject anything. With obfuscation on, the preview only ever shows what the
 * API obfuscated; the session it returns is sent back by later previews and by the export, so
 * the replacements seen are the replacements exported.
 *
 * The Import tab (its markup a template put into the page when the tab is first opened) drives
 * `/api/import/*`: a file uploaded with its progress (or a path on this machine), the preflight
 * with the choices it calls for, then the import polled to its verdict. Its connection's
 * secrets stay in the form and in memory: recent targets come from the server without them.
 *
 * Kept free of backquotes and dollar-brace: the source is a TypeScript template string.
 */

export const WIZARD_JS = String.raw`'use strict';
(function () {
  var state = {
    step: 'connect',
    valid: null,
    discovery: null,
    mode: 'jobs',
    range: null,
    caPem: '',
    session: null,
    labelNames: [],
    previewed: false,
    previewKey: null,
    previewSeq: 0,
    refreshTimer: null,
    jobId: null,
    poll: null,
    config: null,
    result: null,
    exportObfuscated: false
  };
  var STEPS = ['connect', 'discover', 'choose', 'preview', 'obfuscate', 'export', 'download'];
  /** API field (longest prefix wins) → the input whose error line shows it. */
  var FIELDS = {
    'connection.url': 'url', 'connection.api_base_path': 'url', 'connection.tenant_id': 'tenant',
    'connection.auth.username': 'username', 'connection.auth.password': 'password', 'connection.auth.token': 'token',
    'connection.auth.header_name': 'header-name', 'connection.auth.header_value': 'header-value',
    'connection.ca_pem': 'ca-file', 'time_range': 'range', 'selector': 'custom-expr', 'query': 'custom-expr',
    'step_seconds': 'query-step', 'batch_window_seconds': 'batch-seconds', 'jobs': 'choose', 'components': 'choose',
    'obfuscation': 'obfuscation', 'obfuscation_session': 'obfuscation'
  };

  function $(id) { return document.getElementById(id); }
  function el(tag, props, children) {
    var e = document.createElement(tag);
    if (props) for (var k in props) {
      if (k === 'text') e.textContent = props[k];
      else if (k === 'className') e.className = props[k];
      else if (k.indexOf('on') === 0) e.addEventListener(k.slice(2), props[k]);
      else if (props[k] === true) e.setAttribute(k, '');
      else if (props[k] !== false && props[k] != null) e.setAttribute(k, String(props[k]));
    }
    (children || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function busy(id, on) { $(id).hidden = !on; }
  function fmtNum(n) { return n == null ? '–' : Number(n).toLocaleString('en-US'); }
  function fmtBytes(n) {
    if (n < 1024) return n + ' B';
    var units = ['KiB', 'MiB', 'GiB', 'TiB'], v = n, i = -1;
    do { v /= 1024; i++; } while (v >= 1024 && i < units.length - 1);
    return v.toFixed(v < 10 ? 2 : 1) + ' ' + units[i] + ' (' + fmtNum(n) + ' bytes)';
  }
  function fmtDur(s) {
    if (s == null) return '–';
    if (s < 1) return s.toFixed(2) + ' s';
    if (s < 60) return s.toFixed(1) + ' s';
    var m = Math.floor(s / 60), r = Math.round(s % 60);
    if (m < 60) return m + ' min ' + r + ' s';
    return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
  }
  function fmtTime(ms) { return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC'); }
  function flavourName(f) {
    return { 'victoriametrics-single': 'VictoriaMetrics single node', 'victoriametrics-cluster': 'VictoriaMetrics cluster', 'prometheus': 'Prometheus' }[f] || f;
  }

  // ---- navigation
  function unlock(step) { var b = document.querySelector('nav [data-step="' + step + '"]'); if (b) b.disabled = false; }
  function lockAfter(step) {
    var i = STEPS.indexOf(step);
    STEPS.slice(i + 1).forEach(function (s) { if (s !== 'export' || !state.jobId) document.querySelector('nav [data-step="' + s + '"]').disabled = true; });
  }
  function show(step) {
    state.step = step;
    STEPS.forEach(function (s) {
      $('step-' + s).hidden = s !== step;
      var b = document.querySelector('nav [data-step="' + s + '"]');
      if (s === step) { b.setAttribute('aria-current', 'step'); b.disabled = false; } else b.removeAttribute('aria-current');
    });
    if (step === 'choose') renderChoose();
    if (step === 'preview') loadPreview('preview-result', 'preview-busy');
    if (step === 'obfuscate') { renderLabels(); loadPreview('obf-preview', 'obf-busy'); }
    if (step === 'export') renderExportSummary();
    window.scrollTo(0, 0);
  }

  // ---- errors
  function clearErrors(section) {
    var scope = section ? $('step-' + section) : document;
    Array.prototype.forEach.call(scope.querySelectorAll('.error'), function (p) { p.textContent = ''; });
    Array.prototype.forEach.call(scope.querySelectorAll('[aria-invalid]'), function (i) { i.removeAttribute('aria-invalid'); });
  }
  /** Shows the API's error next to its field, or in 'fallback' when no field of the page matches. */
  function showError(data, fallback) {
    var field = data && data.field, message = (data && data.error) || 'the request failed';
    var target = null;
    if (field) {
      var best = '';
      for (var k in FIELDS) if ((field === k || field.indexOf(k + '.') === 0 || field.indexOf(k + '[') === 0) && k.length > best.length) best = k;
      if (best) target = FIELDS[best];
    }
    var line = target ? $(target + '-error') : null;
    // a field of another step is out of sight: the error goes where the person is looking
    if (line && line.closest('section').hidden) line = null;
    if (!line) line = $(fallback);
    line.textContent = message;
    if (target && $(target)) $(target).setAttribute('aria-invalid', 'true');
  }

  function api(method, path, body) {
    var init = { method: method, headers: {} };
    if (body !== undefined) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (res) {
      return res.text().then(function (t) {
        var data;
        try { data = t ? JSON.parse(t) : {}; } catch (e) { data = { error: 'the server answered ' + res.status + ': ' + t.slice(0, 200) }; }
        return { ok: res.ok, status: res.status, data: data };
      });
    }, function (err) {
      return { ok: false, status: 0, data: { error: 'Tributary did not answer (' + err.message + '): is it still running?' } };
    });
  }

  // ---- step 1: connect
  function connection() {
    var c = { url: $('url').value.trim() };
    var t = $('tenant').value.trim();
    if (t) c.tenant_id = t;
    var type = $('auth-type').value;
    if (type === 'basic') c.auth = { type: 'basic', username: $('username').value, password: $('password').value };
    else if (type === 'bearer') c.auth = { type: 'bearer', token: $('token').value };
    else if (type === 'header') c.auth = { type: 'header', header_name: $('header-name').value.trim(), header_value: $('header-value').value };
    else c.auth = { type: 'none' };
    if ($('skip-verify').checked) c.skip_tls_verify = true;
    if (state.caPem) c.ca_pem = state.caPem;
    return c;
  }
  function connectionChanged() {
    state.valid = null;
    $('to-discover').disabled = true;
    lockAfter('connect');
  }
  function attemptsTable(attempts) {
    return el('table', { className: 'data' }, [
      el('thead', null, [el('tr', null, [el('th', { text: 'URL tried' }), el('th', { text: 'Result' })])]),
      el('tbody', null, attempts.map(function (a) {
        return el('tr', null, [el('td', null, [el('code', { text: a.url })]),
          el('td', { className: a.ok ? 'ok' : 'bad', text: a.ok ? 'answered' + (a.status ? ' (' + a.status + ')' : '') : (a.status && !/^HTTP /.test(a.error || '') ? 'HTTP ' + a.status + ': ' : '') + (a.error || 'failed') })]);
      }))
    ]);
  }
  function validate() {
    clearErrors('connect');
    var out = clear($('validate-result'));
    if (!$('url').value.trim()) { $('url-error').textContent = 'Enter the URL of VictoriaMetrics or Prometheus.'; $('url').setAttribute('aria-invalid', 'true'); return; }
    busy('validate-busy', true);
    $('validate').disabled = true;
    api('POST', '/api/validate', { connection: connection() }).then(function (r) {
      busy('validate-busy', false);
      $('validate').disabled = false;
      if (!r.ok) { showError(r.data, 'url-error'); return; }
      var d = r.data;
      if (d.valid) {
        state.valid = d;
        out.appendChild(el('div', { className: 'success', id: 'validate-ok' }, [
          el('p', null, [el('strong', { text: 'Connected: ' + flavourName(d.flavour) + (d.version && d.version !== 'unknown' ? ' ' + d.version : ' (version unknown)') })]),
          el('p', null, ['API base: ', el('code', { text: d.api_base })]),
          el('p', { className: 'muted', text: d.export_api ? 'Raw samples are read with /api/v1/export.' : 'No /api/v1/export here: raw samples are read with range queries at the raw step.' })
        ]));
        if (d.attempts.length > 1) out.appendChild(el('details', null, [el('summary', { text: 'Every URL tried (' + d.attempts.length + ')' }), attemptsTable(d.attempts)]));
        $('to-discover').disabled = false;
        unlock('discover');
      } else {
        state.valid = null;
        // an attempt that worked (vmselect's /select/<tenant>/prometheus under a root URL): one click uses it
        var worked = d.attempts.filter(function (a) { return a.ok; })[0];
        var suggested = worked ? worked.url.replace(/\/api\/v1\/.*$/, '') : null;
        out.appendChild(el('div', { className: 'problem', id: 'validate-problem' }, [
          el('p', null, [el('strong', { text: 'Could not connect: ' + (d.error || 'no URL answered') })]),
          d.hint ? el('p', { text: 'Hint: ' + d.hint }) : null,
          suggested && suggested !== $('url').value.trim().replace(/\/+$/, '') ? el('p', null, [el('button', { type: 'button', text: 'Use ' + suggested, onclick: function () { $('url').value = suggested; connectionChanged(); validate(); } })]) : null,
          attemptsTable(d.attempts)
        ]));
      }
    });
  }

  // ---- step 2: discover
  function parseUtc(v) { if (!v) return NaN; return Date.parse(v.length === 16 ? v + ':00Z' : v + 'Z'); }
  function readRange() {
    var chosen = document.querySelector('input[name=range]:checked').value;
    if (chosen !== 'custom') { var end = Date.now(); return { startMs: end - Number(chosen) * 1000, endMs: end }; }
    var s = parseUtc($('range-from').value), e = parseUtc($('range-to').value);
    if (isNaN(s) || isNaN(e)) throw new Error('Enter both ends of the custom range.');
    if (e <= s) throw new Error('The end of the range must be after its start.');
    return { startMs: s, endMs: e };
  }
  function timeRange() { return { start: new Date(state.range.startMs).toISOString(), end: new Date(state.range.endMs).toISOString() }; }
  function discover() {
    clearErrors('discover');
    var out = clear($('discover-result'));
    $('to-choose').disabled = true;
    lockAfter('discover');
    try { state.range = readRange(); } catch (e) { $('range-error').textContent = e.message; return; }
    state.mode = document.querySelector('input[name=mode]:checked').value;
    state.session = null;
    busy('discover-busy', true);
    $('discover').disabled = true;
    var done = function () { busy('discover-busy', false); $('discover').disabled = false; };
    if (state.mode === 'jobs') {
      api('POST', '/api/discover', { connection: connection(), time_range: timeRange() }).then(function (r) {
        done();
        if (!r.ok) { showError(r.data, 'range-error'); return; }
        var d = r.data;
        state.discovery = d;
        var rows = d.components.map(function (c) {
          return el('tr', null, [el('td', { text: c.component }), el('td', { className: 'num', text: fmtNum(c.job_count) }),
            el('td', { className: 'num', text: fmtNum(c.instance_count) }), el('td', { className: 'num', text: fmtNum(c.metrics_count_estimate) })]);
        });
        out.appendChild(el('p', { id: 'discover-summary', text: 'Found ' + d.components.length + ' component(s), ' + d.jobs.length + ' job(s) and about ' + fmtNum(d.total_series) + ' series between ' + fmtTime(state.range.startMs) + ' and ' + fmtTime(state.range.endMs) + '.' + (d.estimated ? ' (The source has too many series to count over the range: the counts are estimates from its daily statistics.)' : '') }));
        if (d.jobs.length === 0) { out.appendChild(el('p', { className: 'problem', text: 'No series in this range: choose a longer or another time range.' })); return; }
        out.appendChild(el('table', { className: 'data', id: 'components-table' }, [
          el('thead', null, [el('tr', null, [el('th', { text: 'Component' }), el('th', { className: 'num', text: 'Jobs' }), el('th', { className: 'num', text: 'Instances' }), el('th', { className: 'num', text: 'Series' })])]),
          el('tbody', null, rows)
        ]));
        $('to-choose').disabled = false;
        unlock('choose');
      });
    } else {
      var body = customSelection();
      if (!body) { done(); return; }
      body.connection = connection();
      body.time_range = timeRange();
      api('POST', '/api/validate-query', body).then(function (r) {
        done();
        if (!r.ok) { showError(r.data, 'custom-expr-error'); return; }
        if (!r.data.valid) { $('custom-expr-error').textContent = r.data.error || 'The source refused it.'; $('custom-expr').setAttribute('aria-invalid', 'true'); return; }
        out.appendChild(el('p', { className: 'success', id: 'discover-summary', text: 'Valid' + (r.data.series != null ? ': matches about ' + fmtNum(r.data.series) + ' series in the range.' : '.') }));
        $('to-choose').disabled = false;
        unlock('choose');
      });
    }
  }
  function customSelection() {
    var expr = $('custom-expr').value.trim();
    if (!expr) { $('custom-expr-error').textContent = 'Enter a series selector or a query.'; return null; }
    if (state.mode === 'query') {
      var step = Number($('query-step').value);
      if (!(step >= 1 && step <= 86400)) { $('query-step-error').textContent = 'The step is 1 to 86400 seconds.'; return null; }
      return { query: expr, step_seconds: step };
    }
    return { selector: expr };
  }

  // ---- step 3: choose
  function renderChoose() {
    $('choose-range').textContent = 'Time range: ' + fmtTime(state.range.startMs) + ' → ' + fmtTime(state.range.endMs) + ' (change it in step 2).';
    var list = $('choose-list');
    if (list.getAttribute('data-for') === JSON.stringify([state.mode, state.discovery && state.discovery.jobs.length, state.range])) return;
    clear(list);
    list.setAttribute('data-for', JSON.stringify([state.mode, state.discovery && state.discovery.jobs.length, state.range]));
    if (state.mode !== 'jobs') {
      list.appendChild(el('p', null, [(state.mode === 'query' ? 'Query: ' : 'Series selector: '), el('code', { text: $('custom-expr').value.trim() })]));
      return;
    }
    var d = state.discovery, n = 0, rows = [];
    d.components.forEach(function (c, ci) {
      var cid = 'comp-' + ci;
      var compBox = el('input', { type: 'checkbox', id: cid, checked: true, 'data-component': c.component });
      rows.push(el('tr', { className: 'component' }, [
        el('td', null, [el('span', { className: 'check' }, [compBox, el('label', { for: cid, text: 'Component ' + c.component })])]),
        el('td', { className: 'num', text: fmtNum(c.instance_count) }), el('td', { className: 'num', text: fmtNum(c.metrics_count_estimate) })]));
      d.jobs.filter(function (j) { return j.component === c.component; }).forEach(function (j) {
        var jid = 'job-' + (n++);
        rows.push(el('tr', null, [
          el('td', { className: 'indent' }, [el('span', { className: 'check' }, [
            el('input', { type: 'checkbox', id: jid, checked: true, 'data-job': j.job, 'data-of': c.component }), el('label', { for: jid, text: 'Job ' + j.job })])]),
          el('td', { className: 'num', text: fmtNum(j.instance_count) }), el('td', { className: 'num', text: fmtNum(j.metrics_count_estimate) })]));
      });
    });
    list.appendChild(el('div', { className: 'actions' }, [
      el('button', { type: 'button', text: 'Select all', onclick: function () { tickAll(true); } }),
      el('button', { type: 'button', text: 'Select none', onclick: function () { tickAll(false); } })
    ]));
    list.appendChild(el('div', { className: 'scroll' }, [el('table', { className: 'data', id: 'choose-table' }, [
      el('thead', null, [el('tr', null, [el('th', { text: 'Component / job' }), el('th', { className: 'num', text: 'Instances' }), el('th', { className: 'num', text: 'Series' })])]),
      el('tbody', null, rows)])]));
  }
  function onChooseChange(ev) {
    var list = $('choose-list'), t = ev.target;
    if (t.hasAttribute('data-component')) {
      Array.prototype.forEach.call(list.querySelectorAll('input[data-of]'), function (j) { if (j.getAttribute('data-of') === t.getAttribute('data-component')) j.checked = t.checked; });
    } else if (t.hasAttribute('data-of')) {
      var comp = t.getAttribute('data-of'), jobs = Array.prototype.filter.call(list.querySelectorAll('input[data-of]'), function (j) { return j.getAttribute('data-of') === comp; });
      var box = list.querySelector('input[data-component="' + CSS.escape(comp) + '"]');
      var ticked = jobs.filter(function (j) { return j.checked; }).length;
      box.checked = ticked === jobs.length;
      box.indeterminate = ticked > 0 && ticked < jobs.length;
    }
    selectionChanged();
  }
  function tickAll(on) {
    Array.prototype.forEach.call($('choose-list').querySelectorAll('input[type=checkbox]'), function (b) { b.checked = on; b.indeterminate = false; });
    selectionChanged();
  }
  function selectionChanged() { state.previewed = false; lockAfter('choose'); }
  /** The selection part of a request body, or null (with the error shown) when nothing is chosen. */
  function selection() {
    if (state.mode !== 'jobs') return customSelection();
    var jobs = [], jc = {};
    Array.prototype.forEach.call($('choose-list').querySelectorAll('input[data-job]'), function (b) {
      if (b.checked) { jobs.push(b.getAttribute('data-job')); jc[b.getAttribute('data-job')] = b.getAttribute('data-of'); }
    });
    if (jobs.length === 0) { $('choose-error').textContent = 'Tick at least one job.'; return null; }
    return { jobs: jobs, job_components: jc };
  }
  function batchWindow() {
    if ($('batch-auto').checked) return 'auto';
    var s = Number($('batch-seconds').value);
    if (!(s >= 30 && s <= 86400)) { $('batch-seconds-error').textContent = 'A custom batch window is 30 to 86400 seconds.'; $('batch-seconds').setAttribute('aria-invalid', 'true'); return null; }
    return s;
  }
  function toPreview() {
    clearErrors('choose');
    if (!selection() || batchWindow() === null) return;
    unlock('preview');
    show('preview');
  }

  // ---- steps 4 and 5: preview, obfuscate
  function obfuscation() {
    var on = $('obf-enabled').checked, labels = [], drop = [];
    Array.prototype.forEach.call(document.querySelectorAll('#obf-labels input[data-obfuscate]'), function (b) { if (b.checked && on) labels.push(b.getAttribute('data-obfuscate')); });
    Array.prototype.forEach.call(document.querySelectorAll('#obf-labels input[data-drop]'), function (b) { if (b.checked) drop.push(b.getAttribute('data-drop')); });
    return { enabled: on, obfuscate_instance: on && $('obf-instance').checked, obfuscate_job: on && $('obf-job').checked, custom_labels: labels, drop_labels: drop };
  }
  function loadPreview(target, busyId) {
    var out = $(target);
    var sel = selection();
    if (!sel) return;
    var body = Object.assign({ connection: connection(), time_range: timeRange(), obfuscation: obfuscation(), limit: 20 }, sel);
    if (state.session && body.obfuscation.enabled) body.obfuscation_session = state.session;
    var key = previewKey(sel), seq = ++state.previewSeq;
    busy(busyId, true);
    clearErrors('obfuscate');
    api('POST', '/api/sample', body).then(function (r) {
      busy(busyId, false);
      // an answer overtaken by a later request is not shown: the table and the session stay together
      if (seq !== state.previewSeq) return;
      clear(out);
      if (!r.ok) {
        if (target === 'obf-preview') showError(r.data, 'obfuscation-error');
        else out.appendChild(el('p', { className: 'problem', text: r.data.error || 'The preview failed.' }));
        return;
      }
      var d = r.data;
      state.session = d.obfuscation_session;
      d.label_names.forEach(function (n) { if (state.labelNames.indexOf(n) < 0) state.labelNames.push(n); });
      state.labelNames.sort();
      state.previewed = true;
      state.previewKey = key;
      out.appendChild(el('p', null, [
        el('span', { className: d.obfuscated ? 'badge' : 'badge off', text: d.obfuscated ? 'Obfuscated' : 'Not obfuscated' }),
        ' ' + d.count + ' series shown' + (d.count === 0 ? ': the selection has no series in the range.' : '.')
      ]));
      out.appendChild(el('div', { className: 'scroll' }, [el('table', { className: 'data preview' }, [
        el('thead', null, [el('tr', null, [el('th', { text: 'Metric' }), el('th', { text: 'Labels' }), el('th', { className: 'num', text: 'Last value' }), el('th', { className: 'num', text: 'Points' })])]),
        el('tbody', null, d.samples.map(function (s) {
          return el('tr', null, [el('td', null, [el('code', { text: s.metric_name })]),
            el('td', null, [el('span', { className: 'chips' }, Object.keys(s.labels).sort().map(function (k) { return el('span', { className: 'chip', text: k + '=' + s.labels[k] }); }))]),
            el('td', { className: 'num', text: s.value == null ? '–' : String(s.value) }), el('td', { className: 'num', text: fmtNum(s.points) })]);
        }))])]));
      $('to-obfuscate').disabled = false;
      unlock('obfuscate');
      unlock('export');
      if (state.step === 'obfuscate') renderLabels();
    });
  }
  /** What a preview was made with: an export continues its session only with the same. */
  function previewKey(sel) { return JSON.stringify([sel, obfuscation()]); }
  function renderLabels() {
    var box = $('obf-labels');
    var names = state.labelNames.filter(function (n) { return n !== 'instance' && n !== 'job'; });
    var was = obfuscation();
    if (names.length === 0) { clear(box).appendChild(el('p', { className: 'muted', text: 'The preview shows no other labels.' })); return; }
    if (box.getAttribute('data-names') === names.join(',')) return;
    box.setAttribute('data-names', names.join(','));
    clear(box);
    var on = $('obf-enabled').checked;
    box.appendChild(el('table', { className: 'data' }, [
      el('thead', null, [el('tr', null, [el('th', { text: 'Label' }), el('th', { text: 'Obfuscate (value → label-n)' }), el('th', { text: 'Drop from every series' })])]),
      el('tbody', null, names.map(function (n, i) {
        return el('tr', null, [el('td', null, [el('code', { text: n })]),
          el('td', null, [el('span', { className: 'check' }, [el('input', { type: 'checkbox', id: 'obf-l-' + i, 'data-obfuscate': n, checked: was.custom_labels.indexOf(n) >= 0, disabled: !on }), el('label', { for: 'obf-l-' + i, text: 'Obfuscate ' + n })])]),
          el('td', null, [el('span', { className: 'check' }, [el('input', { type: 'checkbox', id: 'drop-l-' + i, 'data-drop': n, checked: was.drop_labels.indexOf(n) >= 0 }), el('label', { for: 'drop-l-' + i, text: 'Drop ' + n })])])]);
      }))]));
  }
  function obfuscationChanged(ev) {
    var t = ev && ev.target;
    if (t && t.hasAttribute && t.hasAttribute('data-drop') && t.checked) { var o = document.querySelector('#obf-labels input[data-obfuscate="' + CSS.escape(t.getAttribute('data-drop')) + '"]'); if (o) o.checked = false; }
    if (t && t.hasAttribute && t.hasAttribute('data-obfuscate') && t.checked) { var d = document.querySelector('#obf-labels input[data-drop="' + CSS.escape(t.getAttribute('data-obfuscate')) + '"]'); if (d) d.checked = false; }
    var on = $('obf-enabled').checked;
    $('obf-options').hidden = !on;
    Array.prototype.forEach.call(document.querySelectorAll('#obf-labels input[data-obfuscate]'), function (b) { b.disabled = !on; });
    // the preview follows the settings by itself, a moment after the last change
    if (state.refreshTimer) clearTimeout(state.refreshTimer);
    state.refreshTimer = setTimeout(function () { state.refreshTimer = null; loadPreview('obf-preview', 'obf-busy'); }, 600);
  }

  // ---- step 6: export
  function renderExportSummary() {
    var dl = clear($('export-summary'));
    var add = function (k, v) { dl.appendChild(el('dt', { text: k })); dl.appendChild(el('dd', { text: v })); };
    if (state.range) {
      add('Source', $('url').value.trim());
      add('Time range', fmtTime(state.range.startMs) + ' → ' + fmtTime(state.range.endMs));
      var sel = state.mode === 'jobs' ? (selection() || { jobs: [] }).jobs.length + ' job(s)' : $('custom-expr').value.trim();
      add('Selection', sel);
      var bw = batchWindow();
      add('Batch window', bw === 'auto' ? 'automatic' : bw + ' s');
      var o = obfuscation();
      add('Obfuscation', o.enabled ? ['instance', 'job'].filter(function (k) { return o['obfuscate_' + k]; }).concat(o.custom_labels).join(', ') || 'on, nothing chosen' : 'off');
      if (o.drop_labels.length) add('Dropped labels', o.drop_labels.join(', '));
    }
    if (state.config) add('Output folder', state.config.output_dir);
    $('export-start').disabled = !state.range || !!state.poll;
  }
  function startExport() {
    clearErrors('export');
    var sel = selection(), bw = batchWindow();
    if (!sel || bw === null) { $('export-error').textContent = 'Go back to step 3 (Choose): the selection is not complete.'; return; }
    if (obfuscation().enabled && state.previewKey !== previewKey(sel)) {
      $('export-error').textContent = 'The selection or the obfuscation settings changed after the last preview: refresh the preview in step 5 (Obfuscate), so that the export uses the replacements you saw.';
      return;
    }
    var body = Object.assign({ connection: connection(), time_range: timeRange(), obfuscation: obfuscation(), batch_window_seconds: bw }, sel);
    if (body.obfuscation.enabled && state.session) body.obfuscation_session = state.session;
    state.exportObfuscated = body.obfuscation.enabled;
    $('export-start').disabled = true;
    $('export-state').textContent = 'Starting…';
    $('export-progress').hidden = false;
    api('POST', '/api/export/start', body).then(function (r) {
      if (!r.ok) { $('export-start').disabled = false; $('export-progress').hidden = true; showError(r.data, 'export-error'); return; }
      state.jobId = r.data.job_id;
      renderStatus(r.data);
      poll();
    });
  }
  function poll() {
    if (state.poll) clearTimeout(state.poll);
    state.poll = setTimeout(function () {
      api('GET', '/api/export/status?id=' + encodeURIComponent(state.jobId)).then(function (r) {
        state.poll = null;
        if (!r.ok) { $('export-error').textContent = r.data.error; return; }
        renderStatus(r.data);
        if (r.data.state === 'pending' || r.data.state === 'running') poll();
      });
    }, 400);
  }
  var STATE_TEXT = { pending: 'Waiting for a free slot (at most 3 exports run at once)…', running: 'Exporting…', completed: 'Export complete.', failed: 'The export failed.', canceled: 'The export was canceled.', interrupted: 'The export was interrupted by a restart of Tributary.' };
  function renderStatus(s) {
    $('export-progress').hidden = false;
    $('export-bar').value = s.progress;
    $('export-bar').setAttribute('aria-valuetext', Math.round(s.progress * 100) + '%');
    $('export-state').textContent = STATE_TEXT[s.state] + (s.state === 'running' ? ' ' + Math.round(s.progress * 100) + '%' : '');
    $('export-batches').textContent = fmtNum(s.completed_batches) + ' / ' + fmtNum(s.total_batches);
    $('export-samples').textContent = fmtNum(s.samples);
    $('export-series').textContent = fmtNum(s.series);
    $('export-avg').textContent = s.completed_batches > 0 ? fmtDur(s.average_batch_seconds) : '–';
    $('export-eta').textContent = s.state === 'running' && s.eta_seconds != null ? 'about ' + fmtDur(s.eta_seconds) : '–';
    $('export-range').textContent = s.current_range ? fmtTime(s.current_range.start_ms) + ' → ' + fmtTime(s.current_range.end_ms) : '–';
    var active = s.state === 'pending' || s.state === 'running';
    $('export-cancel').hidden = !active;
    $('export-resume').hidden = !(s.state === 'failed' || s.state === 'canceled' || s.state === 'interrupted');
    $('export-start').disabled = active;
    $('export-back').disabled = active;
    $('export-error').textContent = s.error && !active ? s.error : '';
    if (s.needs_credentials && !active) $('export-error').textContent = (s.error ? s.error + ' ' : '') + 'The credentials were not kept across the restart: enter the connection in step 1, then resume.';
    if (s.state === 'completed' && s.result) {
      state.result = s.result;
      fillDownload(s.result);
      $('to-download').disabled = false;
      unlock('download');
    }
  }
  function cancelExport() {
    $('export-cancel').disabled = true;
    api('POST', '/api/export/cancel', { job_id: state.jobId }).then(function (r) {
      $('export-cancel').disabled = false;
      if (!r.ok) { $('export-error').textContent = r.data.error; return; }
      renderStatus(r.data);
      poll();
    });
  }
  function resumeExport(id) {
    clearErrors('export');
    state.jobId = id || state.jobId;
    var body = { job_id: state.jobId };
    if ($('url').value.trim()) body.connection = connection();
    api('POST', '/api/export/resume', body).then(function (r) {
      if (!r.ok) {
        if (r.data.field && r.data.field.indexOf('connection') === 0) $('export-error').textContent = r.data.error + ' (step 1: Connect).';
        else $('export-error').textContent = r.data.error;
        return;
      }
      renderStatus(r.data);
      poll();
    });
  }
  function listUnfinished() {
    api('GET', '/api/export/list').then(function (r) {
      if (!r.ok) return;
      var box = clear($('unfinished'));
      var left = r.data.jobs.filter(function (j) { return (j.state === 'failed' || j.state === 'canceled' || j.state === 'interrupted') && j.job_id !== state.jobId; });
      if (left.length === 0) return;
      box.appendChild(el('h2', { text: 'Unfinished exports' }));
      box.appendChild(el('ul', null, left.map(function (j) {
        return el('li', null, [j.job_id + ': ' + j.state + ', ' + j.completed_batches + ' of ' + j.total_batches + ' batches' + (j.needs_credentials ? ' (needs the connection again)' : '') + ' ',
          el('button', { type: 'button', text: 'Resume export ' + j.job_id, onclick: function () { state.exportObfuscated = null; resumeExport(j.job_id); } })]);
      })));
      unlock('export');
    });
  }

  // ---- step 7: download
  function fillDownload(r) {
    var link = $('download-link');
    if (r.download_url) { link.href = r.download_url; link.textContent = 'Download ' + r.archive_name; link.setAttribute('download', r.archive_name); }
    else { link.removeAttribute('href'); link.textContent = 'The bundle is at ' + r.archive_path; }
    $('download-name').textContent = r.archive_path;
    $('download-size').textContent = fmtBytes(r.archive_size_bytes);
    $('download-sha256').textContent = r.sha256;
    $('download-series').textContent = fmtNum(r.series);
    $('download-samples').textContent = fmtNum(r.samples);
    $('download-obfuscated').textContent = state.exportObfuscated === null ? 'as set when the export started (metadata.json in the bundle says)' : state.exportObfuscated ? 'yes' : 'no';
  }

  // ---- tabs: Export | Import
  function showTab(name) {
    var isImport = name === 'import';
    ['export', 'import'].forEach(function (t) {
      var on = t === name;
      var tab = $('tab-' + t);
      tab.setAttribute('aria-selected', on ? 'true' : 'false');
      tab.tabIndex = on ? 0 : -1;
      $('panel-' + t).hidden = !on;
    });
    if (isImport) impOpen();
    try { history.replaceState(null, '', isImport ? '#import' : location.pathname + location.search); } catch (e) { /* a file: page */ }
    window.scrollTo(0, 0);
  }

  // ---- import tab
  var imp = {
    ready: false,
    enabled: true,
    caPem: '',
    upload: null,
    input: null,
    preflight: null,
    analyzedKey: null,
    analyzeSeq: 0,
    runId: null,
    runSeq: 0,
    runPolling: false,
    runStage: null
  };
  var IMP_TERMINAL = ['completed', 'failed', 'canceled', 'analyzed'];
  /** API field (longest prefix wins) → the Import tab's input whose error line shows it. */
  var IMP_FIELDS = {
    'connection.url': 'imp-url', 'connection.tenant_id': 'imp-tenant',
    'connection.auth.username': 'imp-username', 'connection.auth.password': 'imp-password', 'connection.auth.token': 'imp-token',
    'connection.auth.header_name': 'imp-header-name', 'connection.auth.header_value': 'imp-header-value',
    'connection.ca_pem': 'imp-ca-file', 'input.path': 'imp-path', 'input.upload_id': 'imp-file', 'input': 'imp-file',
    'protocol': 'imp-protocol', 'query_url': 'imp-query-url', 'retention_seconds': 'imp-retention', 'max_labels': 'imp-max-labels',
    'shift_seconds': 'imp-shift-hours'
  };
  var IMP_STAGE_TEXT = {
    pending: 'Starting…', probing: 'Checking the target…', analyzing: 'Analyzing the input…', importing: 'Importing…',
    verifying: 'Verifying what arrived…', completed: 'Import complete.', failed: 'The import failed.', canceled: 'The import was canceled.', analyzed: 'Analyzed.'
  };
  var IMP_STAGES = ['probing', 'analyzing', 'importing', 'verifying'];

  function fmtSize(n) {
    if (n == null) return '–';
    if (n < 1024) return n + ' B';
    var units = ['KiB', 'MiB', 'GiB', 'TiB'], v = n, i = -1;
    do { v /= 1024; i++; } while (v >= 1024 && i < units.length - 1);
    return v.toFixed(v < 10 ? 2 : 1) + ' ' + units[i];
  }
  /** A shift in time, in days, hours and minutes, signed: +4 d 23 h. */
  function fmtShift(sec) {
    if (sec == null) return '–';
    var sign = sec < 0 ? '−' : '+', s = Math.abs(sec), parts = [];
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), r = Math.round(s % 60);
    if (d) parts.push(d + ' d');
    if (h) parts.push(h + ' h');
    if (m) parts.push(m + ' min');
    if (r || parts.length === 0) parts.push(r + ' s');
    return sign + parts.join(' ');
  }
  function fmtSpan(sec) {
    if (sec == null) return '–';
    if (sec % 86400 === 0) return (sec / 86400) + ' d';
    if (sec >= 86400) return (sec / 86400).toFixed(1) + ' d';
    if (sec % 3600 === 0) return (sec / 3600) + ' h';
    return fmtDur(sec);
  }
  function isoShown(s) { return s ? fmtTime(Date.parse(s)) : '–'; }
  function protocolName(p) { return { 'vm-import': 'VictoriaMetrics import API', 'remote-write': 'Prometheus remote write' }[p] || p; }
  function flavourShown(f) { return f === 'unknown' ? 'unknown (not VictoriaMetrics or Prometheus, as far as it says)' : flavourName(f); }

  function impClearErrors(scope) {
    var root = scope ? $(scope) : $('import');
    Array.prototype.forEach.call(root.querySelectorAll('.error'), function (p) { p.textContent = ''; });
    Array.prototype.forEach.call(root.querySelectorAll('[aria-invalid]'), function (i) { i.removeAttribute('aria-invalid'); });
  }
  /** Shows the API's error next to its field, or in 'fallback' when that field is out of sight. */
  function impShowError(data, fallback) {
    var field = data && data.field, message = (data && data.error) || 'the request failed', target = null;
    if (field) {
      var best = '';
      for (var k in IMP_FIELDS) if ((field === k || field.indexOf(k + '.') === 0 || field.indexOf(k + '[') === 0) && k.length > best.length) best = k;
      if (best) target = IMP_FIELDS[best];
    }
    var line = target ? $(target + '-error') : null;
    // a field folded away is unfolded; one out of sight (another kind of auth or input) is not used
    var fold = line && line.closest('details');
    if (fold && !fold.open) fold.open = true;
    if (line && $(target).offsetParent === null) line = null;
    if (!line) line = $(fallback);
    line.textContent = message;
    if (target && $(target)) $(target).setAttribute('aria-invalid', 'true');
  }

  function impConnection() {
    var c = { url: $('imp-url').value.trim() };
    var t = $('imp-tenant').value.trim();
    if (t) c.tenant_id = t;
    var type = $('imp-auth-type').value;
    if (type === 'basic') c.auth = { type: 'basic', username: $('imp-username').value, password: $('imp-password').value };
    else if (type === 'bearer') c.auth = { type: 'bearer', token: $('imp-token').value };
    else if (type === 'header') c.auth = { type: 'header', header_name: $('imp-header-name').value.trim(), header_value: $('imp-header-value').value };
    else c.auth = { type: 'none' };
    if ($('imp-skip-verify').checked) c.skip_tls_verify = true;
    if (imp.caPem) c.ca_pem = imp.caPem;
    return c;
  }
  function impSourceMode() { return $('imp-src-path').checked ? 'path' : 'upload'; }
  /** What identifies the input as chosen now (a file picked, or a path). */
  function impInputKey() {
    if (impSourceMode() === 'path') return 'path:' + $('imp-path').value.trim();
    var f = $('imp-file').files[0];
    return f ? 'file:' + f.name + ':' + f.size + ':' + f.lastModified : 'file:';
  }
  /** The request body the analysis and the import share, for an input already resolved. */
  function impBody(input) {
    var b = { connection: impConnection(), input: input };
    var p = $('imp-protocol').value;
    if (p !== 'auto') b.protocol = p;
    var q = $('imp-query-url').value.trim();
    if (q) b.query_url = q;
    var ret = $('imp-retention').value.trim();
    if (ret) b.retention_seconds = Math.round(Number(ret) * 86400);
    var ml = $('imp-max-labels').value.trim();
    if (ml) b.max_labels = Number(ml);
    if ($('imp-skip-bad').checked) b.skip_bad_lines = true;
    return b;
  }
  /** What the analysis was made with: an import starts only with the same (secrets included, in memory only). */
  function impKey() { return JSON.stringify([impInputKey(), impBody(null)]); }
  /** Checks what the browser can; false (with the errors shown) when something is missing. */
  function impCheckForm() {
    var ok = true;
    if (!$('imp-url').value.trim()) { $('imp-url-error').textContent = 'Enter the URL of the target (VictoriaMetrics or a remote-write receiver).'; $('imp-url').setAttribute('aria-invalid', 'true'); ok = false; }
    if (impSourceMode() === 'path') {
      if (!$('imp-path').value.trim()) { $('imp-path-error').textContent = 'Enter the path of the file.'; $('imp-path').setAttribute('aria-invalid', 'true'); ok = false; }
    } else if (!$('imp-file').files[0]) { $('imp-file-error').textContent = 'Choose the file to import.'; $('imp-file').setAttribute('aria-invalid', 'true'); ok = false; }
    var ret = $('imp-retention').value.trim();
    if (ret && !(Number(ret) > 0)) { $('imp-more').open = true; $('imp-retention-error').textContent = 'The retention is a number of days above 0.'; ok = false; }
    var ml = $('imp-max-labels').value.trim();
    if (ml && !(Number(ml) >= 1 && Number(ml) <= 100000 && Math.floor(Number(ml)) === Number(ml))) { $('imp-more').open = true; $('imp-max-labels-error').textContent = 'A whole number from 1 to 100000.'; ok = false; }
    return ok;
  }

  // upload: started as soon as a file is picked, with its progress; the analysis waits for it
  function impUpload(file) {
    if (imp.upload && imp.upload.file === file) return imp.upload.promise;
    if (imp.upload && imp.upload.xhr) imp.upload.xhr.abort();
    var rec = { file: file, id: null, xhr: null };
    $('imp-upload').hidden = false;
    $('imp-upload-bar').value = 0;
    $('imp-upload-state').textContent = 'Uploading ' + file.name + '…';
    rec.promise = new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      rec.xhr = xhr;
      xhr.open('POST', '/api/import/upload?name=' + encodeURIComponent(file.name));
      xhr.setRequestHeader('Content-Type', 'application/octet-stream');
      xhr.upload.onprogress = function (e) {
        if (imp.upload !== rec || !e.lengthComputable) return;
        $('imp-upload-bar').value = e.total ? e.loaded / e.total : 0;
        $('imp-upload-state').textContent = 'Uploading ' + file.name + '… ' + fmtSize(e.loaded) + ' of ' + fmtSize(e.total);
      };
      xhr.onload = function () {
        rec.xhr = null;
        var data;
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = { error: 'the server answered ' + xhr.status + ': ' + String(xhr.responseText).slice(0, 200) }; }
        if (xhr.status === 201 && data.upload_id) {
          rec.id = data.upload_id;
          if (imp.upload === rec) { $('imp-upload-bar').value = 1; $('imp-upload-state').textContent = 'Uploaded ' + file.name + ' (' + fmtSize(data.bytes) + ').'; }
          resolve({ ok: true, id: data.upload_id });
        } else {
          if (imp.upload === rec) { imp.upload = null; $('imp-upload-state').textContent = 'The upload failed.'; }
          resolve({ ok: false, data: data });
        }
      };
      xhr.onerror = function () {
        rec.xhr = null;
        if (imp.upload === rec) { imp.upload = null; $('imp-upload-state').textContent = 'The upload failed.'; }
        resolve({ ok: false, data: { error: 'the upload failed: Tributary did not answer (is it still running?)' } });
      };
      xhr.onabort = function () { resolve({ ok: false, aborted: true, data: { error: 'the upload was replaced by another file' } }); };
      xhr.send(file);
    });
    imp.upload = rec;
    return rec.promise;
  }
  /** The input part of a request: { path } or { upload_id } once the upload is done; null with the error shown. */
  function impInput() {
    if (impSourceMode() === 'path') return Promise.resolve({ path: $('imp-path').value.trim() });
    var f = $('imp-file').files[0];
    return impUpload(f).then(function (u) {
      if (u.ok) return { upload_id: u.id };
      if (!u.aborted) { $('imp-file-error').textContent = u.data.error; $('imp-file').setAttribute('aria-invalid', 'true'); }
      return null;
    });
  }

  function impStatus(id) { return api('GET', '/api/import/status?id=' + encodeURIComponent(id)); }

  // ---- import: analyze
  function impAnalyze() {
    impClearErrors();
    if (!impCheckForm()) return;
    var seq = ++imp.analyzeSeq;
    if (!impRunActive()) { imp.runSeq++; imp.runPolling = false; imp.runId = null; imp.runStage = null; $('imp-run').hidden = true; }
    imp.preflight = null;
    imp.analyzedKey = null;
    $('imp-preflight').hidden = true;
    $('imp-start').disabled = true;
    $('imp-analyze').disabled = true;
    var key = impKey();
    var note = $('imp-analyze-busy');
    note.textContent = impSourceMode() === 'upload' && !(imp.upload && imp.upload.id && imp.upload.file === $('imp-file').files[0]) ? 'Uploading…' : 'Analyzing…';
    busy('imp-analyze-busy', true);
    var done = function () { if (seq !== imp.analyzeSeq) return false; busy('imp-analyze-busy', false); $('imp-analyze').disabled = false; return true; };
    impInput().then(function (input) {
      if (seq !== imp.analyzeSeq) return;
      if (!input) { done(); return; }
      imp.input = input;
      note.textContent = 'Analyzing…';
      api('POST', '/api/import/analyze', impBody(input)).then(function (r) {
        if (seq !== imp.analyzeSeq) return;
        if (!r.ok) { done(); impShowError(r.data, 'imp-analyze-error'); return; }
        var poll = function (s) {
          if (seq !== imp.analyzeSeq) return;
          if (IMP_TERMINAL.indexOf(s.stage) < 0) {
            note.textContent = IMP_STAGE_TEXT[s.stage] + (s.stage === 'analyzing' && s.progress != null ? ' ' + Math.round(s.progress * 100) + '%' : '');
            setTimeout(function () {
              impStatus(s.import_id).then(function (r2) {
                if (seq !== imp.analyzeSeq) return;
                if (!r2.ok) { done(); impShowError(r2.data, 'imp-analyze-error'); return; }
                poll(r2.data);
              });
            }, 500);
            return;
          }
          done();
          if (s.stage !== 'analyzed' || !s.preflight) { $('imp-analyze-error').textContent = 'Could not analyze: ' + (s.error || 'the analysis ' + s.stage); return; }
          imp.analyzedKey = key;
          imp.analysisId = s.import_id;
          renderPreflight(s.preflight);
        };
        poll(r.data);
      });
    });
  }

  function renderPreflight(p) {
    imp.preflight = p;
    $('imp-preflight').hidden = false;
    $('imp-stale').hidden = true;
    var probs = clear($('imp-problems'));
    if (p.problems.length) {
      probs.appendChild(el('div', { className: 'problem', id: 'imp-problem-list', role: 'alert' }, [
        el('strong', { text: p.problems.length === 1 ? 'A problem' : p.problems.length + ' problems' }),
        el('ul', null, p.problems.map(function (t) { return el('li', { text: t }); }))]));
    } else {
      probs.appendChild(el('p', { className: 'success', id: 'imp-no-problem', text: 'No problem found: every sample can be imported as it is.' }));
    }
    var warns = clear($('imp-warnings'));
    if (p.warnings.length) {
      warns.appendChild(el('div', { className: 'warning', id: 'imp-warning-list' }, [
        el('strong', { text: p.warnings.length === 1 ? 'A warning' : p.warnings.length + ' warnings' }),
        el('ul', null, p.warnings.map(function (t) { return el('li', { text: t }); }))]));
    }
    var dl = clear($('imp-facts'));
    var add = function (k, v, id) { if (v == null) return; dl.appendChild(el('dt', { text: k })); dl.appendChild(el('dd', { id: id, text: typeof v === 'string' ? v : null }, typeof v === 'string' ? null : [v])); };
    var t = p.target, i = p.input;
    add('Target', el('code', { text: t.write_url }), 'imp-f-target');
    add('Target is', flavourShown(t.flavour) + (t.version && t.version !== 'unknown' ? ' ' + t.version : ''), 'imp-f-flavour');
    add('Protocol', protocolName(t.protocol), 'imp-f-protocol');
    if (t.tenant) add('Tenant', t.tenant, 'imp-f-tenant');
    add('Retention', t.retention_seconds != null ? fmtSpan(t.retention_seconds) + (t.retention_from ? ' (' + t.retention_from + ')' : '') : 'unknown', 'imp-f-retention');
    if (t.max_labels != null) add('Labels per series kept', fmtNum(t.max_labels), 'imp-f-max-labels');
    if (t.head_max_time) add('Prometheus head ends at', isoShown(t.head_max_time), 'imp-f-head');
    if (t.out_of_order_window_seconds) add('Out-of-order window', fmtSpan(t.out_of_order_window_seconds), 'imp-f-ooo');
    // an upload is kept under its id: the name shown is the file's own
    var shownName = imp.input && imp.input.upload_id ? i.name.replace(/^[0-9a-f]{12}-/, '') : i.name;
    add('Input', shownName + ' (' + ({ bundle: 'bundle', jsonl: 'JSON lines', 'jsonl.gz': 'gzip\'ed JSON lines' }[i.kind] || i.kind) + (i.lines_bytes != null ? ', ' + fmtSize(i.lines_bytes) + ' of lines' : '') + ')', 'imp-f-input');
    if (i.metadata) add('Bundle metadata', metadataShown(i.metadata), 'imp-f-metadata');
    add('Lines', fmtNum(p.lines) + (p.bad_lines ? ', ' + fmtNum(p.bad_lines) + ' bad' : ''), 'imp-f-lines');
    add('Series', fmtNum(p.series), 'imp-f-series');
    add('Samples', fmtNum(p.samples), 'imp-f-samples');
    add('Metric names', fmtNum(p.metric_names), 'imp-f-names');
    add('Time range', p.start ? isoShown(p.start) + ' → ' + isoShown(p.end) : '–', 'imp-f-range');
    add('Labels per series (most)', fmtNum(p.max_labels_per_series) + (p.series_over_label_limit ? ', ' + fmtNum(p.series_over_label_limit) + ' series over the limit' : ''), 'imp-f-labels');
    add('Samples inside what the target keeps', fmtNum(p.samples_inside), 'imp-f-inside');
    add('Samples too old', fmtNum(p.samples_too_old), 'imp-f-too-old');
    add('Samples too new', fmtNum(p.samples_too_new), 'imp-f-too-new');
    if (p.oldest_accepted || p.newest_accepted) add('The target takes samples', (p.oldest_accepted ? 'from ' + isoShown(p.oldest_accepted) : '') + (p.newest_accepted ? (p.oldest_accepted ? ' ' : '') + 'until ' + isoShown(p.newest_accepted) : ''), 'imp-f-accepted');
    if (p.suggested_shift_seconds != null) add('Suggested shift', fmtShift(p.suggested_shift_seconds) + ' (' + fmtNum(p.suggested_shift_seconds) + ' s)', 'imp-f-shift');

    var outside = p.samples_too_old + p.samples_too_new;
    $('imp-outside').hidden = outside === 0;
    if (outside > 0) {
      $('imp-outside-note').textContent = fmtNum(outside) + ' of ' + fmtNum(p.samples) + ' samples lie outside what the target keeps' + (p.start ? ' (the input spans ' + isoShown(p.start) + ' → ' + isoShown(p.end) + ')' : '') + '. Choose what to do with them:';
      $('imp-outside-drop').disabled = p.samples_inside === 0;
      if (p.samples_inside === 0 && $('imp-outside-drop').checked) $('imp-outside-drop').checked = false;
      $('imp-outside-drop-label').textContent = p.samples_inside === 0 ? 'Drop them (none is inside: nothing would be imported)' : 'Drop them (import the ' + fmtNum(p.samples_inside) + ' samples inside)';
      var sh = p.suggested_shift_seconds;
      $('imp-outside-shift').disabled = sh == null;
      $('imp-outside-shift-label').textContent = sh != null ? 'Shift by the suggested offset, ' + fmtShift(sh) + ' (every sample moves by it)' : 'Shift by the suggested offset (none fits: the input spans more than the target keeps)';
      if (sh == null && $('imp-outside-shift').checked) $('imp-outside-shift').checked = false;
      if (!$('imp-shift-hours').value && sh != null) $('imp-shift-hours').value = String(Math.round(sh / 36) / 100);
    }
    $('imp-shift-box').hidden = !$('imp-outside-custom').checked || outside === 0;
    $('imp-bad').hidden = !(p.bad_lines > 0 || $('imp-skip-bad').checked);
    impUpdateStart();
  }
  /** The bundle's metadata.json: its plain values in a line each, the whole of it folded. */
  function metadataShown(m) {
    var rows = [];
    Object.keys(m).forEach(function (k) {
      var v = m[k];
      if (v == null) return;
      if (typeof v !== 'object') rows.push(k + ': ' + String(v));
      else if (v.start && v.end && typeof v.start === 'string') rows.push(k + ': ' + v.start + ' → ' + v.end);
      else if (Array.isArray(v) && v.every(function (x) { return typeof x !== 'object'; })) rows.push(k + ': ' + v.slice(0, 10).join(', ') + (v.length > 10 ? ', … (' + v.length + ')' : ''));
    });
    return el('div', null, [
      el('ul', { className: 'plain' }, rows.slice(0, 12).map(function (r) { return el('li', { text: r }); })),
      el('details', null, [el('summary', { text: 'metadata.json' }), el('pre', { text: JSON.stringify(m, null, 2) })])
    ]);
  }
  function impOutsideChoice() {
    var c = document.querySelector('input[name=imp-outside]:checked');
    return c ? c.value : null;
  }
  function impRunActive() { return imp.runId !== null && imp.runStage !== null && IMP_TERMINAL.indexOf(imp.runStage) < 0; }
  /** Start is offered for a fresh analysis with something to import, while no import runs. */
  function impUpdateStart() {
    var p = imp.preflight;
    var fresh = p !== null && imp.analyzedKey === impKey();
    $('imp-stale').hidden = p === null || fresh;
    // after a completed import the same again would only duplicate it: analyze again or import another file
    $('imp-start').disabled = !fresh || p.samples === 0 || (p.bad_lines > 0 && !$('imp-skip-bad').checked) || impRunActive() || imp.runStage === 'completed';
    $('imp-analyze').disabled = impRunActive() || !imp.enabled;
  }
  function impFormChanged() {
    if (imp.preflight) impUpdateStart();
  }

  // ---- import: run
  function impStart() {
    impClearErrors('imp-preflight');
    var p = imp.preflight;
    if (!p || imp.analyzedKey !== impKey()) { $('imp-start-error').textContent = 'The file or the target changed since the analysis: analyze again.'; return; }
    var body = impBody(imp.input);
    var outside = p.samples_too_old + p.samples_too_new;
    if (outside > 0) {
      var c = impOutsideChoice();
      if (!c) { $('imp-start-error').textContent = 'Choose what to do with the ' + fmtNum(outside) + ' samples outside what the target keeps.'; return; }
      if (c === 'custom') {
        var h = $('imp-shift-hours').value.trim();
        if (!h || isNaN(Number(h))) { $('imp-shift-hours-error').textContent = 'Enter the shift in hours (e.g. 96 or -2.5).'; $('imp-shift-hours').setAttribute('aria-invalid', 'true'); return; }
        body.outside = 'shift';
        body.shift_seconds = Math.round(Number(h) * 3600);
      } else if (c === 'shift') {
        body.outside = 'shift';
        body.shift_seconds = p.suggested_shift_seconds;
      } else body.outside = c;
    } else body.outside = 'fail';
    body.verify = $('imp-verify').checked;
    // the file was read by the analysis just shown: the import takes that reading
    if (imp.analysisId) body.analysis_id = imp.analysisId;
    if ($('imp-restart').checked) body.restart = true;
    $('imp-start').disabled = true;
    $('imp-analyze').disabled = true;
    api('POST', '/api/import/start', body).then(function (r) {
      if (!r.ok) { impUpdateStart(); impShowError(r.data, 'imp-start-error'); return; }
      imp.runId = r.data.import_id;
      clear($('imp-result'));
      $('imp-run-error').textContent = '';
      renderRun(r.data);
      impPollRun();
      // the connection is remembered (without its secrets) when the import starts
      setTimeout(impLoadProfiles, 300);
    });
  }
  function impPollRun() {
    if (imp.runPolling) return;
    imp.runPolling = true;
    var seq = ++imp.runSeq, id = imp.runId;
    var tick = function () {
      setTimeout(function () {
        if (seq !== imp.runSeq) return;
        impStatus(id).then(function (r) {
          if (seq !== imp.runSeq) return;
          if (!r.ok) { imp.runPolling = false; $('imp-run-error').textContent = r.data.error; return; }
          renderRun(r.data);
          if (IMP_TERMINAL.indexOf(r.data.stage) < 0) tick();
          else { imp.runPolling = false; impLoadProfiles(); }
        });
      }, 500);
    };
    tick();
  }
  function renderRun(s) {
    imp.runStage = s.stage;
    $('imp-run').hidden = false;
    var active = IMP_TERMINAL.indexOf(s.stage) < 0;
    var bar = $('imp-bar');
    var frac = s.stage === 'completed' ? 1 : s.progress != null ? s.progress : s.bytes_total ? Math.min(1, s.bytes_done / s.bytes_total) : null;
    if (frac == null) { if (active) bar.removeAttribute('value'); else bar.value = 0; bar.removeAttribute('aria-valuetext'); }
    else { bar.value = frac; bar.setAttribute('aria-valuetext', Math.round(frac * 100) + '%'); }
    var pct = frac != null && (s.stage === 'importing' || s.stage === 'analyzing') ? ' ' + Math.round(frac * 100) + '%' : '';
    $('imp-state').textContent = IMP_STAGE_TEXT[s.stage] + pct;
    $('imp-stage').textContent = s.stage + (s.resumed_from > 0 ? ' (resumed at ' + fmtSize(s.resumed_from) + ')' : '');
    $('imp-bytes').textContent = (s.stage === 'analyzing' ? 'analyzed ' : '') + fmtSize(s.bytes_done) + (s.bytes_total != null ? ' of ' + fmtSize(s.bytes_total) : '');
    $('imp-samples').textContent = fmtNum(s.samples_imported) + (s.samples_total != null ? ' of ' + fmtNum(s.samples_total) : '') + (s.skipped_lines ? ' (' + fmtNum(s.skipped_lines) + ' bad lines skipped)' : '');
    $('imp-series').textContent = fmtNum(s.series_total);
    $('imp-eta').textContent = s.stage === 'importing' && s.eta_seconds != null ? 'about ' + fmtDur(s.eta_seconds) : '–';
    $('imp-retries').textContent = fmtNum(s.retries);
    var retrying = !!s.last_error && active;
    $('imp-last-error-term').hidden = !retrying;
    $('imp-last-error').hidden = !retrying;
    $('imp-last-error').textContent = retrying ? s.last_error : '';
    $('imp-cancel').hidden = !active;
    $('imp-resume').hidden = !(s.stage === 'failed' || s.stage === 'canceled');
    $('imp-again').hidden = active;
    $('imp-run-error').textContent = s.stage === 'failed' && s.error ? s.error : '';
    var out = clear($('imp-result'));
    if (s.stage === 'completed') {
      var v = s.verification;
      if (v) out.appendChild(el('div', { className: v.ok ? 'success' : 'problem', id: 'imp-verification' }, [
        el('strong', { text: v.ok ? 'Verified: ' : 'Verification found a difference: ' }), v.summary]));
      else out.appendChild(el('p', { className: 'muted', id: 'imp-verification', text: 'Not verified (verification was off).' }));
    }
    if (!active && s.stage_seconds) {
      var dl = el('dl', { className: 'facts', id: 'imp-stage-times' }), total = 0;
      IMP_STAGES.forEach(function (k) {
        if (s.stage_seconds[k] == null) return;
        total += s.stage_seconds[k];
        dl.appendChild(el('dt', { text: k.charAt(0).toUpperCase() + k.slice(1) }));
        dl.appendChild(el('dd', { text: fmtDur(s.stage_seconds[k]) }));
      });
      if (dl.firstChild) {
        dl.appendChild(el('dt', { text: 'Total' }));
        dl.appendChild(el('dd', { text: fmtDur(total) }));
        out.appendChild(el('h3', { text: 'Time per stage' }));
        out.appendChild(dl);
      }
    }
    impUpdateStart();
  }
  function impCancel() {
    $('imp-cancel').disabled = true;
    api('POST', '/api/import/cancel', { import_id: imp.runId }).then(function (r) {
      $('imp-cancel').disabled = false;
      if (!r.ok) { $('imp-run-error').textContent = r.data.error; return; }
      renderRun(r.data);
      impPollRun();
    });
  }
  function impResume() {
    impClearErrors('imp-run');
    if (!$('imp-url').value.trim()) { $('imp-run-error').textContent = 'Enter the target again above (its credentials are not kept), then resume.'; return; }
    $('imp-resume').disabled = true;
    api('POST', '/api/import/resume', { import_id: imp.runId, connection: impConnection() }).then(function (r) {
      $('imp-resume').disabled = false;
      if (!r.ok) {
        if (r.data.field && r.data.field.indexOf('connection') === 0) impShowError(r.data, 'imp-run-error');
        else $('imp-run-error').textContent = r.data.error;
        return;
      }
      clear($('imp-result'));
      renderRun(r.data);
      impPollRun();
    });
  }
  function impAgain() {
    imp.runSeq++;
    imp.runPolling = false;
    imp.runId = null;
    imp.runStage = null;
    imp.preflight = null;
    imp.analyzedKey = null;
    $('imp-run').hidden = true;
    $('imp-preflight').hidden = true;
    Array.prototype.forEach.call(document.querySelectorAll('input[name=imp-outside]'), function (r) { r.checked = false; });
    $('imp-shift-hours').value = '';
    $('imp-skip-bad').checked = false;
    $('imp-restart').checked = false;
    impUpdateStart();
    $('import').scrollIntoView();
  }

  // ---- import: recent targets (no secrets: those are typed again)
  function impLoadProfiles() {
    api('GET', '/api/import/profiles').then(function (r) {
      var box = clear($('imp-recent'));
      if (!r.ok) {
        if (r.status === 404) { imp.enabled = false; $('imp-disabled').hidden = false; $('imp-disabled').textContent = r.data.error ? 'Importing is not enabled on this server (' + r.data.error + ').' : 'Importing is not enabled on this server.'; impUpdateStart(); }
        box.hidden = true;
        return;
      }
      var list = r.data.profiles || [];
      box.hidden = list.length === 0;
      if (list.length === 0) return;
      box.className = 'recent';
      box.appendChild(el('h3', { text: 'Recent targets' }));
      box.appendChild(el('ul', { id: 'imp-recent-list' }, list.map(function (p) {
        var details = [];
        if (p.tenant) details.push('tenant ' + p.tenant);
        if (p.protocol) details.push(protocolName(p.protocol));
        details.push(p.authType === 'basic' ? 'basic auth as ' + p.username : p.authType === 'bearer' ? 'bearer token' : p.authType === 'header' ? 'header ' + p.headerName : 'no auth');
        if (p.insecureSkipVerify) details.push('TLS not verified');
        if (p.usedAt) details.push('used ' + isoShown(p.usedAt));
        return el('li', null, [el('button', { type: 'button', text: 'Use ' + p.url, onclick: function () { impUseProfile(p); } }), ' ', el('span', { className: 'muted', text: details.join(' · ') })]);
      })));
    });
  }
  function impUseProfile(p) {
    $('imp-url').value = p.url || '';
    $('imp-tenant').value = p.tenant || '';
    var type = ['none', 'basic', 'bearer', 'header'].indexOf(p.authType) >= 0 ? p.authType : 'none';
    $('imp-auth-type').value = type;
    impAuthShown();
    $('imp-username').value = p.username || '';
    $('imp-header-name').value = p.headerName || '';
    ['imp-password', 'imp-token', 'imp-header-value'].forEach(function (id) { $(id).value = ''; });
    $('imp-protocol').value = p.protocol === 'vm-import' || p.protocol === 'remote-write' ? p.protocol : 'auto';
    $('imp-query-url').value = p.queryUrl || '';
    if (p.queryUrl) $('imp-more').open = true;
    $('imp-skip-verify').checked = !!p.insecureSkipVerify;
    impClearErrors('imp-form');
    impFormChanged();
    var next = type === 'basic' ? 'imp-password' : type === 'bearer' ? 'imp-token' : type === 'header' ? 'imp-header-value' : 'imp-analyze';
    $(next).focus();
  }
  function impAuthShown() {
    var t = $('imp-auth-type').value;
    Array.prototype.forEach.call(document.querySelectorAll('.imp-auth'), function (d) { d.hidden = d.getAttribute('data-imp-auth') !== t; });
  }

  /** Puts the tab's markup into the page and wires it, the first time the tab is opened. */
  function impOpen() {
    if (imp.ready) { impLoadProfiles(); return; }
    imp.ready = true;
    $('import-main').appendChild(document.importNode($('import-template').content, true));
    var form = $('imp-form');
    form.addEventListener('input', impFormChanged);
    form.addEventListener('change', impFormChanged);
    Array.prototype.forEach.call(document.querySelectorAll('input[name=imp-source]'), function (r) {
      r.addEventListener('change', function () {
        var path = impSourceMode() === 'path';
        $('imp-upload-box').hidden = path;
        $('imp-path-box').hidden = !path;
      });
    });
    $('imp-file').addEventListener('change', function () {
      $('imp-file-error').textContent = '';
      $('imp-file').removeAttribute('aria-invalid');
      var f = $('imp-file').files[0];
      if (!f) { if (imp.upload && imp.upload.xhr) imp.upload.xhr.abort(); imp.upload = null; $('imp-upload').hidden = true; return; }
      impUpload(f);
    });
    $('imp-auth-type').addEventListener('change', impAuthShown);
    $('imp-ca-file').addEventListener('change', function () {
      $('imp-ca-file-error').textContent = '';
      imp.caPem = '';
      var f = $('imp-ca-file').files[0];
      if (!f) { impFormChanged(); return; }
      if (f.size > 512 * 1024) { $('imp-ca-file-error').textContent = 'The file is larger than 512 KiB: not a CA certificate.'; return; }
      f.text().then(function (t) {
        if (t.indexOf('-----BEGIN CERTIFICATE-----') < 0) { $('imp-ca-file-error').textContent = 'This is not a PEM certificate (no BEGIN CERTIFICATE line).'; return; }
        imp.caPem = t;
        impFormChanged();
      });
    });
    $('imp-url').addEventListener('keydown', function (e) { if (e.key === 'Enter') impAnalyze(); });
    $('imp-analyze').addEventListener('click', impAnalyze);
    Array.prototype.forEach.call(document.querySelectorAll('input[name=imp-outside]'), function (r) {
      r.addEventListener('change', function () { $('imp-shift-box').hidden = !$('imp-outside-custom').checked; $('imp-start-error').textContent = ''; });
    });
    $('imp-skip-bad').addEventListener('change', impAnalyze);
    $('imp-start').addEventListener('click', impStart);
    $('imp-cancel').addEventListener('click', impCancel);
    $('imp-resume').addEventListener('click', impResume);
    $('imp-again').addEventListener('click', impAgain);
    impLoadProfiles();
  }

  // ---- wiring
  document.addEventListener('DOMContentLoaded', function () {
    Array.prototype.forEach.call(document.querySelectorAll('nav [data-step]'), function (b) { b.addEventListener('click', function () { show(b.getAttribute('data-step')); }); });
    Array.prototype.forEach.call(document.querySelectorAll('[data-go]'), function (b) { b.addEventListener('click', function () { show(b.getAttribute('data-go')); }); });
    $('auth-type').addEventListener('change', function () {
      var t = $('auth-type').value;
      Array.prototype.forEach.call(document.querySelectorAll('.auth'), function (d) { d.hidden = d.getAttribute('data-auth') !== t; });
      connectionChanged();
    });
    ['url', 'tenant', 'username', 'password', 'token', 'header-name', 'header-value', 'skip-verify'].forEach(function (id) { $(id).addEventListener('input', connectionChanged); });
    $('ca-file').addEventListener('change', function () {
      $('ca-file-error').textContent = '';
      state.caPem = '';
      connectionChanged();
      var f = $('ca-file').files[0];
      if (!f) return;
      if (f.size > 512 * 1024) { $('ca-file-error').textContent = 'The file is larger than 512 KiB: not a CA certificate.'; return; }
      f.text().then(function (t) {
        if (t.indexOf('-----BEGIN CERTIFICATE-----') < 0) { $('ca-file-error').textContent = 'This is not a PEM certificate (no BEGIN CERTIFICATE line).'; return; }
        state.caPem = t;
      });
    });
    $('validate').addEventListener('click', validate);
    $('url').addEventListener('keydown', function (e) { if (e.key === 'Enter') validate(); });
    $('to-discover').addEventListener('click', function () { show('discover'); });
    Array.prototype.forEach.call(document.querySelectorAll('input[name=range]'), function (r) { r.addEventListener('change', function () { $('custom-range').hidden = !$('range-custom').checked; }); });
    Array.prototype.forEach.call(document.querySelectorAll('input[name=mode]'), function (r) {
      r.addEventListener('change', function () {
        var m = document.querySelector('input[name=mode]:checked').value;
        $('custom-mode').hidden = m === 'jobs';
        $('step-field').hidden = m !== 'query';
        $('discover').textContent = m === 'jobs' ? 'Discover' : 'Check';
        $('to-choose').disabled = true;
        lockAfter('discover');
      });
    });
    $('discover').addEventListener('click', discover);
    $('to-choose').addEventListener('click', function () { show('choose'); });
    Array.prototype.forEach.call(document.querySelectorAll('input[name=batch]'), function (r) { r.addEventListener('change', function () { $('batch-field').hidden = !$('batch-custom').checked; }); });
    $('choose-list').addEventListener('change', onChooseChange);
    $('to-preview').addEventListener('click', toPreview);
    $('preview-refresh').addEventListener('click', function () { loadPreview('preview-result', 'preview-busy'); });
    $('to-obfuscate').addEventListener('click', function () { show('obfuscate'); });
    $('step-obfuscate').addEventListener('change', obfuscationChanged);
    $('obf-apply').addEventListener('click', function () { loadPreview('obf-preview', 'obf-busy'); });
    $('to-export').addEventListener('click', function () { unlock('export'); show('export'); });
    $('export-start').addEventListener('click', startExport);
    $('export-cancel').addEventListener('click', cancelExport);
    $('export-resume').addEventListener('click', function () { resumeExport(); });
    $('to-download').addEventListener('click', function () { show('download'); });
    $('new-export').addEventListener('click', function () { state.jobId = null; state.result = null; $('to-download').disabled = true; $('export-progress').hidden = true; show('discover'); });
    api('GET', '/api/config').then(function (r) { if (r.ok) state.config = r.data; });
    listUnfinished();
    // Export | Import: click, or the arrow keys on the tabs
    ['export', 'import'].forEach(function (t) {
      $('tab-' + t).addEventListener('click', function () { showTab(t); });
      $('tab-' + t).addEventListener('keydown', function (e) {
        if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight' && e.key !== 'Home' && e.key !== 'End') return;
        e.preventDefault();
        var other = t === 'export' ? 'import' : 'export';
        var to = e.key === 'Home' ? 'export' : e.key === 'End' ? 'import' : other;
        showTab(to);
        $('tab-' + to).focus();
      });
    });
    if (location.hash === '#import') showTab('import');
  });
})();
`;
