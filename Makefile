# ulvs — keepalived and LVS/IPVS in Go, with the data path in userspace.
# `make` alone lists the targets.

GO      ?= go
BIN     := bin
CMDS    := $(notdir $(wildcard cmd/*))
SHARED  ?= ../shared
ROOT    := $(shell id -u 2>/dev/null | grep -qx 0 && echo 1 || echo 0)
# As root every netns test must run: a missing tool fails instead of skipping.
export ULVS_REQUIRE_NETNS ?= $(ROOT)

.DEFAULT_GOAL := help
PREFIX  ?= /usr/local
DESTDIR ?=
SBINDIR := $(PREFIX)/sbin
BINDIR  := $(PREFIX)/bin

.PHONY: help deps build test unit demo chaos bench fuzz lint clean install ipvs-vm-test man deb
VERSION ?= 0.1.0
# ALTERNATIVES=1: make install also installs keepalived and ipvsadm as
# alternatives pointing at ulvsd and ulvsadm (ulvs-alternatives(8)).
ALTERNATIVES ?= 0

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

deps: ## install the Debian packages and Go modules the tests need
	@scripts/deps.sh test

build: ## build every command into bin/
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./cmd/...

test: deps build ## unit tests, fuzz seeds and (as root) the netns tests and the kernel IPVS VM tests
	$(GO) vet ./...
	@if [ $(ROOT) = 1 ]; then scripts/ipvs-vm.sh fetch; fi
	ULVS_VM=$(ROOT) $(GO) test -count=1 -timeout 20m ./...

unit: ## unit tests only (no deps, no root needed; netns tests skip)
	ULVS_REQUIRE_NETNS=0 $(GO) test -count=1 -short ./...

demo: build ## as root: the lab end to end: spread, drain, failover, a DR trace (docs/lab.md)
	@scripts/demo.sh

CHAOS_DURATION ?= 10m
chaos: build ## as root: the DR lab under a scripted mix of faults and hostile clients (10 min), invariants checked; timeline in bench/results
	@scripts/deps.sh test
	$(BIN)/ulvslab chaos --duration $(CHAOS_DURATION) $(CHAOS_ARGS)

ipvs-vm-test: ## boot Debian's kernel under QEMU and prove the kernel IPVS backend and sched/ against it
	@scripts/ipvs-vm.sh test

bench: ## run the benchmarks and record the results under bench/results
	@scripts/bench.sh

fuzz: ## run every fuzz target briefly (FUZZTIME=10s each by default)
	@scripts/fuzz.sh $(FUZZTIME)

lint: ## gofmt, go vet and staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

install: build man ## install the commands, manual pages, systemd unit and defaults file (PREFIX, DESTDIR; ALTERNATIVES=1: as keepalived and ipvsadm too)
	install -D -m 0755 $(BIN)/ulvsd $(DESTDIR)$(SBINDIR)/ulvsd
	install -D -m 0755 $(BIN)/ulvsadm $(DESTDIR)$(SBINDIR)/ulvsadm
	install -D -m 0755 $(BIN)/genhash $(DESTDIR)$(BINDIR)/ulvs-genhash
	@if [ -x $(BIN)/ulvslab ]; then install -D -m 0755 $(BIN)/ulvslab $(DESTDIR)$(SBINDIR)/ulvslab; fi
	install -d $(DESTDIR)/etc/systemd/system $(DESTDIR)/etc/default
	sed 's#@SBINDIR@#$(SBINDIR)#g' packaging/ulvsd.service > $(DESTDIR)/etc/systemd/system/ulvsd.service
	@if [ ! -e $(DESTDIR)/etc/default/ulvsd ]; then install -m 0644 packaging/ulvsd.default $(DESTDIR)/etc/default/ulvsd; fi
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/ulvs/README.md
	install -D -m 0755 packaging/ulvs-alternatives $(DESTDIR)$(SBINDIR)/ulvs-alternatives
	for p in build/man/man*/* packaging/ulvs-alternatives.8; do \
		s=$${p##*.}; install -D -m 0644 $$p $(DESTDIR)$(PREFIX)/share/man/man$$s/$${p##*/}; done
	@if [ "$(ALTERNATIVES)" = 1 ]; then \
		DPKG_ROOT=$(DESTDIR) $(DESTDIR)$(SBINDIR)/ulvs-alternatives enable --sbindir $(SBINDIR); fi
	@echo "installed; start with: systemctl daemon-reload && systemctl enable --now ulvsd"

man: ## render the manual pages from the commands' flag definitions into build/man
	ULVS_MAN_DIR=$(CURDIR)/build/man ULVS_VERSION=$(VERSION) $(GO) test -count=1 -run '^TestManPage$$' ./cmd/... >/dev/null

deb: ## build the Debian package (dpkg-deb) into build/: commands, unit, conffile, manual pages, docs
	@VERSION=$(VERSION) scripts/deb.sh build

clean: ## remove built binaries and test caches
	rm -rf $(BIN) build
	$(GO) clean -testcache
