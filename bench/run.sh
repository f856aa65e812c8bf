#!/usr/bin/env bash
# Reproduces every benchmark figure quoted in the README (docs/bench.md) in
# one go: each figure is opsrun against what operators run today, measured
# side by side in this run, as the median of several runs.
#
#   bench/run.sh                 # everything (~10 min on 2 cores, first run
#                                #  also builds the release binary and data)
#   RUNS=10 bench/run.sh         # more runs per measurement
#   BENCH_DIR=/fast/disk bench/run.sh
#
# Needs: cargo, python3, curl, bc, sqlite3 (CLI), hyperfine, GNU time
# (/usr/bin/time), awk/sort/grep — on Debian:
#   apt-get install -y curl bc sqlite3 hyperfine time
# Generated data (a ~200 MB SQLite database, runbooks) is kept in
# BENCH_DIR (default target/bench) and reused by later runs.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
BENCH_DIR=${BENCH_DIR:-$PWD/target/bench}
mkdir -p "$BENCH_DIR"
for tool in python3 curl bc sqlite3 hyperfine /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench/run.sh needs $tool (see the header)" >&2; exit 1; }
done

cargo build --release -q
BIN=$PWD/target/release/opsrun
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# hf NAME CMD... — hyperfine with RUNS runs (after one warm-up) of each
# command; `med NAME` prints the commands' medians in seconds.
hf() {
  local name=$1; shift
  # -i: a warn/fail exit code is a result, not a failed benchmark.
  hyperfine --style none -i --warmup 1 --runs "$RUNS" --export-json "$work/$name.json" "$@" >/dev/null
}
med() {
  python3 -c 'import json,sys
print(" ".join("%.4f" % r["median"] for r in json.load(open(sys.argv[1]))["results"]))' "$work/$1.json"
}
# rss CMD... — median peak RSS in MB of RUNS runs (GNU time).
rss() {
  local i
  for i in $(seq "$RUNS"); do
    /usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null 2>&1 || true
    tail -1 "$work/rss"
  done | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1024}'
}
ratio() { echo "scale=4; $1 / $2" | bc -l; }
# cmp OPSRUN BASELINE (seconds) — "12× faster", "1.3× slower", or "same (+2.1%)"
# when the two are within 5% of each other.
cmp() {
  awk -v o="$1" -v s="$2" 'BEGIN {
    r = o / s
    if (r <= 0.95) { f = s / o; printf (f < 10 ? "**%.1f× faster**" : "**%.0f× faster**"), f }
    else if (r >= 1.05) printf "%.2f× slower", r
    else printf "same (%+.1f%%)", (r - 1) * 100
  }'
}
# cv NAME — each command's coefficient of variation over its runs (noise).
cv() {
  python3 -c 'import json,sys
rs = json.load(open(sys.argv[1]))["results"]
print(", ".join("%s ±%.0f%%" % (sys.argv[2 + i], 100 * r["stddev"] / r["mean"]) for i, r in enumerate(rs)))' \
    "$work/$1.json" "${@:2}"
}
noise=()
fmt_s() { awk -v s="$1" 'BEGIN { if (s < 0.1) printf "%.1f ms", s*1000; else printf "%.2f s", s }'; }

echo "## Machine"
echo
echo "- date: $(date -u +'%Y-%m-%d %H:%M UTC')"
echo "- CPU: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores"
echo "- memory: $(free -g | awk '/^Mem:/ {print $2}') GB; kernel $(uname -r)"
echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- opsrun $("$BIN" --version | awk '{print $2}'), $(rustc --version | cut -d' ' -f1-2); $RUNS runs per figure, medians"
echo
echo "| benchmark | opsrun | today's tool | ratio |"
echo "|---|---|---|---|"

# 1. 50 http checks of 200 ms each vs a sequential curl script.
RUNS=$RUNS bench/http_checks.sh | sed -E 's/\| ([0-9.]+)× faster \|$/| **\1× faster** |/'

