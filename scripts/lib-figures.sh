#!/bin/sh
# make figures-split: the figures of BENCHMARKS.md "Library size and links", re-measured.
# usage: lib-figures.sh BUILD [AGENT...]
#   BUILD   a build directory holding lib/libotrp*.so.*, lib/libotrp.a and bin/
#   AGENT   otrp-agent programs whose resident memory to measure (default BUILD/bin/
#           otrp-agent); make figures-split passes the default build's and the one
#           built without the mock TEE (WITH_MOCKTEE=0).
# Prints, per shared library: `size`, the stripped file size, NEEDED entries and what
# ldd resolves of mbedTLS and libdl; the size of examples/custom_tee.c linked against
# libotrp.a, and linked against libotrp.so (what it loads, its peak resident set); the
# peak resident set (and massif's heap peak when valgrind is there) of `otrp-agent
# state` on a socket TEE served by otrp-tee-sim. Run from the source tree.
set -eu
build=${1:-build}
[ $# -gt 0 ] && shift
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
# Repetitions of each memory measurement.
RUNS=${RUNS:-5}
tmp=$(mktemp -d /tmp/otrp-figures-XXXXXX)
sim_pid=""
cleanup() {
    if [ -n "$sim_pid" ]; then
        kill -TERM "$sim_pid" 2>/dev/null || true
        wait "$sim_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== shared libraries ($build/lib)"
for so in "$build"/lib/libotrp*.so.*.*.*; do
    [ -f "$so" ] || continue
    name=$(basename "$so")
    strip -o "$tmp/$name" "$so"
    echo "-- $name: $(wc -c < "$tmp/$name") bytes stripped"
    size "$so" | sed 's/^/   /'
    echo "   NEEDED: $(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
    echo "   ldd mbedtls/libdl: $(LD_LIBRARY_PATH="$build/lib" ldd "$so" | grep -Eo 'lib(mbed[a-z0-9]*|dl)\.so[.0-9]*' | sort -u | tr '\n' ' ')"
    echo "   exported functions: $(nm -D --defined-only "$so" | awk '$2 == "T"' | wc -l)"
done

# Three ways: with the archive named on the command line (only the members the program
# uses are linked), the same with --gc-sections (only the functions it uses), and the way
# an app links statically with the .pc file (pkg-config --static --libs otrp, a
# directory holding only the archive).
mkdir -p "$tmp/lib"
cp "$build/lib/libotrp.a" "$tmp/lib/"
link_figures() { # what, program
    strip -o "$2.stripped" "$2"
    echo "-- $1: $(wc -c < "$2.stripped") bytes stripped"
    size "$2" | sed 's/^/   /'
    echo "   NEEDED: $(readelf -d "$2" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
}
echo "== examples/custom_tee.c linked against $build/lib/libotrp.a (system libraries shared)"
# shellcheck disable=SC2046
"$CC" -std=c11 -O2 -Iinclude examples/custom_tee.c -o "$tmp/custom_tee" "$build/lib/libotrp.a" \
    $($PKG_CONFIG --libs libcjson libcurl) -lpthread -ldl \
    $(if grep -q mbedtls "$build/lib/otrp.pc"; then echo -lmbedtls -lmbedx509 -lmbedcrypto; fi)
link_figures "archive on the command line" "$tmp/custom_tee"
# shellcheck disable=SC2046
"$CC" -std=c11 -O2 -Iinclude examples/custom_tee.c -o "$tmp/custom_tee_gc" -Wl,--gc-sections \
    "$build/lib/libotrp.a" $($PKG_CONFIG --libs libcjson libcurl) -lpthread -ldl \
    $(if grep -q mbedtls "$build/lib/otrp.pc"; then echo -lmbedtls -lmbedx509 -lmbedcrypto; fi)
link_figures "the same with -Wl,--gc-sections" "$tmp/custom_tee_gc"
# shellcheck disable=SC2046
"$CC" -std=c11 -O2 -Iinclude examples/custom_tee.c -o "$tmp/custom_tee_pc" \
    $(PKG_CONFIG_PATH="$build/lib" $PKG_CONFIG --define-variable=libdir="$tmp/lib" --static --libs otrp)
link_figures "pkg-config --static --libs otrp" "$tmp/custom_tee_pc"

# least_rss RUNS COMMAND...: the smallest peak RSS (KiB) of RUNS runs (other work on the
# machine only ever adds).
least_rss() {
    n=$1; shift
    best=""
    r=0
    while [ "$r" -lt "$n" ]; do
        r=$((r + 1))
        /usr/bin/time -f %M -o "$tmp/rss" "$@" >"$tmp/run.out" || return 1
        kb=$(cat "$tmp/rss")
        if [ -z "$best" ] || [ "$kb" -lt "$best" ]; then best=$kb; fi
    done
    echo "$best"
}

echo "== examples/custom_tee.c linked against $build/lib/libotrp.so (an app on a device)"
"$CC" -std=c11 -O2 -Iinclude examples/custom_tee.c -o "$tmp/custom_tee_so" -L"$build/lib" -lotrp
loaded=$(LD_LIBRARY_PATH="$build/lib" ldd "$tmp/custom_tee_so" | grep -c '=>')
mbed=$(LD_LIBRARY_PATH="$build/lib" ldd "$tmp/custom_tee_so" | grep -c 'libmbed' || true)
rss=$(LD_LIBRARY_PATH="$build/lib" least_rss "$RUNS" "$tmp/custom_tee_so")
echo "   loads $loaded shared libraries ($mbed of mbedTLS); peak RSS $rss KiB (least of $RUNS runs)"

echo "== resident memory of 'otrp-agent state' on a socket TEE (otrp-tee-sim serve)"
"$build/bin/otrp-tee-sim" init "$tmp/tee" --name figures-tee --key-bits 2048 \
    --trust test/data/pki/tam-root.pem >/dev/null
"$build/bin/otrp-tee-sim" serve "$tmp/tee" --listen "unix:$tmp/tee.sock" 2>"$tmp/sim.log" &
sim_pid=$!
i=0
while ! grep -q serving "$tmp/sim.log" 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -gt 200 ] || ! kill -0 "$sim_pid" 2>/dev/null; then
        echo "otrp-tee-sim did not start:" >&2
        cat "$tmp/sim.log" >&2
        exit 1
    fi
    sleep 0.05
done
[ $# -gt 0 ] || set -- "$build/bin/otrp-agent"
for agent in "$@"; do
    best=$(least_rss "$RUNS" "$agent" --tee "socket:$tmp/tee.sock" state)
    grep -q '"figures-tee"' "$tmp/run.out" || { echo "$agent state: no TEE in the answer" >&2; exit 1; }
    line="-- $agent: peak RSS $best KiB (least of $RUNS runs)"
    if command -v valgrind >/dev/null 2>&1; then
        valgrind --tool=massif --massif-out-file="$tmp/massif.out" "$agent" \
            --tee "socket:$tmp/tee.sock" state >/dev/null 2>&1
        heap=$(sed -n 's/^mem_heap_B=//p' "$tmp/massif.out" | sort -n | tail -1)
        line="$line, massif heap peak $heap B"
    fi
    echo "$line"
    echo "   NEEDED: $(readelf -d "$agent" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
done
