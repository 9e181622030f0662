# libotrp: the one build entry point.
#   make            build the two libraries (libotrp: the agent; libotrp-mocktee: the mock
#                   TEE with JOSE), static and shared, and the tools into build/
#   make check      install missing Debian packages, build, run every test, then the
#                   unit tests again under AddressSanitizer + UBSan; ends with one line
#                   "N passed, N failed"
#   make demo       the end-to-end demo (see README.md)
#   make install    PREFIX=/usr/local DESTDIR= (headers, both libraries static and
#                   shared, otrp.pc and otrp-mocktee.pc, the tools, the man pages)
#   make bench | fuzz | fuzz-ci | check-asan | figures-split | clean;  V=1 shows the commands.
#   WITH_MOCKTEE=0  a device build: libotrp and an otrp-agent without the mock TEE
#                   (teec: and socket: only), no mbedTLS needed; the default 1 adds
#                   libotrp-mocktee, otrp-tee-sim, otrp-tam and --tee mock: (make demo).
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

# Dependencies. libotrp (the agent) links cJSON and libcurl only; mbedTLS is for
# libotrp-mocktee (lib/jose, lib/mocktee) alone. mbedTLS ships no .pc file on Debian 12;
# MBEDTLS_PREFIX selects another copy (the mbedTLS 3.6 leg).
MBEDTLS_PREFIX ?=
ifneq ($(MBEDTLS_PREFIX),)
MBEDTLS_CFLAGS := -isystem $(MBEDTLS_PREFIX)/include
MBEDTLS_LIBS := -L$(MBEDTLS_PREFIX)/lib -Wl,-rpath,$(MBEDTLS_PREFIX)/lib -lmbedtls -lmbedx509 -lmbedcrypto
else
MBEDTLS_CFLAGS :=
MBEDTLS_LIBS := -lmbedtls -lmbedx509 -lmbedcrypto
endif
DEP_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcjson libcurl 2>/dev/null) $(MBEDTLS_CFLAGS)
CJSON_LIBS := $(shell $(PKG_CONFIG) --libs libcjson 2>/dev/null)
# What libotrp.so links (mk/teec.mk adds -ldl), what libotrp-mocktee.so links beside
# libotrp, and DEP_LIBS: both, for the programs that link both archives (tests, tools).
OTRP_DEP_LIBS := $(CJSON_LIBS) $(shell $(PKG_CONFIG) --libs libcurl 2>/dev/null) -lpthread
MOCKTEE_DEP_LIBS := $(CJSON_LIBS) $(MBEDTLS_LIBS) -lpthread
DEP_LIBS = $(OTRP_DEP_LIBS) $(MBEDTLS_LIBS)
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
# One section per function and object, so that the shared libraries (and an app that
# links the archives with --gc-sections) leave out what nothing calls: lib/util helpers
# only the mock TEE uses are not in libotrp.so.
OTRP_CFLAGS := -std=c11 $(OPT) $(WARN) $(HARDEN) -fPIC -fvisibility=hidden \
               -ffunction-sections -fdata-sections $(SAN_FLAGS) $(DEP_CFLAGS)
OTRP_LDFLAGS := $(SAN_FLAGS) -Wl,-z,relro,-z,now -Wl,--as-needed
SHLIB_LDFLAGS := -shared -Wl,--gc-sections

ALL_CFLAGS = $(OTRP_CPPFLAGS) $(CPPFLAGS) $(OTRP_CFLAGS) $(SIZE_OPT) $(CFLAGS)
ALL_LDFLAGS = $(OTRP_LDFLAGS) $(LDFLAGS)

