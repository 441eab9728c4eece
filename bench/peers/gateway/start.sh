#!/usr/bin/env bash
# Start the gateway peer in the foreground (exec; bench/run.sh owns the PID).
# env from run.sh: EVO_KEY EVO_PATH EVO_PORT BENCH_RUNDIR BENCH_SERVER_CPUS
#   GATEWAY_BIN   the binary (default: .build/release/gateway of this checkout)
#   GATEWAY_LOG   log level (default info: one JSON line per accepted notification, the "log sink")
#   SPOOL_DIR     where the spool lives (default $BENCH_RUNDIR/spool; /dev/shm/... for tmpfs)
#   DEDUP_WINDOW  dedupWindowSeconds (default 0: the harness's request files may repeat a
#                 notification, which a de-duplicating gateway would answer without storing)
#   TLS=1         serve TLS with the test certificate (Tests/IntegrationTests/Fixtures/tls)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
BIN=${GATEWAY_BIN:-$ROOT/.build/release/gateway}
RUNDIR=${BENCH_RUNDIR:?}
TLS_LINE=""
if [ "${TLS:-0}" = 1 ]; then
  cp "$ROOT/Tests/IntegrationTests/Fixtures/tls/server.pem" "$RUNDIR/tls.pem"
  cp "$ROOT/Tests/IntegrationTests/Fixtures/tls/server.key" "$RUNDIR/tls.key"
  chmod 600 "$RUNDIR/tls.key"
  TLS_LINE="  tls: {cert: $RUNDIR/tls.pem, key: $RUNDIR/tls.key}"
fi
cat > "$RUNDIR/gateway.yaml" <<YAML
server:
  listen: 127.0.0.1:${EVO_PORT:?}
  workers: ${BENCH_SERVER_CPUS:-0}
$TLS_LINE
spool:
  dir: ${SPOOL_DIR:-$RUNDIR/spool}
sources:
  - name: evo
    path: ${EVO_PATH:?}
    signKey: "${EVO_KEY:?}"
    signTypes: [SHA256, SHA512, HMAC-SHA256, HMAC-SHA512]
    # make_requests.py puts up to ~800 characters of JSON in metadata; the provider documents 512.
    maxMetadataLength: 1024
    dedupWindowSeconds: ${DEDUP_WINDOW:-0}
log:
  level: ${GATEWAY_LOG:-info}
YAML
exec "$BIN" serve --config "$RUNDIR/gateway.yaml" > "$RUNDIR/gateway.log"
