/**
 * The gather wizard's behaviour, served as `/wizard.js`: plain JavaScript, no framework and no
 * build step. It calls the API (`api.ts`) with the connection from the form, and puts every
 * value it shows into the page as text (`textContent`), never as markup, so a label value from
 * the source cannot inject anything. With obfuscation on, the preview only ever shows what the
 * API obfuscated; the session it returns is sent back by later previews and by the export, so
 * the replacements seen are the replacements exported.
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
          el('td', { className: a.ok ? 'ok' : 'bad', text: a.ok ? 'answered' + (a.status ? ' (' + a.status + ')' : '') : (a.status ? 'HTTP ' + a.status + ': ' : '') + (a.error || 'failed') })]);
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
        out.appendChild(el('div', { className: 'problem', id: 'validate-problem' }, [
          el('p', null, [el('strong', { text: 'Could not connect: ' + (d.error || 'no URL answered') })]),
          d.hint ? el('p', { text: 'Hint: ' + d.hint }) : null,
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
        out.appendChild(el('p', { id: 'discover-summary', text: 'Found ' + d.components.length + ' component(s), ' + d.jobs.length + ' job(s) and about ' + fmtNum(d.total_series) + ' series between ' + fmtTime(state.range.startMs) + ' and ' + fmtTime(state.range.endMs) + '.' }));
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
  });
})();
`;
