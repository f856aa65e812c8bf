#!/usr/bin/env bash
# Benchmark: 50 HTTP health checks against a local server that answers each
# request after 200 ms — opsrun (concurrent, one process) vs the sequential
# curl script an operator writes today. Same machine, same run.
#
#   bench/http_checks.sh            (builds the release binary if needed)
#
# Prints a Markdown table row set; the README quotes it. RUNS=5 times each
# command that many times and reports the medians (bench/run.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-50}
DELAY_MS=${DELAY_MS:-200}
RUNS=${RUNS:-1}
cargo build --release -q
BIN=$PWD/target/release/opsrun
work=$(mktemp -d)
trap 'kill $srv 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 bench/slow_server.py "$port" "$DELAY_MS" & srv=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done

{
  echo "version: 1"
  echo "title: bench"
  echo "checks:"
  for i in $(seq "$N"); do
    echo "  - id: h$i"
    echo "    http: {url: \"http://127.0.0.1:$port/health/$i\", json: {status: healthy}}"
  done
} > "$work/bench.yaml"
{
  echo "#!/bin/sh"
  echo "fail=0"
  for i in $(seq "$N"); do
    echo "curl -s --max-time 10 http://127.0.0.1:$port/health/$i | grep -q '\"status\":\"healthy\"' || fail=1"
  done
  echo 'exit $fail'
} > "$work/curl.sh"
chmod +x "$work/curl.sh"

# Median wall time of RUNS runs, in seconds.
t() {
  local i s e
  for i in $(seq "$RUNS"); do
    s=$(date +%s.%N); "$@" >/dev/null || true; e=$(date +%s.%N); echo "$e - $s" | bc -l
  done | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
command -v bc >/dev/null || { echo "needs bc (apt-get install bc)" >&2; exit 1; }
NOHIST=()
"$BIN" run --help | grep -q -- --no-history && NOHIST=(--no-history)
"$BIN" run "$work/bench.yaml" "${NOHIST[@]}" >/dev/null || true # warm-up
o=$(t "$BIN" run "$work/bench.yaml" --concurrency 64 "${NOHIST[@]}")
d=$(t "$BIN" run "$work/bench.yaml" "${NOHIST[@]}")
c=$(t "$work/curl.sh")
printf '| %s http checks, %s ms each (--concurrency 64) | opsrun %.2f s | sequential curl %.2f s | %.0f× faster |\n' "$N" "$DELAY_MS" "$o" "$c" "$(echo "$c / $o" | bc -l)"
printf '| %s http checks, %s ms each (default --concurrency 16) | opsrun %.2f s | sequential curl %.2f s | %.0f× faster |\n' "$N" "$DELAY_MS" "$d" "$c" "$(echo "$c / $d" | bc -l)"
