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
