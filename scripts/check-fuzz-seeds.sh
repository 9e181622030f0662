#!/bin/sh
# Every libFuzzer target has its harness test/fuzz/fuzz_NAME.c and a non-empty seed
# directory test/fuzz/corpus/NAME/: where `make fuzz-NAME` and `make fuzz-ci-NAME` look.
# usage: check-fuzz-seeds.sh RESULTS TARGET...   (make check passes $(FUZZ_TARGETS))
# Appends "fuzz-seeds passed failed" to RESULTS, one count per target.
set -u
results=$1; shift
passed=0; failed=0
for t in "$@"; do
    if [ ! -f "test/fuzz/fuzz_$t.c" ]; then
        echo "FAIL  fuzz target $t: no harness test/fuzz/fuzz_$t.c"
        failed=$((failed + 1))
    elif [ -z "$(ls -A "test/fuzz/corpus/$t" 2>/dev/null)" ]; then
        echo "FAIL  fuzz target $t: no seeds in test/fuzz/corpus/$t/"
        failed=$((failed + 1))
    else
        passed=$((passed + 1))
    fi
done
[ "$failed" -eq 0 ] && echo "ok    fuzz seeds ($passed targets, each with test/fuzz/corpus/NAME/)"
mkdir -p "$(dirname "$results")"
echo "fuzz-seeds $passed $failed" >> "$results"
exit 0
