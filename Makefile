# libotrp: the one build entry point.
#   make            build libotrp.a, libotrp.so and the tools into build/
#   make check      install missing Debian packages, build, run every test, then the
#                   unit tests again under AddressSanitizer + UBSan; ends with one line
#                   "N passed, N failed"
#   make demo       the end-to-end demo (see README.md)
#   make install    PREFIX=/usr/local DESTDIR= (headers, both libraries, otrp.pc)
#   make bench | fuzz | fuzz-ci | check-asan | clean;  V=1 shows the commands.
# The user's CFLAGS, CPPFLAGS and LDFLAGS are appended, never replaced; CC, AR and
# PKG_CONFIG are honoured (cross builds set them).

VERSION_H := include/otrp/version.h
MAJOR := $(shell sed -n 's/^\#define OTRP_VERSION_MAJOR \([0-9]*\).*/\1/p' $(VERSION_H))
MINOR := $(shell sed -n 's/^\#define OTRP_VERSION_MINOR \([0-9]*\).*/\1/p' $(VERSION_H))
PATCH := $(shell sed -n 's/^\#define OTRP_VERSION_PATCH \([0-9]*\).*/\1/p' $(VERSION_H))
VERSION := $(MAJOR).$(MINOR).$(PATCH)

CC ?= cc
AR ?= ar
PKG_CONFIG ?= pkg-config
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=
# Where objects and products go; the sanitizer runs use their own directory.
BUILD ?= build
SANITIZE ?=

ifeq ($(V),1)
Q :=
else
Q := @
endif

# Dependencies. mbedTLS ships no .pc file on Debian 12; MBEDTLS_PREFIX selects another
# copy (the mbedTLS 3.6 leg).
MBEDTLS_PREFIX ?=
ifneq ($(MBEDTLS_PREFIX),)
MBEDTLS_CFLAGS := -isystem $(MBEDTLS_PREFIX)/include
MBEDTLS_LIBS := -L$(MBEDTLS_PREFIX)/lib -Wl,-rpath,$(MBEDTLS_PREFIX)/lib -lmbedtls -lmbedx509 -lmbedcrypto
else
MBEDTLS_CFLAGS :=
MBEDTLS_LIBS := -lmbedtls -lmbedx509 -lmbedcrypto
endif
DEP_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcjson libcurl 2>/dev/null) $(MBEDTLS_CFLAGS)
DEP_LIBS := $(shell $(PKG_CONFIG) --libs libcjson libcurl 2>/dev/null) $(MBEDTLS_LIBS) -lpthread
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)
MHD_LIBS := $(shell $(PKG_CONFIG) --libs libmicrohttpd 2>/dev/null)

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wconversion -Wformat=2 -Wcast-qual -Wundef -Werror
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong
ifeq ($(SANITIZE),)
OPT := -O2 -g
SAN_FLAGS :=
else
OPT := -O1 -g -fno-omit-frame-pointer
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
HARDEN :=
endif
OTRP_CPPFLAGS := -Iinclude -Ilib -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
OTRP_CFLAGS := -std=c11 $(OPT) $(WARN) $(HARDEN) -fPIC -fvisibility=hidden $(SAN_FLAGS) $(DEP_CFLAGS)
OTRP_LDFLAGS := $(SAN_FLAGS) -Wl,-z,relro,-z,now -Wl,--as-needed

ALL_CFLAGS = $(OTRP_CPPFLAGS) $(CPPFLAGS) $(OTRP_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(OTRP_LDFLAGS) $(LDFLAGS)

LIB_SRCS := $(sort $(wildcard lib/*/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
STATIC_LIB := $(BUILD)/lib/libotrp.a
SONAME := libotrp.so.$(MAJOR)
SHARED_LIB := $(BUILD)/lib/libotrp.so.$(VERSION)

# Tools: every tools/NAME/ directory is one program build/bin/NAME. A module's mk file
# may add link flags with TOOL_LIBS_NAME.
TOOL_NAMES := $(notdir $(patsubst %/,%,$(wildcard tools/*/)))
TOOL_BINS := $(TOOL_NAMES:%=$(BUILD)/bin/%)