# The two libraries. libotrp, the agent: lib/agent, lib/http, lib/tee (socket, teec),
# lib/util. libotrp-mocktee: lib/jose and lib/mocktee, on libotrp and mbedTLS; it exports
# the mock TEE's constructors (include/otrp/mocktee.h) only. Each shared library exports
# exactly its list in lib/*.sym (scripts/check-libs.sh compares). LIB_SRCS is all of
# lib/ (the fuzz rules build it whole).
LIB_SRCS := $(sort $(wildcard lib/*/*.c))
MOCKTEE_SRCS := $(filter lib/jose/% lib/mocktee/%,$(LIB_SRCS))
OTRP_SRCS := $(filter-out $(MOCKTEE_SRCS),$(LIB_SRCS))
OTRP_OBJS := $(OTRP_SRCS:%.c=$(BUILD)/obj/%.o)
MOCKTEE_OBJS := $(MOCKTEE_SRCS:%.c=$(BUILD)/obj/%.o)
LIB_OBJS := $(OTRP_OBJS) $(MOCKTEE_OBJS)
STATIC_LIB := $(BUILD)/lib/libotrp.a
SONAME := libotrp.so.$(MAJOR)
SHARED_LIB := $(BUILD)/lib/libotrp.so.$(VERSION)
MOCKTEE_STATIC := $(BUILD)/lib/libotrp-mocktee.a
MOCKTEE_SONAME := libotrp-mocktee.so.$(MAJOR)
MOCKTEE_SHARED := $(BUILD)/lib/libotrp-mocktee.so.$(VERSION)
# The lib/util helpers that lib/jose and lib/mocktee call are internal (hidden) in
# libotrp.so, so libotrp-mocktee.so carries a private copy of those it needs: linked
# from this archive after libotrp.so, which supplies everything libotrp exports.
UTIL_ARCHIVE := $(BUILD)/obj/lib/libotrp-util.a
UTIL_OBJS := $(filter $(BUILD)/obj/lib/util/%,$(OTRP_OBJS))
# Size (BENCHMARKS.md, "Library size"): libotrp is built -Os but for HOT_SRCS, the code
# that goes over every byte of a message, which stays -O2. Measured in the same runs:
# all -Os costs make bench-session 1-2% (https 1.08 -> 1.09-1.10x raw libcurl); with
# these three at -O2 it is 1.08, and the library 108448 bytes instead of 104352 (goal
# 110 KB). libotrp-mocktee, a test tool, builds its own objects -O2 (its copy of the
# lib/util helpers is libotrp's); the sanitizer builds keep -O1 everywhere.
HOT_SRCS := lib/util/base64.c lib/util/json_scan.c lib/agent/route.c
ifeq ($(SANITIZE),)
$(filter-out $(HOT_SRCS:%.c=$(BUILD)/obj/%.o),$(OTRP_OBJS)): SIZE_OPT := -Os
endif
# Headers: every include/otrp/*.h is libotrp's except the mock TEE's.
MOCKTEE_HEADERS := include/otrp/mocktee.h
OTRP_HEADERS := $(filter-out $(MOCKTEE_HEADERS),$(sort $(wildcard include/otrp/*.h)))

# Tools: every tools/NAME/ directory is one program build/bin/NAME. A module's mk file
# may add link flags with TOOL_LIBS_NAME.
TOOL_NAMES := $(notdir $(patsubst %/,%,$(wildcard tools/*/)))
TOOL_BINS := $(TOOL_NAMES:%=$(BUILD)/bin/%)

# The mock TEE in the build. WITH_MOCKTEE=1 (the default in this repository: make demo
# and the CLI tests use --tee mock:DIR) builds and installs libotrp-mocktee and the
# programs built on it (MOCKTEE_TOOLS, from the mk files), and otrp-agent links it and
# offers mock:. WITH_MOCKTEE=0 is what a device ships: libotrp and an otrp-agent with
# teec: and socket: only, linked without mbedTLS. The choice is kept in a stamp file that
# changes only with it, so switching rebuilds tee_spec.o.
WITH_MOCKTEE ?= 1
ifeq ($(filter 0 1,$(WITH_MOCKTEE)),)
$(error WITH_MOCKTEE is 0 or 1, not '$(WITH_MOCKTEE)')
endif
MOCKTEE_TOOLS :=
MOCKTEE_STAMP := $(BUILD)/obj/tools/otrp-agent/with-mocktee
$(MOCKTEE_STAMP): FORCE
	@mkdir -p $(dir $@)
	@[ "$$(cat $@ 2>/dev/null)" = "$(WITH_MOCKTEE)" ] || echo "$(WITH_MOCKTEE)" > $@
$(BUILD)/obj/tools/otrp-agent/tee_spec.o: $(MOCKTEE_STAMP)
$(BUILD)/obj/tools/otrp-agent/tee_spec.o: OTRP_CPPFLAGS += -DOTRP_AGENT_WITH_MOCKTEE=$(WITH_MOCKTEE)
ifeq ($(WITH_MOCKTEE),1)
$(BUILD)/bin/otrp-agent: $(MOCKTEE_STATIC)
TOOL_LIBS_otrp-agent := $(MOCKTEE_STATIC)
INSTALL_LIBS := otrp otrp-mocktee
INSTALL_HEADERS := $(OTRP_HEADERS) $(MOCKTEE_HEADERS)
else
$(BUILD)/bin/otrp-agent: DEP_LIBS = $(OTRP_DEP_LIBS)
INSTALL_LIBS := otrp
INSTALL_HEADERS := $(OTRP_HEADERS)
endif

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
ALL_TOOL_NAMES := $(TOOL_NAMES)
ifeq ($(WITH_MOCKTEE),0)
TOOL_NAMES := $(filter-out $(MOCKTEE_TOOLS),$(TOOL_NAMES))
TOOL_BINS := $(TOOL_NAMES:%=$(BUILD)/bin/%)
endif

