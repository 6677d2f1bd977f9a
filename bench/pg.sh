#!/usr/bin/env bash
# Ward PostgreSQL gateway benchmark: pgbench against one throwaway cluster
#   - directly (PostgreSQL with ssl=on),
#   - through pgbouncer (session pooling, client TLS),
#   - through Ward (TLS, recording every statement and result to SQLite).
# See bench/README.md. Environment knobs:
#   BENCH_SECONDS   pgbench -T per run (default 20)
#   BENCH_CLIENTS   pgbench -c (default 8)      BENCH_THREADS  pgbench -j (default 2)
#   BENCH_SCALE     pgbench -i -s (default 10)  BENCH_CONNECT_N  psql connect loop size (default 200)
#   BENCH_OUT       result directory (default bench/results)
#   WARD_BIN        use this ward binary instead of building one
#   BENCH_TARGET_DIR cargo target dir for the release build (default ../target-bench next to the repo)
#   BENCH_KEEP=1    keep the temp dir (logs, stores) instead of deleting it
#   BENCH_WARD_MAX_RESULT  set Ward's [recording] max_result_bytes (e.g. 1MiB; Ward's default is 16MiB)
#   BENCH_WARD_DURABILITY  batched (default) or strict: Ward's [store] durability
#   BENCH_WARD_MASKING     on (default) or off: off disables every built-in masking rule, to
#                          measure what masking costs
#   BENCH_MODES     pgbench modes to run (default "simple extended prepared connect")
#   BENCH_TARGETS   targets (default "direct bouncer ward"; direct is always needed for ratios)
#   BENCH_EXTRAS=0  skip the psql connect-latency loop and the 1,000,000-row SELECT
set -euo pipefail

SECS=${BENCH_SECONDS:-20}
CLIENTS=${BENCH_CLIENTS:-8}
THREADS=${BENCH_THREADS:-2}
SCALE=${BENCH_SCALE:-10}
CONNECT_N=${BENCH_CONNECT_N:-200}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/results}
RUN_USER=postgres # PostgreSQL and pgbouncer refuse to run as root
MODES=${BENCH_MODES:-simple extended prepared connect}
TARGETS=${BENCH_TARGETS:-direct bouncer ward}
DURABILITY=${BENCH_WARD_DURABILITY:-batched}
MASKING=${BENCH_WARD_MASKING:-on}
EXTRAS=${BENCH_EXTRAS:-1}

# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"

# ---------------------------------------------------------------- prerequisites
command -v pg_config >/dev/null || die "pg_config not found (install postgresql)"
PGBIN=$(pg_config --bindir)
for t in psql pgbench openssl python3; do command -v "$t" >/dev/null || die "$t not found"; done
id "$RUN_USER" >/dev/null 2>&1 || die "OS user $RUN_USER not found"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u "$RUN_USER" -- "$@"; else "$@"; fi; }

if ! command -v pgbouncer >/dev/null && [ ! -x /usr/sbin/pgbouncer ]; then
  log "installing pgbouncer"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
fi
PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)

ward_binary

# ---------------------------------------------------------------- temp dir and cleanup
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ward-bench.XXXXXX")
chmod 755 "$WORK"
WARD_PID=""
SAMPLER_PID=""
PGDATA=$WORK/pg/data

