# The mock TEE (lib/mocktee), the socket transport (lib/tee) and otrp-tee-sim.
#   make check-crash   SIGKILL otrp-tee-sim during 50 sessions, check state after each
#   make fuzz-mocktee  5 minutes of libFuzzer on the mock TEE's request handling
#   make fuzz-ci-mocktee   the same for 30 seconds
#   make bench-tee     time per TEE operation, crypto vs. the rest (BENCHMARKS.md)
#   make check-tsan    (mk/http.mk) also runs test_socket (otrp_agent_cancel() reaching a
#                      waiting socket call from another thread) and test_mocktee_store
#                      (the backend's own cancel, and otrp-tee-sim's connection threads)

TSAN_TESTS += build/tsan/test/test_socket build/tsan/test/test_mocktee_store
TSAN_NEEDS += build/tsan/bin/otrp-tee-sim

# otrp-tee-sim is the mock TEE as a daemon: it links libotrp-mocktee.
MOCKTEE_TOOLS += otrp-tee-sim
$(BUILD)/bin/otrp-tee-sim: $(MOCKTEE_STATIC)
TOOL_LIBS_otrp-tee-sim := $(MOCKTEE_STATIC)

CRASH_BIN := $(BUILD)/test/crash_mocktee
CRASH_SESSIONS ?= 50

$(CRASH_BIN): $(BUILD)/obj/test/crash/crash_mocktee.o $(TEST_SUPPORT_OBJS) $(STATIC_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(TEST_SUPPORT_OBJS) $(STATIC_LIB) $(MHD_LIBS) $(DEP_LIBS)

.PHONY: check-crash
check-crash: $(CRASH_BIN) $(BUILD)/bin/otrp-tee-sim
	$(Q)$(CRASH_BIN) $(CRASH_SESSIONS)

CI_EXTRA += check-crash

# libFuzzer: test/fuzz/fuzz_mocktee.c through the generic fuzz-NAME / fuzz-ci-NAME rules
# of the Makefile (5 minutes / 30 seconds); seeds in test/fuzz/corpus/mocktee, made by
#   OTRP_FUZZ_SEEDS=test/fuzz/corpus/mocktee build/fuzz/fuzz_mocktee -runs=0
FUZZ_TARGETS += mocktee
CI_EXTRA += fuzz-ci-mocktee
# The lifted JSON parse the mock TEE reads requests with, against the plain parse
# (test/fuzz/fuzz_json_lift.c): same status, detail and tree for every input.
FUZZ_TARGETS += json_lift
CI_EXTRA += fuzz-ci-json_lift
# The test support objects include the TAM server (libmicrohttpd).
build/fuzz/fuzz_mocktee: DEP_LIBS += $(MHD_LIBS)

BENCH_TEE := $(BUILD)/bench/bench_tee
$(BENCH_TEE): $(BUILD)/obj/bench/tee/bench_tee.o $(TEST_SUPPORT_OBJS) $(STATIC_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(TEST_SUPPORT_OBJS) $(STATIC_LIB) $(MHD_LIBS) $(DEP_LIBS)

.PHONY: bench-tee
bench-tee: $(BENCH_TEE)
	$(Q)$(BENCH_TEE) $(BENCH_TEE_ITERATIONS)

BENCH_TEE_ITERATIONS ?= 20
BENCH_TARGETS += bench-tee
