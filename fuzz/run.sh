#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 180) on stable Rust,
# seeding the corpora from the repository first. Crashes land in
# fuzz/artifacts/<target>/; see docs/hardening.md for what to do with them.
#
#   fuzz/run.sh            # all targets, 3 minutes each
#   fuzz/run.sh 600 runbook units
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-180}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(runbook units systemctl_show cert_file redact access_log journal_json)

seed() { # seed TARGET FILES...
  local dir=corpus/$1; shift
  mkdir -p "$dir"
  for f in "$@"; do [ -f "$f" ] && cp -n "$f" "$dir/seed-$(basename "$f")" || true; done
}
seed runbook ../runbooks/*.yaml ../tests/fixtures/malformed/*.yaml ../tests/fixtures/hostile/*.yaml
mkdir -p corpus/units
for s in 500ms 30s 1h30m 7d 2w 100MB 512MiB 1GiB 80% '>= 2s' '< 30d' '<= 1' '≥ 90%' 0.5 1e3; do
  printf '%s' "$s" > "corpus/units/seed-$(printf '%s' "$s" | md5sum | cut -c1-8)"
done
mkdir -p corpus/systemctl_show
printf '\001Id=estimator.service\nLoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\nNRestarts=0\nMainPID=812\nResult=success\nStateChangeTimestamp=Tue 2025-10-21 02:00:01 JST\n' \
  > corpus/systemctl_show/seed-active
printf '\000Id=x.service\nLoadState=not-found\nActiveState=inactive\nLoadError=org.freedesktop.systemd1.NoSuchUnit "Unit x.service not found."\n' \
  > corpus/systemctl_show/seed-notfound
seed cert_file $(ls /etc/ssl/certs/*.pem 2>/dev/null | head -20)
mkdir -p corpus/access_log corpus/journal_json
# The first byte picks the format and window (0: combined_d, all).
printf '\000127.0.0.1 - - [21/Oct/2025:09:00:00 +0900] "GET /api/estimate HTTP/1.1" 200 512 "-" "curl/8.0" 123456\n10.0.0.2 - bob [21/Oct/2025:09:00:01 +0900] "POST /login HTTP/1.1" 401 10 "-" "x" 999\n' \
  > corpus/access_log/seed-combined-d
printf '\003127.0.0.1 - - [21/Oct/2025:09:00:00 +0900] "GET / HTTP/1.1" 502 0 "-" "-" 0.250\n' > corpus/access_log/seed-nginx-rt
printf '{"MESSAGE":"database is locked","PRIORITY":"3","_SYSTEMD_UNIT":"estimator.service","__REALTIME_TIMESTAMP":"1761004800000000"}\n{"MESSAGE":[112,101,114,109,105,115,115,105,111,110,32,100,101,110,105,101,100],"PRIORITY":"4","SYSLOG_IDENTIFIER":"sshd"}\n' \
  > corpus/journal_json/seed-entries

# Stable Rust: no sanitizer (-s none); coverage instrumentation alone.
cargo fuzz build -s none
bin=target/x86_64-unknown-linux-gnu/release
for t in "${targets[@]}"; do
  echo "== $t (${secs}s)"
  mkdir -p "artifacts/$t" "corpus/$t"
  "$bin/$t" -max_total_time="$secs" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1 "corpus/$t" 2>&1 \
    | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss|SUMMARY|thread .* panicked)|Test unit written|panicked at' || true
done
ls artifacts/*/ 2>/dev/null | grep -E 'crash|timeout|oom|leak' && { echo "crashes found (above)"; exit 1; }
echo "no crashes"
