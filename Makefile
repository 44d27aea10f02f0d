# pagehint: make free page hinting observable.
#
#   make demo    build everything and show free page hinting at work
#   make test    everything CI runs
#
# Every target installs the Debian packages it needs first (scripts/deps.sh)
# and is idempotent. KSRC=/path/to/linux builds another kernel tree.

BUILD     ?= $(CURDIR)/build
PYTHON    := /usr/bin/python3
CC        := gcc
CFLAGS    ?= -O2 -g
WFLAGS    := -Wall -Wextra -Werror
KFLAVOUR  ?= default
KOUT      := $(BUILD)/kernel-$(KFLAVOUR)
BZIMAGE   := $(KOUT)/arch/x86/boot/bzImage
INITRAMFS := $(BUILD)/guest/initramfs.cpio.gz
STOCK_INITRAMFS := $(BUILD)/stock/initramfs.cpio.gz
GUEST_BINS := $(BUILD)/bin/memhog $(BUILD)/bin/hintstat
HINTSTAT_DEPS := tools/hintstat/Makefile $(wildcard tools/hintstat/*.[ch] bpf/*.[ch]) \
	$(wildcard $(KOUT)/vmlinux)
# What a stock distribution kernel must load for the guest to run.
STOCK_MODULES := virtio_pci virtio_balloon 9pnet_virtio 9p
PYTEST_ARGS ?=

export BUILD

.PHONY: all deps kernel kernel-debug guest stock tools demo test test-unit fuzz \
	check-patches bench-reclaim bench-pagefault bench-host bench-fleet bench-refault bench-clock bench-kpf bench bench-ci bench-compare \
	dashboard mutants deb clean

all: kernel guest

deps:
	@scripts/deps.sh

# The kernel script decides what to rebuild (series hash, config hash,
# kbuild's own dependencies), so this target always runs it.
kernel: deps
	@scripts/kernel.sh $(KFLAVOUR)

# The same series with DEBUG_VM, PROVE_LOCKING and DEBUG_LIST, for the
# stress test (build/kernel-debug).
kernel-debug: deps
	@scripts/kernel.sh debug

tools: $(GUEST_BINS) $(BUILD)/hintstat/hintstat_test $(BUILD)/hintstat/asan/hintstat \
	$(BUILD)/hintstat/fuzz/fuzz_record

# BPF skeleton (build/hintstat/hintstat.skel.h), static hintstat, unit tests.
$(BUILD)/bin/hintstat $(BUILD)/hintstat/hintstat_test &: $(HINTSTAT_DEPS) | deps
	$(MAKE) -C tools/hintstat BUILD=$(BUILD)

# libFuzzer targets (ASan + UBSan) on the parsers of untrusted input.
$(BUILD)/hintstat/fuzz/fuzz_record: $(HINTSTAT_DEPS) $(wildcard tools/hintstat/fuzz/*.c) | deps
	$(MAKE) -C tools/hintstat BUILD=$(BUILD) fuzz

# Each fuzz target for FUZZ_S seconds (make test: 30 s each).
FUZZ_S ?= 600
fuzz: tools
	FUZZ_S=$(FUZZ_S) $(PYTHON) -m pytest -v -s tests/test_fuzz.py $(PYTEST_ARGS)

# The same under ASan and UBSan: host mode's end-to-end test and the C
# unit tests run on it too.
$(BUILD)/hintstat/asan/hintstat $(BUILD)/hintstat/asan/hintstat_test &: $(HINTSTAT_DEPS) | deps
	$(MAKE) -C tools/hintstat BUILD=$(BUILD) asan

# Debian package of hintstat: static binary, man page, bpftrace scripts,
# fleet rules and dashboards, systemd units (packaging/, plain dpkg-deb),
# build/deb/hintstat_VERSION-1_ARCH.deb; no lintian error.
deb: tools
	@packaging/mkdeb.sh $(BUILD)/bin/hintstat $(BUILD)/deb

$(BUILD)/bin/memhog: tools/memhog/memhog.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WFLAGS) -static -pthread -o $@ $<

guest: $(INITRAMFS)

$(INITRAMFS): guest/init guest/mkinitramfs.py $(GUEST_BINS) | deps
	@mkdir -p $(@D)
	$(PYTHON) guest/mkinitramfs.py -o $@ $(addprefix --bin ,$(GUEST_BINS))

# Debian's unmodified 6.12 kernel and an initramfs with its modules.
stock: $(STOCK_INITRAMFS)

$(STOCK_INITRAMFS): guest/init guest/mkinitramfs.py $(GUEST_BINS) | deps
	@scripts/stock-kernel.sh
	$(PYTHON) guest/mkinitramfs.py -o $@ $(addprefix --bin ,$(GUEST_BINS)) \
		--modules $(BUILD)/stock/modules $(addprefix --module ,$(STOCK_MODULES))

demo: kernel guest
	@$(PYTHON) scripts/demo.py --kernel $(BZIMAGE) --initrd $(INITRAMFS)

# Time from a guest free to the host RSS falling, stock vs patched.
bench-reclaim: kernel guest stock
	@$(PYTHON) bench/reclaim.py $(BENCH_ARGS)

# Free-path overhead: page_fault1-style throughput, pristine vs patched.
bench-pagefault: kernel guest
	@scripts/kernel.sh pristine
	@$(PYTHON) bench/pagefault.py $(BENCH_ARGS)

# Host-side cost of hintstat host per traced madvise, on a stand-in VMM:
# untraced vs traced in the same run (build/bench/host_overhead.json).
bench-host: tools
	@$(PYTHON) bench/host_overhead.py $(BENCH_ARGS)

# hintstat host's refault figure: the pagemap scan per interval, by bytes
# discarded and not touched again (build/bench/refault_scan.json).
# hintstat host on 50 stand-in VMMs vs 1, CPU share (build/bench/host_fleet.json).
bench-fleet: tools
	@$(PYTHON) bench/host_fleet.py $(BENCH_ARGS)

bench-refault: tools
	@$(PYTHON) bench/refault_scan.py $(BENCH_ARGS)

# The TCG guest's clock: 50 boots in a row, each checked for a lost TSC
# and a 1 s sleep against the host's clock (build/bench/clock_boots.json;
# BENCH_ARGS="--unpinned --load 1" for the old way under load).
bench-clock: kernel guest
	@$(PYTHON) bench/clock_boots.py $(BENCH_ARGS)

# hintstat --mode workqueue on this machine: the kpageflags scan per
# interval and the BPF cost per work item (build/bench/kpf_scan.json).
bench-kpf: tools
	@$(PYTHON) bench/kpf_scan.py $(BENCH_ARGS)

# The bench harness: every scenario on the pagehint kernel and on Debian's
# stock kernel in one run, >= 5 samples each, results appended to
# bench/history.jsonl (bench/bench.py; BENCH_ARGS=--skip-missing to run
# without the pristine tree).
bench: kernel guest stock
	@scripts/kernel.sh pristine
	@$(PYTHON) bench/bench.py $(BENCH_ARGS)

# The short CI profile: stock vs mainline one-shot, 3 samples each, fails
# on a flagged regression of the tracked metrics against bench/baseline.json.
bench-ci: kernel guest stock
	@mkdir -p $(BUILD)/bench
	@$(PYTHON) bench/bench.py --profile ci --no-history \
		-o $(BUILD)/bench/ci-results.json $(BENCH_ARGS)
	@$(PYTHON) bench/compare.py --check $(BUILD)/bench/ci-results.json

# LKP-style table of two commits of the history: make bench-compare BASE=x HEAD=y
bench-compare:
	@test -n "$(BASE)" -a -n "$(HEAD)" || \
		{ echo "usage: make bench-compare BASE=<commit> HEAD=<commit>"; exit 2; }
	@$(PYTHON) bench/compare.py $(BASE) $(HEAD)

# Static HTML (build/dashboard/index.html), checked in headless Chromium
# (installed here when missing: Debian's chromium package).
dashboard:
	@$(PYTHON) bench/dashboard.py $(DASHBOARD_ARGS)
	@scripts/deps-bench.sh
	@$(PYTHON) bench/browser.py $(BUILD)/dashboard/index.html \
		--screenshot $(BUILD)/dashboard/screenshot.png

# Seeded bugs in the kernel series, each built and booted with the KUnit
# suite, which must fail on every one (build/mutants.json).
mutants: kernel guest
	@$(PYTHON) scripts/mutants.py

check-patches: deps
	@$(PYTHON) -m pytest -q tests/test_patches.py

# Unit tests that need no kernel build (runner, workload, parsers).
test-unit: deps tools
	$(PYTHON) -m pytest -v -m "not vm and not kernel" tests $(PYTEST_ARGS)

test: kernel kernel-debug guest stock tools
	@mkdir -p $(BUILD)
	@$(PYTHON) -m pytest -v -rfEs --junitxml=$(BUILD)/test-results.xml tests \
		$(PYTEST_ARGS); rc=$$?; \
		$(PYTHON) scripts/test-summary.py $(BUILD)/test-results.xml $$rc

clean:
	rm -rf $(BUILD)/bin $(BUILD)/guest $(BUILD)/stock $(BUILD)/kernel-* $(BUILD)/runs \
		$(BUILD)/hintstat