# 2. Access log, 5M lines: bench/access_log.sh (one run of each contender,
# numbers cross-checked) run min(RUNS, 3) times on one cached log; medians.
if [ -x bench/access_log.sh ]; then
  al_runs=$(( RUNS < 3 ? RUNS : 3 ))
  for i in $(seq "$al_runs"); do
    ACCESS_LOG=$BENCH_DIR/access_log bench/access_log.sh > "$work/al$i.txt" 2>"$work/al$i.err" \
      || echo "bench/access_log.sh run $i failed: $(tail -1 "$work/al$i.err")" >&2
  done
  python3 - "$work" "$al_runs" <<'PY'
import statistics, sys
work, n = sys.argv[1], int(sys.argv[2])
runs = {}
for i in range(1, n + 1):
    for line in open(f"{work}/al{i}.txt"):
        name, rest = line[:24].strip(), line[24:].split()
        if name in ("opsrun access_log", "awk + sort -n", "grep -c (scale only)") and rest:
            runs.setdefault(name, []).append((float(rest[0]), float(rest[3])))
        if line.startswith("log: "):
            size = line.split("(")[1].split(")")[0]
med = {k: (statistics.median(w for w, _ in v), statistics.median(r for _, r in v)) for k, v in runs.items()}
(o, orss), (a, _), (g, _) = med["opsrun access_log"], med["awk + sort -n"], med["grep -c (scale only)"]
print(f"| access log, {size}: requests, 5xx, error rate, avg, p95 (same numbers) | {o:.2f} s, peak RSS {orss:.0f} MB "
      f"| `awk` + `sort -n` {a:.2f} s (`grep -c` alone: {g:.2f} s) | **{a / o:.0f}× faster** |")
PY
else
  echo "| access log 5M lines | — | — | not measured: bench/access_log.sh is not on this branch |"
fi

# 3. SQLite integrity_check on a ~200 MB database vs the sqlite3 CLI.
db=$BENCH_DIR/app.db
if [ ! -s "$db" ]; then
  python3 - "$db" <<'PY'
import os, random, sqlite3, sys
path = sys.argv[1]
tmp = path + ".tmp"
if os.path.exists(tmp):
    os.remove(tmp)
c = sqlite3.connect(tmp)
c.execute("PRAGMA journal_mode=WAL")
c.execute("CREATE TABLE estimates (id INTEGER PRIMARY KEY, customer TEXT, item TEXT, qty INTEGER, price REAL, note TEXT, created_at TEXT)")
c.execute("CREATE INDEX estimates_customer ON estimates(customer)")
c.execute("CREATE INDEX estimates_created ON estimates(created_at)")
rnd = random.Random(42)
words = ["ボルト", "ナット", "鋼板", "塗装", "溶接", "切断", "組立", "検査", "梱包", "配送"]
rows = ((f"顧客{rnd.randrange(5000):05d}", rnd.choice(words) * rnd.randrange(1, 6), rnd.randrange(1, 999),
         rnd.random() * 100000, "備考 " + "x" * rnd.randrange(50, 400),
         f"2025-{rnd.randrange(1, 13):02d}-{rnd.randrange(1, 29):02d} 09:00:00") for _ in range(620_000))
c.executemany("INSERT INTO estimates (customer, item, qty, price, note, created_at) VALUES (?,?,?,?,?,?)", rows)
c.commit()
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
c.execute("PRAGMA journal_mode=DELETE")
c.close()
os.rename(tmp, path)
PY
fi
db_mb=$(( $(stat -c %s "$db") / 1000000 ))
cat > "$work/sqlite.yaml" <<YAML
version: 1
checks:
  - {id: db, timeout: 300s, sqlite: {path: $db, check: integrity}}
YAML
hf sqlite "$BIN run $work/sqlite.yaml --no-history" "sqlite3 $db 'PRAGMA integrity_check'"
read -r o s <<<"$(med sqlite)"
printf '| SQLite `integrity_check`, %s MB database | %s | `sqlite3 app.db "PRAGMA integrity_check"` %s | %s |\n' \
  "$db_mb" "$(fmt_s "$o")" "$(fmt_s "$s")" "$(cmp "$o" "$s")"
noise+=("sqlite: $(cv sqlite opsrun sqlite3)")

