/**
 * The debugger's pages: `/relabel-debug`, and vmagent's `/target-relabel-debug` and
 * `/metric-relabel-debug` with their mode preset. Input comes as query parameters (`labels`,
 * `rules`, `mode`), so any page can link to a prefilled run, or as a form POST for inputs too
 * long for a URL; the answer is an HTML page with the form and every step, or JSON with
 * `?format=json`.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ConfigIssue } from '../../config/errors.js';
import { formatIssue } from '../../config/errors.js';
import type { RelabelConfig } from '../../config/relabel.js';
import { BodyTooLargeError, readBody } from '../../server/request-body.js';
import type { Labels } from '../../model/labels.js';
import { requestedForm, sendHtml, sendJson, sendText } from '../../server/respond.js';
import { type Html, html } from '../../ui/html.js';
import { labelChanges, labelChips } from '../../ui/labels.js';
import { renderPage } from '../../ui/layout.js';
import type { PageRegistry } from '../../ui/pages.js';
import { compactRule, formatRelabelRules } from '../rule-text.js';
import { readLabels, readRules, type Read } from './input.js';
import { RELABEL_DEBUG_MODES, RELABEL_DEBUG_PATHS, type RelabelDebugMode } from './paths.js';
import { type DebugRun, runRelabelDebug } from './run.js';

/** Labels and rules together; a rule list of a big Kubernetes job fits many times over. */
export const RELABEL_DEBUG_MAX_INPUT_BYTES = 64 * 1024;

/**
 * Links to a run stay below this many characters: Node refuses request headers over 16 KiB
 * (431), so longer input must be posted as a form.
 */
export const RELABEL_DEBUG_MAX_LINK_LENGTH = 8000;

export { RELABEL_DEBUG_PATHS } from './paths.js';

const TITLES: Readonly<Record<RelabelDebugMode, string>> = {
  relabel: 'Relabel debugger',
  target: 'Target relabel debugger',
  metric: 'Metric relabel debugger',
};

const MODE_NOTES: Readonly<Record<RelabelDebugMode, string>> = {
  relabel: 'the rules alone',
  target: 'relabel_configs, then the target labels a scrape would keep',
  metric: 'metric_relabel_configs, write_relabel_configs',
};

const EXAMPLES: Readonly<Record<RelabelDebugMode, { labels: string; rules: string }>> = {
  relabel: {
    labels: 'http_requests_total{instance="10.0.0.7:8080", job="api", path="/users/42"}',
    rules: '- source_labels: [path]\n  regex: "/users/.*"\n  target_label: path\n  replacement: /users/:id\n',
  },
  target: {
    labels: '{__address__="10.0.0.7:8080", __meta_kubernetes_pod_label_app="api", __meta_kubernetes_namespace="prod", job="kubernetes-pods"}',
    rules:
      '- source_labels: [__meta_kubernetes_namespace]\n  regex: prod|staging\n  action: keep\n' +
      '- action: labelmap\n  regex: __meta_kubernetes_pod_label_(.+)\n',
  },
  metric: {
    labels: 'go_gc_duration_seconds{instance="10.0.0.7:8080", job="api", quantile="0.5"}',
    rules: '- source_labels: [__name__]\n  regex: go_.*\n  action: drop\n',
  },
};

/** A link that opens the debugger on a label set and rule list; its query also serves as a form. */
export function relabelDebugHref(mode: RelabelDebugMode, labels: Labels, rules: readonly RelabelConfig[]): string {
  const query = new URLSearchParams({ labels: labels.toString(), rules: formatRelabelRules(rules) });
  return `${RELABEL_DEBUG_PATHS[mode]}?${query}`;
}

