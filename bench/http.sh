#!/usr/bin/env bash
# Ward HTTP gateway benchmark: wrk against one internal HTTP service (tools/http-peer, Node.js)
#   - directly (HTTPS: the service serves TLS itself),
#   - through nginx (TLS terminated, proxied to the service over plain HTTP with keep-alive),
#   - through Ward's HTTP listener (TLS terminated, a Ward token checked, Ward's credential sent
#     upstream, every request, response and body recorded masked in SQLite).
# Measures requests per second and latency (p50, p99) for small GETs (`/public/hello`) and for
# 16 KiB bodies (`/big?bytes=16384`), at BENCH_CONNECTIONS keep-alive connections.
# See bench/README.md. Environment knobs:
#   BENCH_SECONDS      seconds per wrk run (default 10)
#   BENCH_CONNECTIONS  wrk connections (default 16; 2 threads)
#   BENCH_OUT          result directory (default bench/results)
#   WARD_BIN           use this ward binary instead of building one
#   BENCH_TARGET_DIR   cargo target dir for the release build (default ../target-bench)
#   BENCH_KEEP=1       keep the temp dir (logs, store)
set -euo pipefail

SECONDS_PER_RUN=${BENCH_SECONDS:-10}
CONNECTIONS=${BENCH_CONNECTIONS:-16}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${BENCH_OUT:-$ROOT/bench/results}

# shellcheck source=bench/common.sh
. "$ROOT/bench/common.sh"

# ---------------------------------------------------------------- prerequisites
for t in node openssl python3; do command -v "$t" >/dev/null || die "$t not found"; done
if ! command -v wrk >/dev/null || ! [ -x /usr/sbin/nginx ]; then
  [ "$(id -u)" = 0 ] || die "install wrk and nginx (apt-get install wrk nginx-light)"
  log "installing wrk and nginx-light"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light >/dev/null
fi
ward_binary

# ---------------------------------------------------------------- temp dir and cleanup
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ward-bench-http.XXXXXX")
PIDS=()
cleanup() {
  local rc=$?
  trap - EXIT
  set +e
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

read -r PEER_TLS PEER_PLAIN NGINX_PORT WARD_PORT < <(python3 - <<'EOF'
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)
log "workdir $WORK; ports: service $PEER_TLS (tls) $PEER_PLAIN, nginx $NGINX_PORT, ward $WARD_PORT"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

wait_port() { # port what
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return
    sleep 0.1
  done
  die "$2 did not listen on $1"
}

# ---------------------------------------------------------------- the service, twice
node "$ROOT/tools/http-peer/server.mjs" --port "$PEER_TLS" --tls-cert "$WORK/cert.pem" \
  --tls-key "$WORK/key.pem" >/dev/null 2>"$WORK/peer-tls.log" &
PIDS+=($!)
node "$ROOT/tools/http-peer/server.mjs" --port "$PEER_PLAIN" >/dev/null 2>"$WORK/peer.log" &
PIDS+=($!)
wait_port "$PEER_TLS" "the TLS service"
wait_port "$PEER_PLAIN" "the service"

# ---------------------------------------------------------------- nginx
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  upstream service { server 127.0.0.1:$PEER_PLAIN; keepalive 64; }
  server {
    listen 127.0.0.1:$NGINX_PORT ssl;
    ssl_certificate $WORK/cert.pem;
    ssl_certificate_key $WORK/key.pem;
    location /api/ {
      proxy_pass http://service/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
EOF
/usr/sbin/nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" 2>"$WORK/nginx/stderr.log" &
PIDS+=($!)
wait_port "$NGINX_PORT" nginx

# ---------------------------------------------------------------- Ward
mkdir -p "$WORK/ward"
cat >"$WORK/ward/ward.toml" <<EOF
[listen]
http = "127.0.0.1:$WARD_PORT"

[store]
path = "ward.db"

[[resources]]
name = "api"
kind = "http"
url = "http://127.0.0.1:$PEER_PLAIN"

[[grants]]
group = "bench"
resources = ["api"]
EOF
WARD_CFG=$WORK/ward/ward.toml
"$WARD" users add benchuser --groups bench --password-stdin --config "$WARD_CFG" <<<"$(openssl rand -hex 12)" >/dev/null
TOKEN=$("$WARD" tokens issue benchuser --ttl 2h --config "$WARD_CFG" | tr ' ' '\n' | grep '^ward_t_')
"$WARD" serve --config "$WARD_CFG" >"$WORK/ward/ward.log" 2>&1 &
WARD_PID=$!
PIDS+=("$WARD_PID")
wait_port "$WARD_PORT" ward

# ---------------------------------------------------------------- runs
declare -A URL=(
  [direct]="https://127.0.0.1:$PEER_TLS"
  [nginx]="https://127.0.0.1:$NGINX_PORT/api"
  [ward]="https://127.0.0.1:$WARD_PORT/api"
)
cat >"$WORK/auth.lua" <<EOF
wrk.headers["Authorization"] = "Bearer $TOKEN"
EOF
# wrk's --latency table: p50 and p99 in ms; requests per second.
run() { # target path -> "rps p50 p99"
  local target=$1 path=$2 out
  out=$(wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s "$WORK/auth.lua" "${URL[$target]}$path")
  echo "$out" >"$WORK/wrk-$target-${path//[^a-z0-9]/_}.txt"
  grep -q "Non-2xx" <<<"$out" && die "$target $path: non-2xx answers: $out"
  python3 - "$out" <<'EOF'
import re, sys
text = sys.argv[1]
def ms(label):
    m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
print(f"{rps:.0f} {ms(50):.2f} {ms(99):.2f}")
EOF
}
for target in direct nginx ward; do
  curl -fsS --cacert "$WORK/cert.pem" -o /dev/null "${URL[$target]}/public/hello" 2>/dev/null \
    || [ "$target" = ward ] || die "smoke test via $target failed"
done
curl -fsS -k -H "Authorization: Bearer $TOKEN" -o /dev/null "${URL[ward]}/public/hello" \
  || die "smoke test via ward failed: $(tail -5 "$WORK/ward/ward.log")"

mkdir -p "$OUT"
RESULT="$OUT/http-$(date +%Y%m%d-%H%M%S).md"
{
  echo "# bench/http.sh $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, ${SECONDS_PER_RUN}s per run, $CONNECTIONS connections"
  echo
  echo "| workload | target | req/s | vs direct | p50 ms | p99 ms |"
  echo "|---|---|---|---|---|---|"
} >"$RESULT"
for path in /public/hello "/big?bytes=16384"; do
  declare -A RPS=()
  for target in direct nginx ward; do
    log "$target $path"
    read -r rps p50 p99 < <(run "$target" "$path")
    RPS[$target]=$rps
    ratio=$(python3 -c "print(f'{$rps / ${RPS[direct]}:.2f}x')")
    echo "| \`GET $path\` | $target | $rps | $ratio | $p50 | $p99 |" >>"$RESULT"
  done
done
log "checking Ward's record"
# Stopped, Ward signs the ends of the sessions it served.
kill -TERM "$WARD_PID" && wait "$WARD_PID" || true
"$WARD" verify --config "$WARD_CFG" >"$WORK/verify.log" 2>&1 || die "ward verify failed: $(cat "$WORK/verify.log")"
events=$("$WARD" sessions list --json --config "$WARD_CFG" | python3 -c 'import json,sys; print(sum(s.get("event_count", 0) for s in json.load(sys.stdin)))')
echo >>"$RESULT"
echo "Ward recorded $events events (verified)." >>"$RESULT"
cat "$RESULT"