cleanup() {
  local rc=$?
  set +e
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null
  if [ -n "$WARD_PID" ] && kill -0 "$WARD_PID" 2>/dev/null; then
    kill -TERM "$WARD_PID"; wait "$WARD_PID" 2>/dev/null
  fi
  if [ -f "$WORK/pgbouncer/pgbouncer.pid" ]; then
    local bp; bp=$(cat "$WORK/pgbouncer/pgbouncer.pid" 2>/dev/null)
    if [ -n "$bp" ] && kill -0 "$bp" 2>/dev/null; then
      kill -INT "$bp"
      for _ in $(seq 50); do kill -0 "$bp" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  if [ -f "$PGDATA/postmaster.pid" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1
  fi
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    log "kept $WORK"
  else
    rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

read -r PG_PORT BOUNCER_PORT WARD_PORT < <(python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)
APP_PW=$(openssl rand -hex 12)   # PostgreSQL role bench_app (direct, pgbouncer, Ward upstream)
WARD_PW=$(openssl rand -hex 12)  # Ward user benchuser
log "workdir $WORK; ports: postgres $PG_PORT, pgbouncer $BOUNCER_PORT, ward $WARD_PORT"

# ---------------------------------------------------------------- PostgreSQL
mkdir -p "$WORK/pg" && chown "$RUN_USER": "$WORK/pg"
# ECDSA P-256, like the certificate Ward generates for itself, so TLS handshakes cost the same.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=127.0.0.1" \
  -keyout "$WORK/pg/server.key" -out "$WORK/pg/server.crt" >/dev/null 2>&1
chmod 600 "$WORK/pg/server.key"
chown "$RUN_USER": "$WORK/pg/server.key" "$WORK/pg/server.crt"
as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres -E UTF8 --no-sync \
  --auth-local=trust --auth-host=scram-sha-256 >"$WORK/pg/initdb.log" 2>&1 || die "initdb failed: $(tail -5 "$WORK/pg/initdb.log")"
cat >>"$PGDATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$WORK/pg'
max_connections = 100
shared_buffers = 256MB
ssl = on
ssl_cert_file = '$WORK/pg/server.crt'
ssl_key_file = '$WORK/pg/server.key'
password_encryption = 'scram-sha-256'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
cat >"$PGDATA/pg_hba.conf" <<EOF
local     all all               trust
hostssl   all all 127.0.0.1/32  scram-sha-256
hostnossl all all 127.0.0.1/32  scram-sha-256
EOF
as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$WORK/pg/postgres.log" -w start >/dev/null || die "postgres did not start: $(tail -5 "$WORK/pg/postgres.log")"
super() { psql -X -q -v ON_ERROR_STOP=1 -h "$WORK/pg" -p "$PG_PORT" -U postgres "$@"; }
super -d postgres -c "CREATE ROLE bench_app LOGIN PASSWORD '$APP_PW'" -c "CREATE DATABASE bench OWNER bench_app" >/dev/null

# Connection environments, one per target. Every client uses sslmode=require.
direct_env()  { env PGHOST=127.0.0.1 PGPORT="$PG_PORT"      PGUSER=bench_app PGPASSWORD="$APP_PW"  PGDATABASE=bench PGSSLMODE=require PGCONNECT_TIMEOUT=10 "$@"; }
bouncer_env() { env PGHOST=127.0.0.1 PGPORT="$BOUNCER_PORT" PGUSER=bench_app PGPASSWORD="$APP_PW"  PGDATABASE=bench PGSSLMODE=require PGCONNECT_TIMEOUT=10 "$@"; }
ward_env()    { env PGHOST=127.0.0.1 PGPORT="$WARD_PORT"    PGUSER=benchuser PGPASSWORD="$WARD_PW" PGDATABASE=bench PGSSLMODE=require PGCONNECT_TIMEOUT=10 "$@"; }

log "pgbench -i -s $SCALE (direct)"
direct_env pgbench -i -q -s "$SCALE" >"$WORK/pgbench-init.log" 2>&1 || die "pgbench -i failed: $(tail -5 "$WORK/pgbench-init.log")"
super -d bench -c "VACUUM ANALYZE" >/dev/null

# ---------------------------------------------------------------- pgbouncer (session mode)
mkdir -p "$WORK/pgbouncer"
cat >"$WORK/pgbouncer/userlist.txt" <<EOF
"bench_app" "$APP_PW"
EOF
cat >"$WORK/pgbouncer/pgbouncer.ini" <<EOF
[databases]
bench = host=127.0.0.1 port=$PG_PORT dbname=bench user=bench_app password=$APP_PW

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
pool_mode = session
max_client_conn = 200
default_pool_size = 50
auth_type = scram-sha-256
auth_file = $WORK/pgbouncer/userlist.txt
client_tls_sslmode = require
client_tls_cert_file = $WORK/pg/server.crt
client_tls_key_file = $WORK/pg/server.key
server_tls_sslmode = disable
logfile = $WORK/pgbouncer/pgbouncer.log
pidfile = $WORK/pgbouncer/pgbouncer.pid
log_connections = 0
log_disconnections = 0
EOF
chmod 600 "$WORK/pgbouncer/userlist.txt" "$WORK/pgbouncer/pgbouncer.ini"
chown -R "$RUN_USER": "$WORK/pgbouncer"
as_pg "$PGBOUNCER" -d "$WORK/pgbouncer/pgbouncer.ini" >"$WORK/pgbouncer/start.log" 2>&1 \
  || die "pgbouncer did not start: $(cat "$WORK/pgbouncer/start.log"; tail -5 "$WORK/pgbouncer/pgbouncer.log")"

# ---------------------------------------------------------------- Ward
mkdir -p "$WORK/ward"
printf '%s\n' "$APP_PW" >"$WORK/ward/app.pw"
chmod 600 "$WORK/ward/app.pw"
cat >"$WORK/ward/ward.toml" <<EOF
[listen]
postgres = "127.0.0.1:$WARD_PORT"

[store]
path = "ward.db"
durability = "$DURABILITY"

[auth]
allow_plaintext_loopback = false
$( [ -n "${BENCH_WARD_MAX_RESULT:-}" ] && printf '\n[recording]\nmax_result_bytes = "%s"\n' "$BENCH_WARD_MAX_RESULT" )
$( [ "$MASKING" = off ] && printf '\n[masking]\ndisable = ["card", "iban", "ssn", "email", "aws_access_key", "aws_secret_key", "github_token", "gitlab_token", "slack_token", "stripe_key", "google_api_key", "ai_api_key", "jwt", "private_key", "url_password", "auth_header", "secret_value"]\n' )

[[resources]]
name = "bench"
kind = "postgres"
address = "127.0.0.1:$PG_PORT"
database = "bench"
user = "bench_app"
password_file = "app.pw"
tls = "disable"

[[grants]]
group = "bench"
resources = ["bench"]
EOF
WARD_CFG=$WORK/ward/ward.toml
WARD_DB=$WORK/ward/ward.db
printf '%s\n' "$WARD_PW" | "$WARD" users add benchuser --groups bench --password-stdin --config "$WARD_CFG" >/dev/null
WARD_EXIT=0
start_ward() {
  local before
  before=$(grep -c "PostgreSQL listener on" "$WORK/ward/ward.log" 2>/dev/null || true)
  "$WARD" serve --config "$WARD_CFG" >>"$WORK/ward/ward.log" 2>&1 &
  WARD_PID=$!
  for _ in $(seq 100); do
    [ "$(grep -c "PostgreSQL listener on" "$WORK/ward/ward.log" 2>/dev/null || true)" -gt "${before:-0}" ] && return 0
    kill -0 "$WARD_PID" 2>/dev/null || break
    sleep 0.1
  done
  die "ward did not start: $(tail -20 "$WORK/ward/ward.log")"
}
stop_ward() { # SIGTERM lets Ward end the sessions and flush the recorder queue
  local ws
  kill -TERM "$WARD_PID"
  for _ in $(seq 300); do kill -0 "$WARD_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$WARD_PID" 2>/dev/null; then
    log "ward did not stop within 30 s after SIGTERM; killing it"
    kill -KILL "$WARD_PID"; WARD_EXIT=killed
  fi
  set +e; wait "$WARD_PID" 2>/dev/null; ws=$?; set -e
  [ "$ws" = 0 ] || [ "$WARD_EXIT" = killed ] || WARD_EXIT=$ws
  WARD_PID=""
}
start_ward

# ---------------------------------------------------------------- wait for listeners
wait_port() { # name port
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  die "$1 is not listening on $2"
}
wait_port pgbouncer "$BOUNCER_PORT"

for t in $TARGETS; do
  ${t}_env psql -X -Atq -c "select 1" >/dev/null 2>"$WORK/smoke-$t.err" \
    || die "smoke test through $t failed: $(cat "$WORK/smoke-$t.err")"
done
log "targets answer over TLS: $TARGETS (ward: durability $DURABILITY, masking $MASKING)"

# ---------------------------------------------------------------- pgbench runs
RESULTS=$WORK/results.tsv # mode target tps transactions failed lat_ms t_start_ns t_end_ns status rss_kb hwm_kb
ward_mem() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$WARD_PID/status" 2>/dev/null || true; }
# VmHWM can miss peaks (the kernel does not update it when an allocator returns memory with
# madvise), so RSS is also sampled every 50 ms while Ward works; reports use the larger of the two.
sampler_start() { # file
  local f=$1 pid=$WARD_PID
  : >"$f"
  ( while kill -0 "$pid" 2>/dev/null; do awk '$1 == "VmRSS:" {print $2}' "/proc/$pid/status" 2>/dev/null; sleep 0.05; done ) >>"$f" &
  SAMPLER_PID=$!
}
sampler_stop() { # file -> prints the max sampled kB
  if [ -n "$SAMPLER_PID" ]; then kill "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=""; fi
  sort -n "$1" | tail -1
}
: >"$RESULTS"
FAILURES=()
# Give each run a hard deadline so a hang is reported instead of blocking forever.
DEADLINE=$((SECS + 60))

run_pgbench() { # mode target extra-args...
  local mode=$1 target=$2; shift 2
  local base=$WORK/pgbench-$mode-$target t0 t1 rc=0
  [ "$target" = ward ] && sampler_start "$base.rss"
  t0=$(date +%s%N)
  ${target}_env timeout -k 5 "$DEADLINE" pgbench -n -c "$CLIENTS" -j "$THREADS" -T "$SECS" "$@" >"$base.out" 2>"$base.err" || rc=$?
  t1=$(date +%s%N)
  local tps tx failed lat status=ok
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$base.out" | head -1)
  tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$base.out" | head -1)
  failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$base.out" | head -1)
  lat=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$base.out" | head -1)
  if [ "$rc" != 0 ] || [ -z "$tps" ]; then
    status="fail(rc=$rc)"
    [ "$rc" = 124 ] && status="hang(timeout ${DEADLINE}s)"
    FAILURES+=("$mode/$target")
    log "pgbench $mode via $target FAILED ($status); stderr tail:"
    tail -20 "$base.err" | sed 's/^/    /' >&2
    if [ "$target" = ward ]; then
      log "ward log tail:"; tail -30 "$WORK/ward/ward.log" | sed 's/^/    /' >&2
    fi
  elif [ -s "$base.err" ] && grep -qv '^pgbench: \(warning\|hint\)' "$base.err"; then
    log "pgbench $mode via $target stderr (not fatal):"; head -10 "$base.err" | sed 's/^/    /' >&2
  fi
  local rss="" hwm=""
  if [ "$target" = ward ]; then
    local sampled; sampled=$(sampler_stop "$base.rss")
    rss=$(ward_mem VmRSS); hwm=$(ward_mem VmHWM)
    [ -n "$sampled" ] && [ "$sampled" -gt "${hwm:-0}" ] && hwm=$sampled
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$target" "${tps:-}" "${tx:-}" "${failed:-}" "${lat:-}" "$t0" "$t1" "$status" "$rss" "$hwm" >>"$RESULTS"
  log "$(printf '%-9s %-8s tps=%-12s tx=%-9s lat=%sms %s' "$mode" "$target" "${tps:--}" "${tx:--}" "${lat:--}" "$status")"
}

# Targets interleaved within each mode so drift (other load on the machine) hits them alike.
for mode in $MODES; do
  for target in $TARGETS; do
    if [ "$mode" = connect ]; then
      # A new connection per transaction: TLS handshake + authentication + one SELECT.
      run_pgbench connect "$target" -S -C
    else
      run_pgbench "$mode" "$target" -S -M "$mode"
    fi
  done
done

# ---------------------------------------------------------------- connect + select 1 latency
# One psql process per sample: process start + TLS handshake + auth + "select 1" + exit,
# timed with $EPOCHREALTIME (no fork for the clock). psql's own start-up cost is the same for
# every target, so differences between targets are the gateway's cost.
[ "$EXTRAS" = 1 ] && log "connect + select 1 latency, $CONNECT_N psql runs per target"
for target in $TARGETS; do
  [ "$EXTRAS" = 1 ] || break
  f=$WORK/latency-$target.txt; : >"$f"
  for _ in $(seq 5); do ${target}_env psql -X -Atq -c "select 1" >/dev/null 2>&1 || true; done # warm-up
  for _ in $(seq "$CONNECT_N"); do
    s=$EPOCHREALTIME
    if ${target}_env psql -X -Atq -c "select 1" >/dev/null 2>>"$WORK/latency-$target.err"; then
      e=$EPOCHREALTIME
      echo "$s $e" >>"$f"
    else
      echo "error" >>"$f"
    fi
  done
done

# ---------------------------------------------------------------- Ward memory on a large result
# big_select PREFIX: the 1,000,000-row SELECT through Ward, with the ward process's peak RSS reset
# just before (echo 5 > clear_refs, Linux >= 4.0). Sets PREFIX_{BEFORE,HWM,AFTER,SECS,RC} (kB, s).
big_select() {
  local p=$1 rc=0 s e
  echo 5 >"/proc/$WARD_PID/clear_refs" 2>/dev/null || true
  printf -v "${p}_BEFORE" '%s' "$(ward_mem VmHWM)"
  sampler_start "$WORK/bigselect-$p.rss"
  s=$EPOCHREALTIME
  ward_env timeout -k 5 300 psql -X -Atq -c "select g, md5(g::text) from generate_series(1,1000000) g" \
    >/dev/null 2>"$WORK/bigselect-$p.err" || rc=$?
  e=$EPOCHREALTIME
  printf -v "${p}_SECS" '%s' "$(python3 -c "print(round($e - $s, 2))")"
  sleep 2 # the recorder encodes and writes the result after psql is done: keep sampling
  local sampled hwm
  sampled=$(sampler_stop "$WORK/bigselect-$p.rss")
  hwm=$(ward_mem VmHWM)
  [ -n "$sampled" ] && [ "$sampled" -gt "${hwm:-0}" ] && hwm=$sampled
  printf -v "${p}_HWM" '%s' "$hwm"
  printf -v "${p}_AFTER" '%s' "$(ward_mem VmRSS)"
  printf -v "${p}_RC" '%s' "$rc"
  if [ "$rc" != 0 ]; then
    log "large SELECT through Ward ($p) failed (rc=$rc):"; tail -5 "$WORK/bigselect-$p.err" | sed 's/^/    /' >&2
    FAILURES+=("bigselect-$p/ward")
  fi
}
VMHWM_BENCH=$(ward_mem VmHWM)
if [ "$EXTRAS" = 1 ]; then
  log "1,000,000-row SELECT through Ward: the Ward that ran the benchmarks, then a freshly started one"
  big_select WARM
  stop_ward
  start_ward
  big_select FRESH
fi

# ---------------------------------------------------------------- stop Ward (flushes the recorder), count, verify
stop_ward

VERIFY_RC=0
"$WARD" verify --config "$WARD_CFG" >"$WORK/verify.out" 2>&1 || VERIFY_RC=$?
VERIFY_LINE=$(grep -E 'session\(s\):' "$WORK/verify.out" | tail -1 || true)
[ -n "$VERIFY_LINE" ] || VERIFY_LINE="(no summary line) $(tail -3 "$WORK/verify.out" | tr '\n' ' ')"
VERIFY_BROKEN=$(grep -cE '^(TAMPERED|MISSING|CHECKPOINT)' "$WORK/verify.out" || true)
for v in WARM_BEFORE WARM_HWM WARM_AFTER WARM_SECS WARM_RC FRESH_BEFORE FRESH_HWM FRESH_AFTER FRESH_SECS FRESH_RC; do
  [ -n "${!v:-}" ] || printf -v "$v" '%s' "" # BENCH_EXTRAS=0: no large SELECT
done

# ---------------------------------------------------------------- report
mkdir -p "$OUT"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
JSON=$OUT/pg-$STAMP.json

export RESULTS WARD_DB JSON SECS CLIENTS THREADS SCALE CONNECT_N WORK DURABILITY MASKING
export VMHWM_BENCH WARM_BEFORE WARM_HWM WARM_AFTER WARM_SECS WARM_RC FRESH_BEFORE FRESH_HWM FRESH_AFTER FRESH_SECS FRESH_RC VERIFY_RC VERIFY_LINE VERIFY_BROKEN WARD_EXIT
export WARD_BIN_PATH=$WARD WARD_VERSION="$("$WARD" --version 2>/dev/null || echo unknown)"
export PG_VERSION="$(pg_config --version)" PGBOUNCER_VERSION="$("$PGBOUNCER" --version 2>/dev/null | head -1)"
export FAILURES_STR="${FAILURES[*]:-}"
# Read-only git queries (GIT_OPTIONAL_LOCKS=0: do not even refresh the index).
GIT_COMMIT=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$GIT_COMMIT" != unknown ] && [ -n "$(cd "$ROOT" && GIT_OPTIONAL_LOCKS=0 git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  GIT_COMMIT="$GIT_COMMIT+uncommitted changes"
fi
[ -n "${WARD_BIN:-}" ] && GIT_COMMIT="$GIT_COMMIT (WARD_BIN=$WARD_BIN, may differ)"
export GIT_COMMIT
python3 - <<'EOF'
import json, os, sqlite3, statistics, datetime, platform, subprocess

env = os.environ
rows = []
with open(env["RESULTS"]) as f:
    for line in f:
        mode, target, tps, tx, failed, lat, t0, t1, status, rss, hwm = line.rstrip("\n").split("\t")
        rows.append(dict(mode=mode, target=target, tps=float(tps) if tps else None,
                         transactions=int(tx) if tx else None, failed=int(failed) if failed else None,
                         latency_avg_ms=float(lat) if lat else None, t0=int(t0), t1=int(t1), status=status,
                         **({"ward_rss_kb_after": int(rss) if rss else None, "ward_vmhwm_kb_after": int(hwm) if hwm else None}
                            if target == "ward" else {})))

# Ward's recording, per run: sessions whose start falls inside the run's window.
db = sqlite3.connect(f"file:{env['WARD_DB']}?mode=ro", uri=True)
def recorded(t0, t1):
    q = """SELECT
             (SELECT count(*) FROM sessions WHERE started_at BETWEEN ?1 AND ?2),
             count(*) FILTER (WHERE e.kind = 'db.query'),
             count(*) FILTER (WHERE e.kind = 'db.query'
                              AND CAST(e.payload AS TEXT) LIKE '%FROM pgbench_accounts WHERE aid%'),
             count(*) FILTER (WHERE e.kind = 'db.result'),
             count(*) FILTER (WHERE e.kind = 'db.error')
           FROM events e JOIN sessions s ON s.id = e.session_id
           WHERE s.started_at BETWEEN ?1 AND ?2"""
    sessions, q_all, q_bench, results, errors = db.execute(q, (t0, t1)).fetchone()
    return dict(sessions=sessions, db_query=q_all, db_query_pgbench=q_bench,
                db_result=results, db_error=errors)
for r in rows:
    if r["target"] == "ward":
        r["ward_recorded"] = recorded(r["t0"], r["t1"])
# The large SELECT ran last: its db.result is the newest one.
cols = [c[1] for c in db.execute("PRAGMA table_info(events)")]
compressed_col = "e.compressed" if "compressed" in cols else "0"
big_row = db.execute(f"""SELECT e.payload, {compressed_col} FROM events e JOIN sessions s ON s.id = e.session_id
                          WHERE e.kind = 'db.result' ORDER BY s.started_at DESC, e.seq DESC LIMIT 1""").fetchone()
big = None
if big_row:
    payload, compressed = bytes(big_row[0]), bool(big_row[1])
    stored = len(payload)
    try:
        if compressed:  # Ward stores large payloads zstd-compressed
            payload = subprocess.run(["zstd", "-dc"], input=payload, capture_output=True, check=True).stdout
        d = json.loads(payload)
        big = (stored, len(payload), d.get("row_count"), d.get("truncated"), None)
    except (ValueError, OSError, subprocess.CalledProcessError) as e:
        big = (stored, None, None, None, f"could not decode the payload (compressed={compressed}): {e}")
totals = db.execute("""SELECT (SELECT count(*) FROM sessions),
                              (SELECT count(*) FROM events),
                              (SELECT count(*) FROM events WHERE kind = 'db.query')""").fetchone()
db.close()

def latency(target):
    samples, errors = [], 0
    path = os.path.join(env["WORK"], f"latency-{target}.txt")
    if not os.path.exists(path):  # BENCH_EXTRAS=0, or the target was not run
        return dict(n=0, errors=0)
    with open(path) as f:
        for line in f:
            if line.startswith("error"):
                errors += 1
                continue
            s, e = map(float, line.split())
            samples.append((e - s) * 1000)
    if not samples:
        return dict(n=0, errors=errors)
    samples.sort()
    pct = lambda p: samples[min(len(samples) - 1, int(round(p / 100 * (len(samples) - 1))))]
    return dict(n=len(samples), errors=errors, p50_ms=round(pct(50), 2), p99_ms=round(pct(99), 2),
                mean_ms=round(statistics.fmean(samples), 2), min_ms=round(samples[0], 2),
                max_ms=round(samples[-1], 2))
lat = {t: latency(t) for t in ("direct", "bouncer", "ward")}

kb = lambda v: f"{int(v) / 1024:.1f} MB" if v else "?"
by = {(r["mode"], r["target"]): r for r in rows}
modes = []
for r in rows:
    if r["mode"] not in modes:
        modes.append(r["mode"])
def tps(m, t):
    r = by.get((m, t))
    return r["tps"] if r else None
def fmt(v):
    return f"{v:,.0f}" if v is not None else "FAIL"
def ratio(a, b):
    return f"{a / b:.2f}" if a is not None and b else "-"

print()
print(f"## Ward PostgreSQL benchmark: pgbench -S -c {env['CLIENTS']} -j {env['THREADS']} -T {env['SECS']}, scale {env['SCALE']}, all clients sslmode=require")
print()
print(f"{env['WARD_VERSION']} (tree {env['GIT_COMMIT']}); {env['PG_VERSION']}; {env['PGBOUNCER_VERSION']}; {os.cpu_count()} CPUs;"
      f" Ward durability {env['DURABILITY']}, masking {env['MASKING']}")
print()
print("| mode | direct tps | pgbouncer tps | ward tps | pgbouncer/direct | ward/direct |")
print("|---|---:|---:|---:|---:|---:|")
labels = {"simple": "simple (-M simple)", "extended": "extended (-M extended)",
          "prepared": "prepared (-M prepared)", "connect": "connect per tx (-C, simple)"}
def cell(m, t):  # "-" for a target that was not run, FAIL for one that failed
    return fmt(tps(m, t)) if (m, t) in by else "-"
for m in modes:
    d, b, w = tps(m, "direct"), tps(m, "bouncer"), tps(m, "ward")
    print(f"| {labels.get(m, m)} | {cell(m, 'direct')} | {cell(m, 'bouncer')} | {cell(m, 'ward')} | {ratio(b, d)} | {ratio(w, d)} |")
print()
print("Average latency per transaction (pgbench, ms):")
print()
print("| mode | direct | pgbouncer | ward |")
print("|---|---:|---:|---:|")
for m in modes:
    cells = [by.get((m, t), {}).get("latency_avg_ms") for t in ("direct", "bouncer", "ward")]
    print(f"| {m} | " + " | ".join(f"{c:.3f}" if c is not None else "-" for c in cells) + " |")
print()
print(f"Connect + `select 1` + disconnect, one `psql -c 'select 1'` process per sample (includes psql start-up, same for all), N={env['CONNECT_N']}:")
print()
print("| target | p50 ms | p99 ms | mean ms | min ms | max ms | errors |")
print("|---|---:|---:|---:|---:|---:|---:|")
for t, name in (("direct", "direct"), ("bouncer", "pgbouncer"), ("ward", "ward")):
    l = lat[t]
    if l["n"]:
        print(f"| {name} | {l['p50_ms']} | {l['p99_ms']} | {l['mean_ms']} | {l['min_ms']} | {l['max_ms']} | {l['errors']} |")
    else:
        print(f"| {name} | - | - | - | - | - | {l['errors']} |")
if lat["direct"]["n"] and lat["ward"]["n"]:
    print()
    print(f"Ward - direct: p50 {lat['ward']['p50_ms'] - lat['direct']['p50_ms']:+.2f} ms, p99 {lat['ward']['p99_ms'] - lat['direct']['p99_ms']:+.2f} ms")
print()
print("Ward recording (counted in the SQLite store after Ward stopped and flushed; sessions started during each run):")
print()
print("| run | pgbench transactions | sessions | db.query events | of which pgbench SELECTs | db.result | db.error | db.query - transactions | ward RSS after run | ward peak RSS |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    if r["target"] != "ward":
        continue
    rec = r["ward_recorded"]
    tx = r["transactions"]
    diff = rec["db_query"] - tx if tx is not None else None
    print(f"| {r['mode']} | {tx if tx is not None else 'FAIL'} | {rec['sessions']} | {rec['db_query']} | {rec['db_query_pgbench']} | {rec['db_result']} | {rec['db_error']} | {diff if diff is not None else '-'}"
          f" | {kb(r['ward_rss_kb_after'])} | {kb(r['ward_vmhwm_kb_after'])} |")
print()
print("(pgbench -S runs one SELECT per transaction; its first connection also runs 2 setup queries"
      " — count(*) from pgbench_branches and a partition lookup — so db.query should be transactions + 2, and"
      " `of which pgbench SELECTs` should equal transactions; a smaller number means lost records.)")
print(f"Store totals: {totals[0]} sessions, {totals[1]} events, {totals[2]} db.query.")
print()
extras = bool(env["FRESH_RC"])
if extras:
    print("Ward memory during `select g, md5(g::text) from generate_series(1,1000000) g` (psql output to /dev/null), target peak < 64 MB:")
    print()
    print("| ward process | RSS before | peak RSS (query + 2 s after) | RSS 2 s after | psql seconds | psql exit |")
    print("|---|---:|---:|---:|---:|---:|")
    for p, name in (("FRESH", "freshly started"), ("WARM", "after the pgbench runs")):
        print(f"| {name} | {kb(env[p + '_BEFORE'])} | {kb(env[p + '_HWM'])} | {kb(env[p + '_AFTER'])} | {env[p + '_SECS']} | {env[p + '_RC']} |")
    print()
bench_peak = max([int(env["VMHWM_BENCH"] or 0)] + [r.get("ward_vmhwm_kb_after") or 0 for r in rows if r["target"] == "ward"])
print(f"Peak RSS of the benchmark Ward over all pgbench runs: {kb(bench_peak)}.")
big_ok = env["FRESH_RC"] == "0" and env["FRESH_HWM"] and int(env["FRESH_HWM"]) < 64 * 1024
if big and extras:
    json_mb = f"{big[1] / 1e6:.1f} MB of JSON, " if big[1] is not None else ""
    print(f"The (last) large SELECT's db.result event: {json_mb}{big[0] / 1e6:.1f} MB stored, row_count {big[2]}, truncated {big[3]}"
          f" (max_result_bytes {env.get('BENCH_WARD_MAX_RESULT') or 'default 16MiB'})" + (f"; {big[4]}" if big[4] else "") + ".")
print()
print(f"ward verify: {env['VERIFY_LINE']} (exit {env['VERIFY_RC']})")
print(f"ward serve exit after SIGTERM: {env['WARD_EXIT']}")
if env["FAILURES_STR"]:
    print(f"FAILED runs: {env['FAILURES_STR']} (see the messages above)")

result = dict(
    timestamp=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    host=dict(cpus=os.cpu_count(), kernel=platform.release()),
    versions=dict(ward=env["WARD_VERSION"], tree=env["GIT_COMMIT"], postgres=env["PG_VERSION"], pgbouncer=env["PGBOUNCER_VERSION"]),
    params=dict(seconds=int(env["SECS"]), clients=int(env["CLIENTS"]), threads=int(env["THREADS"]),
                scale=int(env["SCALE"]), connect_samples=int(env["CONNECT_N"]), sslmode="require",
                upstream="plain TCP loopback, scram-sha-256", pgbouncer_pool_mode="session"),
    runs=[{k: v for k, v in r.items() if k not in ("t0", "t1")} | {"duration_s": round((r["t1"] - r["t0"]) / 1e9, 2)} for r in rows],
    ratios={m: {"pgbouncer_vs_direct": (tps(m, "bouncer") / tps(m, "direct")) if tps(m, "bouncer") and tps(m, "direct") else None,
                "ward_vs_direct": (tps(m, "ward") / tps(m, "direct")) if tps(m, "ward") and tps(m, "direct") else None}
            for m in modes},
    connect_latency_psql=lat,
    ward_memory_kb=({p.lower(): dict(before=int(env[p + "_BEFORE"] or 0), vmhwm=int(env[p + "_HWM"] or 0),
                                     after=int(env[p + "_AFTER"] or 0), seconds=float(env[p + "_SECS"]),
                                     psql_exit=int(env[p + "_RC"])) for p in ("FRESH", "WARM")} if extras else {})
                   | dict(peak_pgbench=bench_peak, fresh_under_64mb=bool(big_ok)),
    ward_durability=env.get("DURABILITY"), ward_masking=env.get("MASKING"),
    ward_large_select_result=dict(stored_bytes=big[0], json_bytes=big[1], row_count=big[2], truncated=big[3], problem=big[4]) if big else None,
    ward_max_result_bytes=env.get("BENCH_WARD_MAX_RESULT") or "default",
    ward_store_totals=dict(sessions=totals[0], events=totals[1], db_query=totals[2]),
    ward_verify=dict(summary=env["VERIFY_LINE"], exit=int(env["VERIFY_RC"]), broken_lines=int(env["VERIFY_BROKEN"] or 0)),
    ward_serve_exit=env["WARD_EXIT"],
    failures=env["FAILURES_STR"].split() if env["FAILURES_STR"] else [],
)
with open(env["JSON"], "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
print()
print(f"JSON result: {env['JSON']}")
EOF

[ ${#FAILURES[@]} -eq 0 ] && [ "$VERIFY_RC" = 0 ] || exit 1
