#!/bin/sh
# Install into a staging directory and check what a packager and an app developer rely
# on: the headers, both libraries (libotrp, libotrp-mocktee) static and shared with
# their sonames, both .pc files, only otrp_* symbols exported; examples/custom_tee.c
# built against the agent alone, with pkg-config --cflags --libs otrp and --static (the
# archive), and examples/mock_tee.c against both libraries, each one run; and make
# uninstall removing it all.
# Appends "install <passed> <failed>" to build/results (see run-tests.sh).
set -u
stage=$(pwd)/build/stage
rm -rf "$stage"
passed=0; failed=0
check() { # description, command...
    desc=$1; shift
    if "$@" >/dev/null 2>build/stage.err; then
        passed=$((passed + 1)); echo "ok    install: $desc"
    else
        failed=$((failed + 1)); echo "FAIL  install: $desc"; cat build/stage.err
    fi
}
mkdir -p build
CC=${CC:-cc}
check "make install DESTDIR PREFIX=/usr" make --no-print-directory install DESTDIR="$stage" PREFIX=/usr
lib=$stage/usr/lib
check "headers under include/otrp" test -f "$stage/usr/include/otrp/otrp.h" \
    -a -f "$stage/usr/include/otrp/agent.h" -a -f "$stage/usr/include/otrp/mocktee.h"
major=$(sed -n 's/^#define OTRP_VERSION_MAJOR \([0-9]*\).*/\1/p' include/otrp/version.h)
for l in otrp otrp-mocktee; do
    check "lib$l.a" test -f "$lib/lib$l.a"
    check "lib$l.so with soname lib$l.so.$major" sh -c \
        "objdump -p '$lib/lib$l.so' | grep -q 'SONAME *lib$l.so.$major\$'"
    check "$l.pc" test -f "$lib/pkgconfig/$l.pc"
    check "lib$l.so exports only otrp_* symbols" sh -c \
        "nm -D --defined-only '$lib/lib$l.so' > build/stage.nm &&
         ! awk '{print \$3}' build/stage.nm | grep -v '^otrp_' | grep -v '^_' | grep -q ."
done
export PKG_CONFIG_PATH="$lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage"
check "otrp.pc names no mbedTLS, also with --static" sh -c \
    "! pkg-config --libs --static otrp | grep -q mbed"
check "otrp-mocktee.pc brings libotrp and, with --static, mbedTLS" sh -c \
    "pkg-config --libs otrp-mocktee | grep -q -- '-lotrp-mocktee .*-lotrp' &&
     pkg-config --libs --static otrp-mocktee | grep -q -- '-lmbedcrypto'"

# The agent alone, as a device app links it.
check "custom_tee builds with pkg-config --cflags --libs otrp" sh -c \
    "$CC examples/custom_tee.c \$(pkg-config --cflags --libs otrp) -o build/custom_tee"
check "custom_tee relays a message" sh -c \
    "LD_LIBRARY_PATH='$lib' build/custom_tee | grep -q 'relayed GetDeviceStateRequest'"
check "custom_tee needs libotrp.so and no mbedTLS" sh -c \
    "readelf -d build/custom_tee | grep -q 'NEEDED.*libotrp.so.$major' &&
     ! LD_LIBRARY_PATH='$lib' ldd build/custom_tee | grep -q mbed"
# --static with a library directory that holds only the archives, as a static-only
# install has (pkg-config prefixes -L with the sysroot).
static=$stage/static
mkdir -p "$static/usr/lib"
cp "$lib/libotrp.a" "$lib/libotrp-mocktee.a" "$static/usr/lib/"
check "custom_tee builds with pkg-config --static against libotrp.a" sh -c \
    "PKG_CONFIG_SYSROOT_DIR='$static' $CC examples/custom_tee.c \
       \$(PKG_CONFIG_SYSROOT_DIR='$stage' pkg-config --cflags otrp) \
       \$(PKG_CONFIG_SYSROOT_DIR='$static' pkg-config --static --libs otrp) -o build/custom_tee_static"
check "static custom_tee relays a message without libotrp.so or mbedTLS" sh -c \
    "build/custom_tee_static | grep -q 'relayed GetDeviceStateRequest' &&
     ! readelf -d build/custom_tee_static | grep -Eq 'NEEDED.*(libotrp|mbed)'"

# The mock TEE: both libraries.
teedir=$stage/tee
check "otrp-tee-sim init provisions a mock TEE" "$stage/usr/bin/otrp-tee-sim" init "$teedir" \
    --name example-tee --trust test/data/pki/tam-root.pem
check "mock_tee builds with pkg-config --cflags --libs otrp-mocktee" sh -c \
    "$CC examples/mock_tee.c \$(pkg-config --cflags --libs otrp-mocktee) -o build/mock_tee"
check "mock_tee opens the mock TEE and gets its signed answer" sh -c \
    "LD_LIBRARY_PATH='$lib' build/mock_tee '$teedir' > build/mock_tee.out &&
     grep -q '\"name\":\"example-tee\"' build/mock_tee.out &&
     grep -q 'signed answer to an untrusted request' build/mock_tee.out"
check "mock_tee builds with pkg-config --static against both archives" sh -c \
    "$CC examples/mock_tee.c \$(PKG_CONFIG_SYSROOT_DIR='$stage' pkg-config --cflags otrp-mocktee) \
       \$(PKG_CONFIG_SYSROOT_DIR='$static' pkg-config --static --libs otrp-mocktee) \
       -o build/mock_tee_static && build/mock_tee_static '$teedir' | grep -q 'signed answer'"
rm -rf "$static" "$teedir" build/stage.nm

check "make uninstall removes it all" sh -c \
    "make --no-print-directory uninstall DESTDIR='$stage' PREFIX=/usr && ! find '$stage' -type f | grep -q ."
echo "install $passed $failed" >> build/results
[ "$failed" -eq 0 ]
