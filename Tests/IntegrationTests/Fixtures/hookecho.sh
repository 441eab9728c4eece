#!/bin/sh
# Test helper for the shell plugin (like adnanh/webhook's hookecho): records how it was called.
# Writes $HOOK_OUT/<delivery>-<attempt>.{args,env,stdin}; "sleep" as first argument sleeps (with a
# child) to test timeouts; "quiet-sleep" closes its stdout and stderr first, then sleeps (the
# timeout must still come from the process, not from its output); "fail" exits 3.
set -u
out="${HOOK_OUT:?}"
base="$out/${GATEWAY_DELIVERY_ID:-none}-${GATEWAY_ATTEMPT:-0}"
printf '%s\n' "$@" > "$base.args"
env | grep -E '^(GATEWAY_|ORDER_|PATH=|HOME=|SECRET)' | sort > "$base.env"
cat > "$base.stdin"
case "${1:-}" in
  sleep)
    sleep 30 &
    echo "$!" > "$base.child"
    echo "$$" > "$base.pid"
    sleep 30
    ;;
  quiet-sleep)
    echo "$$" > "$base.pid"
    exec >/dev/null 2>&1
    sleep 30
    ;;
  fail)
    echo "failing on purpose" >&2
    exit 3
    ;;
esac
echo "hookecho done"
