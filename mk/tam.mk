# The reference TAM (tam/, build/bin/otrp-tam): not part of libotrp. Its sources,
# with its HTTP front end (tam/httpd.c) and scripted faults (tam/script.c), build the
# static archive build/lib/libotrp-tam.a; the otrp-tam program, the end-to-end tests
# and bench/session link it. The transport tests serve their scripts with the same
# front end.

# TAM_SRCS and TAM_OBJS come from mk/00-tam-objects.mk.
TAM_LIB := $(BUILD)/lib/libotrp-tam.a
# Everything that links the archive lists the mock TEE library (the TAM's JOSE and TEE
# provisioning) and libotrp after it (static link order).
TAM_LINK := $(TAM_LIB) $(MOCKTEE_STATIC) $(STATIC_LIB)

$(BUILD)/obj/tools/otrp-tam/main.o: OTRP_CPPFLAGS += -Itam

$(TAM_LIB): $(TAM_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

MOCKTEE_TOOLS += otrp-tam
$(BUILD)/bin/otrp-tam: $(TAM_LIB) $(MOCKTEE_STATIC)
TOOL_LIBS_otrp-tam := $(TAM_LINK) $(MHD_LIBS)

# The end-to-end tests (test/test_tam.c) drive the TAM in process; the transport tests
# and bench-http serve scripted answers with its front end (reftam.h), as does the
# environment test (test_environment.c: proxies, SSLKEYLOGFILE).
$(BUILD)/obj/test/test_tam.o $(BUILD)/obj/test/test_http.o $(BUILD)/obj/test/test_session.o \
$(BUILD)/obj/test/test_tam_server.o $(BUILD)/obj/test/test_environment.o \
$(BUILD)/obj/bench/bench_http.o: OTRP_CPPFLAGS += -Itam

# make check-tsan-tam: test_tam (16 agents in 16 threads against one TAM, and the rest)
# built with ThreadSanitizer under build/tsan. Part of make ci-extra.
.PHONY: check-tsan-tam
check-tsan-tam:
	$(Q)$(MAKE) --no-print-directory BUILD=build/tsan SANITIZE=thread \
	    build/tsan/test/test_tam build/tsan/bin/otrp-tee-sim
	$(Q)rm -f build/tsan/tam/results
	$(Q)mkdir -p build/tsan/tam && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	    sh scripts/run-tests.sh build/tsan/tam build/tsan/test/test_tam
	$(Q)sh scripts/summary.sh build/tsan/tam/results

CI_EXTRA += check-tsan-tam

# make check runs the otrp-tam command-line tests too (results in build/results), and
# the demo script in a scratch directory: it must end with the TA installed and deleted.
.PHONY: check-tam-cli check-demo
check-tam-cli:
	$(Q)sh test/cli/test_tam_cli.sh build || true
check-demo:
	$(Q)d=$$(mktemp -d /tmp/otrp-demo-XXXXXX); \
	if sh scripts/demo.sh build "$$d/demo" > "$$d/out" 2>&1 && \
	   grep -q "is installed in TEE 'demo-tee'" "$$d/out" && grep -q "holds no TA any more" "$$d/out"; \
	then echo "ok    demo (scripts/demo.sh)"; echo "demo 1 0" >> build/results; \
	else echo "FAIL  demo (scripts/demo.sh)"; tail -20 "$$d/out"; echo "demo 0 1" >> build/results; fi; \
	rm -rf "$$d"
CHECK_EXTRA += check-tam-cli check-demo

# make bench-session (part of make bench): whole sessions through the agent against a
# raw libcurl floor (canned TAM, instant TEE), and a 1 MiB TA install split into the
# TAM's, the TEE's and the agent's shares. See BENCHMARKS.md "Sessions".
BENCH_SESSION := $(BUILD)/bench/session
BENCH_TARGETS += bench-session

.PHONY: bench-session
bench-session: $(BENCH_SESSION)
	$(Q)$(BENCH_SESSION)

$(BUILD)/obj/bench/session/session_bench.o: OTRP_CPPFLAGS += -Itest -Itam

$(BENCH_SESSION): $(BUILD)/obj/bench/session/session_bench.o $(TEST_SUPPORT_OBJS) $(TAM_LIB) $(STATIC_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(TEST_SUPPORT_OBJS) $(TAM_LINK) $(MHD_LIBS) $(DEP_LIBS)

# make demo runs this: the reference TAM over HTTPS, a mock TEE and otrp-agent
# (scripts/demo.sh; everything goes to build/demo; the TAM is stopped by its PID).
DEMO_TARGET := demo-tam
.PHONY: demo-tam
demo-tam: all
	$(Q)sh scripts/demo.sh build

# libFuzzer target on the generic rules: the TAM's POST handler and DSI reader
# (test/fuzz/fuzz_tam.c; seeds in test/fuzz/corpus/tam). make fuzz-tam / fuzz-ci-tam.
FUZZ_TARGETS += tam
FUZZ_CI_SECONDS_tam := 30
CI_EXTRA += fuzz-ci-tam
