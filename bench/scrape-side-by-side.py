#!/usr/bin/env python3
"""Scrape side by side: vmagent and Tributary on the same fake exporters, in one run.

Until Tributary remote-writes (the next issue), ../shared/bench/scrape_rw.py cannot measure it:
it divides an agent's CPU by the rows VictoriaMetrics ingested. This script runs the same work
on this machine for both agents, one after another on one farm (the shared harness's
targets.mjs serving its node_exporter page, values changing on every request):

  vmagent    scrapes and remote-writes into a real VictoriaMetrics single node; measured as
             scrape_rw.py does: CPU of its processes / rows VictoriaMetrics ingested.
  tributary  `node dist/cli.js --config CONFIG --listen ...` with the same scrape config;
             CPU of its process / samples it passed on after metric relabeling, read from
             its own /metrics (tributary_scrape_samples_post_metric_relabeling_total).

So vmagent's figure INCLUDES remote write and Tributary's does NOT yet: Tributary's is the
scrape + parse + relabel part alone. For both also: CPU per sample scraped (read from the pages
before relabeling, vm_promscrape_scraped_samples_sum / tributary_scrape_samples_scraped_total:
the same count whatever the rules drop, so it isolates what the rules cost), peak RSS (VmHWM),
and failed scrapes since start (should stay 0).

usage: scrape-side-by-side.py [--targets N] [--mult M] [--interval S] [--seconds S]
                              [--warmup S] [--relabel R | --both-relabel] [--agents LIST]
                              [--rounds N]
`--both-relabel` runs each agent with 0 and with 10 metric_relabel_configs rules, interleaved
(vmagent-0, tributary-0, vmagent-10, tributary-10): Tributary's cost with the rules should stay
close to its cost without. Prints one JSON line per (agent, rules), then a table.
Needs `npm run build` first (`npm run bench:side-by-side -- ARGS` does both).
"""
import argparse, importlib.util, json, os, shutil, signal, socket, subprocess, sys, tempfile, time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(REPO, 'dist', 'cli.js')
SHARED = os.environ.get('TRIBUTARY_SHARED_BENCH', os.path.join(REPO, '..', 'shared', 'bench'))

# scrape_rw.py's RELABEL_RULES, the ten rules vmagent and Prometheus ran for the shared figures
# (checked against the shared copy at start, see check_rules).
RELABEL_RULES = [
    "      - {source_labels: [__name__], regex: 'go_gc_.*', action: drop}",
    "      - {source_labels: [__name__, mode], separator: '@', regex: 'node_cpu_seconds_total@(.+)', target_label: cpu_mode, replacement: '$1'}",
    "      - {regex: 'fstype', action: labeldrop}",
    "      - {source_labels: [instance], regex: '127\\.0\\.0\\.1:(\\d+)', target_label: port, replacement: 'p$1'}",
    "      - {source_labels: [device], regex: '(.*)', target_label: dev, action: replace}",
    "      - {source_labels: [__name__], regex: 'node_(.+)', target_label: subsystem, replacement: '$1'}",
    "      - {source_labels: [subsystem], regex: '(\\w+?)_.*', target_label: subsystem}",
    "      - {regex: 'dev', action: labeldrop}",
    "      - {source_labels: [job], target_label: team, replacement: 'infra'}",
    "      - {source_labels: [__name__], regex: 'node_scrape_collector_.*|promhttp_.*', action: drop}",
]

