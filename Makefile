# Convenience targets; the README's two commands work without make.
.PHONY: build release test run check bench idle-rss fuzz asan tsan clean

build:
	swift build

release:
	swift build -c release

test:
	swift test

run: release
	.build/release/gateway serve --config gateway.yaml

check: release
	.build/release/gateway check --config gateway.yaml

# Gateway vs nginx in one run (needs wrk and nginx-light); see bench/README.md.
bench:
	bench/gateway.sh

idle-rss: release
	bench/idle_rss.sh

# Every fuzz target for FUZZ_SECONDS each (libFuzzer; see Tests/Fuzz/run.sh).
FUZZ_SECONDS ?= 60
fuzz:
	Tests/Fuzz/run.sh $(FUZZ_SECONDS)

# The test suite under AddressSanitizer / ThreadSanitizer (see Tests/Sanitizers/run.sh).
asan:
	Tests/Sanitizers/run.sh address

tsan:
	Tests/Sanitizers/run.sh thread

clean:
	rm -rf .build
