#!/usr/bin/env bash
# opsrun demo: seed 000 (AI見積りシステム) as a real, throwaway environment on
# 127.0.0.1, and the runbooks of examples/ai-estimator run against it.
#
#   examples/demo/run.sh                 # build opsrun if needed, run everything, tear down
#   OPSRUN_BIN=/path/to/opsrun examples/demo/run.sh
#   examples/demo/run.sh --keep          # leave the temp dir (logs, history.db) for a look
#
# What it stands up (everything under one temp dir, ports picked free at run time):
#   - the "estimator": a small python3 http.server app (GET /health →
#     {"status":"healthy"}, POST /api/v1/estimates writes a row to a real
#     SQLite app.db and a "タスク作成" journal entry; GET /api/v1/boom → 500)
#   - nginx in front of it (standing in for seed 000's Apache httpd): TLS with
#     a certificate made by openssl for 46 days from a throwaway CA, Basic
#     auth on /api/v1/health, an access log with $request_time (format
#     nginx_rt) and an error log
#   - user traffic by curl from twelve loopback addresses (127.0.0.2-13),
#     including a few 5xx and 401 answers
#   - a real journal file (systemd-journal-remote converts the export-format
#     entries the app wrote; journald itself is not needed)
#   - two backup generations made by `opsrun backup run` itself
#
# STUB systemctl: there is no systemd here (not PID 1, as in CI containers),
# so a small `systemctl` script is put first on PATH for opsrun. It answers
# `systemctl show` for `estimator` and `httpd` from whether the demo's
# processes are alive (their pid files; a killed process nobody reaped yet
# counts as dead), and `systemctl restart` really restarts them (the
# estimator app is started again, nginx is stopped and started). Every other
# unit is "not-found". Nothing else is simulated.
#
# Then it runs, as an operator would:
#   opsrun backup run (x2), probe, daily -f report, [the estimator is killed],
#   probe, incident p1 --execute --yes, probe, weekly -f report,
#   backup verify, backup restore-test, monthly -f report
# checks each exit code and the statuses the demo controls, and removes
# everything it started. Exit 0 when every expectation held, 1 otherwise.
#
# Needs: nginx, openssl, curl, python3, systemd-journal-remote, journalctl.
# As root it installs the missing ones with apt-get (services are not
# started by the install); otherwise it says what to install.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
EXAMPLE="$ROOT/examples/ai-estimator"
KEEP=0
case "${1:-}" in
  "") ;;
  --keep) KEEP=1 ;;
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
  *) echo "usage: $0 [--keep]" >&2; exit 2 ;;
esac

say() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }
[ -t 2 ] || say() { printf '\n==> %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------
# Packages

JOURNAL_REMOTE=/lib/systemd/systemd-journal-remote
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
missing=()
[ -x "$NGINX" ] || missing+=(nginx)
command -v openssl >/dev/null || missing+=(openssl)
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
[ -x "$JOURNAL_REMOTE" ] || missing+=(systemd-journal-remote)
command -v journalctl >/dev/null || missing+=(systemd)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "demo: missing packages: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  say "installing ${missing[*]}"
  # Debian starts services on install; the demo wants none of that (nginx
  # would take port 80), so a policy-rc.d forbids it while apt runs.
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || rc=$?
  [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "${rc:-0}" = 0 ] || exit 1
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
fi

OPSRUN=${OPSRUN_BIN:-}
if [ -z "$OPSRUN" ]; then
  if command -v opsrun >/dev/null; then
    OPSRUN=$(command -v opsrun)
  else
    say "building opsrun (cargo build)"
    (cd "$ROOT" && cargo build --quiet)
    OPSRUN="$ROOT/target/debug/opsrun"
  fi
fi

# ---------------------------------------------------------------------------
# Temp dir, teardown

T=$(mktemp -d "${TMPDIR:-/tmp}/opsrun-demo.XXXXXX")
echo "demo: working in $T" >&2
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # nginx (master and workers) and the estimator app, by their pid files;
  # curl/opsrun are run in the foreground and are gone already.
  if [ -s "$T/run/nginx.pid" ]; then
    kill "$(cat "$T/run/nginx.pid")" 2>/dev/null || true
  fi
  if [ -s "$T/run/estimator.pid" ]; then
    kill "$(cat "$T/run/estimator.pid")" 2>/dev/null || true
  fi
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    alive=0
    for f in "$T/run/nginx.pid" "$T/run/estimator.pid"; do
      [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && alive=1
    done
    [ $alive = 0 ] && break
    sleep 0.2
  done
  for f in "$T/run/nginx.pid" "$T/run/estimator.pid"; do
    [ -s "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
  done
  if [ $KEEP = 1 ]; then
    echo "demo: kept $T" >&2
  else
    rm -rf "$T"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# nginx workers (nobody/www-data when started as root) must reach the
# htpasswd file; the secrets (.env, backups) keep their own modes.
chmod 755 "$T"
mkdir -p "$T"/{bin,run,tls,nginx/tmp,journal,log/httpd,log/estimator,app/backend/uploads/2025/10,backups/estimator,runbooks,out}

# Three distinct free ports on 127.0.0.1, held together while they are picked.
read -r APP_PORT HTTPS_PORT HTTP_PORT < <(python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
EOF
)
BASIC_USER=ops
BASIC_PASSWORD="demo-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
export ESTIMATOR_BASIC_PASSWORD=$BASIC_PASSWORD

# ---------------------------------------------------------------------------
# The application: app.db, .env, uploads/, the estimator app

say "app.db, .env, uploads/ in $T/app/backend"
python3 - "$T/app/backend/app.db" <<'EOF'
import sqlite3, sys, random, datetime
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA journal_mode=WAL")
db.execute("""CREATE TABLE tasks (id INTEGER PRIMARY KEY, code TEXT NOT NULL,
  title TEXT NOT NULL, status TEXT NOT NULL, amount INTEGER, created_at TEXT NOT NULL)""")
db.execute("CREATE INDEX tasks_created ON tasks(created_at)")
now = datetime.datetime.now()
rnd = random.Random(0)
rows = []
for i in range(1200):
    t = now - datetime.timedelta(days=rnd.uniform(1, 60))
    rows.append((f"EST-{t:%Y%m%d}-{i:04d}", f"Webシステム開発 見積り #{i}",
                 rnd.choice(["done", "done", "done", "failed"]),
                 rnd.randrange(300_000, 9_000_000, 10_000), t.isoformat(" ", "seconds")))
db.executemany("INSERT INTO tasks(code, title, status, amount, created_at) VALUES (?,?,?,?,?)", rows)
db.commit()
db.close()
EOF
printf 'OPENAI_API_KEY=sk-demo-not-a-real-key\nDATABASE_URL=sqlite:///app.db\n' > "$T/app/backend/.env"
chmod 600 "$T/app/backend/.env"
for i in 1 2 3; do
  head -c $((20000 * i)) /dev/urandom > "$T/app/backend/uploads/2025/10/requirements-$i.xlsx"
done
printf '2025-10-21 09:00:00 INFO estimator started\n' > "$T/log/estimator/estimator.log"

# The estimator app. It appends journal entries in the export format
# (systemd-journal-remote turns them into a real journal file below).
cat > "$T/app/estimator_app.py" <<'EOF'
"""Demo stand-in for seed 000's FastAPI estimator (port 8100)."""
import http.server, json, random, sqlite3, sys, threading, time, datetime

PORT, DB, JOURNAL = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lock = threading.Lock()

def journal(priority, message):
    with lock, open(JOURNAL, "a", encoding="utf-8") as f:
        f.write(f"__REALTIME_TIMESTAMP={time.time_ns() // 1000}\n"
                "_SYSTEMD_UNIT=estimator.service\nSYSLOG_IDENTIFIER=estimator\n"
                f"PRIORITY={priority}\nMESSAGE={message}\n\n")

class Handler(http.server.BaseHTTPRequestHandler):
    def reply(self, code, doc):
        body = json.dumps(doc, ensure_ascii=False).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?")[0]
        if path in ("/health", "/api/v1/health"):
            with sqlite3.connect(DB, timeout=5) as db:
                db.execute("SELECT 1").fetchone()
            self.reply(200, {"status": "healthy"})
        elif path == "/api/v1/estimates":
            time.sleep(random.uniform(0.005, 0.06))
            with sqlite3.connect(DB, timeout=5) as db:
                n = db.execute("SELECT count(*) FROM tasks").fetchone()[0]
            self.reply(200, {"total": n})
        elif path == "/api/v1/boom":
            journal(3, "OpenAI API Error: Request timed out (read timeout=60)")
            self.reply(500, {"detail": "Internal Server Error"})
        else:
            self.reply(404, {"detail": "Not Found"})

    def do_POST(self):
        if self.path.split("?")[0] != "/api/v1/estimates":
            return self.reply(404, {"detail": "Not Found"})
        time.sleep(random.uniform(0.05, 0.25))  # "generating" the estimate
        now = datetime.datetime.now()
        with sqlite3.connect(DB, timeout=5) as db:
            cur = db.execute(
                "INSERT INTO tasks(code, title, status, amount, created_at) VALUES (?,?,?,?,?)",
                ("", "見積り", "done", random.randrange(300_000, 9_000_000, 10_000),
                 now.isoformat(" ", "seconds")))
            code = f"EST-{now:%Y%m%d}-{cur.lastrowid:04d}"
            db.execute("UPDATE tasks SET code = ? WHERE id = ?", (code, cur.lastrowid))
        journal(6, f"タスク作成 {code}")
        self.reply(201, {"code": code})

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
EOF

# How the stub systemctl (and the demo) start the estimator.
cat > "$T/bin/start-estimator" <<EOF
#!/bin/sh
python3 "$T/app/estimator_app.py" $APP_PORT "$T/app/backend/app.db" "$T/journal/export.txt" \\
  >>"$T/log/estimator/stdout.log" 2>&1 </dev/null &
echo \$! > "$T/run/estimator.pid"
EOF
NGINX_ARGS="-p $T/nginx -c $T/nginx/nginx.conf -e $T/log/httpd/error_log"
cat > "$T/bin/start-httpd" <<EOF
#!/bin/sh
exec "$NGINX" $NGINX_ARGS </dev/null >>"$T/log/httpd/stdout.log" 2>&1
EOF

# The stub systemctl (see the header).
cat > "$T/bin/systemctl" <<EOF
#!/bin/sh
# opsrun demo stub: no systemd here. Answers for estimator/httpd from the
# demo's pid files; restart/start/stop act on the demo's processes.
T="$T"
verb=\$1
for unit; do :; done
[ "\$verb" = show ] || unit=\$2
name=\${unit%.service}
case "\$name" in
  estimator) pidf=\$T/run/estimator.pid; desc="AI見積り estimator (demo: python3 http.server)";;
  httpd) pidf=\$T/run/nginx.pid; desc="The Apache HTTP Server (demo: nginx)";;
  *)
    if [ "\$verb" = show ]; then
      printf 'Id=%s.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nUnitFileState=\nResult=success\nNRestarts=0\nMainPID=0\nExecMainStatus=0\nDescription=%s.service\n' "\$name" "\$name"
      exit 0
    fi
    echo "Failed to \$verb \$name.service: Unit \$name.service not found." >&2; exit 5;;
