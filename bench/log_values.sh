#!/usr/bin/env bash
# log `value:` benchmark: opsrun vs what an operator runs today for seed
# 003's query-time P95 (grep the `duration:` lines, awk the numbers,
# `sort -n` for the percentiles).
#
# A PostgreSQL log with `log_min_duration_statement` lines (`duration:
# 12.345 ms  statement: …`), checkpoints and other lines between them, is
# read both ways on the same machine, page cache warm, one run each:
# count, avg, p50, p95, p99 (nearest rank) and max of the last 24 hours.
# Fails if the numbers differ.
#
#   bench/log_values.sh                      # 3M lines (~300 MB) in a temp dir
#   LINES=500000 bench/log_values.sh         # smaller
#   OPSRUN_BIN=/path/to/opsrun bench/log_values.sh   # skip the release build
#
# Needs: cargo (unless OPSRUN_BIN), awk, grep, sort, python3, GNU time
# (/usr/bin/time; Debian `time`).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
lines=${LINES:-3000000}
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "needs GNU time: apt-get install -y time" >&2; exit 3; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
log=$tmp/postgresql.log

echo "generating $lines lines into $log ..." >&2
# One day, 2025-10-21, in order; every 10th line is not a statement. The
# durations have a long tail (1 in 50 is 0.5–5.5 s), three decimals as
# PostgreSQL prints them. A fixed seed: the same file every run.
awk -v lines="$lines" 'BEGIN {
  srand(42)
  for (i = 0; i < lines; i++) {
    t = int(i * 86399 / lines)
    ts = sprintf("2025-10-21 %02d:%02d:%02d.%03d JST", t / 3600, (t / 60) % 60, t % 60, i % 1000)
    if (i % 10 == 9) { printf "%s [7] LOG:  checkpoint complete: wrote %d buffers\n", ts, i % 997; continue }
    if (i % 50 == 0) ms = 500 + rand() * 5000; else ms = rand() * 120
    printf "%s [%d] LOG:  duration: %.3f ms  statement: SELECT * FROM members WHERE id = %d\n", ts, 100 + i % 7, ms, i
  }
}' > "$log"
bytes=$(stat -c %s "$log")

if [ -n "${OPSRUN_BIN:-}" ]; then
  bin=$OPSRUN_BIN
else
  echo "building release ..." >&2
  cargo build --release --locked --quiet
  bin=$repo/target/release/opsrun
fi

now=2025-10-21T23:59:59+09:00
mkdir -p "$tmp/rb"
cat > "$tmp/rb/bench.yaml" <<YAML
version: 1
title: log values benchmark
defaults: {timeout: 5m}
checks:
  - id: queries
    log:
      path: $log
      since: 24h
      value: {regex: 'duration: (?P<v>[0-9.]+) ms', unit: ms}
      metrics: {count: {}, avg: {}, p50: {}, p95: {}, p99: {}, max: {}}
YAML

cat "$log" > /dev/null   # warm the page cache for every contender alike

. bench/time_of.sh   # stat_of FILE: wall s, peak RSS MB, CPU s

# --- opsrun: one process, one pass, exact nearest rank
OPSRUN_HISTORY="$tmp/history.db" $TIME -v -o "$tmp/opsrun.time" "$bin" run bench -C "$tmp/rb" \
  --now "$now" -f json > "$tmp/opsrun.json" || true
read -r o_secs o_rss o_cpu < <(stat_of "$tmp/opsrun.time")
o_nums=$(python3 - "$tmp/opsrun.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["checks"][0]
m = {k: v["value"] for k, v in c["metrics"].items()}
print(f'{int(m["count"])} {m["avg"]:.3f} {m["p50"]:.3f} {m["p95"]:.3f} {m["p99"]:.3f} {m["max"]:.3f}')
PY
)

# --- grep + awk + sort -n: the numbers out of the lines, sorted for the ranks
cat > "$tmp/awk.sh" <<'SH'
set -e -o pipefail
grep -o 'duration: [0-9.]* ms' "$1" | awk '{ print $2 }' > "$2/ms"
LC_ALL=C sort -n "$2/ms" | awk '
  { v[NR] = $1; s += $1 }
  function rank(p) { r = int((p * NR + 99) / 100); return v[r < 1 ? 1 : r] }
  END { printf "%d %.3f %.3f %.3f %.3f %.3f\n", NR, s / NR, rank(50), rank(95), rank(99), v[NR] }
' > "$2/result"
SH
$TIME -v -o "$tmp/awk.time" bash "$tmp/awk.sh" "$log" "$tmp"
read -r a_secs a_rss a_cpu < <(stat_of "$tmp/awk.time")
a_nums=$(cat "$tmp/result")

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
echo
echo "log: $(python3 -c "print(f'{$bytes/1e6:.0f}')") MB, $(wc -l < "$log") lines   cpu: $cpu"
row() { printf '%-22s %7s %7s %7s   %s\n' "$@"; }
row tool "wall s" "cpu s" "RSS MB" "count avg p50 p95 p99 max (ms)"
row "opsrun log value:" "$o_secs" "$o_cpu" "$o_rss" "$o_nums"
row "grep + awk + sort -n" "$a_secs" "$a_cpu" "$a_rss" "$a_nums"
python3 -c "print(f'speed-up vs grep + awk + sort: {$a_secs / max($o_secs, 1e-9):.1f}x')"
if [ "$o_nums" != "$a_nums" ]; then
  echo "MISMATCH: opsrun and awk disagree" >&2
  exit 1
fi
echo "numbers identical"