NOTE = ("vmagent's figures include remote write into VictoriaMetrics; Tributary's do not yet "
        "(scrape, parse and relabel only: remote write arrives with the next issue).")


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def metric_sum(text, name):
    """Sum of every series of `name` on a text-format page (all jobs, all types)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name):len(name) + 1] in ('{', ' '):
            total += float(line.rsplit(' ', 1)[1])
    return total


def wait_http(url, secs=30):
    end = time.time() + secs
    while time.time() < end:
        try:
            get(url)
            return True
        except Exception:
            time.sleep(0.3)
    return False


def proc_tree(pid):
    out = [pid]
    try:
        for child in open(f'/proc/{pid}/task/{pid}/children').read().split():
            out += proc_tree(int(child))
    except OSError:
        pass
    return out


def proc_cpu(pid):
    """User + system CPU seconds of a process (and its waited-for children), as scrape_rw.py."""
    with open(f'/proc/{pid}/stat') as f:
        parts = f.read().rsplit(')', 1)[1].split()
    return sum(int(x) for x in parts[11:15]) / os.sysconf('SC_CLK_TCK')


def hwm_mb(pid):
    for line in open(f'/proc/{pid}/status'):
        if line.startswith('VmHWM'):
            return int(line.split()[1]) / 1024
    return 0.0


def stop(p):
    try:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    except ProcessLookupError:
        pass


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def free_port_range(count, start=20300, end=32000):
    """A base port with `count` free ports after it, below the ephemeral range (targets.mjs
    listens on consecutive ports)."""
    base = start
    while base + count <= end:
        socks = []
        try:
            for i in range(count):
                s = socket.socket()
                socks.append(s)
                s.bind(('127.0.0.1', base + i))
            return base
        except OSError:
            base += len(socks)
        finally:
            for s in socks:
                s.close()
    sys.exit(f'no {count} consecutive free ports between {start} and {end}')


def prom_yml(first_port, n, interval, relabel):
    targets = ', '.join(f"'127.0.0.1:{first_port + i}'" for i in range(n))
    body = (f"global:\n  scrape_interval: {interval}s\n  scrape_timeout: {interval}s\n"
            f"scrape_configs:\n  - job_name: farm\n    static_configs:\n      - targets: [{targets}]\n")
    if relabel:
        body += "    metric_relabel_configs:\n" + "\n".join(RELABEL_RULES[:relabel]) + "\n"
    return body


def check_rules():
    """Warns when the shared harness's rules no longer match the copy above."""
    sys.dont_write_bytecode = True  # leave no __pycache__ in the shared folder
    try:
        spec = importlib.util.spec_from_file_location('scrape_rw', os.path.join(SHARED, 'scrape_rw.py'))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        if mod.RELABEL_RULES != RELABEL_RULES:
            print('warning: RELABEL_RULES differ from the shared scrape_rw.py; update the copy here',
                  file=sys.stderr)
    except Exception as err:  # the shared script is a reference, not a dependency
        print(f'warning: could not compare rules with the shared scrape_rw.py: {err}', file=sys.stderr)


def versions():
    try:
        vm = subprocess.run(['dpkg-query', '-W', '-f', '${Version}', 'victoria-metrics'],
                            capture_output=True, text=True).stdout.split('+')[0] or '?'
    except OSError:
        vm = '?'
    with open(os.path.join(REPO, 'package.json')) as f:
        trib = json.load(f)['version']
    node = subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()
    return {'vmagent': vm, 'tributary': trib, 'node': node}


class Vmagent:
    remote_write = True
    counted_as = 'rows ingested by VictoriaMetrics'

    def __init__(self, vm_port):
        self.vm_port = vm_port

    def command(self, cfg, port, work):
        return ['vmagent', f'-promscrape.config={cfg}',
                f'-remoteWrite.url=http://127.0.0.1:{self.vm_port}/api/v1/write',
                f'-httpListenAddr=127.0.0.1:{port}', f'-remoteWrite.tmpDataPath={work}/vmq',
                '-loggerLevel=ERROR']

    def counters(self, port):
        page = get(f'http://127.0.0.1:{port}/metrics')
        return {'samples': metric_sum(get(f'http://127.0.0.1:{self.vm_port}/metrics'), 'vm_rows_inserted_total'),
                'samples_scraped': metric_sum(page, 'vm_promscrape_scraped_samples_sum'),
                'failed': metric_sum(page, 'vm_promscrape_scrapes_failed_total')}


class Tributary:
    remote_write = False
    counted_as = 'samples after metric relabeling (its self-metrics)'

    def command(self, cfg, port, work):
        return ['node', CLI, '--config', cfg, '--listen', f'127.0.0.1:{port}',
                '--data-dir', os.path.join(work, 'data'), '--log-level', 'error']

    def counters(self, port):
        page = get(f'http://127.0.0.1:{port}/metrics')
        return {'samples': metric_sum(page, 'tributary_scrape_samples_post_metric_relabeling_total'),
                'samples_scraped': metric_sum(page, 'tributary_scrape_samples_scraped_total'),
                'failed': metric_sum(page, 'tributary_scrapes_failed_total')}


