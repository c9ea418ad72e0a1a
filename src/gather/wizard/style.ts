/**
 * The gather wizard's stylesheet, served as `/wizard.css` (the page's Content-Security-Policy
 * allows stylesheets and scripts from the server itself only). Same colours as the agent's
 * pages (ui/layout.ts), light and dark.
 */

export const WIZARD_CSS = `
:root { color-scheme: light dark; --fg: #1d2125; --muted: #5f6b76; --bg: #fff; --line: #d8dee4;
  --accent: #1f5fa8; --head: #f3f5f7; --ok: #1a7f37; --bad: #c62828; --warn: #9a6700; }
@media (prefers-color-scheme: dark) { :root { --fg: #e4e7ea; --muted: #9aa5b1; --bg: #16191c;
  --line: #333a41; --accent: #6ea8fe; --head: #1e2227; --ok: #56d364; --bad: #ff7b72; --warn: #d29922; } }
* { box-sizing: border-box; }
/* what a step hides stays hidden whatever display its class gives it */
[hidden] { display: none !important; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: .25rem 1.5rem; padding: .6rem 1.25rem;
  background: var(--head); border-bottom: 1px solid var(--line); }
.brand { font-weight: 700; font-size: 1.1rem; }
nav ol { display: flex; flex-wrap: wrap; gap: .25rem; margin: 0; padding: .5rem 1.25rem; list-style: none; border-bottom: 1px solid var(--line); }
nav button { border: 0; background: none; color: var(--accent); padding: .3rem .6rem; border-radius: .3rem; cursor: pointer; font: inherit; }
nav button[disabled] { color: var(--muted); cursor: default; }
nav button[aria-current="step"] { background: var(--accent); color: var(--bg); font-weight: 600; }
main { max-width: 72rem; padding: 1rem 1.25rem 3rem; }
h1 { font-size: 1.4rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
.muted { color: var(--muted); }
.ok { color: var(--ok); }
.bad { color: var(--bad); }
.warn { color: var(--warn); }
.field { margin: 0 0 .75rem; }
.field label { display: block; font-weight: 600; margin-bottom: .2rem; }
input[type=text], input[type=url], input[type=password], input[type=number], input[type=datetime-local], select, textarea {
  font: inherit; padding: .35rem .5rem; border: 1px solid var(--line); border-radius: .25rem; background: var(--bg); color: var(--fg);
  width: 100%; max-width: 40rem; }
textarea { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
input[aria-invalid="true"], textarea[aria-invalid="true"] { border-color: var(--bad); }
fieldset { border: 1px solid var(--line); border-radius: .3rem; margin: 0 0 1rem; padding: .5rem 1rem .75rem; }
legend { font-weight: 600; padding: 0 .3rem; }
.check { display: inline-flex; align-items: center; gap: .35rem; margin: .15rem 1rem .15rem 0; }
div.check { display: flex; }
.radios { display: flex; flex-wrap: wrap; margin-bottom: .5rem; }
.custom-range { display: flex; gap: 1rem; flex-wrap: wrap; }
.error { color: var(--bad); margin: .2rem 0 0; min-height: 0; }
.error:empty { display: none; }
.actions { display: flex; flex-wrap: wrap; align-items: center; gap: .6rem; margin: 1rem 0; }
button { font: inherit; padding: .4rem .9rem; border: 1px solid var(--line); border-radius: .3rem; background: var(--head); color: var(--fg); cursor: pointer; }
button.primary { background: var(--accent); border-color: var(--accent); color: var(--bg); font-weight: 600; }
button[disabled] { opacity: .5; cursor: not-allowed; }
.busy::before { content: ""; display: inline-block; width: .9em; height: .9em; margin-right: .4em; vertical-align: -.1em;
  border: 2px solid var(--line); border-top-color: var(--accent); border-radius: 50%; animation: spin .8s linear infinite; }
@keyframes spin { to { transform: rotate(360deg); } }
table.data { border-collapse: collapse; width: 100%; margin: .5rem 0; }
table.data th, table.data td { padding: .3rem .6rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
table.data th { background: var(--head); font-weight: 600; }
table.data td.indent { padding-left: 2rem; }
table.data .num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
.chips { display: flex; flex-wrap: wrap; gap: .2rem .3rem; }
.chip { display: inline-block; padding: 0 .45rem; border: 1px solid var(--line); border-radius: .7rem; background: var(--head);
  font: 12px/1.6 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; white-space: pre; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1.25rem; margin: .5rem 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.problem { padding: .5rem .75rem; border-left: 3px solid var(--bad); background: var(--head); white-space: pre-wrap; }
.success { padding: .5rem .75rem; border-left: 3px solid var(--ok); background: var(--head); }
progress { width: 100%; max-width: 40rem; height: 1.2rem; display: block; margin: .3rem 0; }
code { font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 0 .5rem; border-radius: .7rem; font-size: .85rem; border: 1px solid var(--ok); color: var(--ok); }
.badge.off { border-color: var(--warn); color: var(--warn); }
/* Export | Import */
.tabs { display: flex; gap: .25rem; padding: .5rem 1.25rem 0; border-bottom: 1px solid var(--line); }
.tabs [role=tab] { border: 1px solid transparent; border-bottom: 0; border-radius: .3rem .3rem 0 0; background: none; color: var(--accent);
  padding: .35rem 1rem; margin-bottom: -1px; font-weight: 600; }
.tabs [role=tab][aria-selected="true"] { border-color: var(--line); background: var(--bg); color: var(--fg); border-bottom: 1px solid var(--bg); }
.tabs [role=tab]:focus-visible { outline: 2px solid var(--accent); outline-offset: 1px; }
.radios-column { flex-direction: column; }
.warning { padding: .5rem .75rem; border-left: 3px solid var(--warn); background: var(--head); white-space: pre-wrap; }
.problem ul, .warning ul { margin: .3rem 0 0; padding-left: 1.25rem; }
.recent ul { list-style: none; margin: .3rem 0 .75rem; padding: 0; }
.recent li { margin: .2rem 0; }
ul.plain { list-style: none; margin: 0; padding: 0; }
details { margin: 0 0 1rem; }
summary { cursor: pointer; color: var(--accent); margin-bottom: .5rem; }
pre { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--head); padding: .5rem; overflow-x: auto; max-height: 20rem; }
`;
