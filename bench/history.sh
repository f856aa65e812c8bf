#!/usr/bin/env bash
# History at scale (issue 19): a probe of ten checks run every minute for
# 400 days (576,000 runs, 5.76 million results), then, side by side in
# this one run:
#   - `opsrun run probe -q` with that history vs with --no-history,
#   - `opsrun report weekly` and `report monthly` (uptime over 10k / 43k
#     samples, a trend line per numeric check, the capacity forecast),
#   - `opsrun history --check disk-root --since 30d`,
#   - the database's size and bytes per stored result,
# each as the median of RUNS runs (hyperfine) and its peak RSS (GNU time).
#
#   bench/history.sh                # ~10 min on 2 idle cores the first
#                                   # time (release build + the database)
#   RUNS=10 bench/history.sh
#   DAYS=30 bench/history.sh        # a smaller history
#   BENCH_DIR=/fast/disk bench/history.sh
#
# The database is written through opsrun's own store code
# (bench/history/gen.rs, `--features bench`) and kept in BENCH_DIR
# (default target/bench) for later runs; each measurement works on a copy.
# Needs: cargo, hyperfine, GNU time (/usr/bin/time), sqlite3 (CLI),
# python3 — on Debian: apt-get install -y hyperfine time sqlite3
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-10}
DAYS=${DAYS:-400}
BENCH_DIR=${BENCH_DIR:-$PWD/target/bench}
END=2026-12-01T00:00:00+09:00
NOW=2026-12-01T00:00:30+09:00
mkdir -p "$BENCH_DIR"
for tool in hyperfine /usr/bin/time sqlite3 python3; do
  command -v "$tool" >/dev/null || { echo "bench/history.sh needs $tool (see the header)" >&2; exit 1; }
done

cargo build --release -q --features bench --bins
BIN=$PWD/target/release/opsrun
GEN=$PWD/target/release/opsrun-bench-history
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

db=$BENCH_DIR/history-${DAYS}d.db
if [ ! -f "$db" ]; then
  echo "writing $DAYS days of one-minute probes to $db …" >&2
  t0=$(date +%s)
  "$GEN" "$db.tmp" "$DAYS" "$END"
  sqlite3 "$db.tmp" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
  mv "$db.tmp" "$db"
  echo "written in $(( $(date +%s) - t0 )) s" >&2
fi
cp "$db" "$work/h.db"
rb=$work/runbooks
mkdir -p "$rb"
cp bench/history/probe.yaml bench/history/weekly.yaml bench/history/monthly.yaml "$rb/"

# hf NAME CMD... — hyperfine, RUNS runs after one warm-up; `med NAME`
# prints each command's median in ms.
hf() {
  local name=$1; shift
  # -i: a warn/fail exit code is a result, not a failed benchmark.
  hyperfine --style none -i -N --warmup 1 --runs "$RUNS" --export-json "$work/$name.json" "$@" >/dev/null
}
med() {
  python3 -c 'import json,sys
print(" ".join("%.1f" % (r["median"] * 1000) for r in json.load(open(sys.argv[1]))["results"]))' "$work/$1.json"
}
# rss CMD... — median peak RSS in MB of RUNS runs.
rss() {
  local i
  for i in $(seq "$RUNS"); do
    /usr/bin/time -f %M -o "$work/rss" "$@" >/dev/null 2>&1 || true
    tail -1 "$work/rss"
  done | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1024}'
}

o="--history $work/h.db --now $NOW"
probe="$BIN run probe -q -C $rb $o"
bare="$BIN run probe -q -C $rb --no-history --now $NOW"
weekly="$BIN report weekly -C $rb $o"
monthly="$BIN report monthly -C $rb $o"
series="$BIN history --check disk-root --since 30d $o"

# Every command once, so a broken one fails here rather than as a number.
$probe >/dev/null || [ $? -le 2 ]
for c in "$weekly" "$monthly" "$series"; do $c >/dev/null; done

hf probe "$probe" "$bare"
hf reports "$weekly" "$monthly" "$series"
read -r t_probe t_bare < <(med probe)
read -r t_weekly t_monthly t_series < <(med reports)
m_probe=$(rss $probe); m_bare=$(rss $bare)
m_weekly=$(rss $weekly); m_monthly=$(rss $monthly); m_series=$(rss $series)

sqlite3 "$work/h.db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
runs=$(sqlite3 "$work/h.db" 'SELECT COUNT(*) FROM runs')
results=$(sqlite3 "$work/h.db" 'SELECT COUNT(*) FROM results')
bytes=$(stat -c %s "$work/h.db")
per=$(( bytes / results ))
ratio=$(python3 -c "print('%.2f' % ($t_probe / $t_bare))")

cat <<EOF

History of $runs runs / $results results ($(( bytes / 1048576 )) MB, $per bytes per result), $(date -u +%Y-%m-%d), load $(cut -d' ' -f1-3 /proc/loadavg), RUNS=$RUNS:

| what | median | peak RSS |
|---|---|---|
| \`opsrun run probe -q\` (10 checks) with this history | ${t_probe} ms | ${m_probe} MB |
| the same with \`--no-history\` | ${t_bare} ms (history: ×${ratio}) | ${m_bare} MB |
| \`opsrun report weekly\` | ${t_weekly} ms | ${m_weekly} MB |
| \`opsrun report monthly\` | ${t_monthly} ms | ${m_monthly} MB |
| \`opsrun history --check disk-root --since 30d\` | ${t_series} ms | ${m_series} MB |
| database size | $(( bytes / 1048576 )) MB, $per B per result | |
EOF
