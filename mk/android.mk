# Android NDK builds (documented in docs/backends.md, section "Android").
#
#   make android ANDROID_NDK=/opt/android-ndk-r26d ANDROID_ABI=arm64-v8a ANDROID_API=24 \
#                ANDROID_DEPS=/opt/otrp-deps/arm64-v8a
#
# builds libotrp (.a, .so) and libotrp-mocktee for one ABI into build/android/ABI with the
# NDK's clang, against cJSON and libcurl (and, for libotrp-mocktee, mbedTLS) built for that
# ABI and installed under ANDROID_DEPS (include/, lib/); ANDROID_MOCKTEE=0 builds libotrp
# alone, without mbedTLS. Nothing here takes effect unless ANDROID_NDK is set; without it
# `make android` says what to set. CI has no NDK: the aarch64 cross leg
# (make cross-aarch64) is the check that stands in for it.

ANDROID_ABI ?= arm64-v8a
ANDROID_API ?= 24
ANDROID_HOST_TAG ?= linux-x86_64
ANDROID_DEPS ?= build/android-deps/$(ANDROID_ABI)
ANDROID_MOCKTEE ?= 1

# ABI -> clang target triple (the NDK's <triple><API>-clang wrappers).
ANDROID_TRIPLE_arm64-v8a := aarch64-linux-android
ANDROID_TRIPLE_armeabi-v7a := armv7a-linux-androideabi
ANDROID_TRIPLE_x86_64 := x86_64-linux-android
ANDROID_TRIPLE_x86 := i686-linux-android

.PHONY: android
ifneq ($(ANDROID_NDK),)
ANDROID_TOOLCHAIN := $(ANDROID_NDK)/toolchains/llvm/prebuilt/$(ANDROID_HOST_TAG)
ANDROID_TRIPLE := $(ANDROID_TRIPLE_$(ANDROID_ABI))
ANDROID_CC := $(ANDROID_TOOLCHAIN)/bin/$(ANDROID_TRIPLE)$(ANDROID_API)-clang
ANDROID_AR := $(ANDROID_TOOLCHAIN)/bin/llvm-ar
ANDROID_SYSROOT := $(ANDROID_TOOLCHAIN)/sysroot
# Bionic has pthreads in libc; dlopen is in libdl. mbedTLS has no .pc file anywhere.
ANDROID_DEP_CFLAGS := -isystem $(ANDROID_DEPS)/include -isystem $(ANDROID_DEPS)/include/cjson
ANDROID_OTRP_LIBS := -L$(ANDROID_DEPS)/lib -lcurl -lcjson -ldl
ANDROID_MOCKTEE_LIBS := -L$(ANDROID_DEPS)/lib -lcjson -lmbedtls -lmbedx509 -lmbedcrypto

android:
	$(if $(ANDROID_TRIPLE),,$(error ANDROID_ABI '$(ANDROID_ABI)' is not one of arm64-v8a armeabi-v7a x86_64 x86))
	+$(Q)$(MAKE) --no-print-directory BUILD=build/android/$(ANDROID_ABI) CC=$(ANDROID_CC) \
	    AR=$(ANDROID_AR) CPPFLAGS="--sysroot=$(ANDROID_SYSROOT) $(CPPFLAGS)" \
	    DEP_CFLAGS="$(ANDROID_DEP_CFLAGS)" OTRP_DEP_LIBS="$(ANDROID_OTRP_LIBS)" \
	    MOCKTEE_DEP_LIBS="$(ANDROID_MOCKTEE_LIBS)" WITH_MOCKTEE=$(ANDROID_MOCKTEE) lib
else
android:
	@echo "make android: set ANDROID_NDK (the NDK directory), and ANDROID_ABI (arm64-v8a," >&2
	@echo "armeabi-v7a, x86_64, x86; now $(ANDROID_ABI)), ANDROID_API (now $(ANDROID_API))" >&2
	@echo "and ANDROID_DEPS (prefix of mbedTLS, cJSON and libcurl for that ABI; now" >&2
	@echo "$(ANDROID_DEPS)). See docs/backends.md, section Android." >&2
	@exit 2
endif
