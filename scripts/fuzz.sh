#!/usr/bin/env bash
# Builds the libFuzzer targets with clang into build-fuzz/ and runs each for FUZZ_SECONDS,
# one target per core at a time (each fuzzer is single-threaded; CI has 2 cores and a 60-minute
# budget). A target's last lines are printed when it ends; any failing target fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${FUZZ_SECONDS:-30}
JOBS=${FUZZ_JOBS:-$(nproc)}
[ "$JOBS" -ge 1 ] || JOBS=1  # xargs -P 0 would start every target at once
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVIGIL_FUZZ=ON >/dev/null
fi
cmake --build build-fuzz -j"$(nproc)"
mkdir -p build-fuzz/corpus build-fuzz/logs

fuzz_one() {
  local target=$1 name seeds=()
  name=$(basename "$target")
  mkdir -p "build-fuzz/corpus/$name"
  [ -d "fuzz/corpus/$name" ] && seeds=("fuzz/corpus/$name")
  local status=0
  "$target" -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
    "build-fuzz/corpus/$name" "${seeds[@]}" > "build-fuzz/logs/$name.log" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    # The sanitizer's report from its ERROR line on (the whole log if there is none).
    echo "FAILED $name (exit $status); build-fuzz/logs/$name.log:"
    if grep -q 'ERROR' "build-fuzz/logs/$name.log"; then
      sed -n '/ERROR/,$p' "build-fuzz/logs/$name.log" | head -n 400
    else
      tail -n 200 "build-fuzz/logs/$name.log"
    fi
    return 1
  fi
  echo "fuzzed $name for ${SECONDS_EACH}s: $(tail -n 1 "build-fuzz/logs/$name.log")"
}
export -f fuzz_one
export SECONDS_EACH
# xargs exits non-zero (123) when any target failed; every target still runs.
targets=(build-fuzz/fuzz/*_fuzz)
[ -x "${targets[0]}" ] || { echo "no fuzz targets were built" >&2; exit 1; }
printf '%s\n' "${targets[@]}" | xargs -P "$JOBS" -I{} bash -c 'fuzz_one "$@"' _ {}
