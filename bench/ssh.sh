#!/usr/bin/env bash
# Ward SSH gateway benchmark: OpenSSH against one throwaway sshd on loopback
#   - directly (public key),
#   - through Ward's SSH listener (Ward user password via SSH_ASKPASS; Ward logs in upstream with
#     its own key and records every output chunk, masked, to SQLite).
# Measures bulk throughput (ssh 'head -c N /dev/zero'), a scp download and upload of N random
# bytes (sha256 checked), and the echo round trip of single keystrokes on a PTY.
# See bench/README.md. Environment knobs:
#   BENCH_BYTES      bytes for the bulk stream and the scp file (default 500000000)
#   BENCH_ECHO_N     timed echo round trips per target (default 200; 10 untimed warm-up first)
#   BENCH_REPEAT     run every measurement this many times (default 1); the table shows the best
#                    (fastest) run for throughput and scp, and the run with the lowest p50 for echo
#   BENCH_OUT        result directory (default bench/results)
#   WARD_BIN         use this ward binary instead of building one
#   BENCH_TARGET_DIR cargo target dir for the release build (default ../target-bench next to the repo)
#   BENCH_KEEP=1     keep the temp dir (logs, store) instead of deleting it
set -euo pipefail

BYTES=${BENCH_BYTES:-500000000}
ECHO_N=${BENCH_ECHO_N:-200}
ECHO_WARMUP=10
REPEAT=${BENCH_REPEAT:-1}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/results}

# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"

# ---------------------------------------------------------------- prerequisites
SSHD=""
for p in /usr/sbin/sshd /usr/bin/sshd; do [ -x "$p" ] && { SSHD=$p; break; }; done
[ -n "$SSHD" ] || die "OpenSSH's sshd is not installed (apt-get install openssh-server)"
for t in ssh scp ssh-keygen python3 sha256sum; do command -v "$t" >/dev/null || die "$t not found"; done
[ "$(id -u)" = 0 ] || die "run as root (sshd needs it, and the benchmark logs in as root)"

ward_binary

# ---------------------------------------------------------------- temp dir and cleanup
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ward-bench-ssh.XXXXXX")
chmod 755 "$WORK"
WARD_PID=""
SSHD_PID=""

