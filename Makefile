# Thin wrapper over CMake: `make run` trains the default model, `make test`
# runs the test suite, `make bench` the benchmarks.
BUILD ?= build
JOBS  ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps run test bench sanitize clang mpi mpi-sanitize fuzz memcheck clean parity-fixtures install

all: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

deps:
	@scripts/install-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

# runs/fashion-mlp is make's own folder: each `make run` replaces the last (--force).
run: all
	scripts/fetch-data.sh fashion-mnist
	$(BUILD)/scratchnet train examples/fashion-mlp.net --data data/fashion-mnist --out runs/fashion-mlp --force
	@echo "make run: wrote runs/fashion-mlp (model.safetensors, report.html, ...)"

# The CLI, its manual page, completions, the library and its header under
# PREFIX (bin/, share/man/man1/, share/bash-completion/, lib/, include/).
PREFIX ?= /usr/local
install: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)
	cmake --install $(BUILD) --prefix $(PREFIX)

test: all
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

bench: all
	scripts/install-deps.sh --bench
	cmake -S . -B $(BUILD) && cmake --build $(BUILD) -j$(JOBS)
	bench/run.sh $(BUILD)

# Regenerates the PyTorch fixtures of tests/parity/ (needs python3-torch) and
# the worked examples of docs/by-hand/ (plain python3).
parity-fixtures:
	/usr/bin/python3 tests/parity/gen.py
	/usr/bin/python3 docs/by-hand/compute.py

ASAN_BUILD ?= build-asan
sanitize:
	$(MAKE) test BUILD=$(ASAN_BUILD) CMAKE_FLAGS="-DSN_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DSN_BENCH=OFF"

# The suite built by clang (build-clang), then the short training runs of
# tests/golden by both builds, compared byte for byte: the compilers must
# train to the same bits (CMakeLists.txt turns off multiply-add contraction).
CLANG_BUILD ?= build-clang
clang: all
	scripts/install-deps.sh --clang
	$(MAKE) test BUILD=$(CLANG_BUILD) CMAKE_FLAGS="-DCMAKE_C_COMPILER=clang -DSN_BENCH=OFF"
	scripts/fetch-data.sh fashion-mnist
	scripts/fetch-data.sh moby-dick
	rm -rf $(CLANG_BUILD)/golden-cc $(CLANG_BUILD)/golden-clang
	tests/golden/record.sh $(BUILD) $(CLANG_BUILD)/golden-cc
	tests/golden/record.sh $(CLANG_BUILD) $(CLANG_BUILD)/golden-clang
	tests/golden/compare.sh $(CLANG_BUILD)/golden-cc $(CLANG_BUILD)/golden-clang

# The build for data-parallel training over MPI (docs/distributed.md) in
# build-mpi, and its whole suite: the tests of tests/mpi/ run on 2 ranks.
MPI_BUILD ?= build-mpi
mpi:
	scripts/install-deps.sh --mpi
	$(MAKE) test BUILD=$(MPI_BUILD) CMAKE_FLAGS="-DSN_MPI=ON"

# The tests of tests/mpi/ (2 ranks) under AddressSanitizer and
# UndefinedBehaviorSanitizer: the MPI variant's Debug build in build-mpi-asan.
# Open MPI's own allocations are suppressed (tests/mpi/lsan.supp). About 7
# minutes on 2 busy cores, so CI does not run it.
MPI_ASAN_BUILD ?= build-mpi-asan
mpi-sanitize:
	scripts/install-deps.sh --mpi
	cmake -S . -B $(MPI_ASAN_BUILD) -DSN_SANITIZE=ON -DSN_MPI=ON -DCMAKE_BUILD_TYPE=Debug -DSN_BENCH=OFF
	cmake --build $(MPI_ASAN_BUILD) -j$(JOBS) --target mpi-tests
	ctest --test-dir $(MPI_ASAN_BUILD) -L mpi --output-on-failure

# libFuzzer targets of fuzz/ (clang): each runs FUZZ_SECONDS from its seeds.
FUZZ_SECONDS ?= 60
fuzz:
	scripts/install-deps.sh --fuzz
	fuzz/run.sh $(FUZZ_SECONDS)

# A short MLP and text training run under valgrind memcheck.
memcheck:
	scripts/install-deps.sh --memcheck
	scripts/memcheck.sh

clean:
	rm -rf $(BUILD) build-asan build-clang build-mpi build-fuzz build-memcheck
