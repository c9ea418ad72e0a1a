/**
 * Every case of Prometheus' model/relabel/relabel_test.go (TestRelabel), as data: input labels,
 * rules (in config form; our config schema fills Prometheus' defaults — separator `;`, regex
 * `(.*)`, replacement `$1`, action replace — as that test does), and the expected output or drop.
 * Shared by the engine's tests and the trace and debugger tests, which must agree with them.
 */

export interface Case {
  name: string;
  input: Record<string, string>;
  rules: Record<string, unknown>[];
  /** Undefined: dropped. */
  output?: Record<string, string>;
  /**
   * What Prometheus 2.42 (the peer installed here) gives where it differs: it compiled
   * `^(?:regex)$`; later versions compile `^(?s:regex)$`, as Tributary does.
   */
  prometheus242?: Record<string, string>;
}

export const PROMETHEUS_RELABEL_CASES: readonly Case[] = [
  {
    name: 'replace with ${1} twice',
    input: { a: 'foo', b: 'bar', c: 'baz' },
    rules: [{ source_labels: ['a'], regex: 'f(.*)', target_label: 'd', separator: ';', replacement: 'ch${1}-ch${1}', action: 'replace' }],
    output: { a: 'foo', b: 'bar', c: 'baz', d: 'choo-choo' },
  },
  {
    name: 'two sources, chained replaces',
    input: { a: 'foo', b: 'bar', c: 'baz' },
    rules: [
      { source_labels: ['a', 'b'], regex: 'f(.*);(.*)r', target_label: 'a', separator: ';', replacement: 'b${1}${2}m', action: 'replace' },
      { source_labels: ['c', 'a'], regex: '(b).*b(.*)ba(.*)', target_label: 'd', separator: ';', replacement: '$1$2$2$3', action: 'replace' },
    ],
    output: { a: 'boobam', b: 'bar', c: 'baz', d: 'boooom' },
  },
  {
    name: 'drop stops before a later replace',
    input: { a: 'foo' },
    rules: [
      { source_labels: ['a'], regex: '.*o.*', action: 'drop' },
      { source_labels: ['a'], regex: 'f(.*)', target_label: 'd', separator: ';', replacement: 'ch$1-ch$1', action: 'replace' },
    ],
  },
  {
    name: 'drop on match',
    input: { a: 'foo', b: 'bar' },
    rules: [{ source_labels: ['a'], regex: '.*o.*', action: 'drop' }],
  },
  {
    name: 'capture in the middle',
    input: { a: 'abc' },
    rules: [{ source_labels: ['a'], regex: '.*(b).*', target_label: 'd', separator: ';', replacement: '$1', action: 'replace' }],
    output: { a: 'abc', d: 'b' },
  },
  {
    name: 'drop without match keeps',
    input: { a: 'foo' },
    rules: [{ source_labels: ['a'], regex: 'no-match', action: 'drop' }],
    output: { a: 'foo' },
  },
  {
    name: 'drop regex is anchored (f|o does not match foo)',
    input: { a: 'foo' },
    rules: [{ source_labels: ['a'], regex: 'f|o', action: 'drop' }],
    output: { a: 'foo' },
  },
  {
    name: 'keep without match drops',
    input: { a: 'foo' },
    rules: [{ source_labels: ['a'], regex: 'no-match', action: 'keep' }],
  },
  {
    name: 'keep on match',
    input: { a: 'foo' },
    rules: [{ source_labels: ['a'], regex: 'f.*', action: 'keep' }],
    output: { a: 'foo' },
  },
  {
    name: 'no replacement without a match',
    input: { a: 'boo' },
    rules: [{ source_labels: ['a'], regex: 'f', target_label: 'b', replacement: 'bar', action: 'replace' }],
    output: { a: 'boo' },
  },
  {
    name: 'blank replacement deletes the label',
    input: { a: 'foo', f: 'baz' },
    rules: [{ source_labels: ['a'], regex: '(f).*', target_label: '$1', replacement: '$2', action: 'replace' }],
    output: { a: 'foo' },
  },
  {
    name: 'hashmod',
    input: { a: 'foo', b: 'bar', c: 'baz' },
    rules: [{ source_labels: ['c'], target_label: 'd', separator: ';', action: 'hashmod', modulus: 1000 }],
    output: { a: 'foo', b: 'bar', c: 'baz', d: '976' },
  },
  {
    name: 'hashmod of a value with a newline',
    input: { a: 'foo\nbar' },
    rules: [{ source_labels: ['a'], target_label: 'b', separator: ';', action: 'hashmod', modulus: 1000 }],
    output: { a: 'foo\nbar', b: '734' },
  },
  {
    name: 'labelmap with a prefix',
    input: { a: 'foo', b1: 'bar', b2: 'baz' },
    rules: [{ regex: '(b.*)', replacement: 'bar_${1}', action: 'labelmap' }],
    output: { a: 'foo', b1: 'bar', b2: 'baz', bar_b1: 'bar', bar_b2: 'baz' },
  },
  {
    name: 'labelmap of __meta_ labels',
    input: { a: 'foo', __meta_my_bar: 'aaa', __meta_my_baz: 'bbb', __meta_other: 'ccc' },
    rules: [{ regex: '__meta_(my.*)', replacement: '${1}', action: 'labelmap' }],
    output: { a: 'foo', __meta_my_bar: 'aaa', __meta_my_baz: 'bbb', __meta_other: 'ccc', my_bar: 'aaa', my_baz: 'bbb' },
  },
  {
    name: 'target label from a capture (valid case)',
    input: { a: 'some-name-value' },
    rules: [{ source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', action: 'replace', replacement: '${2}', target_label: '${1}' }],
    output: { a: 'some-name-value', name: 'value' },
  },
  {
    name: 'replacement expanding to "" (unknown group)',
    input: { a: 'some-name-value' },
    rules: [{ source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', action: 'replace', replacement: '${3}', target_label: '${1}' }],
    output: { a: 'some-name-value' },
  },
  {
    name: 'target labels expanding to "" leave the set unchanged',
    input: { a: 'some-name-0' },
    rules: [
      { source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', action: 'replace', replacement: '${1}', target_label: '${3}' },
      { source_labels: ['a'], regex: 'some-([^-]+)-([^,]+)', action: 'replace', replacement: '${1}', target_label: '${3}' },
      { source_labels: ['a'], regex: 'some-([^-]+)(-[^,]+)', action: 'replace', replacement: '${1}', target_label: '${3}' },
    ],
    output: { a: 'some-name-0' },
  },
  {
    name: 'real-life tags',
    input: { __meta_sd_tags: 'path:/secret,job:some-job,label:foo=bar' },
    rules: [
      { source_labels: ['__meta_sd_tags'], regex: '(?:.+,|^)path:(/[^,]+).*', action: 'replace', replacement: '${1}', target_label: '__metrics_path__' },
      { source_labels: ['__meta_sd_tags'], regex: '(?:.+,|^)job:([^,]+).*', action: 'replace', replacement: '${1}', target_label: 'job' },
      { source_labels: ['__meta_sd_tags'], regex: '(?:.+,|^)label:([^=]+)=([^,]+).*', action: 'replace', replacement: '${2}', target_label: '${1}' },
    ],
    output: { __meta_sd_tags: 'path:/secret,job:some-job,label:foo=bar', __metrics_path__: '/secret', job: 'some-job', foo: 'bar' },
  },
  {
    name: 'prometheus/prometheus#12283: labeldrop, replace, keep',
    input: { __meta_kubernetes_pod_container_port_name: 'foo', __meta_kubernetes_pod_annotation_XXX_metrics_port: '9091' },
    rules: [
      { regex: '^__meta_kubernetes_pod_container_port_name$', action: 'labeldrop' },
      { source_labels: ['__meta_kubernetes_pod_annotation_XXX_metrics_port'], regex: '(.+)', action: 'replace', replacement: 'metrics', target_label: '__meta_kubernetes_pod_container_port_name' },
      { source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: '^metrics$', action: 'keep' },
    ],
    output: { __meta_kubernetes_pod_annotation_XXX_metrics_port: '9091', __meta_kubernetes_pod_container_port_name: 'metrics' },
  },
  {
    name: 'labelkeep',
    input: { a: 'foo', b1: 'bar', b2: 'baz' },
    rules: [{ regex: '(b.*)', action: 'labelkeep' }],
    output: { b1: 'bar', b2: 'baz' },
  },
  {
    name: 'labeldrop',
    input: { a: 'foo', b1: 'bar', b2: 'baz' },
    rules: [{ regex: '(b.*)', action: 'labeldrop' }],
    output: { a: 'foo' },
  },
  {
    name: 'uppercase and lowercase',
    input: { foo: 'bAr123Foo' },
    rules: [
      { source_labels: ['foo'], action: 'uppercase', target_label: 'foo_uppercase' },
      { source_labels: ['foo'], action: 'lowercase', target_label: 'foo_lowercase' },
    ],
    output: { foo: 'bAr123Foo', foo_lowercase: 'bar123foo', foo_uppercase: 'BAR123FOO' },
  },
  {
    name: 'keepequal with an equal target keeps',
    input: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
    rules: [{ source_labels: ['__tmp_port'], action: 'keepequal', target_label: '__port1' }],
    output: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
  },
  {
    name: 'dropequal with an equal target drops',
    input: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
    rules: [{ source_labels: ['__tmp_port'], action: 'dropequal', target_label: '__port1' }],
  },
  {
    name: 'dropequal with a different target keeps',
    input: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
    rules: [{ source_labels: ['__tmp_port'], action: 'dropequal', target_label: '__port2' }],
    output: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
  },
  {
    name: 'keepequal with a different target drops',
    input: { __tmp_port: '1234', __port1: '1234', __port2: '5678' },
    rules: [{ source_labels: ['__tmp_port'], action: 'keepequal', target_label: '__port2' }],
  },
  {
    name: '. matches a newline (regexes are (?s))',
    input: { a: 'line1\nline2', b: 'bar', c: 'baz' },
    rules: [{ source_labels: ['a'], regex: 'line1.*line2', target_label: 'd', separator: ';', replacement: 'match${1}', action: 'replace' }],
    output: { a: 'line1\nline2', b: 'bar', c: 'baz', d: 'match' },
  },
  {
    name: 'UTF-8 source label',
    input: { 'utf-8.label': 'line1\nline2', b: 'bar', c: 'baz' },
    rules: [{ source_labels: ['utf-8.label'], regex: 'line1.*line2', target_label: 'd', separator: ';', replacement: 'match${1}', action: 'replace' }],
    output: { 'utf-8.label': 'line1\nline2', b: 'bar', c: 'baz', d: 'match' },
  },
  {
    name: 'UTF-8 target label',
    input: { a: 'line1\nline2', b: 'bar', c: 'baz' },
    rules: [{ source_labels: ['a'], regex: 'line1.*line2', target_label: 'utf-8.label', separator: ';', replacement: 'match${1}', action: 'replace' }],
    output: { a: 'line1\nline2', b: 'bar', c: 'baz', 'utf-8.label': 'match' },
  },
  {
    name: 'UTF-8 target label with ${1}',
    input: { a: 'line1\nline2', b: 'bar', c: 'baz' },
    rules: [{ source_labels: ['a'], regex: 'line1.*line2', target_label: 'utf-8.label${1}', separator: ';', replacement: 'match${1}', action: 'replace' }],
    output: { a: 'line1\nline2', b: 'bar', c: 'baz', 'utf-8.label': 'match' },
  },
  {
    name: 'named groups: ${1}, $1, ${second}, $second',
    input: { a: 'line1\nline2', b: 'bar', c: 'baz' },
    rules: [
      { source_labels: ['a'], regex: '(line1).*(?<second>line2)', target_label: 'label1_${1}', separator: ';', replacement: 'val_${second}', action: 'replace' },
      { source_labels: ['a'], regex: '(line1).*(?<second>line2)', target_label: 'label2_$1', separator: ';', replacement: 'val_$second', action: 'replace' },
    ],
    output: { a: 'line1\nline2', b: 'bar', c: 'baz', label1_line1: 'val_line2', label2_line1: 'val_line2' },
  },
  {
    name: '__type__ from the name',
    input: { __name__: 'http_requests_total' },
    rules: [{ source_labels: ['__name__'], regex: '.*_total$', target_label: '__type__', replacement: 'counter', action: 'replace' }],
    output: { __name__: 'http_requests_total', __type__: 'counter' },
  },
  {
    name: '__unit__ from the name',
    input: { __name__: 'disk_usage_bytes' },
    rules: [{ source_labels: ['__name__'], regex: '.*_bytes$', target_label: '__unit__', replacement: 'bytes', action: 'replace' }],
    output: { __name__: 'disk_usage_bytes', __unit__: 'bytes' },
  },
];

/**
 * RE2 syntax in relabeling (issue 16 item 8): flag groups anywhere, (?U), duplicate group
 * names, and a pattern only re2js runs exactly. Outputs are Go's; regex-prometheus.test.ts
 * checks them against a real Prometheus and against Tributary.
 */
export const RE2_RELABEL_CASES: readonly Case[] = [
  {
    name: '(?s:.*) takes a value with a newline; (?-s:.*) does not',
    input: { __name__: 'm', v: 'a\nb' },
    rules: [
      { source_labels: ['v'], regex: '(?s:(.*))', target_label: 'dotall', replacement: '<$1>' },
      { source_labels: ['v'], regex: '(?-s:(.*))', target_label: 'dotline', replacement: '<$1>' },
    ],
    output: { __name__: 'm', v: 'a\nb', dotall: '<a\nb>' },
  },
  {
    name: 'a plain . takes a newline too: Prometheus compiles ^(?s:regex)$',
    input: { __name__: 'm', v: 'a\nb' },
    rules: [{ source_labels: ['v'], regex: 'a.(b)', target_label: 'dot', replacement: '$1' }],
    output: { __name__: 'm', v: 'a\nb', dot: 'b' },
    prometheus242: { __name__: 'm', v: 'a\nb' },
  },
  {
    name: '(?i) folds case; foo(?-i:bar) turns it off inside',
    input: { __name__: 'm', v: 'PROD-eu', w: 'FOObar', x: 'FOOBAR' },
    rules: [
      { source_labels: ['v'], regex: '(?i)prod-(.+)', target_label: 'region', replacement: '$1' },
      { source_labels: ['w'], regex: '(?i)foo(?-i:bar)', target_label: 'w_ok', replacement: 'yes' },
      { source_labels: ['x'], regex: '(?i)foo(?-i:bar)', target_label: 'x_ok', replacement: 'yes' },
    ],
    output: { __name__: 'm', v: 'PROD-eu', w: 'FOObar', x: 'FOOBAR', region: 'eu', w_ok: 'yes' },
  },
  {
    name: '(?U) swaps greedy and lazy',
    input: { __name__: 'm', v: 'aaa' },
    rules: [
      { source_labels: ['v'], regex: '(?U)(a+)(a*)', target_label: 'ungreedy', replacement: '$1|$2' },
      { source_labels: ['v'], regex: '(?U)(a+?)(a*)', target_label: 'greedy', replacement: '$1|$2' },
    ],
    output: { __name__: 'm', v: 'aaa', ungreedy: 'a|aa', greedy: 'aaa|' },
  },
  {
    name: 'named groups, $$, \\Q...\\E, POSIX and Unicode classes',
    input: { __name__: 'm', addr: 'host-1:9100', v: 'a.*b', u: 'Ωmega7' },
    rules: [
      { source_labels: ['addr'], regex: '(?P<host>[^:]+)(?::\\d+)?', target_label: 'host', replacement: '${host}$$' },
      { source_labels: ['v'], regex: 'a\\Q.*\\Eb', target_label: 'quoted', replacement: 'yes' },
      { source_labels: ['u'], regex: '(\\pL+)([[:digit:]])', target_label: 'letters', replacement: '$1-$2' },
    ],
    output: { __name__: 'm', addr: 'host-1:9100', v: 'a.*b', u: 'Ωmega7', host: 'host-1$', quoted: 'yes', letters: 'Ωmega-7' },
  },
  {
    name: 'a name on two groups: $n is the first that took part',
    input: { __name__: 'm', v: 'xb' },
    rules: [{ source_labels: ['v'], regex: '(?P<n>a)|x(?P<n>b)', target_label: 'n', replacement: '[$n]' }],
    output: { __name__: 'm', v: 'xb', n: '[b]' },
  },
  {
    name: 'a repeated alternation keeps the last capture (re2js)',
    input: { __name__: 'm', v: 'ab' },
    rules: [{ source_labels: ['v'], regex: '(?:(a)|b)+', target_label: 'last', replacement: '<$1>' }],
    output: { __name__: 'm', v: 'ab', last: '<a>' },
  },
  {
    name: 'keep with a mid-pattern flag',
    input: { __name__: 'm', v: 'okAY' },
    rules: [{ source_labels: ['v'], regex: 'ok(?i)ay', action: 'keep' }],
    output: { __name__: 'm', v: 'okAY' },
  },
  {
    name: 'drop with a mid-pattern flag',
    input: { __name__: 'm', v: 'okAY' },
    rules: [{ source_labels: ['v'], regex: 'ok(?i)ay', action: 'drop' }],
  },
  {
    name: 'keep with a mid-pattern flag drops what the case-sensitive part refuses',
    input: { __name__: 'm', v: 'OKay' },
    rules: [{ source_labels: ['v'], regex: 'ok(?i)ay', action: 'keep' }],
  },
];
