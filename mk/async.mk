# The event-loop adapters of otrp/session.h (include/otrp/adapters/, header only): the
# end-to-end tests (test_tam) run a full install and delete through each loop found by
# pkg-config (scripts/deps.sh installs both, so CI always builds them). GLib's and
# libuv's headers are system headers here: our warning flags are not theirs.
ADAPTER_PKGS := $(strip $(if $(shell pkg-config --exists glib-2.0 2>/dev/null && echo y),glib-2.0) \
                        $(if $(shell pkg-config --exists libuv 2>/dev/null && echo y),libuv))
ADAPTER_CPPFLAGS := $(if $(filter glib-2.0,$(ADAPTER_PKGS)),-DOTRP_TEST_GLIB) \
                    $(if $(filter libuv,$(ADAPTER_PKGS)),-DOTRP_TEST_LIBUV) \
                    $(patsubst -I%,-isystem %,$(if $(ADAPTER_PKGS),$(shell pkg-config --cflags $(ADAPTER_PKGS))))
ADAPTER_LIBS := $(if $(ADAPTER_PKGS),$(shell pkg-config --libs $(ADAPTER_PKGS)))

$(BUILD)/obj/test/test_tam.o: OTRP_CPPFLAGS += $(ADAPTER_CPPFLAGS)
TEST_LIBS_test_tam += $(ADAPTER_LIBS)

# examples/event_loop.c (several requests at once on one poll() loop) is built with the
# tests and run by test/cli/test_event_loop.sh (make check) against otrp-tam serve and
# otrp-tee-sim daemons.
EVENT_LOOP := $(BUILD)/examples/event_loop
tests: $(EVENT_LOOP)
$(EVENT_LOOP): $(BUILD)/obj/examples/event_loop.o $(STATIC_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(STATIC_LIB) $(DEP_LIBS)

.PHONY: check-event-loop
check-event-loop: $(EVENT_LOOP) tools
	$(Q)sh test/cli/test_event_loop.sh $(BUILD) || true
CHECK_EXTRA += check-event-loop

# make bench-async (part of make bench): 16 non-blocking sessions in one thread against
# 16 blocking sessions in 16 threads, measured in the same run (bench/session --async;
# BENCHMARKS.md "Non-blocking sessions").
BENCH_TARGETS += bench-async
.PHONY: bench-async
bench-async: $(BENCH_SESSION)
	$(Q)$(BENCH_SESSION) --async

# The adapters are installed with the headers, under otrp/adapters/ (header only; no
# library links GLib or libuv). Prerequisites of install/uninstall: they run first, so
# uninstall's rmdir of otrp/ finds the directory empty.
ADAPTER_HEADERS := $(sort $(wildcard include/otrp/adapters/*.h))
.PHONY: install-adapters uninstall-adapters
install: install-adapters
uninstall: uninstall-adapters
install-adapters:
	install -d $(DESTDIR)$(INCLUDEDIR)/otrp/adapters
	install -m 644 $(ADAPTER_HEADERS) $(DESTDIR)$(INCLUDEDIR)/otrp/adapters/
uninstall-adapters:
	rm -f $(patsubst include/otrp/%,$(DESTDIR)$(INCLUDEDIR)/otrp/%,$(ADAPTER_HEADERS))
	rmdir $(DESTDIR)$(INCLUDEDIR)/otrp/adapters 2>/dev/null || true

# make check-tsan (mk/http.mk) also runs test_session: its non-blocking sessions on quick
# TEEs hand their calls in batches to one worker thread (lib/agent/async.c).
TSAN_TESTS += build/tsan/test/test_session
