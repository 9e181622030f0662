# lib/tee/teec (the GlobalPlatform TEE Client API backend).
#
# libteec is loaded with dlopen, which lives in libdl before glibc 2.34 and on Android
# (--as-needed drops it where libc has it, so libotrp.so on Debian 12 has no NEEDED
# libdl). DEP_LIBS includes OTRP_DEP_LIBS.
OTRP_DEP_LIBS += -ldl

# The libteec stand-in for the tests (test/teec/standin.c): a shared library with the
# soname libteec.so.2, so the backend's default search finds it once test_teec has
# loaded it (test_teec links it with an $ORIGIN rpath).
TEEC_STANDIN := $(BUILD)/test/teec/libteec.so.2

$(TEEC_STANDIN): $(BUILD)/obj/test/teec/standin.o
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -Wl,-soname,libteec.so.2 $(ALL_LDFLAGS) -o $@ $< -lpthread

$(BUILD)/test/test_teec: $(TEEC_STANDIN)
TEST_LIBS_test_teec = $(TEEC_STANDIN) -Wl,-rpath,'$$ORIGIN/teec'

# Against OP-TEE's real libteec (optee-client-dev, arm64/armhf only in Debian): the cross
# leg builds test/teec/test_teec_real.c, which checks lib/tee/teec_gp.h against the real
# tee_client_api.h at compile time and, under qemu where there is no /dev/tee0, that the
# real library's "no TEE" becomes OTRP_ERR_TEE_UNAVAILABLE.
TEEC_REAL_TEST := $(BUILD)/test/test_teec_real

$(TEEC_REAL_TEST): $(BUILD)/obj/test/teec/test_teec_real.o $(STATIC_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(STATIC_LIB) -lteec $(CMOCKA_LIBS) $(DEP_LIBS)

.PHONY: check-teec-real
check-teec-real: $(TEEC_REAL_TEST)
	$(Q)sh scripts/run-tests.sh $(BUILD) $(TEEC_REAL_TEST)

CROSS_EXTRA_BUILD_aarch64 += $(CROSS_BUILD_aarch64)/test/test_teec_real
CROSS_EXTRA_aarch64 += check-teec-real

# The cancel hook and the deadline watch run beside the calling thread: test_teec under
# ThreadSanitizer. Part of make ci-extra.
.PHONY: check-tsan-teec
check-tsan-teec:
	+$(Q)$(MAKE) --no-print-directory BUILD=build/tsan SANITIZE=thread build/tsan/test/test_teec
	$(Q)rm -f build/tsan/results
	$(Q)TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	    sh scripts/run-tests.sh build/tsan build/tsan/test/test_teec
	$(Q)sh scripts/summary.sh build/tsan/results

CI_EXTRA += check-tsan-teec
