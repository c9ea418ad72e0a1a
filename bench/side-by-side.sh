#!/usr/bin/env bash
# The shared harness (../shared/bench/scrape_rw.py): 100 exporters scraped and remote-written into
# a real VictoriaMetrics by vmagent, the Prometheus agent and Tributary in one run, then again
# with ten metric_relabel_configs rules. Extra arguments go to the harness (e.g. --seconds 60).
set -euo pipefail
cd "$(dirname "$0")/.."
HARNESS=../shared/bench/scrape_rw.py
[ -f "$HARNESS" ] || { echo "$HARNESS not found: the side-by-side harness lives next to this repository" >&2; exit 1; }
TRIBUTARY='tributary=node --max-semi-space-size=2 --heap-growing-percent=20 dist/cli.js --config {config} --remote-write-url {rw} --listen 127.0.0.1:{port} --data-dir {work}'
python3 "$HARNESS" --targets 100 --mult 2 --interval 5 --seconds 40 "$@" vmagent prom "$TRIBUTARY"
python3 "$HARNESS" --targets 100 --mult 2 --interval 5 --seconds 40 --relabel 10 "$@" vmagent prom "$TRIBUTARY"
