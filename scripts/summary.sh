#!/bin/sh
# Sum the per-program results files written by run-tests.sh; print the one closing
# line "N passed, N failed" and exit non-zero when anything failed or nothing ran.
set -u
passed=0; failed=0; files=0
for f in "$@"; do
    [ -f "$f" ] || { echo "summary: missing results $f" >&2; failed=$((failed + 1)); continue; }
    files=$((files + 1))
    p=$(awk '{s+=$2} END {print s+0}' "$f")
    q=$(awk '{s+=$3} END {print s+0}' "$f")
    passed=$((passed + p)); failed=$((failed + q))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
