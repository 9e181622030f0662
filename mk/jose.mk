# lib/jose: fuzzing, benchmark and the mbedTLS 3.6 leg. Included by the Makefile.

# ---- libFuzzer targets ----------------------------------------------------------------
# test/fuzz/fuzz_jose_<name>.c on the generic fuzz rules of the Makefile (seeds in
# test/fuzz/corpus/jose_<name>/, like every target):
#   make fuzz-jose_jws          5 minutes      make fuzz-ci-jose_jws   30 seconds
JOSE_FUZZ := jose_b64url jose_jws jose_jwe jose_jwk
FUZZ_TARGETS += $(JOSE_FUZZ)
# .ci/run (make ci-extra) runs each target for 30 seconds.
CI_EXTRA += $(JOSE_FUZZ:%=fuzz-ci-%)

# ---- benchmark ------------------------------------------------------------------------
# bench/jose: lib/jose beside `openssl speed` (same run) and raw mbedTLS.
JOSE_BENCH_SRCS := $(sort $(wildcard bench/jose/*.c))
JOSE_BENCH_OBJS := $(JOSE_BENCH_SRCS:%.c=$(BUILD)/obj/%.o)
BENCH_TARGETS += bench-jose
.PHONY: bench-jose

$(BUILD)/bench/jose: $(JOSE_BENCH_OBJS) $(MOCKTEE_STATIC) $(STATIC_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(JOSE_BENCH_OBJS) $(MOCKTEE_STATIC) $(STATIC_LIB) $(DEP_LIBS)

bench-jose: $(BUILD)/bench/jose
	$(Q)$(BUILD)/bench/jose

# ---- the mbedTLS 3.6 leg --------------------------------------------------------------
# Debian 13's mbedTLS 3.6 unpacked (not installed) into build/mbedtls3 by
# scripts/jose-mbedtls3.sh. Only libotrp-mocktee (lib/jose, lib/mocktee) uses mbedTLS,
# so the leg is about that library: it is built against 3.6 in its own build directory,
# its tests (the jose and mock TEE tests, with otrp-tee-sim for the daemon tests) run
# normally and under ASan+UBSan, and check-libs checks the split there; libotrp-mocktee.so
# must need 3.6's libmbedcrypto ("m3-soname"), libotrp.so no mbedTLS at all. .ci/run
# runs it.
JOSE_M3_DIR := build/mbedtls3
JOSE_M3_PREFIX := $(abspath $(JOSE_M3_DIR))/prefix
JOSE_TESTS := $(sort $(wildcard test/test_jose_*.c))
M3_TESTS := $(JOSE_TESTS) $(sort $(wildcard test/test_mocktee*.c))
JOSE_M3_BUILD := $(JOSE_M3_DIR)/build
CI_EXTRA += check-mbedtls3
.PHONY: check-mbedtls3

check-mbedtls3:
	$(Q)sh scripts/jose-mbedtls3.sh $(JOSE_M3_DIR)
	$(Q)rm -f $(JOSE_M3_BUILD)/results $(JOSE_M3_BUILD)/asan/results
	$(Q)$(MAKE) --no-print-directory BUILD=$(JOSE_M3_BUILD) MBEDTLS_PREFIX=$(JOSE_M3_PREFIX) \
	    $(M3_TESTS:test/%.c=$(JOSE_M3_BUILD)/test/%) $(JOSE_M3_BUILD)/bin/otrp-tee-sim
	$(Q)sh scripts/run-tests.sh $(JOSE_M3_BUILD) $(M3_TESTS:test/%.c=$(JOSE_M3_BUILD)/test/%)
	$(Q)$(MAKE) --no-print-directory BUILD=$(JOSE_M3_BUILD) MBEDTLS_PREFIX=$(JOSE_M3_PREFIX) check-libs
	$(Q)so=$(JOSE_M3_BUILD)/lib/libotrp-mocktee.so.$(VERSION); \
	m3=$$(readelf -d $(JOSE_M3_PREFIX)/lib/libmbedcrypto.so | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'); \
	if [ -n "$$m3" ] && readelf -d $$so | grep -q "(NEEDED).*\[$$m3\]"; then \
	    echo "ok    libotrp-mocktee.so needs mbedTLS 3.6 ($$m3)"; echo "m3-soname 1 0" >> $(JOSE_M3_BUILD)/results; \
	else echo "FAIL  libotrp-mocktee.so does not need mbedTLS 3.6's '$$m3'"; \
	    echo "m3-soname 0 1" >> $(JOSE_M3_BUILD)/results; fi
	$(Q)$(MAKE) --no-print-directory BUILD=$(JOSE_M3_BUILD)/asan SANITIZE=address,undefined \
	    MBEDTLS_PREFIX=$(JOSE_M3_PREFIX) $(M3_TESTS:test/%.c=$(JOSE_M3_BUILD)/asan/test/%) \
	    $(JOSE_M3_BUILD)/asan/bin/otrp-tee-sim
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    sh scripts/run-tests.sh $(JOSE_M3_BUILD)/asan \
	    $(M3_TESTS:test/%.c=$(JOSE_M3_BUILD)/asan/test/%)
	$(Q)sh scripts/summary.sh $(JOSE_M3_BUILD)/results $(JOSE_M3_BUILD)/asan/results
