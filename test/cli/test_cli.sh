#!/bin/sh
# Tests of the otrp-agent command line: exit statuses, the one error line, and each
# command against an in-process mock TEE. Appends "cli <passed> <failed>" to BUILD/results.
# usage: test_cli.sh BUILD
set -u
build=${1:-build}
bin=$build/bin
tmp=$(mktemp -d /tmp/otrp-cli-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0

# matches FILE PATTERN: "" matches anything, EMPTY only an empty file
matches() {
    case "$2" in
        "") return 0 ;;
        EMPTY) [ ! -s "$1" ] ;;
        *) grep -q -e "$2" "$1" ;;
    esac
}

# expect DESCRIPTION EXIT_STATUS STDERR_PATTERN STDOUT_PATTERN -- command...
expect() {
    desc=$1; want_rc=$2; err_pat=$3; out_pat=$4; shift 5
    "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    rc=$?
    if [ "$rc" -eq "$want_rc" ] && matches "$tmp/err" "$err_pat" && matches "$tmp/out" "$out_pat"; then
        passed=$((passed + 1)); echo "ok    cli: $desc"
    else
        failed=$((failed + 1)); echo "FAIL  cli: $desc (exit $rc, wanted $want_rc)"
        sed 's/^/      stderr: /' "$tmp/err" | head -5; sed 's/^/      stdout: /' "$tmp/out" | head -3
    fi
}

"$bin/otrp-tee-sim" init "$tmp/tee" --name "cli TEE" --tam-uri https://127.0.0.1:9/tam >/dev/null 2>&1
cp test/data/pki/tam-root.pem "$tmp/tee/trust/"
tee="--tee mock:$tmp/tee"

expect "--help prints the usage" 0 "" "usage: otrp-agent" -- "$bin/otrp-agent" --help
expect "--version names libotrp" 0 "" "(libotrp) " -- "$bin/otrp-agent" --version
expect "unknown option is a usage error" 2 "unknown option" "" -- "$bin/otrp-agent" --frobnicate state
expect "no command is a usage error" 2 "no command given" "" -- "$bin/otrp-agent" $tee
expect "no TEE is a usage error" 2 "no TEE given" "" -- "$bin/otrp-agent" state
expect "bad --tee is a usage error" 2 "KIND:ARG" "" -- "$bin/otrp-agent" --tee bogus state
expect "bad --timeout is a usage error" 2 "--timeout wants a number" "" -- "$bin/otrp-agent" $tee --timeout 0 state
expect "wrong argument count" 2 "wrong number of arguments" "" -- "$bin/otrp-agent" $tee request-ta
expect "missing TEE directory names the status" 1 "ERR_CONFIG" "" -- "$bin/otrp-agent" --tee mock:$tmp/none state
expect "state prints the device JSON" 0 "" '"name":"cli TEE","kind":"mock","state":"ready"' -- "$bin/otrp-agent" $tee state
expect "relay of garbage: one line naming the status" 1 "^otrp-agent: relay failed: ERR_MSG_NOT_JSON" EMPTY \
    -- sh -c "echo 'not json' | '$bin/otrp-agent' $tee relay"
expect "relay to an unknown TEE writes the OTrPBrokerError" 1 "ERR_TEE_UNKNOWN" '"errcode":"ERR_AGENT_TEE_UNKNOWN"' \
    -- sh -c "printf '%s' '{\"DeleteTARequest\":{\"payload\":\"eyJEZWxldGVUQVRCU1JlcXVlc3QiOnsidGVlIjoibm8ifX0\",\"protected\":\"e30\",\"signature\":\"\"}}' | '$bin/otrp-agent' $tee relay"
expect "plain http refused without --allow-http" 1 "ERR_HTTP_INSECURE" "" -- "$bin/otrp-agent" $tee --tam http://127.0.0.1:9/tam request-ta ta1
expect "unreachable TAM names the status" 1 "ERR_HTTP_CONNECT" "" -- "$bin/otrp-agent" $tee --timeout 5 request-ta ta1
expect "ta-info of an unknown TA" 1 "ERR_NOT_FOUND" "" -- "$bin/otrp-agent" $tee ta-info sp1 ta1
expect "teec with a malformed UUID is a usage error" 2 "not a TA UUID" "" -- "$bin/otrp-agent" --tee teec:nope state
# No libteec (or no TEE) on this machine: the status says so, the program does not crash.
expect "teec without a TEE is TEE unavailable" 1 "ERR_TEE_UNAVAILABLE.*TEE unavailable" "" \
    -- "$bin/otrp-agent" --tee teec:8aaaf200-2450-11e4-abe2-0002a5d5c51b state
expect "malformed --proxy is a usage error naming it" 2 "proxy scheme" "" \
    -- "$bin/otrp-agent" $tee --proxy ftp://127.0.0.1:21 state
expect "SSLKEYLOGFILE in the environment refuses the session" 1 "ERR_TLS_KEYLOG.*SSLKEYLOGFILE" "" \
    -- env SSLKEYLOGFILE="$tmp/keys" "$bin/otrp-agent" $tee --timeout 5 request-ta ta1
expect "and no key log file was made" 1 "" "" -- test -e "$tmp/keys"
expect "--allow-keylog lets the session run" 1 "ERR_HTTP_CONNECT" "" \
    -- env SSLKEYLOGFILE="$tmp/keys" "$bin/otrp-agent" $tee --allow-keylog --timeout 5 request-ta ta1
expect "stderr stays silent in quiet success" 0 EMPTY '"tees"'  -- "$bin/otrp-agent" -q $tee state

echo "cli $passed $failed" >> "$build/results"
[ "$failed" -eq 0 ]
