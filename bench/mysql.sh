#!/usr/bin/env bash
# Ward MySQL gateway benchmark: sysbench against one throwaway MariaDB
#   - directly (MariaDB with TLS; the account REQUIRE SSL),
#   - through Ward (client TLS to Ward, Ward to MariaDB over TLS verify-full, every statement,
#     its parameters and result rows recorded, masked, to SQLite).
# Runs oltp_point_select and oltp_read_only (server-side prepared statements, sysbench's
# default) against each target in turn, and reports tps, qps, latency, the CPU Ward, MariaDB and
# sysbench use per transaction, where the rest of the machine's CPU went, and the store's bytes
# per transaction; then checks the record against sysbench's counts and runs `ward verify`.
# See bench/README.md. Environment knobs:
#   BENCH_SECONDS     sysbench --time per run (default 20)
#   BENCH_THREADS     sysbench --threads (default 8)
#   BENCH_TABLES      sysbench --tables (default 4)   BENCH_TABLE_SIZE  --table-size (default 10000)
#   BENCH_TESTS       sysbench tests (default "oltp_point_select oltp_read_only")
#   BENCH_MIN_RATIO   the target, Ward tps / direct tps (default 0.70): PASS or MISS per test
#   BENCH_STRICT=1    exit non-zero when a test MISSes the target (default: report only)
#   BENCH_WARD_DURABILITY  batched (default) or strict: Ward's [store] durability
#   BENCH_OUT         result directory (default bench/results)
#   WARD_BIN          use this ward binary instead of building one
#   BENCH_TARGET_DIR  cargo target dir for the release build (default ../target-bench next to the repo)
#   BENCH_KEEP=1      keep the temp dir (configs, logs, store) instead of deleting it
set -euo pipefail

SECS=${BENCH_SECONDS:-20}
THREADS=${BENCH_THREADS:-8}
TABLES=${BENCH_TABLES:-4}
TABLE_SIZE=${BENCH_TABLE_SIZE:-10000}
TESTS=${BENCH_TESTS:-oltp_point_select oltp_read_only}
MIN_RATIO=${BENCH_MIN_RATIO:-0.70}
STRICT=${BENCH_STRICT:-0}
DURABILITY=${BENCH_WARD_DURABILITY:-batched}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/results}

# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"

# ---------------------------------------------------------------- prerequisites
find_prog() { # name: PATH, else the directories Debian installs MariaDB to
  local p
  p=$(command -v "$1" 2>/dev/null) && { echo "$p"; return 0; }
  for d in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do [ -x "$d/$1" ] && { echo "$d/$1"; return 0; }; done
  return 1
}
MARIADBD=$(find_prog mariadbd) || die "mariadbd not found (install mariadb-server)"
INSTALL_DB=$(find_prog mariadb-install-db) || die "mariadb-install-db not found (install mariadb-server)"
MARIADB=$(find_prog mariadb) || die "the mariadb client not found (install mariadb-client)"
for t in openssl python3; do command -v "$t" >/dev/null || die "$t not found"; done
if ! command -v sysbench >/dev/null; then
  [ "$(id -u)" = 0 ] || die "install sysbench (apt-get install sysbench)"
  log "installing sysbench"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sysbench >/dev/null
fi
for t in $TESTS; do
  case $t in oltp_point_select | oltp_read_only) ;; *) die "BENCH_TESTS: only oltp_point_select and oltp_read_only (read-only: Ward's record is checked against sysbench's counts)";; esac
done

ward_binary

# ---------------------------------------------------------------- temp dir and cleanup
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ward-bench-mysql.XXXXXX")
chmod 700 "$WORK"
WARD_PID=""
DB_PID=""