esac
alive() {
  pid=\$(cat "\$pidf" 2>/dev/null) && [ -n "\$pid" ] && [ -r "/proc/\$pid/status" ] || return 1
  # A killed process that nobody reaped yet is a zombie: not running.
  ! grep -q '^State:[[:space:]]*Z' "/proc/\$pid/status"
}
start() {
  alive && return 0
  "\$T/bin/start-\$name"
  i=0; while [ \$i -lt 50 ]; do alive && return 0; i=\$((i+1)); sleep 0.1; done
  echo "Job for \$name.service failed." >&2; return 1
}
stop() {
  alive || return 0
  kill "\$pid"
  i=0; while [ \$i -lt 50 ] && alive; do i=\$((i+1)); sleep 0.1; done
  rm -f "\$pidf"
}
case "\$verb" in
  show)
    if alive; then
      printf 'ActiveState=active\nSubState=running\nResult=success\nMainPID=%s\nExecMainStatus=0\n' "\$pid"
    elif [ -e "\$pidf" ]; then
      # The pid file is left behind when the process died: systemd says failed.
      printf 'ActiveState=failed\nSubState=failed\nResult=signal\nMainPID=0\nExecMainStatus=9\n'
    else
      printf 'ActiveState=inactive\nSubState=dead\nResult=success\nMainPID=0\nExecMainStatus=0\n'
    fi
    printf 'Id=%s.service\nDescription=%s\nLoadState=loaded\nUnitFileState=enabled\nNRestarts=0\n' "\$name" "\$desc"
    ;;
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  reload)
    if [ "\$name" = httpd ] && alive; then "$NGINX" $NGINX_ARGS -s reload; else start; fi ;;
  *) echo "demo systemctl: \$verb not supported" >&2; exit 1 ;;
