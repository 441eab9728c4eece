#!/usr/bin/env bash
# Idle RSS of the gateway: start it with a minimal config, let it settle, read VmRSS, stop it.
#   bench/idle_rss.sh [BIN]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/.build/release/gateway}
DIR=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$DIR"' EXIT
cat > "$DIR/g.yaml" <<YAML
server: {listen: 127.0.0.1:0}
admin: {listen: 127.0.0.1:0}
spool: {dir: $DIR/spool}
sources: [{name: evo, path: /webhooks/evo, signKey: k}]
YAML
"$BIN" serve --config "$DIR/g.yaml" > "$DIR/log" &
PID=$!
for _ in $(seq 1 100); do grep -q 'gateway listening' "$DIR/log" 2>/dev/null && break; sleep 0.05; done
sleep 1   # let it settle: this measures memory over time, it does not wait for a condition
echo "idle RSS: $(awk '/VmRSS/{print $2, $3}' /proc/$PID/status) (threads: $(ls /proc/$PID/task | wc -l))"
