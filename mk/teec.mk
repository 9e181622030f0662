# lib/tee/teec (the GlobalPlatform TEE Client API backend).
#
# libteec is loaded with dlopen, which lives in libdl before glibc 2.34 and on Android
# (--as-needed drops it where libc has it).
DEP_LIBS += -ldl

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
