#!/usr/bin/env bash
# Runs the README's run command exactly as written, in a fresh clone of this repository, as a
# new user would: waits for the psql line, runs a query through it, stops the demo the way a
# person does (Ctrl-C to its process group), and checks that nothing of it is left running.
# Builds reuse CARGO_TARGET_DIR-readme, a cache of its own.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
# The first command of the README's first sh block that is not a comment.
cmd="$(awk '/^```sh/{f=1;next} /^```/{if(f)exit} f && $0 !~ /^#/ && NF {print; exit}' "$repo/README.md")"
[ -n "$cmd" ] || { echo "no run command found in README.md" >&2; exit 1; }
echo "README's run command: $cmd"

# Its own target directory: cargo names a workspace's artifacts the same in every checkout and
# judges them by file times, so two checkouts sharing one directory can pick up each other's.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ward-target}-readme"
scratch="$(mktemp -d /tmp/ward-readme-XXXXXX)"
git clone --quiet "$repo" "$scratch/ward"
# node_modules and web/dist are not in git: the command must make them itself.
cd "$scratch/ward"
out="$scratch/demo.out"
setsid bash -c "$cmd" >"$out" 2>"$scratch/demo.err" </dev/null &
leader=$!
stop() { kill -INT -- "-$leader" 2>/dev/null || true; }
trap 'stop; sleep 2; kill -KILL -- "-$leader" 2>/dev/null || true; rm -rf "$scratch"' EXIT

# Up to 20 minutes: a clone at a new path rebuilds Ward's own crates.
line=""
for _ in $(seq 1 1200); do
  line="$(grep -m1 -o 'psql "postgresql://demo:[^"]*"' "$out" || true)"
  [ -n "$line" ] && break
  kill -0 "$leader" 2>/dev/null || break
  sleep 1
done
if [ -z "$line" ]; then
  echo "the demo printed no psql line; stdout:" >&2; cat "$out" >&2
  echo "stderr:" >&2; tail -n 50 "$scratch/demo.err" >&2
  exit 1
fi
echo "printed: $line"
count="$(bash -c "$line -X -A -t -c 'select count(*) from customers'")"
[ "$count" = 8 ] || { echo "expected 8 customers through Ward, got: $count" >&2; exit 1; }
echo "a query through the printed line: $count customers"
upstream="$(sed -n 's/.*PostgreSQL upstream: 127.0.0.1:\([0-9]*\).*/\1/p' "$out")"

stop
for _ in $(seq 1 300); do
  kill -0 "$leader" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$leader" 2>/dev/null; then echo "the demo did not stop on Ctrl-C" >&2; exit 1; fi
sleep 1
left="$(ps -o pid=,args= -s "$leader" || true)"
if [ -n "$left" ]; then echo "left running after Ctrl-C:" >&2; echo "$left" >&2; exit 1; fi
if [ -n "$upstream" ] && (exec 3<>"/dev/tcp/127.0.0.1/$upstream") 2>/dev/null; then
  echo "the demo's PostgreSQL still listens on $upstream" >&2
  exit 1
fi
trap - EXIT
echo "--- what the command printed on stderr (set-up, build):"
cat "$scratch/demo.err"
echo "--- what the demo printed (stdout):"
cat "$out"
rm -rf "$scratch"
echo "stopped; nothing of the demo is left running"