# Tests: every test/test_*.c is one cmocka program; test/support/*.c is linked to all.
TEST_SUPPORT_SRCS := $(sort $(wildcard test/support/*.c))
TEST_SUPPORT_OBJS := $(TEST_SUPPORT_SRCS:%.c=$(BUILD)/obj/%.o)
TEST_SRCS := $(sort $(wildcard test/test_*.c))
TEST_BINS := $(TEST_SRCS:test/%.c=$(BUILD)/test/%)

# Modules append to these from mk/*.mk.
CHECK_EXTRA :=
CI_EXTRA :=
BENCH_TARGETS :=
FUZZ_TARGETS :=
# Module rules come here, before any rule uses the lists above as prerequisites.
-include mk/*.mk

.PHONY: all lib tools tests check check-asan check-asan-run test-run deps demo demo-relay \
        install uninstall bench fuzz fuzz-ci ci-extra clean
.DEFAULT_GOAL := all
.SECONDARY:

all: lib tools
lib: $(STATIC_LIB) $(SHARED_LIB) $(BUILD)/lib/otrp.pc
tools: $(TOOL_BINS)
tests: $(TEST_BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(STATIC_LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(SHARED_LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -Wl,-soname,$(SONAME) $(ALL_LDFLAGS) -o $@ $^ $(DEP_LIBS)
	$(Q)ln -sf libotrp.so.$(VERSION) $(BUILD)/lib/$(SONAME)
	$(Q)ln -sf $(SONAME) $(BUILD)/lib/libotrp.so

# otrp.pc carries the install paths, so install writes it afresh for its PREFIX.
PC_SED = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    -e 's|@MBEDTLS_LIBS@|$(MBEDTLS_LIBS)|g' pkgconfig/otrp.pc.in

$(BUILD)/lib/otrp.pc: pkgconfig/otrp.pc.in $(VERSION_H) Makefile
	@mkdir -p $(dir $@)
	$(Q)$(PC_SED) > $@

.SECONDEXPANSION:
# (No '%' inside the secondary expansion: in a pattern rule it would be the stem.)
$(BUILD)/bin/%: $$(addprefix $(BUILD)/obj/,$$(subst .c,.o,$$(wildcard tools/$$*/*.c))) $(STATIC_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(STATIC_LIB) $(TOOL_LIBS_$*) $(DEP_LIBS)

$(BUILD)/test/%: $(BUILD)/obj/test/%.o $(TEST_SUPPORT_OBJS) $(STATIC_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $< $(TEST_SUPPORT_OBJS) $(STATIC_LIB) $(TEST_LIBS_$*) \
	    $(CMOCKA_LIBS) $(MHD_LIBS) $(DEP_LIBS)

deps:
	$(Q)sh scripts/deps.sh

# Run every test program of $(BUILD); results go to $(BUILD)/results for the summary.
test-run: tests tools
	$(Q)sh scripts/run-tests.sh $(BUILD) $(TEST_BINS)

check: deps
	$(Q)rm -f build/results build/asan/results
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory test-run
	$(Q)sh scripts/check-install.sh || true
	$(Q)sh test/cli/test_cli.sh build || true
	$(Q)$(MAKE) --no-print-directory check-asan-run
	$(Q)$(if $(CHECK_EXTRA),$(MAKE) --no-print-directory $(CHECK_EXTRA),true)
	$(Q)sh scripts/summary.sh build/results build/asan/results

check-asan-run:
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    $(MAKE) --no-print-directory BUILD=build/asan SANITIZE=address,undefined test-run

check-asan: deps
	$(Q)rm -f build/asan/results
	$(Q)$(MAKE) --no-print-directory check-asan-run
	$(Q)sh scripts/summary.sh build/asan/results

ci-extra: $(CI_EXTRA)

# The demo: an app-defined TEE backend relaying a TAM message (examples/custom_tee.c).
DEMO_TARGET ?= demo-relay
demo: deps
	$(Q)$(MAKE) --no-print-directory $(DEMO_TARGET)

demo-relay: lib
	$(Q)$(CC) $(OTRP_CPPFLAGS) $(CPPFLAGS) -std=c11 -O2 $(CFLAGS) examples/custom_tee.c \
	    -o $(BUILD)/custom_tee $(STATIC_LIB) $(DEP_LIBS)
	$(Q)$(BUILD)/custom_tee

bench: $(BENCH_TARGETS)
fuzz: $(FUZZ_TARGETS:%=fuzz-%)
fuzz-ci: $(FUZZ_TARGETS:%=fuzz-ci-%)

# libFuzzer targets: test/fuzz/fuzz_NAME.c is target NAME, built with clang from our
# sources (instrumented) and the test support code; seeds in test/fuzz/corpus/NAME/.
# `make fuzz-NAME` runs it FUZZ_SECONDS (5 minutes), `make fuzz-ci-NAME` runs it
# FUZZ_CI_SECONDS_NAME (default 30). New inputs go to build/fuzz/corpus-NAME, never
# into the repository.
FUZZ_CC ?= clang-14
FUZZ_SECONDS ?= 300
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := -std=c11 -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
               -DOTRP_FUZZING=1 $(DEP_CFLAGS)
FUZZ_OBJS := $(patsubst %.c,build/fuzz/obj/%.o,$(LIB_SRCS) $(TEST_SUPPORT_SRCS))

build/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(OTRP_CPPFLAGS) -Itest $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

build/fuzz/fuzz_%: build/fuzz/obj/test/fuzz/fuzz_%.o $(FUZZ_OBJS)
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(MHD_LIBS) $(DEP_LIBS)

fuzz-ci-%: build/fuzz/fuzz_%
	@mkdir -p build/fuzz/corpus-$*
	$(Q)build/fuzz/fuzz_$* -max_total_time=$(or $(FUZZ_CI_SECONDS_$*),30) -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 build/fuzz/corpus-$* test/fuzz/corpus/$* \
	    > build/fuzz/fuzz-ci-$*.log 2>&1 || { tail -40 build/fuzz/fuzz-ci-$*.log; exit 1; }
	@grep -E '^stat::number_of_executed_units|^Done' build/fuzz/fuzz-ci-$*.log | tr '\n' ' '; echo "(fuzz $*: clean)"

fuzz-%: build/fuzz/fuzz_%
	@mkdir -p build/fuzz/corpus-$*
	$(Q)nice build/fuzz/fuzz_$* -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 build/fuzz/corpus-$* test/fuzz/corpus/$*

install: all
	install -d $(DESTDIR)$(INCLUDEDIR)/otrp $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(BINDIR)
	install -m 644 include/otrp/*.h $(DESTDIR)$(INCLUDEDIR)/otrp/
	install -m 644 $(STATIC_LIB) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(SHARED_LIB) $(DESTDIR)$(LIBDIR)/
	ln -sf libotrp.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libotrp.so
	$(PC_SED) > $(DESTDIR)$(LIBDIR)/pkgconfig/otrp.pc
	$(if $(TOOL_BINS),install -m 755 $(TOOL_BINS) $(DESTDIR)$(BINDIR)/)
	$(if $(wildcard doc/*.1),install -d $(DESTDIR)$(MANDIR)/man1 && install -m 644 doc/*.1 $(DESTDIR)$(MANDIR)/man1/)

uninstall:
	rm -rf $(DESTDIR)$(INCLUDEDIR)/otrp
	rm -f $(DESTDIR)$(LIBDIR)/libotrp.a $(DESTDIR)$(LIBDIR)/libotrp.so* \
	      $(DESTDIR)$(LIBDIR)/pkgconfig/otrp.pc
	rm -f $(TOOL_NAMES:%=$(DESTDIR)$(BINDIR)/%)
	rm -f $(patsubst doc/%,$(DESTDIR)$(MANDIR)/man1/%,$(wildcard doc/*.1))

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj build/fuzz/obj -name '*.d' 2>/dev/null)
