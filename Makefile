# meshfl — the two commands first:
#   make demo    build and run the main job on embedded defaults
#   make test    install what is missing, build, run every test
SHELL := /bin/bash
SWIFT ?= swift
CONFIG_RELEASE := -c release
BIN_RELEASE = $(shell $(SWIFT) build $(CONFIG_RELEASE) --show-bin-path)
FUZZ_SECONDS ?= 30

.PHONY: demo test bench fuzz build setup clean

demo: setup
	$(SWIFT) build $(CONFIG_RELEASE) --product meshfl
	$(BIN_RELEASE)/meshfl demo

test: setup
	$(SWIFT) build --build-tests
	scripts/run-tests

bench: setup
	$(SWIFT) build $(CONFIG_RELEASE) --product meshfl-bench
	$(SWIFT) build $(CONFIG_RELEASE) --product meshfl
	/usr/bin/python3 bench/run.py --bin "$(BIN_RELEASE)" $(BENCH_FLAGS)

fuzz: setup
	scripts/fuzz $(FUZZ_SECONDS)

build:
	$(SWIFT) build

setup:
	@scripts/setup

clean:
	rm -rf .build
