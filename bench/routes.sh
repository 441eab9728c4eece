#!/usr/bin/env bash
# Issue 3 benchmark: the gateway with no routes (core), with a file route + a forward-http route
# to a local nginx (routes), the same with four transforms (routes-transforms), and one route
# with the four transforms whose only handler, a metadata-filter, stops every event
# (routing-only: matching, a plugin call and the delivery bookkeeping, no delivery I/O; the
# transforms are never needed there, so they do not run), the same route with a file handler
# writing to /dev/null (routing-transforms: the transforms run and the body is written, the
# delivery's I/O costs next to nothing), the same route whose only handler is a pure filter that
# reads the transformed body and drops every event (routing-transforms-pure: the transforms run
# and the body is written before the store, and nothing is delivered: routing and transforms
# alone), all unpinned at c64, then the ratios to core.
#
# The variants are INTERLEAVED: ROUNDS rounds (default 3) of one 10 s run of each, so that the
# drift of this shared machine over the minutes of a run hits every variant alike (running all
# of core first and all of routing-only last once made the same build look 30% better or worse).
# The file route's line count shows deliveries keep up ("spool lines / 2xx" column).
#
#   bench/routes.sh [extra run.sh options]
#   ROUNDS=5 SPOOL_DIR=/dev/shm/gw-spool bench/routes.sh    # spool on tmpfs: CPU costs only
#   VARIANTS="core routing-only" bench/routes.sh            # a subset
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
swift build -c release --package-path "$ROOT" >&2
OUT=${OUT:-$BENCH/results/routes-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
# Request files are large (about 2.4 KB per request); on tmpfs their write-back does not land
# in the middle of the next measurement.
export BENCH_CACHE=${BENCH_CACHE:-/dev/shm/gateway-bench-cache}
ROUNDS=${ROUNDS:-3}
VARIANTS=${VARIANTS:-core routes routes-transforms routing-only routing-transforms-pure routing-transforms}
SPOOL_BASE=${SPOOL_DIR:-}

run_variant() { # name round
  local name=$1 round=$2 dir="$OUT/round-$2"
  mkdir -p "$dir"
  # A fresh spool per run (a tmpfs one is removed after; the default one lives in the run dir).
  if [ -n "$SPOOL_BASE" ]; then export SPOOL_DIR="$SPOOL_BASE-$name-$round"; rm -rf "$SPOOL_DIR"; fi
  local common=(--out "$dir" --fresh --modes c64 --pin off --reps 1)
  case $name in
    core) "$BENCH/run.sh" "${common[@]}" "${EXTRA[@]}" --name core --url http://127.0.0.1:18090/webhooks/evo \
      --start "exec '$BENCH/peers/gateway/start.sh'" ;;
    routes) "$BENCH/run.sh" "${common[@]}" "${EXTRA[@]}" --name routes --url http://127.0.0.1:18091/webhooks/evo \
      --start "exec '$BENCH/peers/gateway-routes/start.sh'" --count-lines out/audit.jsonl ;;
    routes-transforms) "$BENCH/run.sh" "${common[@]}" "${EXTRA[@]}" --name routes-transforms --url http://127.0.0.1:18092/webhooks/evo \
      --start "TRANSFORMS=1 exec '$BENCH/peers/gateway-routes/start.sh'" --count-lines out/audit.jsonl ;;
    routing-only) "$BENCH/run.sh" "${common[@]}" "${EXTRA[@]}" --name routing-only --url http://127.0.0.1:18094/webhooks/evo \
      --start "MODE=filter exec '$BENCH/peers/gateway-routes/start.sh'" ;;
    routing-transforms-pure) "$BENCH/run.sh" "${common[@]}" "${EXTRA[@]}" --name routing-transforms-pure --url http://127.0.0.1:18096/webhooks/evo \
      --start "MODE=transform-pure exec '$BENCH/peers/gateway-routes/start.sh'" ;;
    routing-transforms) "$BENCH/run.sh" "${common[@]}" "${EXTRA[@]}" --name routing-transforms --url http://127.0.0.1:18095/webhooks/evo \
      --start "MODE=transform-devnull exec '$BENCH/peers/gateway-routes/start.sh'" ;;
    *) echo "unknown variant $name" >&2; exit 2 ;;
  esac
  if [ -n "$SPOOL_BASE" ]; then rm -rf "$SPOOL_DIR"; fi
}

EXTRA=("$@")
for round in $(seq 1 "$ROUNDS"); do
  for v in $VARIANTS; do run_variant "$v" "$round"; done
done
python3 "$BENCH/tools/summarize.py" "$OUT"/round-*/results.tsv --ratio-to core | tee "$OUT/ratios.md"
"$ROOT/.build/release/gateway-microbench" 100000 | tee -a "$OUT/ratios.md"
