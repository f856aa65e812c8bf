#!/usr/bin/env bash
# access_log benchmark: opsrun vs what the seeds do (one awk pass + sort -n).
#
# Computes today's requests, 5xx, error rate, average and p95 (nearest rank)
# response time of a ~5M-line Apache `combined_d` log (~590 MB) both ways,
# on the same machine, one run each, page cache warm, and `grep -c` for scale.
# Fails if the numbers differ.
#
#   bench/access_log.sh                # generate the log in a temp dir
#   ACCESS_LOG=/path/to/log bench/access_log.sh   # reuse a generated log
#   LINES=1000000 bench/access_log.sh  # smaller
#
# Needs: cargo, awk, sort, grep, python3, GNU time (/usr/bin/time; Debian `time`).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
lines=${LINES:-5000000}
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "needs GNU time: apt-get install -y time" >&2; exit 3; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

log=${ACCESS_LOG:-}
if [ -z "$log" ]; then
  log=$tmp/access_log
  echo "generating $lines lines into $log ..." >&2
  awk -v lines="$lines" -f bench/gen_access_log.awk > "$log"
elif [ ! -f "$log" ]; then
  echo "generating $lines lines into $log ..." >&2
  awk -v lines="$lines" -f bench/gen_access_log.awk > "$log"
fi
bytes=$(stat -c %s "$log")

echo "building release ..." >&2
cargo build --release --locked --quiet
bin=$repo/target/release/opsrun

# The log's last day is "today"; fix the clock there so the window is stable.
now=2025-10-21T23:59:59+09:00
day='[21/Oct/2025:'
mkdir -p "$tmp/rb"
cat > "$tmp/rb/bench.yaml" <<YAML
version: 1
title: access_log benchmark
defaults: {timeout: 5m}
checks:
  - id: access
    access_log:
      path: $log
      format: combined_d
      window: today
      metrics: {requests: {}, errors_5xx: {}, error_rate: {}, avg: {}, p95: {}}
YAML

cat "$log" > /dev/null   # warm the page cache for every contender alike

. bench/time_of.sh   # stat_of FILE: wall s, peak RSS MB, CPU s

# --- opsrun: one process, one pass
OPSRUN_HISTORY="$tmp/history.db" $TIME -v -o "$tmp/opsrun.time" "$bin" run bench -C "$tmp/rb" --now "$now" -f json \
  > "$tmp/opsrun.json" || true
read -r o_secs o_rss o_cpu < <(stat_of "$tmp/opsrun.time")
o_nums=$(python3 - "$tmp/opsrun.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["checks"][0]
m = {k: v["value"] for k, v in c["metrics"].items()}
print(f'{int(m["requests"])} {int(m["errors_5xx"])} {m["error_rate"]:.4f} {m["avg"]:.3f} {m["p95"]:.3f}')
PY
)

# --- the same, pinned to one core (the read-ahead thread shares it)
one_core=""
if command -v taskset >/dev/null; then
  OPSRUN_HISTORY="$tmp/history.db" $TIME -v -o "$tmp/opsrun1.time" taskset -c 0 "$bin" run bench \
    -C "$tmp/rb" --now "$now" -f json > "$tmp/opsrun1.json" || true
  read -r o1_secs o1_rss o1_cpu < <(stat_of "$tmp/opsrun1.time")
  one_core=1
fi

# --- awk + sort -n: the seeds' approach (awk '{print $NF}' … sum/count), plus sort for p95
cat > "$tmp/awk.sh" <<'SH'
set -e
awk -v d="$2" -v out="$3/counts" '
  index($4, d) == 1 { n++; if ($9 ~ /^5/) e++; s += $NF; print $NF }
  END { printf "%d %d %.4f %.3f\n", n, e, (n ? e * 100 / n : 0), (n ? s / n / 1000 : 0) > out }
' "$1" > "$3/times"
read -r n e rate avg < "$3/counts"
r=$(( (95 * n + 99) / 100 ))
p95=$(LC_ALL=C sort -n "$3/times" | awk -v r="$r" 'NR == r { printf "%.3f", $1 / 1000; exit }')
echo "$n $e $rate $avg $p95" > "$3/result"
SH
$TIME -v -o "$tmp/awk.time" bash "$tmp/awk.sh" "$log" "$day" "$tmp"
read -r a_secs a_rss a_cpu < <(stat_of "$tmp/awk.time")
a_nums=$(cat "$tmp/result")

# --- grep -c, for scale
$TIME -v -o "$tmp/grep.time" grep -c -F "$day" "$log" > "$tmp/grep.out" || true
read -r g_secs g_rss g_cpu < <(stat_of "$tmp/grep.time")

gbps() { python3 -c "print(f'{$bytes / max($1, 1e-9) / 1e9:.2f}')"; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
echo
echo "log: $log  ($(python3 -c "print(f'{$bytes/1e6:.0f}')") MB, $(wc -l < "$log") lines)   cpu: $cpu"
row() { printf '%-24s %7s %7s %6s %7s   %s\n' "$@"; }
row tool "wall s" "cpu s" "GB/s" "RSS MB" "requests 5xx error_rate% avg_ms p95_ms"
row "opsrun access_log" "$o_secs" "$o_cpu" "$(gbps "$o_secs")" "$o_rss" "$o_nums"
if [ -n "$one_core" ]; then
  row "opsrun, taskset 1 core" "$o1_secs" "$o1_cpu" "$(gbps "$o1_secs")" "$o1_rss" "(same)"
fi
row "awk + sort -n" "$a_secs" "$a_cpu" "$(gbps "$a_secs")" "$a_rss" "$a_nums"
row "grep -c (scale only)" "$g_secs" "$g_cpu" "$(gbps "$g_secs")" "$g_rss" "$(cat "$tmp/grep.out") lines"
python3 -c "print(f'speed-up vs awk + sort: {$a_secs / max($o_secs, 1e-9):.1f}x')"
if [ -n "$one_core" ] && ! cmp -s "$tmp/opsrun.json" "$tmp/opsrun1.json"; then
  # Same check, same clock: the JSON differs at most in timings.
  python3 - "$tmp/opsrun.json" "$tmp/opsrun1.json" <<'PY' || { echo "MISMATCH: pinned run differs" >&2; exit 1; }
import json, sys
a, b = (json.load(open(p))["checks"][0]["metrics"] for p in sys.argv[1:])
sys.exit(a != b)
PY
fi
if [ "$o_nums" != "$a_nums" ]; then
  echo "MISMATCH: opsrun and awk disagree" >&2
  exit 1
fi
echo "numbers identical"
