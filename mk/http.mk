# lib/http (the TAM transport): extra build legs.
#
# make check-tsan   builds the tests with ThreadSanitizer under build/tsan and runs
#                   test_http with TSAN_HTTP_THREADS threads, each with its own transport,
#                   POSTing to one loopback server (test_http_parallel_transports), plus
#                   the cancel-from-another-thread tests; and test_tam_server (the
#                   front end's own threads). Other modules add their programs to
#                   TSAN_TESTS (and what those need to TSAN_NEEDS). Part of make ci-extra.

TSAN_HTTP_THREADS ?= 16
TSAN_TESTS += build/tsan/test/test_http build/tsan/test/test_tam_server

.PHONY: check-tsan
check-tsan:
	$(Q)$(MAKE) --no-print-directory BUILD=build/tsan SANITIZE=thread $(TSAN_TESTS) $(TSAN_NEEDS)
	$(Q)rm -f build/tsan/results
	$(Q)OTRP_HTTP_THREADS=$(TSAN_HTTP_THREADS) TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
	    sh scripts/run-tests.sh build/tsan $(TSAN_TESTS)
	$(Q)sh scripts/summary.sh build/tsan/results

CI_EXTRA += check-tsan

# make bench-http (part of make bench): the transport against bare libcurl over
# loopback HTTP and HTTPS, printed as ratios to that floor.
BENCH_HTTP := $(BUILD)/bench/bench_http
BENCH_TARGETS += bench-http

.PHONY: bench-http
bench-http: $(BENCH_HTTP)
	$(Q)$(BENCH_HTTP)

$(BUILD)/obj/bench/bench_http.o: OTRP_CPPFLAGS += -Itest

$(BENCH_HTTP): $(BUILD)/obj/bench/bench_http.o $(TEST_SUPPORT_OBJS) $(STATIC_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(TEST_SUPPORT_OBJS) $(STATIC_LIB) $(MHD_LIBS) $(DEP_LIBS)