FORCE:
.PHONY: FORCE all lib tools tests check check-asan check-asan-run test-run deps demo demo-relay \
        install uninstall bench fuzz fuzz-ci ci-extra figures-split clean
.DEFAULT_GOAL := all
.SECONDARY:

all: lib tools
lib: $(foreach l,$(INSTALL_LIBS),$(BUILD)/lib/lib$(l).a $(BUILD)/lib/lib$(l).so.$(VERSION) \
     $(BUILD)/lib/$(l).pc)
tools: $(TOOL_BINS)
tests: $(TEST_BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# The archives depend on the Makefile too: which objects go into which library is
# decided here.
define archive_recipe
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $(filter %.o,$^)
endef

$(STATIC_LIB): $(OTRP_OBJS) Makefile
	$(archive_recipe)
$(MOCKTEE_STATIC): $(MOCKTEE_OBJS) Makefile
	$(archive_recipe)
$(UTIL_ARCHIVE): $(UTIL_OBJS) Makefile
	$(archive_recipe)

$(SHARED_LIB): $(OTRP_OBJS) lib/otrp.sym
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(SHLIB_LDFLAGS) -Wl,-soname,$(SONAME) -Wl,--version-script=lib/otrp.sym $(ALL_LDFLAGS) \
	    -o $@ $(OTRP_OBJS) $(OTRP_DEP_LIBS)
	$(Q)ln -sf libotrp.so.$(VERSION) $(BUILD)/lib/$(SONAME)
	$(Q)ln -sf $(SONAME) $(BUILD)/lib/libotrp.so

# libotrp.so comes before the util archive: what libotrp exports (otrp_buf_*,
# otrp_strerror, otrp_tee_new, ...) is taken from it, only the hidden helpers from the
# archive.
$(MOCKTEE_SHARED): $(MOCKTEE_OBJS) $(SHARED_LIB) $(UTIL_ARCHIVE) lib/otrp-mocktee.sym
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(SHLIB_LDFLAGS) -Wl,-soname,$(MOCKTEE_SONAME) -Wl,--version-script=lib/otrp-mocktee.sym \
	    $(ALL_LDFLAGS) -o $@ $(MOCKTEE_OBJS) $(SHARED_LIB) $(UTIL_ARCHIVE) $(MOCKTEE_DEP_LIBS)
	$(Q)ln -sf libotrp-mocktee.so.$(VERSION) $(BUILD)/lib/$(MOCKTEE_SONAME)
	$(Q)ln -sf $(MOCKTEE_SONAME) $(BUILD)/lib/libotrp-mocktee.so

# The .pc files carry the install paths, so install writes them afresh for its PREFIX.
# $(call pc_sed,NAME) writes pkgconfig/NAME.pc.in with the paths filled in.
pc_sed = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    -e 's|@MBEDTLS_LIBS@|$(MBEDTLS_LIBS)|g' pkgconfig/$(1).pc.in

$(BUILD)/lib/%.pc: pkgconfig/%.pc.in $(VERSION_H) Makefile
	@mkdir -p $(dir $@)
	$(Q)$(call pc_sed,$*) > $@

.SECONDEXPANSION:
# (No '%' inside the secondary expansion: in a pattern rule it would be the stem.)
$(BUILD)/bin/%: $$(addprefix $(BUILD)/obj/,$$(subst .c,.o,$$(wildcard tools/$$*/*.c))) $(STATIC_LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(TOOL_LIBS_$*) $(STATIC_LIB) $(DEP_LIBS)

# (TEST_SUPPORT_OBJS ends with libotrp-mocktee.a: see mk/00-tam-objects.mk.)
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
	$(Q)$(MAKE) --no-print-directory check-libs
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

# The demo: an app-defined TEE backend relaying a TAM message (examples/custom_tee.c,
# on libotrp alone).
DEMO_TARGET ?= demo-relay
demo: deps
	$(Q)$(MAKE) --no-print-directory $(DEMO_TARGET)

demo-relay: lib
	$(Q)$(CC) $(OTRP_CPPFLAGS) $(CPPFLAGS) -std=c11 -O2 $(CFLAGS) examples/custom_tee.c \
	    -o $(BUILD)/custom_tee $(STATIC_LIB) $(OTRP_DEP_LIBS)
	$(Q)$(BUILD)/custom_tee

bench: $(BENCH_TARGETS)

# The otrp-agent of a device build (WITH_MOCKTEE=0) beside the default one, under
# $(BUILD)/nomock: check-libs and figures-split look at both. (A sub-make passes CC, AR
# and the other command-line variables on, so the cross legs build it for their target.)
NOMOCK_BUILD = $(BUILD)/nomock
NOMOCK_AGENT = $(NOMOCK_BUILD)/bin/otrp-agent
.PHONY: nomock-agent check-libs
nomock-agent:
	+$(Q)$(MAKE) --no-print-directory BUILD=$(NOMOCK_BUILD) WITH_MOCKTEE=0 $(NOMOCK_AGENT)

# The library split (scripts/check-libs.sh): exports against lib/*.sym and the headers,
# NEEDED entries, the umbrella header, otrp-agent with and without mock:. Part of make
# check ("libs" in the summary); the aarch64 and mbedTLS 3.6 legs run it on their builds.
# Like run-tests.sh it records the verdict in $(BUILD)/results and does not stop make.
NM ?= nm
READELF ?= readelf
STRIP ?= strip
check-libs: lib $(BUILD)/bin/otrp-agent nomock-agent
	$(Q)NM="$(NM)" READELF="$(READELF)" STRIP="$(STRIP)" CC="$(CC)" sh scripts/check-libs.sh $(BUILD) $(NOMOCK_BUILD) || true

# The figures of BENCHMARKS.md "Library size and links": the libraries, a static link of
# examples/custom_tee.c, and the memory of otrp-agent with and without the mock TEE.
figures-split: all nomock-agent
	$(Q)sh scripts/lib-figures.sh $(BUILD) $(BUILD)/bin/otrp-agent $(NOMOCK_AGENT)

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

# One library's files: $(call install_lib,NAME) installs libNAME.a, libNAME.so.VERSION
# with its soname and development links, and NAME.pc. (The empty last line ends each
# library's commands when several are joined.)
define install_lib
	install -m 644 $(BUILD)/lib/lib$(1).a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(BUILD)/lib/lib$(1).so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf lib$(1).so.$(VERSION) $(DESTDIR)$(LIBDIR)/lib$(1).so.$(MAJOR)
	ln -sf lib$(1).so.$(MAJOR) $(DESTDIR)$(LIBDIR)/lib$(1).so
	$(call pc_sed,$(1)) > $(DESTDIR)$(LIBDIR)/pkgconfig/$(1).pc

endef

TOOL_MANS = $(wildcard $(TOOL_NAMES:%=doc/%.1))
install: all
	install -d $(DESTDIR)$(INCLUDEDIR)/otrp $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(BINDIR)
	install -m 644 $(INSTALL_HEADERS) $(DESTDIR)$(INCLUDEDIR)/otrp/
	$(foreach l,$(INSTALL_LIBS),$(call install_lib,$(l)))
	$(if $(TOOL_BINS),install -m 755 $(TOOL_BINS) $(DESTDIR)$(BINDIR)/)
	$(if $(TOOL_MANS),install -d $(DESTDIR)$(MANDIR)/man1 && install -m 644 $(TOOL_MANS) $(DESTDIR)$(MANDIR)/man1/)

# File by file, so that nothing else under these directories is touched; the otrp/
# header directory goes once it is empty.
uninstall:
	rm -f $(patsubst include/otrp/%,$(DESTDIR)$(INCLUDEDIR)/otrp/%,$(OTRP_HEADERS) $(MOCKTEE_HEADERS))
	rmdir $(DESTDIR)$(INCLUDEDIR)/otrp 2>/dev/null || true
	rm -f $(foreach l,otrp otrp-mocktee,$(DESTDIR)$(LIBDIR)/lib$(l).a $(DESTDIR)$(LIBDIR)/lib$(l).so \
	      $(DESTDIR)$(LIBDIR)/lib$(l).so.$(MAJOR) $(DESTDIR)$(LIBDIR)/lib$(l).so.$(VERSION) \
	      $(DESTDIR)$(LIBDIR)/pkgconfig/$(l).pc)
	rm -f $(ALL_TOOL_NAMES:%=$(DESTDIR)$(BINDIR)/%)
	rm -f $(patsubst doc/%,$(DESTDIR)$(MANDIR)/man1/%,$(wildcard doc/*.1))

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj build/fuzz/obj -name '*.d' 2>/dev/null)