def measure(name, agent, rules, args, farm_port, series):
    work = tempfile.mkdtemp(prefix=f'side-by-side-{name}-')
    cfg = os.path.join(work, 'prometheus.yml')
    with open(cfg, 'w') as f:
        f.write(prom_yml(farm_port, args.targets, args.interval, rules))
    port = free_port()
    log_path = os.path.join(work, 'agent.log')
    with open(log_path, 'w') as log:
        p = subprocess.Popen(agent.command(cfg, port, work), stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True, cwd=work)
    try:
        time.sleep(args.warmup)
        if p.poll() is not None:
            return {'agent': name, 'rules': rules, 'error': 'exited: ' + open(log_path).read()[-400:]}
        # counters before CPU at the start and after it at the end: reading an agent's own
        # /metrics costs it CPU, which stays outside the window this way
        n0 = agent.counters(port)
        c0 = sum(proc_cpu(x) for x in proc_tree(p.pid))
        t0 = time.time()
        time.sleep(args.seconds)
        pids = proc_tree(p.pid)
        c1 = sum(proc_cpu(x) for x in pids)
        t1 = time.time()
        n1 = agent.counters(port)
        hwm = sum(hwm_mb(x) for x in pids)
    finally:
        stop(p)
        shutil.rmtree(work, ignore_errors=True)
    samples = n1['samples'] - n0['samples']
    scraped = n1['samples_scraped'] - n0['samples_scraped']
    expected = args.targets * series * (t1 - t0) / args.interval
    r = {'agent': name, 'rules': rules, 'remote_write': agent.remote_write,
         'cpu_s': round(c1 - c0, 2), 'window_s': round(t1 - t0, 1), 'samples': int(samples),
         'samples_counted_as': agent.counted_as,
         'cpu_us_per_sample': round((c1 - c0) * 1e6 / max(samples, 1), 3),
         'samples_scraped': int(scraped),
         # before relabeling: the same count for every rule set, so this isolates the rules' cost
         'cpu_us_per_scraped_sample': round((c1 - c0) * 1e6 / max(scraped, 1), 3),
         'scraped_vs_expected': round(scraped / expected, 3),
         'peak_rss_mb': round(hwm, 1), 'scrapes_failed': int(n1['failed'])}
    if agent.remote_write and not rules:  # rows include vmagent's auto series (up, scrape_*): ~0.5% over 1.00
        r['delivered'] = round(samples / expected, 3)
    return r


def best_rounds(results):
    """Per (agent, rules), the round with the least CPU per scraped sample: the least disturbed
    one (an error only where no round succeeded), in the order first run."""
    best = {}
    for r in results:
        key = (r['agent'], r['rules'])
        cur = best.get(key)
        if cur is None or ('error' in cur and 'error' not in r) or (
                'error' not in r and r['cpu_us_per_scraped_sample'] < cur['cpu_us_per_scraped_sample']):
            best[key] = r
    return list(best.values())


