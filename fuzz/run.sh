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
[ ${#targets[@]} -gt 0 ] || targets=(runbook units systemctl_show cert_file redact)

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

# Stable Rust: no sanitizer (-s none); coverage instrumentation alone.
cargo fuzz build -s none
bin=target/x86_64-unknown-linux-gnu/release
for t in "${targets[@]}"; do
  echo "== $t (${secs}s)"
  mkdir -p "artifacts/$t"
  "$bin/$t" -max_total_time="$secs" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1 "corpus/$t" 2>&1 \
    | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss|SUMMARY|thread .* panicked)|Test unit written|panicked at' || true
done
ls artifacts/*/ 2>/dev/null | grep -E 'crash|timeout|oom|leak' && { echo "crashes found (above)"; exit 1; }
echo "no crashes"
