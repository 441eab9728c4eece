#!/usr/bin/env bash
# Issue 4: memory over a million notifications. The gateway (spool on disk, fsync per group,
# one file route) receives N distinct signed notifications, each once, and then the same N again
# (the provider's retries: all duplicates), while its RSS and spool size are sampled every second.
# Run twice in one go: with a 24 h de-duplication window (every notification stays in the index:
# memory grows by the index's cost per notification, and nothing else) and with a 10 s window
# (the index stays small: memory must stay flat).
#   bench/memory.sh [N]            (default 1000000; requests are generated once and cached)
# Output: $OUT/memory.tsv (samples), $OUT/summary.md. "lines delivered" equal to N (with
# repeats > 0) means every notification reached the route once and no duplicate did.
set -euo pipefail
BENCH=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH/.." && pwd)
N=${1:-1000000}
swift build -c release --package-path "$ROOT" >&2
BIN=$ROOT/.build/release/gateway
OUT=${OUT:-$BENCH/results/memory-$(date +%Y%m%d-%H%M%S)}
CACHE=${BENCH_CACHE:-$BENCH/.cache}
mkdir -p "$OUT" "$CACHE"
REQS=$CACHE/memory-$N.wrkreq
if [ ! -s "$REQS" ]; then
  echo "generating $N signed notifications into $REQS ..." >&2
  python3 "$BENCH/make_requests.py" -n "$N" --path /webhooks/evo --key bench-key -o "$REQS" -q
fi
PORT=18097
WORK=$(mktemp -d /var/tmp/gateway-memory.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
printf 'window\tt_s\trss_kb\tspool_kb\tdelivered\n' > "$OUT/memory.tsv"
echo "| dedup window | N | requests sent | of them repeats | non-2xx | req/s | idle RSS | peak RSS | RSS at the end | (end - idle) / N | spool on disk at the end | lines delivered |" > "$OUT/summary.md"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|" >> "$OUT/summary.md"

run() {  # $1 window seconds
  local window=$1 dir=$WORK/w$1
  mkdir -p "$dir"
  cat > "$dir/g.yaml" <<YAML
server: {listen: "127.0.0.1:$PORT"}
spool: {dir: $dir/spool}
sources: [{name: evo, path: /webhooks/evo, signKey: bench-key, maxMetadataLength: 1024, dedupWindowSeconds: $window}]
routes:
  - name: audit
    events: ["*"]
    handlers: [{plugin: file, with: {path: $dir/out.jsonl}}]
log: {level: warn}
YAML
  SWIFT_BACKTRACE=enable=no "$BIN" serve --config "$dir/g.yaml" > "$dir/gateway.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/webhooks/evo" && break; sleep 0.1; done
  sleep 1  # settle before reading the idle RSS (a measurement over time, not a wait for a condition)
  local idle; idle=$(awk '/VmRSS/{print $2}' /proc/$PID/status)
  local t0; t0=$(date +%s)
  ( while kill -0 "$PID" 2>/dev/null; do
      printf '%s\t%s\t%s\t%s\t%s\n' "$window" $(( $(date +%s) - t0 )) "$(awk '/VmRSS/{print $2}' /proc/$PID/status 2>/dev/null)" \
        "$(du -sk "$dir/spool" 2>/dev/null | cut -f1)" "$( (wc -l < "$dir/out.jsonl") 2>/dev/null || echo 0)"
      sleep 1
    done ) >> "$OUT/memory.tsv" &
  local sampler=$!
  # One wrk run over the N notifications, long enough to send each about three times: the first
  # round stores them, the later rounds are the provider's retries (all duplicates).
  timeout 900 wrk -t2 -c64 -d"$(( N / 12000 + 30 ))"s -s "$BENCH/evo.lua" "http://127.0.0.1:$PORT/webhooks/evo" \
    -- "$REQS" 2 0 "$N" > "$dir/wrk.txt" 2>&1 || true
  local result; result=$(grep EVO_RESULT "$dir/wrk.txt") || { cat "$dir/wrk.txt" >&2; exit 1; }
  echo "$result" >&2
  local sent repeats rps non2xx
  sent=$(sed -E 's/.* sent=([0-9]+).*/\1/' <<< "$result")
  repeats=$(sed -E 's/.* repeats=([0-9]+).*/\1/' <<< "$result")
  rps=$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<< "$result")
  non2xx=$(sed -E 's/.* non2xx=([0-9]+).*/\1/' <<< "$result")
  # Wait (bounded) until the route has every notification, then read the final numbers.
  for _ in $(seq 1 300); do [ "$(wc -l < "$dir/out.jsonl")" -ge "$N" ] && break; sleep 1; done
  sleep 2  # settle: memory over time, not a condition
  local peak end spool delivered
  peak=$(awk '/VmHWM/{print $2}' /proc/$PID/status)
  end=$(awk '/VmRSS/{print $2}' /proc/$PID/status)
  spool=$(du -sk "$dir/spool" | cut -f1)
  delivered=$(wc -l < "$dir/out.jsonl")
  kill -TERM "$PID"; wait "$PID" || true; PID=
  kill "$sampler" 2>/dev/null || true
  printf '| %ss | %s | %s | %s | %s | %s | %s MB | %s MB | %s MB | %s B | %s MB | %s |\n' "$window" "$N" "$sent" "$repeats" \
    "$non2xx" "$rps" $(( idle / 1024 )) $(( peak / 1024 )) $(( end / 1024 )) $(( (end - idle) * 1024 / N )) \
    $(( spool / 1024 )) "$delivered" >> "$OUT/summary.md"
  rm -rf "$dir"
}

run 86400
run 10
cat "$OUT/summary.md"