/** One request to a debugger path (routes.ts registers them). */
export async function serveRelabelDebug(req: IncomingMessage, res: ServerResponse, pages: PageRegistry, pathMode: RelabelDebugMode): Promise<void> {
  // Every other form gets the page, whose steps a table shows best; text only for a refusal.
  const asked = requestedForm(req);
  const form = asked === 'json' ? 'json' : 'html';
  const url = new URL(req.url ?? '/', 'http://localhost');
  const params = url.searchParams;
  let size = Buffer.byteLength(url.search);
  if (req.method === 'POST') {
    let body: Buffer;
    try {
      body = await readBody(req, RELABEL_DEBUG_MAX_INPUT_BYTES);
    } catch (err) {
      if (!(err instanceof BodyTooLargeError)) throw err;
      res.setHeader('Connection', 'close');
      size = Infinity;
      body = Buffer.alloc(0);
    }
    size = Math.max(size, body.length);
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params.set(k, v);
  }
  const mode = RELABEL_DEBUG_MODES.find((m) => m === params.get('mode')) ?? pathMode;
  const page = (status: number, body: Html) =>
    sendHtml(res, status, renderPage({ title: TITLES[mode], body, pages, active: RELABEL_DEBUG_PATHS.relabel }));

  if (size > RELABEL_DEBUG_MAX_INPUT_BYTES) {
    const message = `the input is larger than ${RELABEL_DEBUG_MAX_INPUT_BYTES / 1024} KiB; debug a shorter label set or fewer rules`;
    if (form === 'json') sendJson(res, 413, { status: 'error', error: message });
    else if (asked === 'text') sendText(res, 413, message + '\n');
    else page(413, html`<p class="problem" role="alert">${message}</p>`);
    return;
  }

  const labelsText = params.get('labels');
  const rulesText = params.get('rules');
  if (labelsText === null && rulesText === null && form === 'html') {
    page(200, renderForm(mode, EXAMPLES[mode].labels, EXAMPLES[mode].rules, [], []));
    return;
  }
  const labels = readLabels(labelsText ?? '');
  const rules = await readRules(rulesText ?? '');
  const run = labels.ok && rules.ok ? runRelabelDebug(mode, labels.value, rules.value) : undefined;
  if (form === 'json') {
    if (run === undefined) sendJson(res, 400, { status: 'error', errors: [...issuesOf(labels), ...issuesOf(rules)].map(issueJson) });
    else sendJson(res, 200, { status: 'success', data: runJson(run) });
    return;
  }
  const formHtml = renderForm(mode, labelsText ?? '', rulesText ?? '', issuesOf(labels), issuesOf(rules), true);
  page(run === undefined ? 400 : 200, html`${formHtml}${run === undefined ? '' : renderRun(run)}`);
}

function issuesOf<T>(read: Read<T>): ConfigIssue[] {
  return read.ok ? [] : read.issues;
}

function issueJson(issue: ConfigIssue) {
  return { field: issue.file, line: issue.line, column: issue.column, path: issue.path, message: issue.message };
}

function runJson(run: DebugRun) {
  const record = (l: Labels | undefined) => l?.toRecord() ?? null;
  return {
    mode: run.mode,
    labels: run.input.toRecord(),
    steps: run.steps.map((s, i) => ({
      step: i + 1,
      ruleIndex: s.ruleIndex ?? null,
      rule: s.rule === undefined ? null : compactRule(s.rule),
      description: s.description,
      before: s.before.toRecord(),
      after: record(s.after),
      dropped: s.after === undefined,
      changes: s.after === undefined ? {} : Object.fromEntries(labelChanges(s.before, s.after)),
    })),
    result:
      run.outcome.kind === 'dropped'
        ? { status: 'dropped', step: run.steps.length, ruleIndex: run.outcome.step.index }
        : { status: run.outcome.kind, labels: record(run.result), ...(run.warning ? { warning: run.warning } : {}) },
  };
}

