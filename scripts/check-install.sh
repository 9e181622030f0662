#!/bin/sh
# Install into a staging directory and check what a packager and an app developer rely
# on: headers, both libraries with the soname, otrp.pc, only otrp_* symbols exported,
# and the example building with pkg-config against the installed copy and running.
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
check "make install DESTDIR PREFIX=/usr" make --no-print-directory install DESTDIR="$stage" PREFIX=/usr
check "headers under include/otrp" test -f "$stage/usr/include/otrp/otrp.h" -a -f "$stage/usr/include/otrp/agent.h"
check "static library" test -f "$stage/usr/lib/libotrp.a"
major=$(sed -n 's/^#define OTRP_VERSION_MAJOR \([0-9]*\).*/\1/p' include/otrp/version.h)
check "shared library with soname libotrp.so.$major" sh -c \
    "objdump -p '$stage/usr/lib/libotrp.so' | grep -q 'SONAME *libotrp.so.$major\$'"
check "otrp.pc" test -f "$stage/usr/lib/pkgconfig/otrp.pc"
check "only otrp_* symbols exported" sh -c \
    "! nm -D --defined-only '$stage/usr/lib/libotrp.so' | awk '{print \$3}' | grep -v '^otrp_' | grep -v '^_' | grep -q ."
export PKG_CONFIG_PATH="$stage/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage"
check "example builds with pkg-config --cflags --libs otrp" sh -c \
    "${CC:-cc} examples/custom_tee.c \$(pkg-config --cflags --libs otrp) -o build/custom_tee"
check "example relays a message" sh -c \
    "LD_LIBRARY_PATH='$stage/usr/lib' build/custom_tee | grep -q 'relayed GetDeviceStateRequest'"
check "make uninstall removes it all" sh -c \
    "make --no-print-directory uninstall DESTDIR='$stage' PREFIX=/usr && ! find '$stage' -type f | grep -q ."
echo "install $passed $failed" >> build/results
[ "$failed" -eq 0 ]
