#!/usr/bin/env bash
# Builds the libFuzzer driver and runs every fuzz target (or those named) for a bounded time.
#   Tests/Fuzz/run.sh [SECONDS] [TARGET...]        (make fuzz FUZZ_SECONDS=600)
# Corpus: Tests/Fuzz/Corpus/<target>/ (seeds; new interesting inputs are added to a scratch copy
# under .build/fuzz-corpus so the repository only keeps the seeds). A crash leaves
# .build/fuzz-artifacts/<target>/crash-*: copy it into the corpus directory as a regression test
# (FuzzRegressionTests replays every file there) and fix the bug.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then TARGETS=(http-parser json yaml-config routing metadata); fi

swift build -c release --product gateway-fuzz --build-path .build/fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -parse-as-library >&2
BIN=.build/fuzz/release/gateway-fuzz

status=0
for t in "${TARGETS[@]}"; do
  corpus=.build/fuzz-corpus/$t
  artifacts=.build/fuzz-artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  cp -n Tests/Fuzz/Corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  echo "fuzz: $t for ${SECONDS_PER_TARGET}s" >&2
  log=.build/fuzz-artifacts/$t.log
  if GATEWAY_FUZZ_TARGET=$t SWIFT_BACKTRACE=enable=no "$BIN" "$corpus" \
      -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1; then
    echo "fuzz: $t: no failure ($(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}') runs)" >&2
  else
    echo "fuzz: $t: FAILED, see $log and $artifacts/" >&2
    tail -30 "$log" >&2
    status=1
  fi
done
exit $status