def table(results, args, series, vers):
    rounds = f', best of {args.rounds} rounds' if args.rounds > 1 else ''
    results = best_rounds(results)
    out = [f'scrape side by side: {args.targets} targets × {series:,} series, {args.interval} s interval, '
           f"{args.seconds} s window after {args.warmup} s warm-up{rounds}, {os.cpu_count()} cores, node {vers['node']}",
           f"{'agent':<18} {'rules':>5} {'µs CPU/sample':>14} {'µs/scraped':>11} {'peak RSS':>10} {'samples':>11} {'failed':>7}  remote write"]
    for r in results:
        label = f"{r['agent']} {vers[r['agent']]}"
        if 'error' in r:
            out.append(f"{label:<18} {r['rules']:>5}  error: {r['error'][:80]!r}")
            continue
        rw = 'included' if r['remote_write'] else 'not yet (next issue)'
        out.append(f"{label:<18} {r['rules']:>5} {r['cpu_us_per_sample']:>14.2f} {r['cpu_us_per_scraped_sample']:>11.2f} {r['peak_rss_mb']:>7.1f} MB "
                   f"{r['samples']:>11,} {r['scrapes_failed']:>7}  {rw}")
    ok = {(r['agent'], r['rules']): r for r in results if 'error' not in r}
    rules = sorted({r['rules'] for r in results})
    if len(rules) == 2:
        for a in ('tributary', 'vmagent'):
            if (a, rules[0]) in ok and (a, rules[1]) in ok:
                lo, hi = ok[(a, rules[0])], ok[(a, rules[1])]
                out.append(f"{a}: {rules[1]} rules / {rules[0]} rules = "
                           f"{hi['cpu_us_per_sample'] / lo['cpu_us_per_sample']:.2f}× per sample, "
                           f"{hi['cpu_us_per_scraped_sample'] / lo['cpu_us_per_scraped_sample']:.2f}× per scraped sample")
    out.append('samples: ' + '; '.join(f'{a} {cls.counted_as}' for a, cls in (('vmagent', Vmagent), ('tributary', Tributary)))
               + '. µs/scraped: CPU per sample read from the pages, before relabeling.')
    out.append('note: ' + NOTE)
    return '\n'.join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--targets', type=int, default=100)
    ap.add_argument('--mult', type=int, default=2)
    ap.add_argument('--interval', type=int, default=5)
    ap.add_argument('--seconds', type=int, default=40)
    ap.add_argument('--warmup', type=int, default=12)
    ap.add_argument('--relabel', type=int, default=0, choices=range(0, 11), metavar='0-10',
                    help='metric_relabel rules to add')
    ap.add_argument('--both-relabel', action='store_true', help='each agent with 0 and with 10 rules')
    ap.add_argument('--agents', default='vmagent,tributary', help='comma-separated: vmagent, tributary')
    ap.add_argument('--rounds', type=int, default=1,
                    help='run the whole sequence N times; the table shows each best round (a loaded machine inflates CPU)')
    args = ap.parse_args()
    names = [a for a in args.agents.split(',') if a]
    if not names or any(a not in ('vmagent', 'tributary') for a in names):
        ap.error('--agents takes vmagent and/or tributary')

    farm_js, page = os.path.join(SHARED, 'targets.mjs'), os.path.join(SHARED, 'node_exporter.txt')
    if not (os.path.isfile(farm_js) and os.path.isfile(page)):
        sys.exit(f'the shared bench harness is missing: no {farm_js} or {page}. This benchmark runs '
                 'the same farm as ../shared/bench/scrape_rw.py; point TRIBUTARY_SHARED_BENCH at that folder.')
    for tool in ['node'] + (['vmagent', 'victoria-metrics'] if 'vmagent' in names else []):
        if shutil.which(tool) is None:
            sys.exit(f'{tool} not found (vmagent and victoria-metrics: apt-get install victoria-metrics)')
    if 'tributary' in names and not os.path.isfile(CLI):
        sys.exit(f'{CLI} is missing: run `npm run build` first (or `npm run bench:side-by-side`)')
    check_rules()
    series = sum(1 for l in open(page) if l.strip() and not l.startswith('#')) * args.mult
    vers = versions()

    work = tempfile.mkdtemp(prefix='side-by-side-sink-')
    procs = []
    try:
        farm_port = free_port_range(args.targets)
        procs.append(subprocess.Popen(['node', farm_js, str(farm_port), str(args.targets), page, str(args.mult)],
                                      stdout=subprocess.DEVNULL, start_new_session=True))
        agents = {'tributary': Tributary()}
        if 'vmagent' in names:
            vm_port = free_port()
            procs.append(subprocess.Popen(['victoria-metrics', f'-httpListenAddr=127.0.0.1:{vm_port}',
                                           f'-storageDataPath={work}/vm', '-loggerLevel=ERROR'],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True))
            if not wait_http(f'http://127.0.0.1:{vm_port}/health'):
                sys.exit('victoria-metrics did not start')
            agents['vmagent'] = Vmagent(vm_port)
        last = farm_port + args.targets - 1
        if not wait_http(f'http://127.0.0.1:{farm_port}/metrics') or not wait_http(f'http://127.0.0.1:{last}/metrics'):
            sys.exit('the exporter farm did not start')
        results = []
        for rnd in range(1, args.rounds + 1):
            for rules in ([0, 10] if args.both_relabel else [args.relabel]):
                for name in names:
                    print(f'… round {rnd}: {name}, {rules} rules: {args.warmup} s warm-up + {args.seconds} s',
                          file=sys.stderr, flush=True)
                    r = measure(name, agents[name], rules, args, farm_port, series)
                    r['round'] = rnd
                    if r.get('scrapes_failed'):
                        print(f"warning: {name} had {r['scrapes_failed']} failed scrapes", file=sys.stderr)
                    results.append(r)
                    print(json.dumps(r), flush=True)
        print()
        print(table(results, args, series, vers))
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
