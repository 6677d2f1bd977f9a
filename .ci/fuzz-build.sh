#!/usr/bin/env bash
# Builds the fuzz targets of ward-pg's and ward-mysql's wire codecs (crates/ward-pg/fuzz,
# crates/ward-mysql/fuzz), of the SSH gateway's channel-data parsers (crates/ward-ssh/fuzz) and
# of the HTTP gateway's readers (crates/ward-http/fuzz), and runs each one briefly from its seed
# corpus;
# exits non-zero if a target does not build or finds a crash.
#
# Stable Rust only. cargo-fuzz with `--sanitizer none` needs no nightly flag: its coverage
# instrumentation (`-Cpasses=sancov-module`, `-Cllvm-args=...`) is made of stable `-C` options.
# If cargo-fuzz cannot be installed, the same flags are given to plain `cargo build`.
#
# Environment:
#   CARGO_TARGET_DIR  build directory (default: target/fuzz in the repository); cargo-fuzz and the
#                     scratch corpus go to its ward-fuzz/ folder
#   FUZZ_SECONDS      fuzzing time per target (default: 20)
#   FUZZ_SANITIZER    none (default) or address; address needs nightly, or RUSTC_BOOTSTRAP=1 on
#                     stable, and runs about ten times fewer inputs per second
#   FUZZ_DRIVER       cargo-fuzz (default) or cargo, to skip cargo-fuzz altogether
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Crate directory, then its fuzz targets.
suites=("ward-pg frontend backend" "ward-mysql mysql_client mysql_server" "ward-ssh transfer typing" "ward-http websocket ai_answer")
seconds="${FUZZ_SECONDS:-20}"
sanitizer="${FUZZ_SANITIZER:-none}"
driver="${FUZZ_DRIVER:-cargo-fuzz}"
cargo_fuzz_version=0.13.2
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target/fuzz}"
[[ "$CARGO_TARGET_DIR" == /* ]] || CARGO_TARGET_DIR="$PWD/$CARGO_TARGET_DIR"
state="$CARGO_TARGET_DIR/ward-fuzz"
host="$(rustc -vV | sed -n 's/^host: //p')"

run() {
    echo "+ $*" >&2
    "$@"
}

# cargo-fuzz, installed once into the build directory (cargo install skips an installed version).
if [[ "$driver" == cargo-fuzz ]]; then
    tools="$state/tools"
    export PATH="$tools/bin:$PATH"
    if ! cargo fuzz --version 2>/dev/null | grep -qF "$cargo_fuzz_version"; then
        if ! run cargo install cargo-fuzz --locked --version "$cargo_fuzz_version" --root "$tools"; then
            echo "fuzz: cargo-fuzz could not be installed; building with plain cargo" >&2
            driver=cargo
        fi
    fi
fi

# The flags `cargo fuzz build --sanitizer none` uses, for the plain cargo driver.
rustflags=(
    -Cpasses=sancov-module
    -Cllvm-args=-sanitizer-coverage-level=4
    -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
    -Cllvm-args=-sanitizer-coverage-pc-table
    -Cllvm-args=-sanitizer-coverage-trace-compares
    -Cllvm-args=-sanitizer-coverage-stack-depth
    -Cllvm-args=-simplifycfg-branch-fold-threshold=0
    --cfg fuzzing
    -Cdebug-assertions
    -Ccodegen-units=1
)
if [[ "$sanitizer" != none ]]; then
    rustflags+=("-Zsanitizer=$sanitizer")
fi

echo "fuzz: driver $driver, sanitizer $sanitizer, ${seconds}s per target, target dir $CARGO_TARGET_DIR"
# New inputs go to a scratch corpus in the build directory; the committed seeds are only read.
stamp="$state/started"
mkdir -p "$state"
touch "$stamp"
failed=()
ran=()
for suite in "${suites[@]}"; do
    read -r crate targets_line <<<"$suite"
    read -r -a targets <<<"$targets_line"
    fuzz_dir="$root/crates/$crate/fuzz"
    started=$(date +%s)
    cd "$root/crates/$crate"
    if [[ "$driver" == cargo-fuzz ]]; then
        run cargo fuzz build --sanitizer "$sanitizer"
    else
        # --target keeps the instrumentation out of build scripts and proc macros.
        RUSTFLAGS="${rustflags[*]}" run cargo build --manifest-path "$fuzz_dir/Cargo.toml" \
            --target "$host" --release --bins
    fi
    built=$(date +%s)
    echo "fuzz: $crate built in $((built - started))s"
    for target in "${targets[@]}"; do
        scratch="$state/corpus/$target"
        artifacts="$fuzz_dir/artifacts/$target"
        mkdir -p "$scratch" "$artifacts"
        args=(-max_total_time="$seconds" -timeout=10 -print_final_stats=1)
        ok=true
        if [[ "$driver" == cargo-fuzz ]]; then
            run cargo fuzz run --sanitizer "$sanitizer" "$target" "$scratch" "fuzz/corpus/$target" \
                -- "${args[@]}" || ok=false
        else
            run "$CARGO_TARGET_DIR/$host/release/$target" -artifact_prefix="$artifacts/" "${args[@]}" \
                "$scratch" "fuzz/corpus/$target" || ok=false
        fi
        ran+=("$target")
        if [[ "$ok" == false ]]; then
            failed+=("$target")
            while IFS= read -r crash; do
                echo "fuzz: $target crashed on $crash:"
                od -An -tx1 -v "$crash"
            done < <(find "$artifacts" -type f -newer "$stamp")
        fi
    done
done

echo "fuzz: ran ${ran[*]} for ${seconds}s each"
if ((${#failed[@]})); then
    echo "fuzz: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: no crash"