esac
EOF
chmod 755 "$T/bin/start-estimator" "$T/bin/start-httpd" "$T/bin/systemctl"

# ---------------------------------------------------------------------------
# TLS and nginx

say "certificate (46 days, throwaway CA) and nginx on 127.0.0.1:$HTTPS_PORT (https), :$HTTP_PORT (http) → estimator :$APP_PORT"
(
  cd "$T/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -subj "/CN=opsrun demo CA" -keyout ca.key -out ca.pem 2>/dev/null
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 46 \
    -CA ca.pem -CAkey ca.key -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -addext "basicConstraints=critical,CA:FALSE" \
    -addext "extendedKeyUsage=serverAuth" \
    -keyout server.key -out server.pem 2>/dev/null
)
printf '%s:%s\n' "$BASIC_USER" "$(openssl passwd -apr1 "$BASIC_PASSWORD")" > "$T/nginx/htpasswd"
chmod 644 "$T/nginx/htpasswd"
chmod 755 "$T/nginx"
user_line=""
[ "$(id -u)" = 0 ] && user_line="user nobody nogroup;"
cat > "$T/nginx/nginx.conf" <<EOF
$user_line
worker_processes 1;
pid $T/run/nginx.pid;
error_log $T/log/httpd/error_log error;
events { worker_connections 128; }
http {
  # combined + \$request_time: opsrun's access_log format nginx_rt
  log_format combined_rt '\$remote_addr - \$remote_user [\$time_local] "\$request" '
                         '\$status \$body_bytes_sent "\$http_referer" "\$http_user_agent" \$request_time';
  access_log $T/log/httpd/access_log combined_rt;
  client_body_temp_path $T/nginx/tmp/body;
  proxy_temp_path $T/nginx/tmp/proxy;
  fastcgi_temp_path $T/nginx/tmp/fastcgi;
  uwsgi_temp_path $T/nginx/tmp/uwsgi;
  scgi_temp_path $T/nginx/tmp/scgi;
  upstream estimator { server 127.0.0.1:$APP_PORT; }
  server {
    listen 127.0.0.1:$HTTP_PORT;
    return 301 https://localhost:$HTTPS_PORT\$request_uri;
  }
  server {
    listen 127.0.0.1:$HTTPS_PORT ssl;
    server_name localhost;
    ssl_certificate $T/tls/server.pem;
    ssl_certificate_key $T/tls/server.key;
    location = /api/v1/health {
      auth_basic "estimator";
      auth_basic_user_file $T/nginx/htpasswd;
      proxy_pass http://estimator;
    }
    location / { proxy_pass http://estimator; }
  }
}
EOF

"$T/bin/start-estimator"
"$T/bin/start-httpd"
for _ in $(seq 50); do
  curl -sf -o /dev/null "http://127.0.0.1:$APP_PORT/health" &&
    curl -sf -o /dev/null --cacert "$T/tls/ca.pem" "https://localhost:$HTTPS_PORT/api/v1/estimates" && break
  sleep 0.1
done

# ---------------------------------------------------------------------------
# Traffic

say "user traffic: 12 clients (127.0.0.2-13) through nginx"
# Bodies are not wanted; curl's URL ranges ([1-20]) make one request each.
hit() { curl -s --cacert "$T/tls/ca.pem" "$@" >/dev/null; }
base="https://localhost:$HTTPS_PORT"
for n in $(seq 2 13); do
  # Each user lists estimates and creates a few (POST → app.db + journal).
  hit --interface "127.0.0.$n" "$base/api/v1/estimates?page=[1-20]" &
  hit --interface "127.0.0.$n" -d "" "$base/api/v1/estimates?n=[1-4]" &
done
wait
hit --interface 127.0.0.5 "$base/api/v1/boom?try=[1-2]"                 # 2 × 500
hit --interface 127.0.0.99 "$base/api/v1/health?probe=[1-2]"            # 401: no credentials
hit --interface 127.0.0.99 -u admin:admin "$base/api/v1/health"         # 401: wrong user
hit -u "$BASIC_USER:$BASIC_PASSWORD" "$base/api/v1/health"

# The journal: errors from earlier today/yesterday (the app's history), then
# what the app wrote while serving the traffic above.
python3 - "$T/journal/export.txt" <<'EOF'
import sys, time
now = time.time_ns() // 1000
old = [(26 * 3600, 3, "Timeout: upstream request timed out (yesterday)"),
       (5 * 3600, 3, "sqlite3.OperationalError: database is locked"),
       (3 * 3600, 6, "estimator started (uvicorn app.main:app --port 8100)")]
entries = "".join(
    f"__REALTIME_TIMESTAMP={now - ago * 1_000_000}\n_SYSTEMD_UNIT=estimator.service\n"
    f"SYSLOG_IDENTIFIER=estimator\nPRIORITY={p}\nMESSAGE={m}\n\n" for ago, p, m in old)
with open(sys.argv[1], encoding="utf-8") as f:
    entries += f.read()
with open(sys.argv[1], "w", encoding="utf-8") as f:
    f.write(entries)
EOF
make_journal() {
  # Export format needs monotonic/boot fields; systemd-journal-remote
  # writes a real journal file that journalctl (and opsrun) read.
  python3 - "$T/journal/export.txt" "$T/journal/export.full" <<'EOF'
import sys
blocks = [b for b in open(sys.argv[1], encoding="utf-8").read().split("\n\n") if b.strip()]
blocks.sort(key=lambda b: int(b.split("\n", 1)[0].split("=", 1)[1]))
with open(sys.argv[2], "w", encoding="utf-8") as f:
    for i, b in enumerate(blocks):
        f.write(f"{b}\n__MONOTONIC_TIMESTAMP={1000000 + i}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n\n")
EOF
  rm -f "$T/journal/estimator.journal"
  "$JOURNAL_REMOTE" --output="$T/journal/estimator.journal" "$T/journal/export.full" 2>/dev/null
}
make_journal

# ---------------------------------------------------------------------------
# opsrun against it

cp "$EXAMPLE"/*.yaml "$T/runbooks/"
VARS=(
  --var "health_url=http://127.0.0.1:$APP_PORT/health"
  --var "prod_health_url=https://localhost:$HTTPS_PORT/api/v1/health"
  --var "basic_user=$BASIC_USER"
  --var "domain=localhost"
  --var "app_port=$APP_PORT" --var "https_port=$HTTPS_PORT" --var "http_port=$HTTP_PORT"
  --var "app_process=$T/app/estimator_app.py"
  --var "access_log=$T/log/httpd/access_log" --var "access_log_format=nginx_rt"
  --var "error_log=$T/log/httpd/error_log"
  --var "auth_failure_pattern=password mismatch|was not found in"
  --var "journal_dir=$T/journal"
  --var "app_dir=$T/app/backend" --var "app_log_dir=$T/log/estimator"
  --var "backup_dir=$T/backups/estimator"
  --var "settle=1s" --var "verify_attempts=10" --var "verify_interval=1s"
)
export PATH="$T/bin:$PATH"            # the stub systemctl
export SSL_CERT_FILE="$T/tls/ca.pem"  # trust the demo CA (tls and https checks)
# opsrun ARGS...: the demo's runbook dir, history and vars after ARGS.
opsrun() {
  "$OPSRUN" "$@" -C "$T/runbooks" --history "$T/history.db" --reporter 運用担当者A "${VARS[@]}"
}

# step NAME EXPECTED-CODES -- ARGS...: run `opsrun ARGS`, print its output,
# record whether the exit code was one of the expected ones.
FAILED=()
SUMMARY=()
step() {
  local name=$1 expect=$2
  shift 3
  say "opsrun $*"
  local rc=0
  opsrun "$@" || rc=$?
  if [[ " $expect " == *" $rc "* ]]; then
    SUMMARY+=("ok    $name: exit $rc")
  else
    SUMMARY+=("FAIL  $name: exit $rc, expected ${expect// / or }")
    FAILED+=("$name")
  fi
}

# expect_status JSON ID=STATUS...: the statuses the demo controls.
expect_status() {
  local json=$1
  shift
  local out
  if out=$(python3 - "$json" "$@" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
got = {c["id"]: c["status"] for c in doc["checks"]}
bad = [f"{k}: {got.get(k)} (expected {v}: {next((c['message'] for c in doc['checks'] if c['id'] == k), '')})"
       for k, v in (a.split("=") for a in sys.argv[2:]) if got.get(k) != v]
print("; ".join(bad))
sys.exit(1 if bad else 0)
EOF
  ); then
    SUMMARY+=("ok    $(basename "$json" .json): $# checks as expected")
  else
    SUMMARY+=("FAIL  $(basename "$json" .json): $out")
    FAILED+=("$(basename "$json")")
  fi
}

step "backup run #1" "0" -- backup run
step "probe" "0" -- run probe
# Host resources (disk, memory, CPU) are this machine's: they may warn or fail.
step "daily" "0 1 2" -- daily -f report --output "json=$T/out/daily.json"
expect_status "$T/out/daily.json" httpd=pass estimator=pass health-local=pass health-prod=pass \
  processes=pass requests=pass estimates=pass estimator-errors=warn error-rate=pass \
  apache-errors=warn response-time=pass
# The app wrote more data: the second generation is bigger, not shrunk.
hit -d "" --interface 127.0.0.7 "$base/api/v1/estimates?n=[1-3]"
sleep 1 # generation names have a one-second resolution
step "backup run #2" "0" -- backup run

say "breaking the service: kill -9 the estimator (MemoryError), users get 502"
python3 - "$T/journal/export.txt" <<'EOF'
import sys, time
with open(sys.argv[1], "a", encoding="utf-8") as f:
    # A second before the kill: the app's last words.
    f.write(f"__REALTIME_TIMESTAMP={time.time_ns() // 1000 - 1_000_000}\n_SYSTEMD_UNIT=estimator.service\n"
            "SYSLOG_IDENTIFIER=estimator\nPRIORITY=2\nMESSAGE=MemoryError: cannot allocate memory for estimate worker\n\n")
EOF
kill -9 "$(cat "$T/run/estimator.pid")"
sleep 0.2
hit --interface 127.0.0.3 "$base/api/v1/estimates?retry=[1-3]"
make_journal
step "probe (down)" "2" -- run probe
step "incident p1" "0" -- incident p1 --execute --yes --output "json=$T/out/incident-p1.json"
expect_status "$T/out/incident-p1.json" app-service=fail web-service=pass app-process=fail port-app=fail port-https=pass \
  port-http=pass app-errors=warn apache-errors=warn health-local=fail
step "probe (recovered)" "0" -- run probe
# No cron here: the backups are made by this script, so the cron entry check is skipped.
step "weekly" "0" -- weekly -f report --skip security-updates,backup-cron --output "json=$T/out/weekly.json"
expect_status "$T/out/weekly.json" p95-week=pass users-week=pass backup-latest=pass ssl-cert=pass \
  estimator-log-size=pass db-integrity=pass security-updates=skip backup-cron=skip
step "backup verify" "0" -- backup verify
step "backup restore-test" "0" -- backup restore-test
step "monthly" "0 1 2" -- monthly -f report --output "json=$T/out/monthly.json"
expect_status "$T/out/monthly.json" db-size=pass response-month=pass users-month=pass \
  unauthorized=pass auth-failures=pass

say "summary"
printf '%s\n' "${SUMMARY[@]}"
if [ ${#FAILED[@]} -gt 0 ]; then
  echo "demo: FAILED: ${FAILED[*]}"
  exit 1
fi
echo "demo: all steps as expected"
