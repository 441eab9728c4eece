#!/usr/bin/env bash
# Two gateway builds side by side, with nginx as the reference, in ONE interleaved run: each
# round runs A, B and nginx (10 s each, c64, unpinned, core config: SHA256 verification,
# spool, log sink), in an order that turns every round, so the drift of this shared 2-core
# machine hits all three alike. Use it to tell whether a change helped: throughput here swings
# more from minute to minute than most changes move it, so only same-run ratios mean anything.
#
#   git worktree add /dev/shm/base HEAD && (cd /dev/shm/base && swift build -c release)
#   bench/ab.sh /dev/shm/base/.build/release/gateway .build/release/gateway
#   ROUNDS=5 SPOOL_DIR=/dev/shm/gw-ab bench/ab.sh A B     # spool on tmpfs (default)
#   PEER=gateway-routes bench/ab.sh A B                  # issue 3's routes (file + forward-http)
#   PEER=gateway-routes MODE=transform-devnull bench/ab.sh A B   # a routes.sh variant
#
# Output: bench/results/ab-<time>/ratios.md (medians, ratios to A and to nginx).
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 2 ] || { echo "usage: bench/ab.sh BIN_A BIN_B [run.sh options]" >&2; exit 2; }
A=$(realpath "$1") B=$(realpath "$2"); shift 2
for bin in "$A" "$B"; do [ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 2; }; done
OUT=${OUT:-$BENCH/results/ab-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
export BENCH_CACHE=${BENCH_CACHE:-/dev/shm/gateway-bench-cache}
ROUNDS=${ROUNDS:-3}
# The start script under bench/peers/ (gateway: the core config; gateway-routes: bench/routes.sh's,
# with MODE picking its variant).
PEER=${PEER:-gateway}
SPOOL_BASE=${SPOOL_DIR:-/dev/shm/gw-ab}
{ echo "A: $A ($(stat -c %y "$A"))"; echo "B: $B ($(stat -c %y "$B"))"; } > "$OUT/binaries.txt"

run_side() { # side round dir
  local side=$1 round=$2 dir=$3
  local common=(--out "$dir" --fresh --modes c64 --pin off --reps 1)
  if [ "$side" = nginx ]; then
    "$BENCH/run.sh" "${common[@]}" "${EXTRA[@]}" --peer nginx
    return
  fi
  local bin=$A
  [ "$side" = B ] && bin=$B
  export SPOOL_DIR="$SPOOL_BASE-$side-$round"
  rm -rf "$SPOOL_DIR"
  GATEWAY_BIN=$bin "$BENCH/run.sh" "${common[@]}" "${EXTRA[@]}" --name "$side" --url http://127.0.0.1:18090/webhooks/evo \
    --start "MODE='${MODE:-}' exec '$BENCH/peers/$PEER/start.sh'"
  rm -rf "$SPOOL_DIR"
}

# The order turns every round (A B nginx, B nginx A, nginx A B, ...): whatever the position in a
# round does (the previous run's spool still being freed, the host's drift within a round) falls
# on each side alike. With a fixed order, one binary measured against itself came out 0.522 and
# 0.500 of nginx, its CPU per request 8% apart (7 rounds, ninth session's tenth run).
EXTRA=("$@")
SIDES=(A B nginx)
for round in $(seq 1 "$ROUNDS"); do
  dir="$OUT/round-$round"
  mkdir -p "$dir"
  for k in 0 1 2; do
    run_side "${SIDES[$(((round - 1 + k) % 3))]}" "$round" "$dir"
  done
done
{
  cat "$OUT/binaries.txt"
  python3 "$BENCH/tools/summarize.py" "$OUT"/round-*/results.tsv --ratio-to A
  python3 "$BENCH/tools/summarize.py" "$OUT"/round-*/results.tsv --ratio-to nginx
} | tee "$OUT/ratios.md"
