#!/bin/sh
# Runs every fuzz target for SECONDS (60 by default) each, seeded by seed.sh, with the limits
# the project holds inputs to: no input slower than 1 s, no allocation over 512 MB. Exits
# non-zero when a target finds a crash (the input is left in artifacts/<target>/).
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); on the stable toolchain it runs with
# RUSTC_BOOTSTRAP=1. Not part of .ci/run: six minutes of fuzzing would double CI's time.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
seconds=${SECONDS_PER_TARGET:-${1:-60}}
cd "$here"
[ -d corpus ] || ./seed.sh
export RUSTC_BOOTSTRAP=1
status=0
for target in parse dates fold matcher config render; do
    echo "== $target: ${seconds}s"
    mkdir -p "corpus/$target" "artifacts/$target"
    cargo fuzz run --sanitizer none "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=1 -rss_limit_mb=512 -malloc_limit_mb=512 \
        -max_len=1048576 -print_final_stats=1 \
        -artifact_prefix="artifacts/$target/" || status=1
done
exit $status