# 4. `opsrun daily` on the bundled runbooks vs the same checks by hand
# (bench/daily_by_hand.sh: df, free, vmstat 1 2, test, ps), and start-up.
hf daily "$BIN daily -C runbooks --no-history" "bench/daily_by_hand.sh"
read -r o s <<<"$(med daily)"
daily_rss=$(rss "$BIN" daily -C runbooks --no-history)
printf '| `opsrun daily`, bundled runbooks (8 checks, 1 s CPU sample) | %s, peak RSS %s MB | the same by hand (`bench/daily_by_hand.sh`) %s | %s |\n' \
  "$(fmt_s "$o")" "$daily_rss" "$(fmt_s "$s")" "$(cmp "$o" "$s")"
noise+=("daily: $(cv daily opsrun shell)")
hyperfine --style none -i -N --warmup 20 --runs $((RUNS * 40)) --export-json "$work/version.json" \
  "$BIN --version" "curl --version" >/dev/null
read -r o s <<<"$(med version)"
printf '| `opsrun --version` start-up | %s | `curl --version` %s | %s |\n' \
  "$(fmt_s "$o")" "$(fmt_s "$s")" "$(cmp "$o" "$s")"
noise+=("start-up: $(cv version opsrun curl)")

# 5. A 1,000-check runbook of local checks: load alone, load + run, RSS,
# against the same 1,000 checks as a sequential shell script.
python3 - "$work" <<'PY'
import sys
d = sys.argv[1]
rb = ["version: 1", "title: 1000 local checks", "checks:"]
sh = ["#!/bin/sh", "fail=0"]
for i in range(1000):
    k = i % 10
    if k < 4:
        rb.append(f"  - {{id: file-{i}, file: {{path: /etc/hostname, max_age: 3650d}}}}")
        sh.append("test -f /etc/hostname || fail=1")
    elif k < 7:
        rb.append(f"  - {{id: disk-{i}, disk: {{path: /, used: {{warn: 99%, fail: 100%}}}}}}")
        sh.append("df -P / >/dev/null || fail=1")
    elif k < 8:
        rb.append(f"  - {{id: mem-{i}, memory: {{used: {{warn: 99%, fail: 100%}}}}}}")
        sh.append("grep -q MemAvailable /proc/meminfo || fail=1")
    else:
        rb.append(f"  - {{id: cmd-{i}, command: {{run: [\"true\"]}}}}")
        sh.append("/bin/true || fail=1")
sh.append("exit $fail")
open(f"{d}/thousand.yaml", "w").write("\n".join(rb) + "\n")
open(f"{d}/thousand.sh", "w").write("\n".join(sh) + "\n")
PY
chmod +x "$work/thousand.sh"
hf thousand "$BIN validate $work/thousand.yaml" "$BIN run $work/thousand.yaml --no-history" "$work/thousand.sh"
read -r l o s <<<"$(med thousand)"
t_rss=$(rss "$BIN" run "$work/thousand.yaml" --no-history)
printf '| 1,000 local checks (file, disk, memory, command) | load %s; load + run %s, peak RSS %s MB | the same as a sequential shell script %s | %s |\n' \
  "$(fmt_s "$l")" "$(fmt_s "$o")" "$t_rss" "$(fmt_s "$s")" "$(cmp "$o" "$s")"
noise+=("1,000 checks: $(cv thousand validate run shell)")

# 6. Binary size.
size=$(stat -c %s "$BIN")
strip -o "$work/opsrun.stripped" "$BIN"
stripped=$(stat -c %s "$work/opsrun.stripped")
gz=$(gzip -9c "$work/opsrun.stripped" | wc -c)
curl_size=$(stat -c %s "$(readlink -f "$(command -v curl)")")
printf '| binary size (release, x86_64) | %.1f MB (stripped %.1f MB, gzip %.1f MB) | curl %.2f MB + libcurl, sqlite3, … | — |\n' \
  "$(ratio "$size" 1000000)" "$(ratio "$stripped" 1000000)" "$(ratio "$gz" 1000000)" "$(ratio "$curl_size" 1000000)"
echo
echo "Noise (coefficient of variation over the runs): ${noise[*]/%/;}"
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
