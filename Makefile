# One-command set-up, synth and tests. `make synth` and `make test` install what they need
# (idempotently) and then run; see README.md.
SHELL := /bin/bash
VENV := .venv
STAMP := .setup

export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
# jsii prints an 11-line banner on every synth under a Node major it no longer supports (20 since
# 2026-10-30). Its silencing variable takes the MAJOR versions to silence ("20", "18,20"), not a
# flag: "1" silences nothing. Ours: the Node on PATH, unless the caller set it.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION ?= $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null)
export CDK_DISABLE_VERSION_CHECK := 1
export CARGO_TERM_COLOR := never

# setup adds the aarch64 std with `rustup target add`; only where rustup cannot download does it
# install Debian's rustc-web, whose aarch64 std is a package. So: the default (rustup) rustc when
# it has that std; else Debian's rustc when it has it; a RUSTC given by the caller always wins.
ifeq ($(origin RUSTC),undefined)
  ifneq ($(wildcard /usr/lib/rustlib/aarch64-unknown-linux-gnu/lib),)
    ifeq ($(wildcard $(shell rustc --print sysroot 2>/dev/null)/lib/rustlib/aarch64-unknown-linux-gnu/lib),)
      export RUSTC := /usr/bin/rustc
    endif
  endif
endif

.PHONY: setup synth lint test test-fast deploy-local bench docs clean

setup: $(STAMP)/system $(STAMP)/python $(STAMP)/node $(STAMP)/cargo-tools

$(STAMP)/system: scripts/setup-system.sh
	@mkdir -p $(STAMP)
	scripts/setup-system.sh
	@touch $@

$(STAMP)/python: pyproject.toml
	@mkdir -p $(STAMP)
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	@touch $@

# BundlingOptions(auditable=True) builds with cargo-auditable; the tests read its output back
# with rust-audit-info. Both pinned, from crates.io, into the venv's bin (on PATH here).
CARGO_AUDITABLE_VERSION := 0.7.7
RUST_AUDIT_INFO_VERSION := 0.5.4
$(STAMP)/cargo-tools: Makefile
	@mkdir -p $(STAMP)
	cargo install --quiet --locked --root $(VENV) cargo-auditable --version $(CARGO_AUDITABLE_VERSION)
	cargo install --quiet --locked --root $(VENV) rust-audit-info --version $(RUST_AUDIT_INFO_VERSION)
	@touch $@

$(STAMP)/node: package.json package-lock.json
	@mkdir -p $(STAMP)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Re-enter make after set-up so RUSTC detection above sees the freshly installed rustc.
synth: setup
	@$(MAKE) --no-print-directory _synth
_synth:
	cdk synth --quiet
	@echo "templates written to cdk.out/"

# Lint, format check and strict type check (settings in pyproject.toml); `make test` runs it
# first. `ruff check --fix . && ruff format .` fixes most lint and all format findings.
lint: setup
	@$(MAKE) --no-print-directory _lint
_lint:
	ruff check .
	ruff format --check .
	mypy

test: lint
	@$(MAKE) --no-print-directory _test
# Tests run on every core (pytest-xdist; tests/conftest.py keeps a module's tests, and all Docker
# tests, on one worker, longest modules first). PYTEST_WORKERS=0 runs them in this process (e.g.
# to see prints with -s).
PYTEST_WORKERS ?= auto
_test:
	python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# Lint, then unit and construct tests only (no Rust compilation).
test-fast: lint
	@$(MAKE) --no-print-directory _test PYTEST_ARGS='-m "not build and not invoke and not cli and not deploy and not docker and not wheel"'

# Deploy the example stacks to a local AWS emulator (moto on 127.0.0.1: no account, no Docker),
# print their outputs, stop the emulator. STACKS="EchoStack PiStack" deploys only those;
# DEPLOY_LOCAL_ARGS=--destroy also destroys them before the emulator stops.
deploy-local: setup
	@$(MAKE) --no-print-directory _deploy-local
_deploy-local:
	python scripts/deploy_local.py $(DEPLOY_LOCAL_ARGS) $(STACKS)

# Benchmarks (not part of the tests): see bench/RESULTS.md.
bench: setup
	@$(MAKE) --no-print-directory _bench
_bench:
	python bench/run.py $(BENCH_ARGS)

# The docs site (mkdocs.yml) into site/, strict: a broken link or API reference fails.
# `.venv/bin/mkdocs serve` previews it while you edit.
docs: setup
	@$(MAKE) --no-print-directory _docs
_docs:
	NO_MKDOCS_2_WARNING=1 mkdocs build --strict

clean:
	rm -rf cdk.out $(STAMP) lambdas/target site
