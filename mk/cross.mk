# Cross builds.
#
# make cross-aarch64  installs the cross toolchain, qemu and the arm64 -dev packages when
#                     missing (scripts/deps-cross.sh), builds the library, the tools and
#                     every test for arm64 under build/aarch64, runs the tests under
#                     qemu-aarch64-static, the teec checks against OP-TEE's real
#                     libteec (CROSS_EXTRA_aarch64, from mk/teec.mk), the library split
#                     checks on the arm64 libraries (check-libs) and the CLI tests
#                     (arm64 programs through binfmt_misc). Ends with
#                     "N passed, N failed". Part of make ci-extra.
#
# The arm64 libraries come from Debian's multiarch packages (/usr/lib/aarch64-linux-gnu),
# so pkg-config only needs to look there. qemu runs without -L: the multiarch libc6:arm64
# provides /lib/ld-linux-aarch64.so.1, and the older libc of the cross toolchain's
# libc6-arm64-cross (what -L /usr/aarch64-linux-gnu would load) makes pthread_create hang
# under Debian 12's qemu 7.2.

CROSS_aarch64_TRIPLET ?= aarch64-linux-gnu
CROSS_aarch64_DEBARCH ?= arm64
# OTRP_TEST_CPU_SCALE: qemu's emulation spends about ten times the CPU of a native run
# on the same work; the tests that bound the CPU time of one call scale their bound by it.
CROSS_aarch64_RUNNER ?= env OTRP_TEST_CPU_SCALE=10 qemu-aarch64-static
CROSS_BUILD_aarch64 ?= build/aarch64

# The sub-make of one cross leg: $(call cross_make,ARCH,TARGETS,ENV)
cross_make = $(3) PKG_CONFIG_LIBDIR=/usr/lib/$(CROSS_$(1)_TRIPLET)/pkgconfig:/usr/share/pkgconfig \
    $(MAKE) --no-print-directory BUILD=$(CROSS_BUILD_$(1)) CC=$(CROSS_$(1)_TRIPLET)-gcc \
    AR=$(CROSS_$(1)_TRIPLET)-ar NM=$(CROSS_$(1)_TRIPLET)-nm READELF=$(CROSS_$(1)_TRIPLET)-readelf \
    STRIP=$(CROSS_$(1)_TRIPLET)-strip \
    CROSS_ARCH=$(1) $(2)

.PHONY: cross-aarch64 cross-deps-aarch64
cross-deps-aarch64:
	$(Q)sh scripts/deps-cross.sh $(CROSS_aarch64_DEBARCH)

cross-aarch64: cross-deps-aarch64
	$(Q)rm -f $(CROSS_BUILD_aarch64)/results
	+$(Q)$(call cross_make,aarch64,all tests $(CROSS_EXTRA_BUILD_aarch64))
	+$(Q)$(call cross_make,aarch64,test-run $(CROSS_EXTRA_aarch64),OTRP_TEST_RUNNER="$(CROSS_aarch64_RUNNER)")
	$(Q)sh test/cli/test_cli.sh $(CROSS_BUILD_aarch64) || true
	$(Q)sh scripts/summary.sh $(CROSS_BUILD_aarch64)/results

CROSS_EXTRA_aarch64 += check-libs

CI_EXTRA += cross-aarch64
