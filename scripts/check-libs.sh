#!/bin/sh
# The library split (README "Layout"): what each shared library exports and links, what
# the public headers pull in, and the otrp-agent built without the mock TEE.
#  - libotrp.so exports exactly lib/otrp.sym, which is exactly the OTRP_API functions
#    of its headers (include/otrp/ but mocktee.h); it needs cJSON and libcurl (and the C
#    library) only, and refers to no mbedTLS / PSA symbol;
#  - libotrp-mocktee.so exports exactly lib/otrp-mocktee.sym = the OTRP_API functions of
#    otrp/mocktee.h, and needs libotrp and mbedTLS;
#  - libotrp.so stripped is at most OTRP_SIZE_LIMIT bytes (default 110000: issue 12's
#    "110 KB" read strictly) on x86-64, where the goal was set; other machines' code
#    differs in size and gets the figure only (OTRP_SIZE_LIMIT=0 turns the check off, for
#    a build with the user's own CFLAGS);
#  - otrp/otrp.h declares nothing of the mock TEE; otrp/mocktee.h compiles on its own;
#  - otrp-agent built with WITH_MOCKTEE=0 (in NOMOCK_BUILD) has no mock: kind, says so
#    in --help and for --tee mock:DIR, and links no mbedTLS, JOSE or mock TEE code; the
#    default build has mock:.
# usage: check-libs.sh BUILD NOMOCK_BUILD   (make check-libs builds both and runs it)
# NM, READELF, STRIP, CC and OTRP_TEST_RUNNER (put before each program run, e.g. qemu) are
# honoured. Appends "libs <passed> <failed>" to BUILD/results.
set -u
build=$1
nomock=$2
run=${OTRP_TEST_RUNNER:-}
NM=${NM:-nm}
READELF=${READELF:-readelf}
CC=${CC:-cc}
major=$(sed -n 's/^#define OTRP_VERSION_MAJOR \([0-9]*\).*/\1/p' include/otrp/version.h)
version=$(sed -n 's/^#define OTRP_VERSION_STRING "\(.*\)".*/\1/p' include/otrp/version.h)
tmp=$(mktemp -d /tmp/otrp-libs-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0
mkdir -p "$build"

check() { # description, command...
    desc=$1; shift
    if "$@" >"$tmp/out" 2>&1; then
        passed=$((passed + 1)); echo "ok    libs: $desc"
    else
        failed=$((failed + 1)); echo "FAIL  libs: $desc"; sed 's/^/      /' "$tmp/out" | head -20
    fi
}

# The names between "global:" and "local:" of a version script, sorted.
sym_list() {
    sed -n '/global:/,/local:/p' "$1" | sed -n 's/^ *\([a-z_][a-z0-9_]*\);.*/\1/p' | sort
}
# The functions the given headers declare with OTRP_API (one declaration starts a line).
api_list() {
    sed -n 's/^OTRP_API .*[ *]\(otrp_[a-z0-9_]*\)(.*/\1/p' "$@" | sort
}
# The dynamic symbols a shared library defines.
exports() {
    "$NM" -D --defined-only "$1" | awk '{print $3}' | sort
}
needed() {
    "$READELF" -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
}
# same_list DESCRIPTION-OF-A FILE-A DESCRIPTION-OF-B FILE-B: identical, or the difference.
same_list() {
    if cmp -s "$2" "$4"; then return 0; fi
    echo "only in $1:"; comm -23 "$2" "$4"
    echo "only in $3:"; comm -13 "$2" "$4"
    return 1
}
# no_match FILE ERE: no line of FILE matches (the matching lines are printed otherwise).
no_match() {
    ! grep -E "$2" "$1"
}

otrp_so=$build/lib/libotrp.so.$version
mock_so=$build/lib/libotrp-mocktee.so.$version
otrp_headers=$(ls include/otrp/*.h | grep -v '/mocktee\.h$')

# ---- libotrp.so --------------------------------------------------------------------
api_list $otrp_headers > "$tmp/otrp.api"
sym_list lib/otrp.sym > "$tmp/otrp.sym"
check "lib/otrp.sym lists the OTRP_API functions of libotrp's headers" \
    same_list "the headers" "$tmp/otrp.api" "lib/otrp.sym" "$tmp/otrp.sym"
exports "$otrp_so" > "$tmp/otrp.exp" 2>&1
check "libotrp.so exports exactly lib/otrp.sym" \
    same_list "libotrp.so" "$tmp/otrp.exp" "lib/otrp.sym" "$tmp/otrp.sym"
needed "$otrp_so" > "$tmp/otrp.needed"
check "libotrp.so has no mbedTLS NEEDED entry" no_match "$tmp/otrp.needed" 'mbed'
# only_cjson_curl: the NEEDED entries besides the C library's (libc, libdl, libpthread,
# the dynamic loader, which arm64 names for the stack guard) are cJSON and libcurl.
only_cjson_curl() {
    grep -vE '^(libc|libdl|libpthread)\.so|^ld-linux' "$tmp/otrp.needed" | sort > "$tmp/otrp.deps"
    printf 'libcjson.so.1\nlibcurl.so.4\n' > "$tmp/otrp.want"
    same_list "NEEDED" "$tmp/otrp.deps" "cJSON, libcurl" "$tmp/otrp.want"
}
check "libotrp.so needs cJSON and libcurl, besides the C library" only_cjson_curl
"$NM" -D --undefined-only "$otrp_so" > "$tmp/otrp.undef"
check "libotrp.so refers to no mbedTLS or PSA symbol" no_match "$tmp/otrp.undef" ' (mbedtls_|psa_)'
check "libotrp.so has the soname libotrp.so.$major" sh -c \
    "'$READELF' -d '$otrp_so' | grep -q 'SONAME.*\\[libotrp.so.$major\\]'"
size_limit=${OTRP_SIZE_LIMIT:-110000}
stripped=$("${STRIP:-strip}" -o "$tmp/otrp.stripped" "$otrp_so" 2>/dev/null &&
    wc -c < "$tmp/otrp.stripped" || echo "(strip failed)")
if [ "$size_limit" != 0 ] && "$READELF" -h "$otrp_so" | grep -q 'Machine:.*X86-64'; then
    check "libotrp.so stripped is $stripped bytes, at most $size_limit" \
        test "$stripped" -le "$size_limit"
else
    echo "      libs: libotrp.so stripped is $stripped bytes (no size limit on this machine)"
fi

# ---- libotrp-mocktee.so ------------------------------------------------------------
api_list include/otrp/mocktee.h > "$tmp/mock.api"
sym_list lib/otrp-mocktee.sym > "$tmp/mock.sym"
check "lib/otrp-mocktee.sym lists the OTRP_API functions of otrp/mocktee.h" \
    same_list "otrp/mocktee.h" "$tmp/mock.api" "lib/otrp-mocktee.sym" "$tmp/mock.sym"
exports "$mock_so" > "$tmp/mock.exp" 2>&1
check "libotrp-mocktee.so exports exactly lib/otrp-mocktee.sym" \
    same_list "libotrp-mocktee.so" "$tmp/mock.exp" "lib/otrp-mocktee.sym" "$tmp/mock.sym"
needed "$mock_so" > "$tmp/mock.needed"
check "libotrp-mocktee.so needs libotrp.so.$major and mbedTLS" sh -c \
    "grep -qx 'libotrp.so.$major' '$tmp/mock.needed' && grep -q '^libmbedcrypto' '$tmp/mock.needed'"
check "libotrp-mocktee.so has the soname libotrp-mocktee.so.$major" sh -c \
    "'$READELF' -d '$mock_so' | grep -q 'SONAME.*\\[libotrp-mocktee.so.$major\\]'"

# ---- headers -----------------------------------------------------------------------
printf '#include <otrp/otrp.h>\n' > "$tmp/umbrella.c"
"$CC" -E -Iinclude "$tmp/umbrella.c" > "$tmp/umbrella.i" 2>&1
check "otrp/otrp.h declares nothing of the mock TEE" no_match "$tmp/umbrella.i" 'otrp_(tee_)?mock'
printf '#include <otrp/mocktee.h>\nint main(void) { otrp_tee *t; return (int)otrp_tee_mock_new("d", &t); }\n' \
    > "$tmp/mock_only.c"
check "otrp/mocktee.h compiles on its own" \
    "$CC" -std=c11 -Wall -Werror -Iinclude -c "$tmp/mock_only.c" -o "$tmp/mock_only.o"

# ---- otrp-agent with and without the mock TEE --------------------------------------
agent=$build/bin/otrp-agent
check "otrp-agent (default build) lists mock:DIR in --help" sh -c "$run '$agent' --help | grep -q ' mock:DIR '"
check "otrp-agent (default build) opens --tee mock:DIR" sh -c \
    "$run '$agent' --tee mock:'$tmp/none' state 2>&1 | grep -q 'ERR_CONFIG'"
bare=$nomock/bin/otrp-agent
$run "$bare" --help > "$tmp/help" 2>&1
check "WITH_MOCKTEE=0: --help lists socket:PATH and teec:UUID" sh -c \
    "grep -q ' socket:PATH ' '$tmp/help' && grep -q ' teec:UUID ' '$tmp/help'"
check "WITH_MOCKTEE=0: --help has no mock:DIR and says it is built without" sh -c \
    "! grep -q ' mock:DIR ' '$tmp/help' && grep -q 'built without the mock TEE' '$tmp/help'"
$run "$bare" --tee mock:"$tmp/none" state > "$tmp/mock.out" 2>&1
echo "exit $?" >> "$tmp/mock.out"
check "WITH_MOCKTEE=0: --tee mock:DIR is a usage error that says why" sh -c \
    "grep -q 'built without the mock TEE' '$tmp/mock.out' && grep -qx 'exit 2' '$tmp/mock.out'"
needed "$bare" > "$tmp/bare.needed"
check "WITH_MOCKTEE=0: otrp-agent has no mbedTLS NEEDED entry" no_match "$tmp/bare.needed" 'mbed'
"$NM" "$bare" > "$tmp/bare.nm"
check "WITH_MOCKTEE=0: otrp-agent holds no JOSE, mock TEE or mbedTLS code" \
    no_match "$tmp/bare.nm" 'otrp__(jose|jws|jwe|x509|mock)|otrp_tee_mock|mbedtls_|psa_'

echo "libs $passed $failed" >> "$build/results"
[ "$failed" -eq 0 ]
