/**
 * The pages bench/exporter-farm.ts serves, as functions without side effects, so that tests can
 * build the very bytes the farm serves (test/gateway-source-edges.test.ts).
 */

/** `series` synthetic counters (10 per family) of exporter number `exporter`, values moved by `round`. */
export function synthetic(series: number, exporter: number, round: number): Buffer {
  const lines: string[] = [];
  for (let f = 0; f < series / 10; f++) {
    const name = `app_requests_${f}_total`;
    lines.push(`# HELP ${name} Synthetic counter ${f}.`, `# TYPE ${name} counter`);
    for (let i = 0; i < 10; i++) lines.push(`${name}{path="/api/v${i}",method="GET",code="200"} ${exporter * 1000 + f * 10 + i + round}`);
  }
  return Buffer.from(lines.join('\n') + '\n');
}

/**
 * The page ../shared/bench/targets.mjs serves: `template` (the node_exporter fixture) `mult`
 * times over, a `shard` label 0..mult-1 on every series when mult > 1, HELP/TYPE only with the
 * first copy, every value + 3 × round.
 */
export function fromPage(template: string, round: number, mult: number): Buffer {
  const out: string[] = [];
  for (let m = 0; m < mult; m++) {
    for (const line of template.split('\n')) {
      if (line === '') continue;
      if (line.startsWith('#')) {
        if (m === 0) out.push(line);
        continue;
      }
      const sp = line.lastIndexOf(' ');
      let name = line.slice(0, sp);
      if (mult > 1) name = name.includes('{') ? name.replace('{', `{shard="${m}",`) : `${name}{shard="${m}"}`;
      const v = Number(line.slice(sp + 1));
      out.push(`${name} ${Number.isFinite(v) ? v + round * 3 : line.slice(sp + 1)}`);
    }
  }
  return Buffer.from(out.join('\n') + '\n');
}
