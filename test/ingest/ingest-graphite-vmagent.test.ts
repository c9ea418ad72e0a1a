/**
 * Graphite side by side with vmagent 1.79.5: the same lines over TCP to both, each into its own
 * VictoriaMetrics; the stored series, values and timestamps are the same — the edge cases of
 * the format included (blanks, tags without values, fractional and special timestamps, the
 * numbers fastfloat takes and refuses).
 */

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertNowStamped, sendTcp, startSideBySide } from '../helpers/ingest-peers.js';

test('graphite: the same lines give the same series in storage as vmagent', { timeout: 120_000 }, async (t) => {
  const sbs = await startSideBySide(t);
  if (!sbs) return;
  const now = Math.floor(Date.now() / 1000) - 60;
  const lines = [
    `cpu.load.1 0.5 ${now}`,
    `cpu.load.1 0.75 ${now + 10}`,
    `disk.used;host=a;mount=/ 123456 ${now}`,
    `disk.used;host=b;mount=/var 42.5 ${now}`,
    `big.value 1e15 ${now}`,
    `neg.value -3.25 ${now}`,
    // blanks: tabs and runs of them between fields, trailing after the timestamp, CRLF
    `sep.tabs\t5\t${now}`,
    `sep.multi   6    ${now}`,
    `sep.mixed 7\t \t${now}`,
    `sep.trailing 8 ${now}   `,
    `sep.crlf 9 ${now}\r`,
    // tags: empty values, no '=', empty names, an empty list, repeated names, renaming
    `tags.empty;a=;b=c;=d;e 10 ${now}`,
    `tags.none; 11 ${now}`,
    `tags.gap;;a=b 12 ${now}`,
    `tags.dup;a=1;a=2 13 ${now}`,
    `tags.rename;__name__=tags.renamed 14 ${now}`,
    `tags.utf8;ä=ö 15 ${now}`,
    // timestamps: fractions dropped, exponent notation, negative ones kept (storage drops them)
    `ts.frac 16 ${now}.7`,
    `ts.fracneg 17 ${now}.999`,
    `ts.exp 18 1.7e9`,
    `ts.negative 19 -5`,
    `ts.ms 20 ${now}000`,
    // numbers fastfloat takes
    `num.inf +Inf ${now}`,
    `num.ninf -inf ${now}`,
    `num.infinity Infinity ${now}`,
    `num.nan nan ${now}`,
    `num.expfrac 1.e5 ${now}`,
    `num.small 1.5e-7 ${now}`,
    `num.big 1E3 ${now}`,
    `num.zeros 00012 ${now}`,
    `num.negzero -0 ${now}`,
    `num.huge 1e400 ${now}`,
    `num.tiny 1e-400 ${now}`,
    `num.long 12345678901234567890.5 ${now}`,
    `num.longfrac 0.12345678901234567890 ${now}`,
    // a sign and 18 digits reach fastfloat's hand-over to strconv, which takes the bare trailing dot
    `num.longneg -226604510361008328. ${now}`,
    // refused by both: leading blank, blank after the value, extra fields, numbers outside the grammar
    ` bad.lead 1 ${now}`,
    `bad.trailv 2 `,
    `bad.extra 3 ${now} extra`,
    `bad.plus +5 ${now}`,
    `bad.hex 0x10 ${now}`,
    `bad.dot .5 ${now}`,
    `bad.dot2 5. ${now}`,
    `bad.dot18 226604510361008328. ${now}`,
    `bad.dot17neg -22660451036100832. ${now}`,
    `bad.under 1_000 ${now}`,
    `bad.exp 1e ${now}`,
    `bad.tsplus 1 +${now}`,
    `bad.novalue`,
    `bad.space;a=b c 1 ${now}`,
  ].join('\n') + '\n';
  await Promise.all([sendTcp(sbs.vmagent.ports.graphite, lines), sendTcp(sbs.tributary.ports.graphite, lines)]);
  const [want, got] = await sbs.settle(30);
  assert.ok(want.length >= 30, `vmagent stored ${want.length} series`);
  assert.deepEqual(got, want);
  assert.ok(!want.some((s) => s.metric.__name__.startsWith('bad.')), 'the refused lines are refused by vmagent too');
});

test('graphite: lines without a timestamp, or with 0 or -1, are stamped now by both', { timeout: 120_000 }, async (t) => {
  const sbs = await startSideBySide(t);
  if (!sbs) return;
  const lines = ['now.missing 1', 'now.minus1 2 -1', 'now.zero 3 0', 'now.fracneg 4 -1.5', 'now.tags;a=b 5', 'now.tab\t6'].join('\n') + '\n';
  await Promise.all([sendTcp(sbs.vmagent.ports.graphite, lines), sendTcp(sbs.tributary.ports.graphite, lines)]);
  const [want, got] = await sbs.settle(6);
  assert.equal(want.length, 6);
  assertNowStamped(got, want);
});
