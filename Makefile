# Convenience targets; the README's two commands work without make.
.PHONY: build release test run check bench idle-rss fuzz clean

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

clean:
	rm -rf .build
