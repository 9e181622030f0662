# The mock TEE (lib/mocktee), the socket transport (lib/tee) and otrp-tee-sim.
#   make check-crash   SIGKILL otrp-tee-sim during 50 sessions, check state after each
#   make fuzz-mocktee  5 minutes of libFuzzer on the mock TEE's request handling
#   make fuzz-ci-mocktee   the same for 30 seconds (CI)
#   make bench-tee     time per TEE operation, crypto vs. the rest (BENCHMARKS.md)

CRASH_BIN := $(BUILD)/test/crash_mocktee
CRASH_SESSIONS ?= 50

$(CRASH_BIN): $(BUILD)/obj/test/crash/crash_mocktee.o $(TEST_SUPPORT_OBJS) $(STATIC_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(TEST_SUPPORT_OBJS) $(STATIC_LIB) $(DEP_LIBS)

.PHONY: check-crash
check-crash: $(CRASH_BIN) $(BUILD)/bin/otrp-tee-sim
	$(Q)$(CRASH_BIN) $(CRASH_SESSIONS)

CI_EXTRA += check-crash

# libFuzzer: our sources instrumented (-fsanitize=fuzzer-no-link,address,undefined) in
# their own build directory, the harness linked with -fsanitize=fuzzer.
FUZZ_CC ?= clang-14
FUZZ_BUILD := build/fuzz
FUZZ_SAN := fuzzer-no-link,address,undefined
MOCKTEE_FUZZ := $(FUZZ_BUILD)/bin/fuzz_mocktee
MOCKTEE_CORPUS := $(FUZZ_BUILD)/corpus/mocktee
FUZZ_SUPPORT_OBJS = $(TEST_SUPPORT_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o)

.PHONY: fuzz-mocktee fuzz-ci-mocktee mocktee-fuzz-build
mocktee-fuzz-build:
	$(Q)$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) SANITIZE=$(FUZZ_SAN) \
	    $(FUZZ_BUILD)/lib/libotrp.a $(FUZZ_SUPPORT_OBJS) $(FUZZ_BUILD)/obj/test/fuzz/fuzz_mocktee.o
	@mkdir -p $(FUZZ_BUILD)/bin
	$(Q)$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $(MOCKTEE_FUZZ) \
	    $(FUZZ_BUILD)/obj/test/fuzz/fuzz_mocktee.o $(FUZZ_SUPPORT_OBJS) $(FUZZ_BUILD)/lib/libotrp.a \
	    $(DEP_LIBS)

# Seeds (valid messages of every kind) are written fresh, then libFuzzer mutates them.
define run_mocktee_fuzz
	@mkdir -p $(MOCKTEE_CORPUS)
	$(Q)OTRP_FUZZ_SEEDS=$(MOCKTEE_CORPUS) ASAN_OPTIONS=detect_leaks=1 \
	    $(MOCKTEE_FUZZ) $(MOCKTEE_CORPUS) -max_total_time=$(1) -max_len=65536 \
	    -print_final_stats=1 2>&1 | tee fuzz-mocktee.log | tail -25
	$(Q)! grep -q -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error' fuzz-mocktee.log
endef

fuzz-mocktee: mocktee-fuzz-build
	$(call run_mocktee_fuzz,300)

fuzz-ci-mocktee: mocktee-fuzz-build
	$(call run_mocktee_fuzz,30)

FUZZ_TARGETS += mocktee

BENCH_TEE := $(BUILD)/bench/bench_tee
$(BENCH_TEE): $(BUILD)/obj/bench/tee/bench_tee.o $(TEST_SUPPORT_OBJS) $(STATIC_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(TEST_SUPPORT_OBJS) $(STATIC_LIB) $(DEP_LIBS)

.PHONY: bench-tee
bench-tee: $(BENCH_TEE)
	$(Q)$(BENCH_TEE) $(BENCH_TEE_ITERATIONS)

BENCH_TEE_ITERATIONS ?= 20
BENCH_TARGETS += bench-tee