/** The form, with problems under the field they are about, each showing its line and a caret. */
function renderForm(
  mode: RelabelDebugMode,
  labelsText: string,
  rulesText: string,
  labelIssues: readonly ConfigIssue[],
  ruleIssues: readonly ConfigIssue[],
  jsonLink = false,
): Html {
  const options = RELABEL_DEBUG_MODES.map(
    (m) => html`<option value="${m}"${m === mode ? html` selected` : ''}>${m}: ${MODE_NOTES[m]}</option>`,
  );
  const jsonQuery = jsonLink ? new URLSearchParams({ labels: labelsText, rules: rulesText, mode, format: 'json' }).toString() : undefined;
  // A newline right after <textarea> is dropped by the HTML parser, so text starting with one keeps it.
  return html`<form method="get" action="${RELABEL_DEBUG_PATHS[mode]}" class="debugger">
<label for="labels">Labels <span class="muted">— <code>metric{a="b"}</code>, <code>{__name__="metric", a="b"}</code> or <code>{__address__="host:port"}</code></span></label>
<textarea id="labels" name="labels" rows="3" spellcheck="false">
${labelsText}</textarea>
${renderIssues(labelIssues, labelsText)}
<label for="rules">Relabel rules <span class="muted">— a YAML list, as under <code>relabel_configs:</code></span></label>
<textarea id="rules" name="rules" rows="12" spellcheck="false">
${rulesText}</textarea>
${renderIssues(ruleIssues, rulesText)}
<p><label for="mode">Mode</label> <select id="mode" name="mode">${options}</select>
<button type="submit">Run</button>${jsonQuery !== undefined && jsonQuery.length < RELABEL_DEBUG_MAX_LINK_LENGTH ? html` · <a href="${RELABEL_DEBUG_PATHS[mode]}?${jsonQuery}">JSON</a>` : ''}</p>
</form>`;
}

function renderIssues(issues: readonly ConfigIssue[], text: string): Html {
  return html`${issues.map((issue) => {
    const line = text.split('\n')[issue.line - 1] ?? '';
    // Tabs stay tabs so the caret lines up under the character however tabs are shown.
    const pad = line.slice(0, issue.column - 1).replace(/[^\t]/g, ' ');
    return html`<div class="problem issue" role="alert">${formatIssue(issue)}<pre>${line}\n${pad}^</pre></div>`;
  })}`;
}

function renderRun(run: DebugRun): Html {
  const outcome = run.outcome;
  let verdict: Html;
  if (outcome.kind === 'dropped') {
    verdict = html`<p class="verdict"><strong class="bad">Dropped at step ${run.steps.length}</strong> by rule <code>[${outcome.step.index}]</code> (<code>${outcome.step.rule.action}</code>).</p>`;
  } else if (outcome.kind === 'emptied') {
    verdict = html`<p class="verdict"><strong class="bad">Dropped</strong>: no label is left after the last rule.</p>`;
  } else {
    verdict = html`<p class="verdict"><strong class="ok">Kept</strong>${run.mode === 'target' ? ' as a target with the labels' : ', with the labels'}</p>
<p class="result">${labelChips(run.result ?? outcome.labels)}</p>${run.warning ? html`<p class="warn">${run.warning}</p>` : ''}`;
  }
  const rows = run.steps.map((s, i) => {
    const marks = s.after === undefined ? undefined : labelChanges(s.before, s.after);
    const unchanged = marks !== undefined && marks.size === 0;
    const rule =
      s.ruleIndex === undefined
        ? html`<span class="muted">${s.description}</span>`
        : html`<code>[${s.ruleIndex}]</code> <code class="rule">${s.description}</code>`;
    const after =
      s.after === undefined
        ? html`<strong class="bad">dropped</strong>`
        : unchanged
          ? html`<span class="muted">unchanged</span>`
          : labelChips(s.after, marks);
    return html`<tr id="step-${i + 1}" class="step${s.after === undefined ? ' dropped' : ''}"><td class="num">${i + 1}</td><td>${rule}</td><td>${labelChips(s.before, marks)}</td><td>${after}</td></tr>`;
  });
  return html`<h2>Result</h2>
${verdict}
<h2>Steps</h2>
${
  run.steps.length === 0
    ? html`<p class="muted">No rules: the labels pass unchanged.</p>`
    : html`<table class="data steps">
<thead><tr><th>Step</th><th>Rule</th><th>Before</th><th>After</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>`
}`;
}
