# process_hub_native: the two commands a newcomer needs are `make demo` and `make test`.
# Both install what is missing from Debian's packages first (scripts/install-deps.sh).

REBAR ?= rebar3
export ERL_FLAGS ?=

.PHONY: all build deps test test-c valgrind-c clang-build test-portable fmt fmt-check eunit ct ct-valgrind asan fuzz soak demo bench bench-quick docs package-check dialyzer clean

all: build

deps:
	@bash scripts/install-deps.sh

build:
	$(MAKE) -C c_src
	$(REBAR) compile

# Everything CI runs (.ci/run calls this).
test: deps
	$(MAKE) fmt-check
	$(MAKE) docs
	$(MAKE) dialyzer
	$(MAKE) package-check
	$(MAKE) clang-build
	$(MAKE) -C c_src all test-c valgrind-c
	$(MAKE) test-portable
	$(REBAR) eunit
	$(REBAR) ct
	$(MAKE) ct-valgrind
	$(MAKE) asan
	$(MAKE) -C test/fuzz smoke
	bash scripts/mix-check.sh
	bash scripts/elixir-check.sh
	$(MAKE) bench-quick
	$(MAKE) bench PHN_BENCH_SIZE=smoke PHN_BENCH_OUT=_build/BENCHMARKS.smoke.md

test-c:
	$(MAKE) -C c_src test-c

valgrind-c:
	$(MAKE) -C c_src valgrind-c

# The whole C tree must also build warning-free under clang (objects in their own dir).
clang-build:
	$(MAKE) -C c_src CC=clang OBJ=_obj_clang PRIV=_obj_clang/priv all tests

# The POSIX fallbacks other platforms take (c_src/cnode/phn_cn_compat.h), built with every
# Linux-only call off and proven here: symbol check, cmocka tests, the C-node CT suite.
test-portable:
	REBAR="$(REBAR)" bash scripts/portable-test.sh

C_FILES = $(shell git ls-files -co --exclude-standard -- 'c_src/*.c' 'c_src/*.h' 'test/*.c' 'test/*.h' 'bench/*.c')

# AddressSanitizer + UBSan: the C core's and the C-node's cmocka tests, the NIF (under
# EUnit) and the C-node (under the multi-node C-node suite).
SAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
asan:
	$(MAKE) -C c_src CC=gcc OBJ=_obj_asan PRIV=_obj_asan/priv SAN="$(SAN_FLAGS)" nif cnode tests
	@set -e; for t in c_src/_obj_asan/test/test_*; do echo "== asan $$t"; \
	  ASAN_OPTIONS=halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1 $$t >/dev/null; done
	$(REBAR) as test compile
	bash scripts/asan-eunit.sh
	REBAR="$(REBAR)" bash scripts/asan-ct.sh

# Mixed load through the tracker and the C-node for SOAK_SECONDS, no completion lost or
# duplicated (test/phn_soak.erl). Not part of make test.
SOAK_SECONDS ?= 600
soak: deps
	$(MAKE) -C c_src
	$(REBAR) as test compile
	bash scripts/soak.sh $(SOAK_SECONDS)

# libFuzzer on every core entry point (test/fuzz/): FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
fuzz: deps
	$(MAKE) -C test/fuzz run FUZZ_SECONDS=$(FUZZ_SECONDS)

# The reference docs: edoc of erl_src/ into doc/ (rebar.config's edoc_opts), and a page for
# every module whose header (the lines before -module) does not say @private. ExDoc (for
# the Elixir modules) comes only from hex.pm, which is not reachable here: not run.
docs:
	$(REBAR) edoc
	@set -e; for f in erl_src/*.erl; do m=$$(basename $$f .erl); \
	  sed '/^-module(/q' $$f | grep -q '@private' && continue; \
	  test -s doc/$$m.html || { echo "docs: no doc/$$m.html" >&2; exit 1; }; done; \
	  echo "docs: doc/index.html"

# What a hex package would ship, built and loaded as a rebar3 dependency of a scratch
# project (the file list itself is checked by test/phn_40_package_tests.erl).
package-check:
	REBAR="$(REBAR)" bash scripts/package-check.sh

# Dialyzer on erl_src/ (rebar.config's dialyzer section: -Wunmatched_returns
# -Werror_handling -Wunderspecs -Wmissing_return -Wunknown), the PLT of OTP's apps built
# once and cached under _build/dialyzer; unknown 'Elixir.*' modules are ignored
# (scripts/dialyzer.sh). Run by make test.
dialyzer:
	REBAR="$(REBAR)" bash scripts/dialyzer.sh

fmt:
	clang-format -i $(C_FILES)

fmt-check:
	clang-format --dry-run --Werror $(C_FILES)

eunit:
	$(REBAR) eunit

ct:
	$(REBAR) ct

# The multi-node C-node suite once more, every C-node instance under valgrind memcheck:
# an instance that exits cleanly must report no error and no leak (exit status 0).
CNODE_VALGRIND = valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,possible
ct-valgrind:
	PHN_CNODE_WRAPPER="$(CNODE_VALGRIND)" $(REBAR) ct --suite test/phn_cnode_SUITE

# Benchmarks need the test profile (the ProcessHub test doubles and the generators) and
# Elixir's own library (Enum.chunk_every, MapSet), measured beside ours.
# The C-node part starts peers on a private epmd (bench/phn_bench_cluster.erl).
ELIXIR_EBIN ?= $(shell dirname $$(readlink -f $$(command -v elixir)))/../lib/elixir/ebin
BUILD_DIR = $(or $(REBAR_BASE_DIR),_build)
BENCH_PA = -pa $(BUILD_DIR)/test/lib/process_hub_native/ebin \
           -pa $(BUILD_DIR)/test/lib/process_hub_native/test -pa bench/ebin -pa $(ELIXIR_EBIN)

bench-build: deps
	$(REBAR) as test compile
	@mkdir -p bench/ebin && erlc -o bench/ebin bench/*.erl

bench-quick: bench-build
	erl -noshell $(BENCH_PA) -eval 'phn_bench:quick().'

PHN_BENCH_SIZE ?= full
PHN_BENCH_OUT ?= BENCHMARKS.md
bench: bench-build
	PHN_BENCH_SIZE=$(PHN_BENCH_SIZE) PHN_BENCH_OUT=$(PHN_BENCH_OUT) \
	  erl -noshell $(BENCH_PA) -eval 'phn_bench:full().'

# Three BEAM nodes and the C-node on a private epmd: a ProcessHub-shaped start of 5 000
# children, a report, then a node stopped and each partition strategy's verdict.
demo:
	bash scripts/demo.sh

clean:
	$(MAKE) -C c_src clean
	rm -rf _build doc test/elixir/_build
