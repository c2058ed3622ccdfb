# callhome - top-level entry points. `make demo` and `make test` install
# what is missing (Debian 12 packages), build, and run.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 60

.PHONY: all deps deps-build build demo test unit asan fuzz bench bench-scale \
	bench-storm clean help \
	install deb

all: build

help:
	@echo "make demo    install deps, build, run a hub and a device on loopback"
	@echo "make test    install deps, build, run every test (unit, integration, interop, NAT)"
	@echo "make asan    unit + integration tests in an ASan/UBSan build"
	@echo "make fuzz    build the libFuzzer targets and fuzz each FUZZ_SECONDS"
	@echo "make bench   benchmarks against peers (see bench/README.md)"
	@echo "make bench-scale  N simulated devices vs minhub, libnetconf2, ncclient (SCALE_N=1000,10000), ours at SCALE_BIG=100000, then bench-storm"
	@echo "make bench-storm  hub restart under N devices, fan-out, rpc rate (STORM_N=10000)"
	@echo "make install programs, man pages, completion, units, /etc/callhome (DESTDIR=...)"
	@echo "make deb     the Debian package: dpkg-buildpackage -us -uc -b (../callhome_*.deb)"

deps:
	@scripts/install-deps.sh

deps-build:
	@scripts/install-deps.sh --build-only

$(BUILD)/Makefile:
	cmake -S . -B $(BUILD)

build: deps-build $(BUILD)/Makefile
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	@scripts/demo.sh $(BUILD)

test: deps build
	cd $(BUILD) && ctest --output-on-failure

unit: build
	cd $(BUILD) && ctest --output-on-failure -R '^unit\.'

asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCH_SANITIZE=address,undefined
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure

fuzz: deps-build
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCH_FUZZ=ON
	cmake --build $(FUZZ_BUILD) -j$(JOBS)
	cd $(FUZZ_BUILD) && ctest --output-on-failure -R '^fuzz\.'
	@scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: deps build
	@bench/run.sh $(BUILD)

# every peer up to SCALE_N; ours alone at SCALE_BIG (no one-process
# manager can hold it here: the open-file limit); then the storms
SCALE_N ?= 1000,10000
SCALE_BIG ?= 100000
bench-scale: build
	/usr/bin/python3 -B bench/scale_bench.py $(BUILD) --n $(SCALE_N)
	/usr/bin/python3 -B bench/scale_bench.py $(BUILD) --n $(SCALE_BIG) \
		--hubs ours
	/usr/bin/python3 -B bench/storm_bench.py $(BUILD) --n $(STORM_N)

STORM_N ?= 10000
bench-storm: build
	/usr/bin/python3 -B bench/storm_bench.py $(BUILD) --n $(STORM_N)

install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD)

deb:
	@scripts/install-deps.sh --package
	dpkg-buildpackage -us -uc -b

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