cleanup() {
  local rc=$?
  trap - EXIT
  set +e
  if [ -n "$WARD_PID" ] && kill -0 "$WARD_PID" 2>/dev/null; then
    kill -TERM "$WARD_PID"; wait "$WARD_PID" 2>/dev/null
  fi
  if [ -n "$SSHD_PID" ] && kill -0 "$SSHD_PID" 2>/dev/null; then
    kill -TERM "$SSHD_PID"; wait "$SSHD_PID" 2>/dev/null
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

read -r SSHD_PORT WARD_PORT < <(python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)
WARD_PW=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
log "workdir $WORK; ports: sshd $SSHD_PORT, ward $WARD_PORT"

# Free space: the source file, one copy at a time, and Ward's store; BYTES * (2 + 2 * REPEAT)
# leaves room for a store that holds whole streams.
need_kb=$(( BYTES / 1024 * (2 + 2 * REPEAT) ))
avail_kb=$(df -Pk "$WORK" | awk 'NR == 2 {print $4}')
[ "$avail_kb" -gt "$need_kb" ] || die "need about $((need_kb / 1024)) MiB free in $WORK, have $((avail_kb / 1024)) MiB"

# ---------------------------------------------------------------- sshd (as ward-testkit's sshd.rs)
mkdir -p "$WORK/sshd" "$WORK/remote" /run/sshd
ssh-keygen -q -t ed25519 -N "" -C bench-host -f "$WORK/sshd/host_key"
ssh-keygen -q -t ed25519 -N "" -C bench-client -f "$WORK/client_key"
HOST_KEY=$(awk '{print $1" "$2}' "$WORK/sshd/host_key.pub")
cat "$WORK/client_key.pub" >"$WORK/sshd/authorized_keys"
cat >"$WORK/sshd/sshd_config" <<EOF
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $WORK/sshd/host_key
AuthorizedKeysFile $WORK/sshd/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
PidFile $WORK/sshd/sshd.pid
Subsystem sftp internal-sftp
LogLevel VERBOSE
EOF

# ---------------------------------------------------------------- Ward
mkdir -p "$WORK/ward"
cat >"$WORK/ward/ward.toml" <<EOF
[listen]
ssh = "127.0.0.1:$WARD_PORT"

[store]
path = "ward.db"

[[resources]]
name = "host"
kind = "ssh"
address = "127.0.0.1:$SSHD_PORT"
user = "root"
host_key = "$HOST_KEY"

[[grants]]
group = "bench"
resources = ["host"]
EOF
WARD_CFG=$WORK/ward/ward.toml
WARD_DB=$WORK/ward/ward.db
printf '%s\n' "$WARD_PW" | "$WARD" users add benchuser --groups bench --password-stdin --config "$WARD_CFG" >/dev/null
"$WARD" serve --config "$WARD_CFG" >"$WORK/ward/ward.log" 2>&1 &
WARD_PID=$!
for _ in $(seq 100); do
  grep -q "SSH listener on" "$WORK/ward/ward.log" 2>/dev/null && break
  kill -0 "$WARD_PID" 2>/dev/null || die "ward exited: $(tail -20 "$WORK/ward/ward.log")"
  sleep 0.1
done
grep -q "SSH listener on" "$WORK/ward/ward.log" || die "ward did not start: $(tail -20 "$WORK/ward/ward.log")"
[ -f "$WORK/ward/ssh_client_key.pub" ] || die "ward did not write ssh_client_key.pub"
cat "$WORK/ward/ssh_client_key.pub" >>"$WORK/sshd/authorized_keys" # Ward's own key logs in upstream

"$SSHD" -D -e -f "$WORK/sshd/sshd_config" </dev/null >"$WORK/sshd/sshd.log" 2>&1 &
SSHD_PID=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$SSHD_PORT") 2>/dev/null && break
  kill -0 "$SSHD_PID" 2>/dev/null || die "sshd exited: $(cat "$WORK/sshd/sshd.log")"
  sleep 0.1
done

# ---------------------------------------------------------------- clients
cat >"$WORK/askpass" <<EOF
#!/bin/sh
printf '%s\n' '$WARD_PW'
EOF
chmod 700 "$WORK/askpass"
COMMON=(-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR)
DIRECT_OPTS=("${COMMON[@]}" -o User=root -o IdentityFile="$WORK/client_key" -o IdentitiesOnly=yes
  -o BatchMode=yes -o PasswordAuthentication=no)
WARD_OPTS=("${COMMON[@]}" -o User=benchuser:host -o PreferredAuthentications=password
  -o PubkeyAuthentication=no -o NumberOfPasswordPrompts=1)
target_env() { # target command... : runs command with the askpass environment for ward
  local t=$1; shift
  if [ "$t" = ward ]; then
    SSH_ASKPASS="$WORK/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0 "$@"
  else
    "$@"
  fi
}
ssh_args() { # target: sets SSH_ARGS / SCP_ARGS (port and options) for direct or ward
  if [ "$1" = ward ]; then
    SSH_ARGS=(-p "$WARD_PORT" "${WARD_OPTS[@]}"); SCP_ARGS=(-P "$WARD_PORT" "${WARD_OPTS[@]}")
  else
    SSH_ARGS=(-p "$SSHD_PORT" "${DIRECT_OPTS[@]}"); SCP_ARGS=(-P "$SSHD_PORT" "${DIRECT_OPTS[@]}")
  fi
}

for t in direct ward; do
  ssh_args "$t"
  got=$(target_env "$t" timeout 60 ssh "${SSH_ARGS[@]}" 127.0.0.1 'echo ok' </dev/null 2>"$WORK/smoke-$t.err") \
    || die "smoke test via $t failed: $(cat "$WORK/smoke-$t.err"; tail -5 "$WORK/ward/ward.log")"
  [ "$got" = ok ] || die "smoke test via $t: unexpected output '$got'"
  # Which cipher/MAC/kex the client negotiated (through Ward: client <-> Ward only).
  target_env "$t" timeout 60 ssh -v -o LogLevel=DEBUG1 "${SSH_ARGS[@]}" 127.0.0.1 true </dev/null 2>"$WORK/cipher-$t.log" >/dev/null || true
  printf -v "CIPHER_${t^^}" '%s' "$(sed -n 's/.*kex: server->client cipher: \([^ ]*\) MAC: \([^ ]*\).*/\1 (MAC \2)/p' "$WORK/cipher-$t.log" | head -1)"
  printf -v "KEX_${t^^}" '%s' "$(sed -n 's/.*kex: algorithm: \([^ ]*\).*/\1/p' "$WORK/cipher-$t.log" | head -1)"
done
log "both targets answer; client cipher direct: ${CIPHER_DIRECT:-?} / ${KEX_DIRECT:-?}, via ward: ${CIPHER_WARD:-?} / ${KEX_WARD:-?}"

# ---------------------------------------------------------------- test data
log "generating $BYTES random bytes"
head -c "$BYTES" /dev/urandom >"$WORK/data.bin"
SRC_SHA=$(sha256sum "$WORK/data.bin" | awk '{print $1}')

# ---------------------------------------------------------------- runs
RESULTS=$WORK/results.tsv # rep test target value(seconds or json) status t0_ns t1_ns build-running ward-peak-rss-kb ward-cpu-s
: >"$RESULTS"
FAILURES=()
DEADLINE=$(( 120 + BYTES / 2000000 )) # generous: 2 MB/s plus two minutes
# Another build on the machine (rustc or cargo running), checked before and after every run.
busy() { if pgrep -x rustc >/dev/null 2>&1 || pgrep -f 'cargo (build|test|clippy|run|nextest)|cargo-nextest' >/dev/null 2>&1; then echo yes; else echo no; fi; }
BUSY0=no
ward_hwm() { awk '$1 == "VmHWM:" {print $2}' "/proc/$WARD_PID/status" 2>/dev/null || true; }
# Ward's CPU time so far (utime + stime, in clock ticks), from /proc/PID/stat.
ward_ticks() { sed 's/^.*) //' "/proc/$WARD_PID/stat" 2>/dev/null | awk '{print $12 + $13}' || true; }
CLK_TCK=$(getconf CLK_TCK)
TICKS0=0
pre_run() { # target: note a running build; reset Ward's peak RSS (Linux >= 4.0) so each run has its own
  BUSY0=$(busy)
  if [ "$1" = ward ]; then
    echo 5 >"/proc/$WARD_PID/clear_refs" 2>/dev/null || true
    TICKS0=$(ward_ticks)
  fi
  return 0
}
record() { # rep test target value status t0 t1
  local b hwm="" cpu=""; b=$(busy); [ "$BUSY0" = yes ] && b=yes
  if [ "$3" = ward ]; then
    hwm=$(ward_hwm)
    cpu=$(awk -v a="$TICKS0" -v b="$(ward_ticks)" -v t="$CLK_TCK" 'BEGIN {printf "%.2f", (b - a) / t}')
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$b" "$hwm" "$cpu" >>"$RESULTS"
}
fail() { # rep test target errfile
  FAILURES+=("$2/$3#$1")
  log "$2 via $3 (repeat $1) FAILED; stderr tail:"
  tail -10 "$4" | sed 's/^/    /' >&2
  if [ "$3" = ward ]; then log "ward log tail:"; tail -20 "$WORK/ward/ward.log" | sed 's/^/    /' >&2; fi
}
secs() { python3 -c "print(round($2 - $1, 3))"; }

run_bulk() { # rep target
  local rep=$1 t=$2 s e rc=0 t0 t1 err=$WORK/bulk-$2-$1.err
  ssh_args "$t"; pre_run "$t"
  t0=$(date +%s%N); s=$EPOCHREALTIME
  target_env "$t" timeout -k 5 "$DEADLINE" ssh "${SSH_ARGS[@]}" 127.0.0.1 "head -c $BYTES /dev/zero" </dev/null >/dev/null 2>"$err" || rc=$?
  e=$EPOCHREALTIME; t1=$(date +%s%N)
  if [ "$rc" = 0 ]; then record "$rep" bulk "$t" "$(secs "$s" "$e")" ok "$t0" "$t1"
  else record "$rep" bulk "$t" "" "fail(rc=$rc)" "$t0" "$t1"; fail "$rep" bulk "$t" "$err"; fi
}

run_scp() { # rep target down|up
  local rep=$1 t=$2 dir=$3 s e rc=0 t0 t1 err=$WORK/scp-$3-$2-$1.err dst sha status=ok
  ssh_args "$t"; pre_run "$t"
  if [ "$dir" = down ]; then
    dst=$WORK/down.bin
    t0=$(date +%s%N); s=$EPOCHREALTIME
    target_env "$t" timeout -k 5 "$DEADLINE" scp -q "${SCP_ARGS[@]}" "127.0.0.1:$WORK/data.bin" "$dst" </dev/null 2>"$err" || rc=$?
  else
    dst=$WORK/remote/up.bin
    t0=$(date +%s%N); s=$EPOCHREALTIME
    target_env "$t" timeout -k 5 "$DEADLINE" scp -q "${SCP_ARGS[@]}" "$WORK/data.bin" "127.0.0.1:$dst" </dev/null 2>"$err" || rc=$?
  fi
  e=$EPOCHREALTIME; t1=$(date +%s%N)
  if [ "$rc" = 0 ]; then
    sha=$(sha256sum "$dst" 2>/dev/null | awk '{print $1}')
    if [ "$sha" != "$SRC_SHA" ]; then
      status="sha256 mismatch"
      log "scp $dir via $t: sha256 mismatch ($(stat -c %s "$dst" 2>/dev/null || echo missing) bytes)"
      FAILURES+=("scp-$dir/$t#$rep(sha256)")
    fi
    record "$rep" "scp-$dir" "$t" "$(secs "$s" "$e")" "$status" "$t0" "$t1"
  else
    record "$rep" "scp-$dir" "$t" "" "fail(rc=$rc)" "$t0" "$t1"; fail "$rep" "scp-$dir" "$t" "$err"
  fi
  rm -f "$dst"
}

run_echo() { # rep target
  local rep=$1 t=$2 rc=0 t0 t1 out err=$WORK/echo-$2-$1.err
  ssh_args "$t"; pre_run "$t"
  t0=$(date +%s%N)
  out=$(target_env "$t" timeout -k 5 300 python3 "$ROOT/bench/ssh_echo.py" "$ECHO_N" "$ECHO_WARMUP" -- \
    ssh -tt -e none "${SSH_ARGS[@]}" 127.0.0.1 2>"$err") || rc=$?
  t1=$(date +%s%N)
  if [ "$rc" = 0 ] && [ -n "$out" ]; then record "$rep" echo "$t" "$out" ok "$t0" "$t1"
  else record "$rep" echo "$t" "" "fail(rc=$rc)" "$t0" "$t1"; fail "$rep" echo "$t" "$err"; fi
}

for rep in $(seq "$REPEAT"); do
  for t in direct ward; do log "[$rep/$REPEAT] bulk ssh 'head -c $BYTES /dev/zero' via $t"; run_bulk "$rep" "$t"; done
  for t in direct ward; do log "[$rep/$REPEAT] scp download via $t"; run_scp "$rep" "$t" down; done
  for t in direct ward; do log "[$rep/$REPEAT] scp upload via $t"; run_scp "$rep" "$t" up; done
  for t in direct ward; do log "[$rep/$REPEAT] echo round trips ($ECHO_N) via $t"; run_echo "$rep" "$t"; done
done

# ---------------------------------------------------------------- stop Ward (flushes the recorder), verify
WARD_RSS_NOW=$(awk '$1 == "VmRSS:" {print $2}' "/proc/$WARD_PID/status" 2>/dev/null || true)
kill -TERM "$WARD_PID"
for _ in $(seq 600); do kill -0 "$WARD_PID" 2>/dev/null || break; sleep 0.1; done
WARD_EXIT=0
if kill -0 "$WARD_PID" 2>/dev/null; then log "ward did not stop within 60 s; killing it"; kill -KILL "$WARD_PID"; WARD_EXIT=killed; fi
set +e; wait "$WARD_PID" 2>/dev/null; ws=$?; set -e
[ "$WARD_EXIT" = killed ] || WARD_EXIT=$ws
WARD_PID=""

VERIFY_RC=0
"$WARD" verify --config "$WARD_CFG" >"$WORK/verify.out" 2>&1 || VERIFY_RC=$?
VERIFY_LINE=$(grep -E 'session\(s\):' "$WORK/verify.out" | tail -1 || true)
[ -n "$VERIFY_LINE" ] || VERIFY_LINE="(no summary line) $(tail -3 "$WORK/verify.out" | tr '\n' ' ')"
"$WARD" sessions list --json --config "$WARD_CFG" >"$WORK/sessions.json" 2>"$WORK/sessions.err" || log "ward sessions list failed: $(cat "$WORK/sessions.err")"
WARD_ERRORS=$(sed 's/\x1b\[[0-9;]*m//g' "$WORK/ward/ward.log" | grep -cE '^[0-9T:.Z-]+ +(WARN|ERROR) ' || true)

# ---------------------------------------------------------------- report
mkdir -p "$OUT"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
JSON=$OUT/ssh-$STAMP.json
GIT_COMMIT=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$GIT_COMMIT" != unknown ] && [ -n "$(cd "$ROOT" && GIT_OPTIONAL_LOCKS=0 git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  GIT_COMMIT="$GIT_COMMIT+uncommitted changes"
fi
[ -n "${WARD_BIN:-}" ] && GIT_COMMIT="$GIT_COMMIT (WARD_BIN=$WARD_BIN, may differ)"
export RESULTS WARD_DB JSON BYTES ECHO_N REPEAT WORK GIT_COMMIT VERIFY_RC VERIFY_LINE WARD_EXIT WARD_RSS_NOW WARD_ERRORS
export CIPHER_DIRECT CIPHER_WARD KEX_DIRECT KEX_WARD
export WARD_VERSION="$("$WARD" --version 2>/dev/null || echo unknown)"
export SSH_VERSION="$(ssh -V 2>&1)"
export FAILURES_STR="${FAILURES[*]:-}"
python3 - <<'EOF'
import json, os, sqlite3, datetime, platform

env = os.environ
rows = []
with open(env["RESULTS"]) as f:
    for line in f:
        rep, test, target, value, status, t0, t1, busy, hwm, cpu = line.rstrip("\n").split("\t")
        rows.append(dict(rep=int(rep), test=test, target=target, value=value, status=status,
                         t0=int(t0), t1=int(t1), build_running=busy == "yes",
                         **({"ward_peak_rss_kb": int(hwm) if hwm else None,
                             "ward_cpu_s": float(cpu) if cpu else None} if target == "ward" else {})))
nbytes = int(env["BYTES"])

def best(test, target):
    """Fastest ok run (throughput tests) or the echo run with the lowest p50."""
    ok = [r for r in rows if r["test"] == test and r["target"] == target and r["status"] == "ok" and r["value"]]
    if not ok:
        return None
    if test == "echo":
        return min(ok, key=lambda r: json.loads(r["value"])["p50_ms"])
    return min(ok, key=lambda r: float(r["value"]))

# Ward's recording per run: sessions started inside the run's window.
db = sqlite3.connect(f"file:{env['WARD_DB']}?mode=ro", uri=True)
def recorded(t0, t1):
    q = """SELECT count(DISTINCT s.id),
                  count(e.seq) FILTER (WHERE e.kind = 'term.output'),
                  coalesce(sum(length(e.payload)) FILTER (WHERE e.kind = 'term.output'), 0),
                  count(e.seq)
           FROM sessions s LEFT JOIN events e ON e.session_id = s.id
           WHERE s.started_at BETWEEN ?1 AND ?2"""
    sessions, outputs, out_bytes, events = db.execute(q, (t0, t1)).fetchone()
    ends = db.execute("""SELECT coalesce(sum(x.bytes_down), 0), coalesce(sum(x.bytes_up), 0), group_concat(x.outcome)
                         FROM sessions s JOIN session_ends x ON x.session_id = s.id
                         WHERE s.started_at BETWEEN ?1 AND ?2""", (t0, t1)).fetchone()
    return dict(sessions=sessions, events=events, term_output_events=outputs,
                term_output_stored_bytes=out_bytes, bytes_down=ends[0], bytes_up=ends[1], outcomes=ends[2])
for r in rows:
    if r["target"] == "ward":
        r["ward_recorded"] = recorded(r["t0"], r["t1"])
totals = db.execute("""SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM events),
                              (SELECT count(*) FROM events WHERE kind = 'term.output'),
                              (SELECT coalesce(sum(length(payload)), 0) FROM events WHERE kind = 'term.output')""").fetchone()
db.close()
db_size = sum(os.path.getsize(os.path.join(os.path.dirname(env["WARD_DB"]), f))
              for f in os.listdir(os.path.dirname(env["WARD_DB"])) if f.startswith("ward.db"))
try:
    with open(os.path.join(env["WORK"], "sessions.json")) as f:
        listed = json.load(f)
    listed_events = sum(s.get("event_count", 0) for s in listed)
except (OSError, ValueError):
    listed, listed_events = [], None

mb = lambda secs: nbytes / 1e6 / secs
def ratio(w, d):
    return f"{w / d:.2f}" if w is not None and d else "-"
table = []
print()
print(f"## Ward SSH benchmark: {nbytes:,} bytes per transfer, {env['ECHO_N']} echo round trips, best of {env['REPEAT']}")
print()
print(f"{env['WARD_VERSION']} (tree {env['GIT_COMMIT']}); {env['SSH_VERSION']}; {os.cpu_count()} CPUs")
print(f"client cipher direct: {env.get('CIPHER_DIRECT') or '?'} kex {env.get('KEX_DIRECT') or '?'};"
      f" client->Ward: {env.get('CIPHER_WARD') or '?'} kex {env.get('KEX_WARD') or '?'}")
print()
print("| measurement | direct | ward | ward/direct |")
print("|---|---:|---:|---:|")
labels = {"bulk": "ssh 'head -c N /dev/zero' > /dev/null (MB/s)", "scp-down": "scp download, sha256 ok (MB/s)",
          "scp-up": "scp upload, sha256 ok (MB/s)"}
summary = {}
for test in ("bulk", "scp-down", "scp-up"):
    d, w = best(test, "direct"), best(test, "ward")
    dv = mb(float(d["value"])) if d else None
    wv = mb(float(w["value"])) if w else None
    summary[test] = dict(direct_mb_s=dv, ward_mb_s=wv, direct_s=float(d["value"]) if d else None,
                         ward_s=float(w["value"]) if w else None, ratio=(wv / dv) if dv and wv else None)
    f = lambda v: f"{v:,.1f}" if v is not None else "FAIL"
    print(f"| {labels[test]} | {f(dv)} | {f(wv)} | {ratio(wv, dv)} |")
d, w = best("echo", "direct"), best("echo", "ward")
de, we = (json.loads(d["value"]) if d else None), (json.loads(w["value"]) if w else None)
summary["echo"] = dict(direct=de, ward=we)
for k, name in (("p50_ms", "p50"), ("p99_ms", "p99")):
    dv = de[k] if de else None
    wv = we[k] if we else None
    f = lambda v: f"{v:.3f}" if v is not None else "FAIL"
    print(f"| echo round trip {name} (ms, lower is better) | {f(dv)} | {f(wv)} | {ratio(wv, dv)} |")
print()
print("All runs:")
print()
print("| repeat | test | target | result | status | build running |")
print("|---:|---|---|---|---|---|")
for r in rows:
    if r["test"] == "echo" and r["value"]:
        e = json.loads(r["value"])
        res = f"p50 {e['p50_ms']:.3f} / p99 {e['p99_ms']:.3f} / mean {e['mean_ms']:.3f} / max {e['max_ms']:.3f} ms"
    elif r["value"]:
        res = f"{float(r['value']):.2f} s = {mb(float(r['value'])):,.1f} MB/s"
    else:
        res = "-"
    print(f"| {r['rep']} | {r['test']} | {r['target']} | {res} | {r['status']} | {'yes' if r['build_running'] else 'no'} |")
print()
print("Ward per run (sessions started during the run; term.output stored bytes are the payloads as stored;"
      " CPU = Ward's utime + stime during the run; peak RSS = VmHWM, reset before the run):")
print()
print("| repeat | test | sessions | events | term.output events | term.output stored MB | bytes_down MB | bytes_up MB | outcome | ward CPU s (wall s) | ward peak RSS MB |")
print("|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|")
for r in rows:
    if r["target"] != "ward":
        continue
    x = r["ward_recorded"]
    rss = f"{r['ward_peak_rss_kb'] / 1024:,.1f}" if r.get("ward_peak_rss_kb") else "?"
    cpu = f"{r['ward_cpu_s']:.2f} ({(r['t1'] - r['t0']) / 1e9:.2f})" if r.get("ward_cpu_s") is not None else "?"
    print(f"| {r['rep']} | {r['test']} | {x['sessions']} | {x['events']} | {x['term_output_events']} | {x['term_output_stored_bytes'] / 1e6:,.1f}"
          f" | {x['bytes_down'] / 1e6:,.1f} | {x['bytes_up'] / 1e6:,.1f} | {x['outcomes']} | {cpu} | {rss} |")
print()
print(f"Store totals: {totals[0]} sessions, {totals[1]} events, {totals[2]} term.output events,"
      f" {totals[3] / 1e6:,.1f} MB of term.output payloads; ward.db* on disk {db_size / 1e6:,.1f} MB."
      f" `ward sessions list --json`: {len(listed)} sessions, {listed_events} events.")
peaks = [r["ward_peak_rss_kb"] for r in rows if r.get("ward_peak_rss_kb")]
print(f"Ward peak RSS over all runs (VmHWM, reset before each run): {max(peaks) / 1024:,.1f} MB;"
      f" RSS after the last run: {int(env['WARD_RSS_NOW']) / 1024:,.1f} MB" if peaks and env.get("WARD_RSS_NOW") else "Ward RSS: ?")
print(f"ward verify: {env['VERIFY_LINE']} (exit {env['VERIFY_RC']})")
print(f"ward serve exit after SIGTERM: {env['WARD_EXIT']}; error/warn lines in ward.log: {env['WARD_ERRORS']}")
if any(r["build_running"] for r in rows):
    print("NOTE: a build (rustc/cargo) was running on the machine during some runs (see 'build running'); numbers are noisy.")
if env["FAILURES_STR"]:
    print(f"FAILED runs: {env['FAILURES_STR']} (see the messages above)")

result = dict(
    timestamp=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    host=dict(cpus=os.cpu_count(), kernel=platform.release()),
    versions=dict(ward=env["WARD_VERSION"], tree=env["GIT_COMMIT"], ssh=env["SSH_VERSION"]),
    params=dict(bytes=nbytes, echo_n=int(env["ECHO_N"]), repeat=int(env["REPEAT"]),
                selection="best (fastest) run for transfers, lowest-p50 run for echo"),
    ciphers=dict(direct=env.get("CIPHER_DIRECT"), client_to_ward=env.get("CIPHER_WARD"),
                 kex_direct=env.get("KEX_DIRECT"), kex_client_to_ward=env.get("KEX_WARD")),
    summary=summary,
    runs=[{k: v for k, v in r.items() if k not in ("t0", "t1")} | {"duration_s": round((r["t1"] - r["t0"]) / 1e9, 3)} for r in rows],
    ward_store_totals=dict(sessions=totals[0], events=totals[1], term_output_events=totals[2],
                           term_output_stored_bytes=totals[3], db_bytes_on_disk=db_size,
                           sessions_list_count=len(listed), sessions_list_events=listed_events),
    ward_peak_rss_kb=max(peaks) if peaks else None,
    ward_rss_after_runs_kb=int(env["WARD_RSS_NOW"]) if env.get("WARD_RSS_NOW") else None,
    ward_verify=dict(summary=env["VERIFY_LINE"], exit=int(env["VERIFY_RC"])),
    ward_serve_exit=env["WARD_EXIT"],
    failures=env["FAILURES_STR"].split() if env["FAILURES_STR"] else [],
)
with open(env["JSON"], "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
print()
print(f"JSON result: {env['JSON']}")
EOF

if [ "$VERIFY_RC" != 0 ]; then log "ward verify FAILED:"; tail -20 "$WORK/verify.out" | sed 's/^/    /' >&2; fi
[ ${#FAILURES[@]} -eq 0 ] && [ "$VERIFY_RC" = 0 ] || exit 1