cleanup() {
  local rc=$?
  trap - EXIT
  set +e
  if [ -n "$WARD_PID" ] && kill -0 "$WARD_PID" 2>/dev/null; then
    kill -TERM "$WARD_PID"; wait "$WARD_PID" 2>/dev/null
  fi
  if [ -n "$DB_PID" ] && kill -0 "$DB_PID" 2>/dev/null; then
    kill -TERM "$DB_PID" # mariadbd's normal shutdown
    for _ in $(seq 300); do kill -0 "$DB_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$DB_PID" 2>/dev/null && kill -KILL "$DB_PID"
    wait "$DB_PID" 2>/dev/null
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

read -r DB_PORT WARD_PORT < <(python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)
APP_PW=$(openssl rand -hex 12)   # MariaDB account sbtest (direct, and Ward upstream)
WARD_PW=$(openssl rand -hex 12)  # Ward user benchuser
log "workdir $WORK; ports: mariadb $DB_PORT, ward $WARD_PORT"

# ---------------------------------------------------------------- MariaDB (as crates/ward-local/src/mariadb.rs)
DBDIR=$WORK/mariadb
DB_SOCK=$DBDIR/mysqld.sock
mkdir -p "$DBDIR"
# A throwaway CA and a server certificate it signs: ECDSA P-256, like the certificate Ward
# generates for itself, so TLS handshakes cost the same; it names 127.0.0.1 and localhost, so
# Ward can check it (verify-full; rustls takes no CA certificate as a server's own).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=ward-bench CA" \
  -keyout "$DBDIR/ca-key.pem" -out "$DBDIR/ca.pem" >/dev/null 2>&1
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
  -keyout "$DBDIR/server-key.pem" -out "$DBDIR/server.csr" >/dev/null 2>&1
printf 'subjectAltName = IP:127.0.0.1, DNS:localhost\nbasicConstraints = critical, CA:FALSE\nextendedKeyUsage = serverAuth\n' >"$DBDIR/server.ext"
openssl x509 -req -in "$DBDIR/server.csr" -CA "$DBDIR/ca.pem" -CAkey "$DBDIR/ca-key.pem" -CAcreateserial -days 2 \
  -extfile "$DBDIR/server.ext" -out "$DBDIR/server-cert.pem" >/dev/null 2>&1 || die "signing MariaDB's certificate failed"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=sysbench" \
  -keyout "$DBDIR/client-key.pem" -out "$DBDIR/client.csr" >/dev/null 2>&1
printf 'basicConstraints = critical, CA:FALSE\nextendedKeyUsage = clientAuth\n' >"$DBDIR/client.ext"
openssl x509 -req -in "$DBDIR/client.csr" -CA "$DBDIR/ca.pem" -CAkey "$DBDIR/ca-key.pem" -CAcreateserial -days 2 \
  -extfile "$DBDIR/client.ext" -out "$DBDIR/client-cert.pem" >/dev/null 2>&1 || die "signing the client certificate failed"
chmod 600 "$DBDIR/server-key.pem" "$DBDIR/ca-key.pem" "$DBDIR/client-key.pem"
# Every setting in the directory's own my.cnf (like --no-defaults, /etc/mysql stays out).
cat >"$DBDIR/my.cnf" <<EOF
[mysqld]
datadir = $DBDIR/data
socket = $DB_SOCK
pid-file = $DBDIR/mysqld.pid
tmpdir = $DBDIR
log-error = $DBDIR/mariadbd.log
bind-address = 127.0.0.1
port = $DB_PORT
skip-name-resolve
skip-log-bin
max_connections = 200
innodb_buffer_pool_size = 256M
innodb_log_file_size = 64M
innodb_flush_log_at_trx_commit = 0
innodb_doublewrite = 0
character_set_server = utf8mb4
collation_server = utf8mb4_general_ci
ssl_ca = $DBDIR/ca.pem
ssl_cert = $DBDIR/server-cert.pem
ssl_key = $DBDIR/server-key.pem
$( [ "$(id -u)" = 0 ] && echo "user = root" )
EOF
# Run at bootstrap: drop the password-less root accounts for TCP; root@localhost (the socket) stays.
cat >"$DBDIR/bootstrap.sql" <<'EOF'
DELETE FROM mysql.global_priv WHERE User = 'root' AND Host <> 'localhost';
DELETE FROM mysql.proxies_priv WHERE User = 'root' AND Host <> 'localhost';
EOF
(cd "$DBDIR" && "$INSTALL_DB" --defaults-file="$DBDIR/my.cnf" --auth-root-authentication-method=normal \
  --skip-test-db --extra-file="$DBDIR/bootstrap.sql" </dev/null >"$DBDIR/install.log" 2>&1) \
  || die "mariadb-install-db failed: $(tail -10 "$DBDIR/install.log")"
(cd "$DBDIR" && exec "$MARIADBD" --defaults-file="$DBDIR/my.cnf" </dev/null >>"$DBDIR/mariadbd.out" 2>&1) &
DB_PID=$!
db_root() { "$MARIADB" --no-defaults --batch --skip-column-names --user=root --socket="$DB_SOCK" "$@"; }
for _ in $(seq 600); do
  db_root -e "select 1" >/dev/null 2>&1 && break
  kill -0 "$DB_PID" 2>/dev/null || die "mariadbd exited: $(tail -20 "$DBDIR/mariadbd.log" "$DBDIR/mariadbd.out" 2>/dev/null)"
  sleep 0.1
done
db_root -e "select 1" >/dev/null 2>&1 || die "mariadbd did not accept connections in 60 s: $(tail -20 "$DBDIR/mariadbd.log")"
# mariadbd runs in the subshell's place (exec), so $DB_PID is the server itself.
[ "$(cat "$DBDIR/mysqld.pid" 2>/dev/null)" = "$DB_PID" ] || log "note: mysqld.pid ($(cat "$DBDIR/mysqld.pid" 2>/dev/null)) is not $DB_PID"
db_root -e "CREATE DATABASE sbtest;
  CREATE USER 'sbtest'@'127.0.0.1' IDENTIFIED BY '$APP_PW' REQUIRE SSL;
  GRANT ALL ON sbtest.* TO 'sbtest'@'127.0.0.1';" || die "creating the sbtest account failed"
DB_LOG_LINES0=$(wc -l <"$DBDIR/mariadbd.log")

# ---------------------------------------------------------------- Ward
mkdir -p "$WORK/ward"
printf '%s\n' "$APP_PW" >"$WORK/ward/sbtest.pw"
chmod 600 "$WORK/ward/sbtest.pw"
cat >"$WORK/ward/ward.toml" <<EOF
[listen]
mysql = "127.0.0.1:$WARD_PORT"

[store]
path = "ward.db"
durability = "$DURABILITY"

[auth]
allow_plaintext_loopback = false

[[resources]]
name = "bench"
kind = "mysql"
address = "127.0.0.1:$DB_PORT"
database = "sbtest"
user = "sbtest"
password_file = "sbtest.pw"
tls = "verify-full"
ca_file = "$DBDIR/ca.pem"

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
  before=$(grep -c "serving with" "$WORK/ward/ward.log" 2>/dev/null || true)
  "$WARD" serve --config "$WARD_CFG" >>"$WORK/ward/ward.log" 2>&1 &
  WARD_PID=$!
  for _ in $(seq 100); do
    if [ "$(grep -c "serving with" "$WORK/ward/ward.log" 2>/dev/null || true)" -gt "${before:-0}" ] \
      && (exec 3<>"/dev/tcp/127.0.0.1/$WARD_PORT") 2>/dev/null; then
      return 0
    fi
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
store_bytes() { local n=0 f; for f in "$WARD_DB" "$WARD_DB-wal" "$WARD_DB-shm"; do [ -f "$f" ] && n=$((n + $(stat -c %s "$f"))); done; echo "$n"; }

start_ward
WARD_CERT=$WORK/ward/tls/cert.pem
[ -f "$WARD_CERT" ] || die "ward did not write its certificate to $WARD_CERT"

# ---------------------------------------------------------------- clients
# sysbench 1.0.20's --mysql-ssl=on calls mysql_ssl_set() with the fixed names client-key.pem,
# client-cert.pem and cacert.pem in its working directory; with a CA given, the client library
# checks the server's certificate chain against it. So each target gets a directory of its own:
# cacert.pem is the certificate of what it connects to. The client certificate is signed by
# the bench CA: MariaDB asks for one and checks what it gets against its ssl_ca (the account
# itself only says REQUIRE SSL); Ward does not ask.
for t in direct ward; do
  mkdir -p "$WORK/sb-$t"
  cp "$DBDIR/client-key.pem" "$DBDIR/client-cert.pem" "$WORK/sb-$t/"
done
cp "$DBDIR/ca.pem" "$WORK/sb-direct/cacert.pem"
cp "$WARD_CERT" "$WORK/sb-ward/cacert.pem"
target_args() { # target: the sysbench connection options
  if [ "$1" = ward ]; then
    echo "--mysql-port=$WARD_PORT --mysql-user=benchuser --mysql-password=$WARD_PW --mysql-db=bench"
  else
    echo "--mysql-port=$DB_PORT --mysql-user=sbtest --mysql-password=$APP_PW --mysql-db=sbtest"
  fi
}
sb() { # target sysbench-args...: sysbench over TLS to the target, in its directory
  local t=$1; shift
  # shellcheck disable=SC2046
  (cd "$WORK/sb-$t" && timeout -k 5 "${SB_TIMEOUT:-600}" sysbench "$@" --db-driver=mysql --mysql-host=127.0.0.1 $(target_args "$t") --mysql-ssl=on)
}

# Smoke test with the mariadb client, TLS checked (server certificate and name) on every leg:
# the client's cipher, and the upstream leg's (SHOW STATUS through Ward is the session Ward opened).
smoke() { # target port user password database
  "$MARIADB" --no-defaults --batch --skip-column-names -h 127.0.0.1 -P "$2" -u "$3" -p"$4" -D "$5" \
    --ssl --ssl-ca="$WORK/sb-$1/cacert.pem" --ssl-verify-server-cert \
    -e "SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_version', 'Ssl_cipher')" 2>"$WORK/smoke-$1.err" \
    | awk '{printf "%s%s", (NR > 1 ? " " : ""), $2}'
}
TLS_DIRECT=$(smoke direct "$DB_PORT" sbtest "$APP_PW" sbtest) || die "direct TLS login failed: $(cat "$WORK/smoke-direct.err")"
TLS_WARD_UP=$(smoke ward "$WARD_PORT" benchuser "$WARD_PW" bench) || die "TLS login through Ward failed: $(cat "$WORK/smoke-ward.err"; tail -5 "$WORK/ward/ward.log")"
[ -n "$TLS_DIRECT" ] && [ -n "$TLS_WARD_UP" ] || die "no TLS on a leg (direct: '$TLS_DIRECT', Ward to MariaDB: '$TLS_WARD_UP')"
log "TLS: direct $TLS_DIRECT; Ward to MariaDB $TLS_WARD_UP"

log "sysbench prepare: $TABLES tables x $TABLE_SIZE rows (direct)"
sb direct oltp_read_only --tables="$TABLES" --table-size="$TABLE_SIZE" --threads="$(( TABLES < 4 ? TABLES : 4 ))" prepare \
  >"$WORK/prepare.log" 2>&1 || die "sysbench prepare failed: $(tail -10 "$WORK/prepare.log")"
# sysbench exits 0 even when its prepare could not connect: count the rows.
for i in $(seq "$TABLES"); do
  n=$(db_root -e "SELECT count(*) FROM sbtest.sbtest$i" 2>/dev/null || true)
  [ "$n" = "$TABLE_SIZE" ] || die "sysbench prepare: sbtest$i has '${n:-no table}' rows, not $TABLE_SIZE: $(grep -m3 FATAL "$WORK/prepare.log")"
done
db_root -e "ANALYZE TABLE $(seq -s, -f 'sbtest.sbtest%g' 1 "$TABLES")" >/dev/null

# Ward runs one process per Ward run: stopping it flushes the recorder and closes the store, so
# the store's growth over the run is exact, and CPU and peak RSS are the run's alone.
stop_ward
STORE0=$(store_bytes)

# ---------------------------------------------------------------- runs
RESULTS=$WORK/results.tsv # test target rc t0_ns t1_ns ward_ticks db_ticks store_bytes ward_hwm_kb build_running sysbench_cpu_s ward_pid ward_ticks_at_t1
: >"$RESULTS"
FAILURES=()
DEADLINE=$((SECS + 60))
CLK_TCK=$(getconf CLK_TCK)
ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}' || true; } # utime + stime
# A snapshot of where the machine's CPU went so far: /proc/stat's "cpu" line (all CPUs), and
# utime + stime of every process, so the report can say what else ran during a run.
cat >"$WORK/cpu_snap.py" <<'PY'
import os, sys
lines = []
with open("/proc/stat") as f:
    lines.append(f.readline().strip())
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
    except OSError:
        continue
    rest = st[st.rindex(")") + 2:].split()
    lines.append(f"{pid}\t{st[st.index('(') + 1:st.rindex(')')]}\t{int(rest[11]) + int(rest[12])}")
