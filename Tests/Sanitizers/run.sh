#!/usr/bin/env bash
# Runs the whole test suite, and the gateway processes it starts, under a sanitizer.
#   Tests/Sanitizers/run.sh address|thread        (make asan / make tsan)
# Builds into .build/<sanitizer> so the normal build cache is untouched. Every process writes its
# reports to .build/<sanitizer>-reports/; the run fails if any report is there.
#
# address: memory errors. asan.supp holds one report inside Foundation (explained there). Leak
#   checking is off: at exit the gateway still holds its process-lifetime objects (event loops
#   and their buffers, the spool's indexes, the metrics registry), which LeakSanitizer reports
#   because nothing tears them down before exit(); that is by design, not a leak that grows.
# thread: data races. tsan.supp holds reports inside Foundation, Dispatch and the Swift runtime
#   (each line says why); anything in our modules fails the run. The executables export their
#   symbols (--export-dynamic) so that plugins, built with ThreadSanitizer too, find its runtime.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
kind=${1:?usage: Tests/Sanitizers/run.sh address|thread}
reports="$ROOT/.build/$kind-reports"
rm -rf "$reports"
mkdir -p "$reports"
export SWIFT_BACKTRACE=enable=no GATEWAY_SANITIZER=$kind
extra=()
case "$kind" in
  address)
    export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:log_path=$reports/asan:suppressions=$ROOT/Tests/Sanitizers/asan.supp"
    ;;
  thread)
    export TSAN_OPTIONS="halt_on_error=0:log_path=$reports/tsan:second_deadlock_stack=1:suppressions=$ROOT/Tests/Sanitizers/tsan.supp"
    extra=(-Xlinker --export-dynamic)
    ;;
  *) echo "unknown sanitizer $kind" >&2; exit 2 ;;
esac
swift test --sanitize="$kind" --build-path ".build/$kind" "${extra[@]}"
status=$?
found=$(ls "$reports" | wc -l)
if [ "$found" -gt 0 ]; then
  echo "sanitizer: $found report file(s) in $reports:" >&2
  for f in "$reports"/*; do echo "== $f" >&2; head -60 "$f" >&2; done
  exit 1
fi
echo "sanitizer: $kind: no reports (tests exit status $status)" >&2
exit $status
