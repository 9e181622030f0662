# Benchmarks and fuzzing of the relay core (lib/agent).

$(BUILD)/bench/relay: bench/relay/relay_bench.c $(STATIC_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes $(ALL_LDFLAGS) -o $@ $< $(STATIC_LIB) $(DEP_LIBS)

.PHONY: bench-relay
bench-relay: $(BUILD)/bench/relay
	$(Q)$(BUILD)/bench/relay
BENCH_TARGETS += bench-relay

FUZZ_TARGETS += relay
FUZZ_CI_SECONDS_relay := 60
CI_EXTRA += fuzz-ci-relay
