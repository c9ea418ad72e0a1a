/**
 * The gather wizard's document: two tabs. Export: seven steps (connect, discover, choose,
 * preview, obfuscate, export, download), one shown at a time. Import: a file (uploaded or a path
 * on this machine), a target, the preflight and the import's progress, on one page. Every
 * control has a `<label for>` or button text so that it can be used — and driven by tests — by
 * role and name. The markup is static: values from the source, the input and the target are put
 * in by `script.ts` as text nodes, never as markup. The Import tab's markup is a `<template>`,
 * put into the page when the tab is first opened: until then the Export steps are the only
 * controls of the page.
 */

import { escapeHtml } from '../../ui/html.js';

/** The Import tab: what to import, where to, the preflight, the run. */
/** The kinds of authentication, the same for a source and a target. */
const AUTH_OPTIONS = `<option value="none">None</option>
<option value="basic">Basic (user and password)</option>
<option value="bearer">Bearer token</option>
<option value="header">Custom header</option>`;

const IMPORT_MARKUP = `<section id="import" aria-labelledby="h-import">
<h1 id="h-import">Import a bundle</h1>
<p class="muted">Sends a gather or vmgather bundle (ZIP), or VictoriaMetrics JSON lines (plain or gzip'ed), to VictoriaMetrics (/api/v1/import) or a Prometheus remote-write receiver. The whole file is analyzed before a byte is sent; an import that stops can be resumed where it stopped.</p>
<p class="problem" id="imp-disabled" hidden>Importing is not enabled on this server.</p>
<div id="imp-form">
<fieldset>
<legend>What to import</legend>
<div class="radios">
<span class="check"><input type="radio" name="imp-source" id="imp-src-upload" value="upload" checked><label for="imp-src-upload">Upload a file from this browser</label></span>
<span class="check"><input type="radio" name="imp-source" id="imp-src-path" value="path"><label for="imp-src-path">A file on the machine Tributary runs on</label></span>
</div>
<div id="imp-upload-box">
<div class="field"><label for="imp-file">Bundle (.zip) or JSON lines (.jsonl, .jsonl.gz)</label><input id="imp-file" type="file" accept=".zip,.jsonl,.json,.gz,application/zip,application/gzip" aria-describedby="imp-file-error"><p class="error" id="imp-file-error" role="alert"></p></div>
<div id="imp-upload" hidden>
<label for="imp-upload-bar">Upload progress</label>
<progress id="imp-upload-bar" max="1" value="0"></progress>
<p id="imp-upload-state" role="status"></p>
</div>
</div>
<div class="field" id="imp-path-box" hidden><label for="imp-path">File path on this machine (where Tributary runs)</label><input id="imp-path" type="text" placeholder="/var/tmp/tributary-gather.zip" aria-describedby="imp-path-error imp-path-note"><p class="muted" id="imp-path-note">Read by Tributary itself, without an upload; only for a browser on the same machine.</p><p class="error" id="imp-path-error" role="alert"></p></div>
</fieldset>
<fieldset>
<legend>Target</legend>
<div id="imp-recent" hidden></div>
<div class="field">
<label for="imp-url">Target URL</label>
<input id="imp-url" type="url" placeholder="http://localhost:8428, http://vminsert:8480/insert/0/prometheus or http://prometheus:9090/api/v1/write" autocomplete="url" aria-describedby="imp-url-error">
<p class="error" id="imp-url-error" role="alert"></p>
</div>
<div class="field">
<label for="imp-tenant">Target tenant (VictoriaMetrics cluster, optional)</label>
<input id="imp-tenant" type="text" placeholder="0 or 0:0" aria-describedby="imp-tenant-error">
<p class="error" id="imp-tenant-error" role="alert"></p>
</div>
<div class="field">
<label for="imp-auth-type">Target authentication</label>
<select id="imp-auth-type">
${AUTH_OPTIONS}
</select>
</div>
<div class="imp-auth" data-imp-auth="basic" hidden>
<div class="field"><label for="imp-username">Target username</label><input id="imp-username" type="text" autocomplete="off" aria-describedby="imp-username-error"><p class="error" id="imp-username-error" role="alert"></p></div>
<div class="field"><label for="imp-password">Target password</label><input id="imp-password" type="password" autocomplete="off" aria-describedby="imp-password-error"><p class="error" id="imp-password-error" role="alert"></p></div>
</div>
<div class="imp-auth" data-imp-auth="bearer" hidden>
<div class="field"><label for="imp-token">Target bearer token</label><input id="imp-token" type="password" autocomplete="off" aria-describedby="imp-token-error"><p class="error" id="imp-token-error" role="alert"></p></div>
</div>
<div class="imp-auth" data-imp-auth="header" hidden>
<div class="field"><label for="imp-header-name">Target header name</label><input id="imp-header-name" type="text" placeholder="X-Api-Key" aria-describedby="imp-header-name-error"><p class="error" id="imp-header-name-error" role="alert"></p></div>
<div class="field"><label for="imp-header-value">Target header value</label><input id="imp-header-value" type="password" autocomplete="off" aria-describedby="imp-header-value-error"><p class="error" id="imp-header-value-error" role="alert"></p></div>
</div>
<div class="field">
<label for="imp-protocol">Protocol</label>
<select id="imp-protocol" aria-describedby="imp-protocol-error">
<option value="auto">Automatic (from the URL and what the target is)</option>
<option value="vm-import">VictoriaMetrics import API (/api/v1/import)</option>
<option value="remote-write">Prometheus remote write</option>
</select>
<p class="error" id="imp-protocol-error" role="alert"></p>
</div>
<fieldset>
<legend>Target TLS (https:// only)</legend>
<div class="field"><label for="imp-ca-file">Target CA certificate (PEM file, optional)</label><input id="imp-ca-file" type="file" accept=".pem,.crt,.cer,application/x-pem-file" aria-describedby="imp-ca-file-error"><p class="error" id="imp-ca-file-error" role="alert"></p></div>
<div class="check"><input id="imp-skip-verify" type="checkbox"><label for="imp-skip-verify">Skip TLS certificate verification of the target (insecure)</label></div>
</fieldset>
<details id="imp-more">
<summary>More target options</summary>
<div class="field"><label for="imp-query-url">Query URL for verification (optional; a Prometheus API root)</label><input id="imp-query-url" type="url" placeholder="http://vmselect:8481/select/0/prometheus" aria-describedby="imp-query-url-error"><p class="error" id="imp-query-url-error" role="alert"></p></div>
<div class="field"><label for="imp-retention">Target retention in days (where the target's own cannot be read)</label><input id="imp-retention" type="number" min="0.01" step="any" aria-describedby="imp-retention-error"><p class="error" id="imp-retention-error" role="alert"></p></div>
<div class="field"><label for="imp-max-labels">Labels per series the target keeps (optional)</label><input id="imp-max-labels" type="number" min="1" max="100000" step="1" aria-describedby="imp-max-labels-error"><p class="error" id="imp-max-labels-error" role="alert"></p></div>
</details>
</fieldset>
</div>
<div class="actions">
<button type="button" id="imp-analyze">Analyze</button>
<span class="busy" id="imp-analyze-busy" role="status" hidden>Analyzing…</span>
</div>
<p class="error" id="imp-analyze-error" role="alert"></p>

<div id="imp-preflight" hidden>
<h2>Preflight</h2>
<div id="imp-problems"></div>
<div id="imp-warnings"></div>
<dl class="facts" id="imp-facts"></dl>
<div id="imp-choices">
<fieldset id="imp-outside" hidden>
<legend>Samples outside what the target keeps</legend>
<p id="imp-outside-note"></p>
<div class="radios radios-column">
<span class="check"><input type="radio" name="imp-outside" id="imp-outside-drop" value="drop"><label for="imp-outside-drop" id="imp-outside-drop-label">Drop them</label></span>
<span class="check"><input type="radio" name="imp-outside" id="imp-outside-shift" value="shift"><label for="imp-outside-shift" id="imp-outside-shift-label">Shift by the suggested offset</label></span>
<span class="check"><input type="radio" name="imp-outside" id="imp-outside-custom" value="custom"><label for="imp-outside-custom">Shift by a custom offset</label></span>
<span class="check"><input type="radio" name="imp-outside" id="imp-outside-keep" value="keep"><label for="imp-outside-keep">Send them anyway (the target may refuse or delete them)</label></span>
</div>
<div class="field" id="imp-shift-box" hidden><label for="imp-shift-hours">Custom shift in hours (negative moves the samples back in time)</label><input id="imp-shift-hours" type="number" step="any" aria-describedby="imp-shift-hours-error"><p class="error" id="imp-shift-hours-error" role="alert"></p></div>
</fieldset>
<fieldset id="imp-bad" hidden>
<legend>Bad lines</legend>
<div class="check"><input id="imp-skip-bad" type="checkbox"><label for="imp-skip-bad">Skip bad lines (and analyze again)</label></div>
</fieldset>
<div class="check"><input id="imp-verify" type="checkbox" checked><label for="imp-verify">Verify after the import (count what arrived with the target's query API)</label></div>
<div class="check"><input id="imp-restart" type="checkbox"><label for="imp-restart">Start from the beginning (ignore a saved resume point of this file and target)</label></div>
<div class="actions">
<button type="button" id="imp-start" class="primary" disabled>Start import</button>
<span class="muted" id="imp-stale" hidden>The file or the target changed since the analysis: analyze again.</span>
</div>
<p class="error" id="imp-start-error" role="alert"></p>
</div>
</div>

<div id="imp-run" hidden>
<h2>Import</h2>
<label for="imp-bar">Import progress</label>
<progress id="imp-bar" max="1" value="0"></progress>
<p id="imp-state" role="status"></p>
<dl class="facts">
<dt>Stage</dt><dd id="imp-stage">–</dd>
<dt>Data</dt><dd id="imp-bytes">–</dd>
<dt>Samples</dt><dd id="imp-samples">–</dd>
<dt>Series</dt><dd id="imp-series">–</dd>
<dt>Time left</dt><dd id="imp-eta">–</dd>
<dt>Retries</dt><dd id="imp-retries">–</dd>
<dt id="imp-last-error-term" hidden>Last error (retrying)</dt><dd id="imp-last-error" class="warn" hidden></dd>
</dl>
<div class="actions">
<button type="button" id="imp-cancel" hidden>Cancel import</button>
<button type="button" id="imp-resume" hidden>Resume import</button>
</div>
<p class="error" id="imp-run-error" role="alert"></p>
<div id="imp-result" aria-live="polite"></div>
<div class="actions"><button type="button" id="imp-again" hidden>Import another file</button></div>
</div>
</section>`;

