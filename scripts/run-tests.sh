#!/bin/sh
# Run cmocka test programs and record "name passed failed" per program in BUILD/results.
# usage: run-tests.sh BUILD PROGRAM...
# A program that crashes or exits non-zero without a cmocka summary counts as one failure.
set -u
build=$1; shift
results="$build/results"
mkdir -p "$build/logs"
for prog in "$@"; do
    name=$(basename "$prog")
    log="$build/logs/$name.log"
    "$prog" >"$log" 2>&1
    rc=$?
    passed=$(sed -n 's/.*\[  PASSED  \] \([0-9]*\) test(s)\..*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    failed=$(sed -n 's/.*\[  FAILED  \] \([0-9]*\) test(s), listed below:.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
        failed=1
    fi
    if [ "$failed" -ne 0 ]; then
        echo "FAIL  $build/$name ($passed passed, $failed failed; log $log)"
        grep -E '^\[  (FAILED|ERROR) \]|^\[ +FAILED +\]|ERROR|Sanitizer|runtime error' "$log" | head -20
    else
        echo "ok    $build/$name ($passed passed)"
    fi
    echo "$name $passed $failed" >>"$results"
done
exit 0
