# Shared by the benchmark scripts (sourced, not run): logging, and the Ward binary to measure.
# Expects ROOT (the repository) to be set.

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

# Sets WARD: $WARD_BIN, or a release build into $BENCH_TARGET_DIR (default ../target-bench next
# to the repository, so the build does not block a developer's target/).
ward_binary() {
  if [ -n "${WARD_BIN:-}" ]; then
    WARD=$WARD_BIN
  else
    local target_dir=${BENCH_TARGET_DIR:-$(dirname "$ROOT")/target-bench}
    log "building ward (release) into $target_dir"
    (cd "$ROOT" && CARGO_TARGET_DIR=$target_dir cargo build --release -q -p ward) || die "cargo build failed"
    WARD=$target_dir/release/ward
  fi
  [ -x "$WARD" ] || die "no ward binary at $WARD"
}