export function renderWizardPage(version: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gather · Tributary</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/wizard.css">
<script src="/wizard.js" defer></script>
</head>
<body>
<header>
<span class="brand">Tributary gather</span>
<span class="muted">Export metrics from VictoriaMetrics or Prometheus into an obfuscated bundle, or import a bundle · v${escapeHtml(version)}</span>
</header>
<div class="tabs" role="tablist" aria-label="Export or import">
<button type="button" role="tab" id="tab-export" aria-controls="panel-export" aria-selected="true">Export</button>
<button type="button" role="tab" id="tab-import" aria-controls="panel-import" aria-selected="false" tabindex="-1">Import</button>
</div>
<div id="panel-export" role="tabpanel" aria-labelledby="tab-export">
<nav aria-label="Steps">
<ol id="steps">
<li><button type="button" data-step="connect" aria-current="step">1. Connect</button></li>
<li><button type="button" data-step="discover" disabled>2. Discover</button></li>
<li><button type="button" data-step="choose" disabled>3. Choose</button></li>
<li><button type="button" data-step="preview" disabled>4. Preview</button></li>
<li><button type="button" data-step="obfuscate" disabled>5. Obfuscate</button></li>
<li><button type="button" data-step="export" disabled>6. Export</button></li>
<li><button type="button" data-step="download" disabled>7. Download</button></li>
</ol>
</nav>
<main>
<noscript><p class="problem">The wizard needs JavaScript. Without it, use the command line: <code>tributary gather --url URL --from T --to T -o bundle.zip</code>.</p></noscript>

<section id="step-connect" aria-labelledby="h-connect">
<h1 id="h-connect">Connect to the source</h1>
<p class="muted">VictoriaMetrics (single node, cluster vmselect, behind vmauth) or Prometheus. Credentials stay in this browser tab and in Tributary's memory; they are never written to disk.</p>
<div class="field">
<label for="url">Source URL</label>
<input id="url" type="url" placeholder="http://localhost:8428 or http://vmselect:8481/select/0/prometheus" autocomplete="url" aria-describedby="url-error" required>
<p class="error" id="url-error" role="alert"></p>
</div>
<div class="field">
<label for="tenant">Tenant (VictoriaMetrics cluster, optional)</label>
<input id="tenant" type="text" placeholder="0 or 0:0" aria-describedby="tenant-error">
<p class="error" id="tenant-error" role="alert"></p>
</div>
<div class="field">
<label for="auth-type">Authentication</label>
<select id="auth-type">
${AUTH_OPTIONS}
</select>
</div>
<div class="auth" data-auth="basic" hidden>
<div class="field"><label for="username">Username</label><input id="username" type="text" autocomplete="username" aria-describedby="username-error"><p class="error" id="username-error" role="alert"></p></div>
<div class="field"><label for="password">Password</label><input id="password" type="password" autocomplete="current-password" aria-describedby="password-error"><p class="error" id="password-error" role="alert"></p></div>
</div>
<div class="auth" data-auth="bearer" hidden>
<div class="field"><label for="token">Bearer token</label><input id="token" type="password" aria-describedby="token-error"><p class="error" id="token-error" role="alert"></p></div>
</div>
<div class="auth" data-auth="header" hidden>
<div class="field"><label for="header-name">Header name</label><input id="header-name" type="text" placeholder="X-Api-Key" aria-describedby="header-name-error"><p class="error" id="header-name-error" role="alert"></p></div>
<div class="field"><label for="header-value">Header value</label><input id="header-value" type="password" aria-describedby="header-value-error"><p class="error" id="header-value-error" role="alert"></p></div>
</div>
<fieldset>
<legend>TLS (https:// only)</legend>
<div class="field"><label for="ca-file">CA certificate (PEM file, optional)</label><input id="ca-file" type="file" accept=".pem,.crt,.cer,application/x-pem-file" aria-describedby="ca-file-error"><p class="error" id="ca-file-error" role="alert"></p></div>
<div class="check"><input id="skip-verify" type="checkbox"><label for="skip-verify">Skip TLS certificate verification (insecure)</label></div>
</fieldset>
<div class="actions">
<button type="button" id="validate">Test connection</button>
<span class="busy" id="validate-busy" role="status" hidden>Checking the connection…</span>
</div>
<div id="validate-result" aria-live="polite"></div>
<div class="actions"><button type="button" id="to-discover" class="primary" disabled>Next: discover</button></div>
</section>

<section id="step-discover" aria-labelledby="h-discover" hidden>
<h1 id="h-discover">Discover what the source holds</h1>
<fieldset>
<legend>Time range</legend>
<div class="radios" id="range-presets">
<span class="check"><input type="radio" name="range" id="range-15m" value="900"><label for="range-15m">Last 15 minutes</label></span>
<span class="check"><input type="radio" name="range" id="range-1h" value="3600" checked><label for="range-1h">Last hour</label></span>
<span class="check"><input type="radio" name="range" id="range-6h" value="21600"><label for="range-6h">Last 6 hours</label></span>
<span class="check"><input type="radio" name="range" id="range-24h" value="86400"><label for="range-24h">Last 24 hours</label></span>
<span class="check"><input type="radio" name="range" id="range-custom" value="custom"><label for="range-custom">Custom range</label></span>
</div>
<div class="custom-range" id="custom-range" hidden>
<div class="field"><label for="range-from">From (UTC)</label><input id="range-from" type="datetime-local" step="1" aria-describedby="range-error"></div>
<div class="field"><label for="range-to">To (UTC)</label><input id="range-to" type="datetime-local" step="1" aria-describedby="range-error"></div>
</div>
<p class="error" id="range-error" role="alert"></p>
</fieldset>
<fieldset>
<legend>What to export</legend>
<div class="radios">
<span class="check"><input type="radio" name="mode" id="mode-jobs" value="jobs" checked><label for="mode-jobs">Components and jobs</label></span>
<span class="check"><input type="radio" name="mode" id="mode-selector" value="selector"><label for="mode-selector">Series selector</label></span>
<span class="check"><input type="radio" name="mode" id="mode-query" value="query"><label for="mode-query">PromQL / MetricsQL query</label></span>
</div>
<div id="custom-mode" hidden>
<div class="field"><label for="custom-expr">Selector or query</label><textarea id="custom-expr" rows="3" placeholder='{job="vmstorage"} or rate(http_requests_total[5m])' aria-describedby="custom-expr-error"></textarea><p class="error" id="custom-expr-error" role="alert"></p></div>
<div class="field" id="step-field" hidden><label for="query-step">Query step (seconds)</label><input id="query-step" type="number" min="1" max="86400" value="60" aria-describedby="query-step-error"><p class="error" id="query-step-error" role="alert"></p></div>
</div>
</fieldset>
<div class="actions">
<button type="button" id="discover">Discover</button>
<span class="busy" id="discover-busy" role="status" hidden>Discovering…</span>
</div>
<div id="discover-result" aria-live="polite"></div>
<div class="actions"><button type="button" data-go="connect">Back</button><button type="button" id="to-choose" class="primary" disabled>Next: choose</button></div>
</section>

<section id="step-choose" aria-labelledby="h-choose" hidden>
<h1 id="h-choose">Choose what goes into the bundle</h1>
<p id="choose-range" class="muted"></p>
<div id="choose-list"></div>
<fieldset>
<legend>Batch window</legend>
<p class="muted">The range is read in batches; a batch that times out or hits a series limit is split by itself.</p>
<div class="radios">
<span class="check"><input type="radio" name="batch" id="batch-auto" value="auto" checked><label for="batch-auto">Automatic</label></span>
<span class="check"><input type="radio" name="batch" id="batch-custom" value="custom"><label for="batch-custom">Custom</label></span>
</div>
<div class="field" id="batch-field" hidden><label for="batch-seconds">Batch window (seconds, 30 – 86400)</label><input id="batch-seconds" type="number" min="30" max="86400" value="300" aria-describedby="batch-seconds-error"><p class="error" id="batch-seconds-error" role="alert"></p></div>
</fieldset>
<p class="error" id="choose-error" role="alert"></p>
<div class="actions"><button type="button" data-go="discover">Back</button><button type="button" id="to-preview" class="primary">Next: preview</button></div>
</section>

<section id="step-preview" aria-labelledby="h-preview" hidden>
<h1 id="h-preview">Preview</h1>
<p class="muted">A few series of the selection, as they will be in the bundle.</p>
<div class="actions"><button type="button" id="preview-refresh">Refresh preview</button><span class="busy" id="preview-busy" role="status" hidden>Loading the preview…</span></div>
<div id="preview-result" aria-live="polite"></div>
<div class="actions"><button type="button" data-go="choose">Back</button><button type="button" id="to-obfuscate" class="primary" disabled>Next: obfuscate</button></div>
</section>

<section id="step-obfuscate" aria-labelledby="h-obfuscate" hidden>
<h1 id="h-obfuscate">Obfuscate</h1>
<p class="muted">Obfuscation replaces identifying values while the data streams: no plaintext copy is written. The same original always gets the same replacement, in the preview and in the export.</p>
<div class="check"><input id="obf-enabled" type="checkbox" checked><label for="obf-enabled">Obfuscate identifying labels</label></div>
<div id="obf-options">
<div class="check"><input id="obf-instance" type="checkbox" checked><label for="obf-instance">Obfuscate instance (hosts become 777.777.x.y, ports kept)</label></div>
<div class="check"><input id="obf-job" type="checkbox" checked><label for="obf-job">Obfuscate job (becomes &lt;component&gt;-job-&lt;n&gt;)</label></div>
</div>
<h2>Other labels</h2>
<div id="obf-labels"><p class="muted">Load the preview to list the labels.</p></div>
<p class="error" id="obfuscation-error" role="alert"></p>
<div class="actions"><button type="button" id="obf-apply">Apply and refresh preview</button><span class="busy" id="obf-busy" role="status" hidden>Refreshing the preview…</span></div>
<div id="obf-preview" aria-live="polite"></div>
<div class="actions"><button type="button" data-go="preview">Back</button><button type="button" id="to-export" class="primary">Next: export</button></div>
</section>

<section id="step-export" aria-labelledby="h-export" hidden>
<h1 id="h-export">Export</h1>
<dl class="facts" id="export-summary"></dl>
<div class="actions">
<button type="button" id="export-start" class="primary">Start export</button>
<button type="button" id="export-cancel" hidden>Cancel export</button>
<button type="button" id="export-resume" hidden>Resume export</button>
</div>
<p class="error" id="export-error" role="alert"></p>
<div id="export-progress" hidden>
<label for="export-bar">Export progress</label>
<progress id="export-bar" max="1" value="0"></progress>
<p id="export-state" role="status"></p>
<dl class="facts">
<dt>Batches</dt><dd id="export-batches">–</dd>
<dt>Samples</dt><dd id="export-samples">–</dd>
<dt>Series</dt><dd id="export-series">–</dd>
<dt>Average batch time</dt><dd id="export-avg">–</dd>
<dt>Time left</dt><dd id="export-eta">–</dd>
<dt>Current range</dt><dd id="export-range">–</dd>
</dl>
</div>
<div id="unfinished"></div>
<div class="actions"><button type="button" data-go="obfuscate" id="export-back">Back</button><button type="button" id="to-download" class="primary" disabled>Next: download</button></div>
</section>

<section id="step-download" aria-labelledby="h-download" hidden>
<h1 id="h-download">Download the bundle</h1>
<p><a id="download-link" href="#" download>Download the bundle</a></p>
<dl class="facts">
<dt>File</dt><dd id="download-name"></dd>
<dt>Size</dt><dd id="download-size"></dd>
<dt>SHA-256</dt><dd><code id="download-sha256"></code></dd>
<dt>Series</dt><dd id="download-series"></dd>
<dt>Samples</dt><dd id="download-samples"></dd>
<dt>Obfuscated</dt><dd id="download-obfuscated"></dd>
</dl>
<p class="muted">Check the SHA-256 after sending the file: the receiver computes the same value.</p>
<div class="actions"><button type="button" id="new-export">Start another export</button></div>
</section>
</main>
</div>
<div id="panel-import" role="tabpanel" aria-labelledby="tab-import" hidden>
<main id="import-main"></main>
</div>
<template id="import-template">
${IMPORT_MARKUP}
</template>
</body>
</html>
`;
}