with open(sys.argv[1], "w") as f:
    f.write("\n".join(lines) + "\n")
PY
cpu_snap() { python3 "$WORK/cpu_snap.py" "$1"; }
# CPU seconds of this shell's waited-for children so far (sysbench, its timeout and subshell), from
# bash's `times` run in this shell itself (a subshell would start from zero).
children_cpu() { # -> CHILD_CPU; call it directly, not in $(...)
  times >"$WORK/times.out"
  CHILD_CPU=$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%.3f", t }' "$WORK/times.out")
}
busy() { if pgrep -x rustc >/dev/null 2>&1 || pgrep -f 'cargo (build|test|clippy|run|nextest)|cargo-nextest' >/dev/null 2>&1; then echo yes; else echo no; fi; }

run_sysbench() { # test target
  local test=$1 t=$2 base=$WORK/run-$1-$2 rc=0 t0 t1 w0="" w1="" d0 d1 s0 s1 bz0 bz store="" hwm="" wpid="" we=""
  if [ "$t" = ward ]; then
    start_ward
    # One login first, so the run's logins find the password checked (Ward runs argon2id once per
    # password, then remembers a keyed digest of it), as a long-running Ward would; its session
    # starts before the run's window. Then the peak RSS is reset (Linux >= 4.0).
    smoke ward "$WARD_PORT" benchuser "$WARD_PW" bench >/dev/null || die "warm-up login through Ward failed: $(cat "$WORK/smoke-ward.err")"
    echo 5 >"/proc/$WARD_PID/clear_refs" 2>/dev/null || true
    w0=$(ticks "$WARD_PID")
    wpid=$WARD_PID
  fi
  bz0=$(busy)
  cpu_snap "$base.cpu0"
  d0=$(ticks "$DB_PID")
  children_cpu; s0=$CHILD_CPU
  t0=$(date +%s%N)
  # A hard deadline, so a hang is reported instead of blocking (sysbench's --forced-shutdown is off).
  SB_TIMEOUT=$DEADLINE sb "$t" "$test" --tables="$TABLES" --table-size="$TABLE_SIZE" --threads="$THREADS" \
    --time="$SECS" --report-interval=0 --percentile=95 run >"$base.out" 2>"$base.err" || rc=$?
  t1=$(date +%s%N)
  children_cpu; s1=$CHILD_CPU
  d1=$(ticks "$DB_PID")
  [ -n "$wpid" ] && we=$(ticks "$WARD_PID")
  cpu_snap "$base.cpu1"
  if [ "$t" = ward ]; then
    sleep 1 # the recorder writes the last events after the client is done: count its CPU too
    w1=$(ticks "$WARD_PID")
    hwm=$(awk '$1 == "VmHWM:" {print $2}' "/proc/$WARD_PID/status" 2>/dev/null || true)
  fi
  bz=$(busy); [ "$bz0" = yes ] && bz=yes
  [ "$t" = ward ] && { stop_ward; store=$(store_bytes); }
  if [ "$rc" != 0 ] || ! grep -q 'transactions:' "$base.out"; then
    FAILURES+=("$test/$t")
    log "sysbench $test via $t FAILED (rc=$rc$([ "$rc" = 124 ] && echo ", timeout ${DEADLINE}s")); output tail:"
    tail -n 15 "$base.out" "$base.err" | sed 's/^/    /' >&2
    if [ "$t" = ward ]; then log "ward log tail:"; tail -20 "$WORK/ward/ward.log" | sed 's/^/    /' >&2; fi
  elif [ -s "$base.err" ]; then
    log "sysbench $test via $t stderr (not fatal):"; head -10 "$base.err" | sed 's/^/    /' >&2
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$test" "$t" "$rc" "$t0" "$t1" \
    "$([ -n "$w0" ] && [ -n "$w1" ] && echo $((w1 - w0)))" "$((d1 - d0))" \
    "$store" "$hwm" "$bz" "$(awk -v a="$s0" -v b="$s1" 'BEGIN {printf "%.3f", b - a}')" "$wpid" \
    "$([ -n "$we" ] && echo $((we - w0)))" >>"$RESULTS"
  log "$(printf '%-17s %-6s %s' "$test" "$t" "$(sed -n 's/^ *transactions: *\([0-9]*\) *(\([0-9.]*\) per sec.)/tx=\1 tps=\2/p' "$base.out")")"
}

# Targets interleaved within each test so drift (other load on the machine) hits them alike.
for test in $TESTS; do
  for t in direct ward; do
    run_sysbench "$test" "$t"
  done
done

# ---------------------------------------------------------------- verify, logs
VERIFY_RC=0
"$WARD" verify --config "$WARD_CFG" >"$WORK/verify.out" 2>&1 || VERIFY_RC=$?
VERIFY_LINE=$(grep -E 'session\(s\):' "$WORK/verify.out" | tail -1 || true)
[ -n "$VERIFY_LINE" ] || VERIFY_LINE="(no summary line) $(tail -3 "$WORK/verify.out" | tr '\n' ' ')"
# Ward logs JSON lines when its output is not a terminal (plain lines otherwise).
WARD_WARNINGS=$(sed 's/\x1b\[[0-9;]*m//g' "$WORK/ward/ward.log" | grep -E '"level":"(WARN|ERROR)"|^[0-9T:.Z-]+ +(WARN|ERROR) ' || true)
DB_WARNINGS=$(tail -n +"$((DB_LOG_LINES0 + 1))" "$DBDIR/mariadbd.log" | grep -E '\[(Warning|ERROR)\]' || true)

# ---------------------------------------------------------------- report
mkdir -p "$OUT"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
JSON=$OUT/mysql-$STAMP.json
GIT_COMMIT=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$GIT_COMMIT" != unknown ] && [ -n "$(cd "$ROOT" && GIT_OPTIONAL_LOCKS=0 git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  GIT_COMMIT="$GIT_COMMIT+uncommitted changes"
fi
[ -n "${WARD_BIN:-}" ] && GIT_COMMIT="$GIT_COMMIT (WARD_BIN=$WARD_BIN, may differ)"
export DB_PID RESULTS WORK WARD_DB JSON SECS THREADS TABLES TABLE_SIZE MIN_RATIO STRICT DURABILITY CLK_TCK STORE0
export GIT_COMMIT VERIFY_RC VERIFY_LINE WARD_EXIT WARD_WARNINGS DB_WARNINGS TLS_DIRECT TLS_WARD_UP
export WARD_VERSION="$("$WARD" --version 2>/dev/null || echo unknown)"
export DB_VERSION="$("$MARIADBD" --version 2>/dev/null | sed 's/^.*Ver //' | head -1)"
export SYSBENCH_VERSION="$(sysbench --version 2>/dev/null | head -1)"
export FAILURES_STR="${FAILURES[*]:-}"
REPORT_RC=0
python3 - <<'EOF' || REPORT_RC=$?
import json, os, re, sqlite3, datetime, platform, sys

env = os.environ
tck = int(env["CLK_TCK"])

def parse_sysbench(path):
    """sysbench 1.0's final report."""
    try:
        text = open(path).read()
    except OSError:
        return None
    def num(pattern, cast=float):
        m = re.search(pattern, text, re.M)
        return cast(m.group(1)) if m else None
    r = dict(read=num(r"^\s*read:\s+(\d+)", int), write=num(r"^\s*write:\s+(\d+)", int),
             other=num(r"^\s*other:\s+(\d+)", int), total=num(r"^\s*total:\s+(\d+)$", int),
             transactions=num(r"^\s*transactions:\s+(\d+)", int), tps=num(r"^\s*transactions:\s+\d+\s+\(([\d.]+) per sec"),
             queries=num(r"^\s*queries:\s+(\d+)", int), qps=num(r"^\s*queries:\s+\d+\s+\(([\d.]+) per sec"),
             ignored_errors=num(r"^\s*ignored errors:\s+(\d+)", int), reconnects=num(r"^\s*reconnects:\s+(\d+)", int),
             total_time_s=num(r"^\s*total time:\s+([\d.]+)s"),
             lat_min_ms=num(r"^\s*min:\s+([\d.]+)"), lat_avg_ms=num(r"^\s*avg:\s+([\d.]+)"),
             lat_max_ms=num(r"^\s*max:\s+([\d.]+)"), lat_p95_ms=num(r"^\s*95th percentile:\s+([\d.]+)"))
    return r if r["transactions"] is not None else None

def machine(base, wall_ns, ours, ours_s):
    """Where all CPUs' time went during a run, in cores (CPU seconds per second of the run):
    busy (user, nice, system, irq, softirq), steal (the hypervisor's), our processes (sysbench,
    MariaDB, Ward), other processes alive at both ends of the run (the busiest named), and the
    rest: processes that started or ended within the run, and kernel work (softirq) that a
    tick found on an idle CPU, which this kernel's tick accounting charges to no process."""
    def snap(path):
        with open(path) as f:
            head = f.readline().split()
            procs = {}
            for line in f:
                pid, comm, t = line.rstrip("\n").split("\t")
                procs[pid] = (comm, int(t))
        return [int(x) for x in head[1:]], procs
    try:
        (c0, p0), (c1, p1) = snap(base + ".cpu0"), snap(base + ".cpu1")
    except (OSError, ValueError):
        return None
    d = [b - a for a, b in zip(c0, c1)]
    wall = wall_ns / 1e9
    cores = lambda ticks: ticks / tck / wall
    user, nice, system, idle, iowait, irq, softirq, steal = (d + [0] * 8)[:8]
    busy = user + nice + system + irq + softirq
    others = {}
    for pid, (comm, t) in p1.items():
        if pid in ours or pid not in p0 or p0[pid][0] != comm:
            continue
        if t - p0[pid][1] > 0:
            others[comm] = others.get(comm, 0) + t - p0[pid][1]
    other_ticks = sum(others.values())
    top = sorted(others.items(), key=lambda kv: -kv[1])[:3]
    return dict(cpus_busy=cores(busy), steal=cores(steal), softirq=cores(softirq), ours=ours_s / wall,
                other_processes=cores(other_ticks), rest=cores(busy) - ours_s / wall - cores(other_ticks),
                top_others={k: round(cores(v), 3) for k, v in top})

rows = []
with open(env["RESULTS"]) as f:
    for line in f:
        test, target, rc, t0, t1, wt, dt, store, hwm, bz, sbt, wpid, wte = line.rstrip("\n").split("\t")
        ward_s = int(wt) / tck if wt else None
        rows.append(dict(test=test, target=target, rc=int(rc), t0=int(t0), t1=int(t1),
                         ward_cpu_s=ward_s, mariadb_cpu_s=int(dt) / tck, sysbench_cpu_s=float(sbt),
                         machine=machine(os.path.join(env["WORK"], f"run-{test}-{target}"), int(t1) - int(t0),
                                         {env["DB_PID"], wpid}, float(sbt) + int(dt) / tck + (int(wte) / tck if wte else 0)),
                         store_bytes_after=int(store) if store else None,
                         ward_peak_rss_kb=int(hwm) if hwm else None, build_running=bz == "yes",
                         sysbench=parse_sysbench(os.path.join(env["WORK"], f"run-{test}-{target}.out"))))

# The store's growth over each Ward run (Ward was stopped, so the WAL is checkpointed).
prev = int(env["STORE0"])
for r in rows:
    if r["target"] == "ward" and r["store_bytes_after"] is not None:
        r["store_bytes"] = r["store_bytes_after"] - prev
        prev = r["store_bytes_after"]

# Ward's record of each run: the sessions started inside the run's window.
db = sqlite3.connect(f"file:{env['WARD_DB']}?mode=ro", uri=True)
def classify(text):
    t = text.strip().upper()
    if t in ("BEGIN", "COMMIT"):
        return "other"
    if t.startswith("SELECT"):
        return "read"
    return "unexpected"
def recorded(t0, t1):
    sessions = db.execute("SELECT count(*) FROM sessions WHERE started_at BETWEEN ?1 AND ?2", (t0, t1)).fetchone()[0]
    kinds, payload_bytes, events = {}, 0, 0
    for kind, n, size in db.execute("""SELECT e.kind, count(*), sum(length(e.payload)) FROM events e
                                       JOIN sessions s ON s.id = e.session_id
                                       WHERE s.started_at BETWEEN ?1 AND ?2 GROUP BY e.kind""", (t0, t1)):
        kinds[kind] = n
        payload_bytes += size
        events += n
    q = dict(read=0, other=0, unexpected=0, executions=0, with_params=0, undecoded=0)
    unexpected = {}
    for payload, compressed in db.execute("""SELECT e.payload, e.compressed FROM events e
                                             JOIN sessions s ON s.id = e.session_id
                                             WHERE s.started_at BETWEEN ?1 AND ?2 AND e.kind = 'db.query'""", (t0, t1)):
        if compressed:  # never for statements this small
            q["undecoded"] += 1
            continue
        d = json.loads(bytes(payload))
        c = classify(d.get("text", ""))
        q[c] += 1
        if c == "unexpected":
            unexpected[d.get("text", "")[:80]] = unexpected.get(d.get("text", "")[:80], 0) + 1
        if d.get("statement") is not None:
            q["executions"] += 1
        if d.get("params"):
            q["with_params"] += 1
    outcomes = [o for (o,) in db.execute("""SELECT x.outcome FROM sessions s JOIN session_ends x ON x.session_id = s.id
                                            WHERE s.started_at BETWEEN ?1 AND ?2""", (t0, t1))]
    return dict(sessions=sessions, events=events, payload_bytes=payload_bytes, kinds=kinds,
                db_query=kinds.get("db.query", 0), queries=q, unexpected_statements=unexpected,
                outcomes={o: outcomes.count(o) for o in sorted(set(outcomes))})
for r in rows:
    if r["target"] == "ward":
        r["ward_recorded"] = recorded(r["t0"], r["t1"])
totals = db.execute("""SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM events),
                              (SELECT count(*) FROM events WHERE kind = 'db.query')""").fetchone()
db.close()

by = {(r["test"], r["target"]): r for r in rows}
tests = []
for r in rows:
    if r["test"] not in tests:
        tests.append(r["test"])
def sbv(test, target, key):
    r = by.get((test, target))
    return r["sysbench"][key] if r and r["sysbench"] else None
f0 = lambda v: f"{v:,.0f}" if v is not None else "FAIL"
f2 = lambda v: f"{v:.2f}" if v is not None else "-"
min_ratio = float(env["MIN_RATIO"])

print()
print(f"## Ward MySQL benchmark: sysbench --threads={env['THREADS']} --time={env['SECS']}, {env['TABLES']} tables x {env['TABLE_SIZE']} rows,"
      " server-side prepared statements, every client over TLS")
print()
print(f"{env['WARD_VERSION']} (tree {env['GIT_COMMIT']}); MariaDB {env['DB_VERSION']}; {env['SYSBENCH_VERSION']}; {os.cpu_count()} CPUs;"
      f" Ward durability {env['DURABILITY']}")
print(f"TLS: client to MariaDB {env['TLS_DIRECT']}; Ward to MariaDB (verify-full) {env['TLS_WARD_UP']}; client to Ward: Ward's certificate, checked")
print()
print(f"| test | direct tps | ward tps | ward/direct | target ≥ {min_ratio:.2f} | direct qps | ward qps |")
print("|---|---:|---:|---:|---|---:|---:|")
verdict = {}
for t in tests:
    d, w = sbv(t, "direct", "tps"), sbv(t, "ward", "tps")
    ratio = w / d if d and w else None
    verdict[t] = "PASS" if ratio is not None and ratio >= min_ratio else "MISS"
    print(f"| {t} | {f0(d)} | {f0(w)} | {f2(ratio)} | {verdict[t]} | {f0(sbv(t, 'direct', 'qps'))} | {f0(sbv(t, 'ward', 'qps'))} |")
print()
print("Latency per transaction (sysbench, ms); CPU per transaction (utime + stime over the run: Ward and MariaDB from /proc/PID/stat,"
      " sysbench from bash's `times`, µs); where the machine's CPU went, in cores:")
print()
print("| test | target | avg ms | p95 ms | max ms | Ward CPU µs/tx | MariaDB CPU µs/tx | sysbench CPU µs/tx | cores busy: all / these three / other processes / rest | steal | store bytes/tx | build running |")
print("|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|")
for r in rows:
    s = r["sysbench"] or {}
    tx = s.get("transactions")
    per = lambda v: f"{v / tx * 1e6:,.0f}" if v is not None and tx else "-"
    store = f"{r['store_bytes'] / tx:,.0f}" if r.get("store_bytes") is not None and tx else "-"
    m = r["machine"]
    busy = f"{m['cpus_busy']:.2f} / {m['ours']:.2f} / {m['other_processes']:.2f} / {m['rest']:.2f}" if m else "-"
    steal = f"{m['steal']:.2f}" if m else "-"
    print(f"| {r['test']} | {r['target']} | {f2(s.get('lat_avg_ms'))} | {f2(s.get('lat_p95_ms'))} | {f2(s.get('lat_max_ms'))}"
          f" | {per(r['ward_cpu_s'])} | {per(r['mariadb_cpu_s'])} | {per(r['sysbench_cpu_s'])} | {busy}"
          f" | {steal} | {store} | {'yes' if r['build_running'] else 'no'} |")
print()
print("(Cores busy: CPU seconds per second of the run, over both CPUs, from /proc/stat and every process's /proc/PID/stat."
      " 'Rest' is kernel work a tick found on an otherwise idle CPU (softirq: loopback TCP) and processes that"
      " started or ended during the run; the kernel's tick accounting charges the former to no process.)")
for r in rows:
    m = r["machine"]
    if m and m["top_others"] and m["other_processes"] >= 0.05:
        print(f"Other processes during {r['test']} via {r['target']}: "
              + ", ".join(f"{k} {v:.2f}" for k, v in m["top_others"].items()) + " cores")
print()

# The record against sysbench's counts. sysbench counts every statement it executes: "read" the
# SELECTs, "other" BEGIN and COMMIT (oltp_read_only; oltp_point_select has neither). Its
# COM_STMT_PREPARE and COM_STMT_CLOSE (per connection), the login and COM_QUIT are not
# statements it counts, and Ward records no db.query for them either.
print("Ward's record of each run (sessions started during the run, counted after Ward stopped and flushed):")
print()
print("| test | sysbench read / other / total | db.query SELECT / BEGIN+COMMIT / other | db.query − total | with params | db.result | db.error | sessions | events | payload MB | store MB | check |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
record_bad = []
for r in rows:
    if r["target"] != "ward":
        continue
    s, rec = r["sysbench"], r["ward_recorded"]
    q = rec["queries"]
    if s is None:
        check = "no sysbench report"
        record_bad.append(r["test"])
        diff = None
    else:
        diff = rec["db_query"] - s["total"]
        problems = []
        if q["read"] != s["read"]:
            problems.append(f"SELECTs {q['read']} ≠ read {s['read']}")
        if q["other"] != s["other"]:
            problems.append(f"BEGIN/COMMIT {q['other']} ≠ other {s['other']}")
        if rec["kinds"].get("db.result", 0) != s["read"]:
            problems.append(f"db.result {rec['kinds'].get('db.result', 0)} ≠ read {s['read']}")
        if q["unexpected"] or q["undecoded"]:
            problems.append(f"{q['unexpected'] + q['undecoded']} statements sysbench did not count")
        if rec["kinds"].get("db.error", 0):
            problems.append(f"{rec['kinds']['db.error']} db.error")
        if rec["sessions"] != int(env["THREADS"]):
            problems.append(f"{rec['sessions']} sessions, not {env['THREADS']}")
        check = "ok" if not problems else "; ".join(problems)
        if problems:
            record_bad.append(r["test"])
    store_mb = f"{r['store_bytes'] / 1e6:.1f}" if r.get("store_bytes") is not None else "-"
    print(f"| {r['test']} | {s['read'] if s else '-'} / {s['other'] if s else '-'} / {s['total'] if s else '-'}"
          f" | {q['read']} / {q['other']} / {q['unexpected'] + q['undecoded']} | {diff if diff is not None else '-'} | {q['with_params']}"
          f" | {rec['kinds'].get('db.result', 0)} | {rec['kinds'].get('db.error', 0)} | {rec['sessions']} | {rec['events']}"
          f" | {rec['payload_bytes'] / 1e6:.1f} | {store_mb} | {check} |")
    if rec["unexpected_statements"]:
        print(f"|  | statements sysbench did not count: {rec['unexpected_statements']} |||||||||||")
print()
print("(Each transaction is one prepared SELECT in oltp_point_select; in oltp_read_only BEGIN, 10 point SELECTs,"
      " 4 range SELECTs and COMMIT, all prepared. Ward records every COM_STMT_EXECUTE as a db.query with its"
      " parameters, so db.query must equal sysbench's total, SELECT for SELECT and BEGIN/COMMIT for other,"
      " and each SELECT has its db.result. sysbench's COM_STMT_PREPARE and COM_STMT_CLOSE per connection, the"
      " logins and COM_QUIT are not statements: sysbench does not count them, and Ward records no db.query for them.)")
kinds_all = {}
for r in rows:
    for k, n in r.get("ward_recorded", {}).get("kinds", {}).items():
        kinds_all[k] = kinds_all.get(k, 0) + n
print(f"Event kinds over the Ward runs: {', '.join(f'{k} {n:,}' for k, n in sorted(kinds_all.items()))}.")
print(f"Store totals: {totals[0]} sessions, {totals[1]:,} events, {totals[2]:,} db.query (including the smoke test's session).")
peaks = [r["ward_peak_rss_kb"] for r in rows if r.get("ward_peak_rss_kb")]
if peaks:
    print(f"Ward peak RSS (VmHWM, a fresh process per run): {max(peaks) / 1024:.1f} MB.")
for r in rows:
    s = r["sysbench"]
    if s and (s["ignored_errors"] or s["reconnects"]):
        print(f"NOTE: {r['test']} via {r['target']}: {s['ignored_errors']} ignored errors, {s['reconnects']} reconnects.")
if any(r["build_running"] for r in rows):
    print("NOTE: a build (rustc/cargo) was running on the machine during some runs (see 'build running'); numbers are noisy.")
ww = [l for l in env["WARD_WARNINGS"].splitlines() if l.strip()]
dw = [l for l in env["DB_WARNINGS"].splitlines() if l.strip()]
print(f"WARN/ERROR lines in ward's log: {len(ww)}" + "".join(f"\n    {l[:200]}" for l in ww[:10]))
print(f"Warning/ERROR lines in mariadbd's log after setup: {len(dw)}" + "".join(f"\n    {l[:200]}" for l in dw[:10]))
print(f"ward verify: {env['VERIFY_LINE']} (exit {env['VERIFY_RC']})")
print(f"ward serve exit after SIGTERM: {env['WARD_EXIT']}")
if record_bad:
    print(f"RECORD MISMATCH: {' '.join(record_bad)} (see the check column)")
misses = [t for t in tests if verdict[t] == "MISS"]
if misses:
    print(f"Below the {min_ratio:.2f}× target: {' '.join(misses)}" + (" (BENCH_STRICT=1: failing)" if env["STRICT"] == "1" else " (reported only; BENCH_STRICT=1 fails on it)"))
if env["FAILURES_STR"]:
    print(f"FAILED runs: {env['FAILURES_STR']} (see the messages above)")

result = dict(
    timestamp=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    host=dict(cpus=os.cpu_count(), kernel=platform.release()),
    versions=dict(ward=env["WARD_VERSION"], tree=env["GIT_COMMIT"], mariadb=env["DB_VERSION"], sysbench=env["SYSBENCH_VERSION"]),
    params=dict(seconds=int(env["SECS"]), threads=int(env["THREADS"]), tables=int(env["TABLES"]),
                table_size=int(env["TABLE_SIZE"]), prepared_statements=True, min_ratio=min_ratio,
                tls_direct=env["TLS_DIRECT"], tls_ward_upstream=env["TLS_WARD_UP"], ward_upstream_tls="verify-full",
                ward_durability=env["DURABILITY"]),
    runs=[{k: v for k, v in r.items() if k not in ("t0", "t1")} | {"duration_s": round((r["t1"] - r["t0"]) / 1e9, 2)} for r in rows],
    ratios={t: dict(ward_vs_direct_tps=(sbv(t, "ward", "tps") / sbv(t, "direct", "tps")) if sbv(t, "ward", "tps") and sbv(t, "direct", "tps") else None,
                    verdict=verdict[t]) for t in tests},
    record_mismatch=record_bad,
    ward_store_totals=dict(sessions=totals[0], events=totals[1], db_query=totals[2]),
    ward_verify=dict(summary=env["VERIFY_LINE"], exit=int(env["VERIFY_RC"])),
    ward_serve_exit=env["WARD_EXIT"],
    ward_log_warnings=ww, mariadb_log_warnings=dw,
    failures=env["FAILURES_STR"].split() if env["FAILURES_STR"] else [],
)
with open(env["JSON"], "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
print()
print(f"JSON result: {env['JSON']}")
# 2: the record does not match sysbench's counts; 3: a test is below the target (BENCH_STRICT=1).
sys.exit(2 if record_bad else 3 if misses and env["STRICT"] == "1" else 0)
EOF

if [ "$VERIFY_RC" != 0 ]; then log "ward verify FAILED:"; tail -20 "$WORK/verify.out" | sed 's/^/    /' >&2; fi
[ ${#FAILURES[@]} -eq 0 ] && [ "$VERIFY_RC" = 0 ] && [ "$REPORT_RC" = 0 ] && [ "$WARD_EXIT" = 0 ] || exit 1
