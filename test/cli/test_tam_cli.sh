#!/bin/sh
# Tests of the otrp-tam command line, driving the binaries as a user would: init,
# provision-tee, add-ta, serve over HTTPS with the pin, otrp-agent sessions against it,
# the P10 refusals seen with curl, an injected fault, the clean stop on SIGTERM, and the
# usage errors. Appends "tam-cli <passed> <failed>" to BUILD/results.
# usage: test_tam_cli.sh BUILD [RESULTS]   (RESULTS default BUILD/results)
set -u
NAME=tam-cli
. "$(dirname "$0")/prelude.sh"
bad() {
    failed=$((failed + 1)); echo "FAIL  tam-cli: $1"
    [ -f "$tmp/err" ] && sed 's/^/      stderr: /' "$tmp/err" | head -5
}

# expect DESCRIPTION EXIT_STATUS STDERR_PATTERN STDOUT_PATTERN -- command...
expect() {
    desc=$1; want_rc=$2; err_pat=$3; out_pat=$4; shift 5
    "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    rc=$?
    if [ "$rc" -eq "$want_rc" ] && { [ -z "$err_pat" ] || grep -q -e "$err_pat" "$tmp/err"; } &&
        { [ -z "$out_pat" ] || grep -q -e "$out_pat" "$tmp/out"; }; then
        ok "$desc"
    else
        bad "$desc (exit $rc, wanted $want_rc)"
        sed 's/^/      stdout: /' "$tmp/out" | head -3
    fi
}

# serve_start NAME ARGS...: start otrp-tam serve in the background; sets url, pin, spid
serve_start() {
    name=$1; shift
    "$bin/otrp-tam" serve "$tmp/tam" "$@" >"$tmp/$name.out" 2>"$tmp/$name.log" &
    spid=$!
    pids="$pids $spid"
    i=0
    while [ "$i" -lt 200 ] && ! grep -q . "$tmp/$name.out" 2>/dev/null; do sleep 0.05; i=$((i + 1)); done
    url=$(sed -n 1p "$tmp/$name.out")
    pin=$(sed -n 2p "$tmp/$name.out")
}

# serve_stop: SIGTERM, and the exit status of the server
serve_stop() {
    kill -TERM "$spid"
    wait "$spid"
}

tam="$tmp/tam"
expect "--help prints the usage" 0 "" "usage: otrp-tam" -- "$bin/otrp-tam" --help
expect "no command is a usage error" 2 "usage" "" -- "$bin/otrp-tam"
expect "unknown command is a usage error" 2 "unknown command" "" -- "$bin/otrp-tam" frobnicate x
expect "init creates the TAM directory" 0 "" "tamid tam.cli.example" -- \
    "$bin/otrp-tam" init "$tam" --tamid tam.cli.example
expect "init twice is refused" 1 "is a TAM directory already" "" -- "$bin/otrp-tam" init "$tam"
if openssl x509 -in "$tam/tam/cert.pem" -noout -subject 2>/dev/null | grep -q "CN *= *tam.cli.example"; then
    ok "the TAM certificate's Subject CN is the tamid"
else
    bad "the TAM certificate's Subject CN is the tamid"
fi
# The OTrP TAM marker (docs/conformance.md) on the TAM certificate, and on no TEE's.
tam_eku=2.25.2764465826859158253794466195288017116
if openssl x509 -in "$tam/tam/cert.pem" -noout -ext extendedKeyUsage 2>/dev/null | grep -q "$tam_eku"; then
    ok "the TAM certificate carries the OTrP TAM extended key usage"
else
    bad "the TAM certificate carries the OTrP TAM extended key usage"
fi
expect "provision-tee writes a mock TEE issued by the TAM's CA" 0 "" "cli-tee" -- \
    "$bin/otrp-tam" provision-tee "$tam" "$tmp/tee" --name cli-tee
if openssl verify -CAfile "$tam/ca/cert.pem" "$tmp/tee/identity/cert.pem" >/dev/null 2>&1 &&
    cmp -s "$tam/ca/cert.pem" "$tmp/tee/trust/tam-ca.pem"; then
    ok "the TEE identity chains to the TAM's CA, which the TEE trusts"
else
    bad "the TEE identity chains to the TAM's CA, which the TEE trusts"
fi
if openssl x509 -in "$tmp/tee/identity/cert.pem" -noout -text | grep -q "$tam_eku"; then
    bad "the TEE identity does not carry the OTrP TAM marker"
else
    ok "the TEE identity does not carry the OTrP TAM marker"
fi
expect "a DSI-style TEE name with an inner space is accepted" 0 "" "Primary TEE" -- \
    "$bin/otrp-tam" provision-tee "$tam" "$tmp/tee-space" --name "Primary TEE"
expect "a TEE name with a leading space is refused" 1 "no space at either end" "" -- \
    "$bin/otrp-tam" provision-tee "$tam" "$tmp/tee-lead" --name " Primary"
head -c 20000 /dev/urandom > "$tmp/ta-v1.bin"
head -c 30000 /dev/urandom > "$tmp/ta-v2.bin"
expect "add-ta stores version 1" 0 "" "TA cli-ta version 1" -- "$bin/otrp-tam" add-ta "$tam" cli-ta "$tmp/ta-v1.bin"
expect "add-ta of the same file keeps version 1" 0 "" "version 1 " -- "$bin/otrp-tam" add-ta "$tam" cli-ta "$tmp/ta-v1.bin"
expect "add-ta of a missing file fails" 1 "cannot open" "" -- "$bin/otrp-tam" add-ta "$tam" cli-ta "$tmp/none"
expect "add-ta of a bad TA id fails" 1 "ERR_INVALID_ARG" "" -- "$bin/otrp-tam" add-ta "$tam" "a b" "$tmp/ta-v1.bin"
expect "serve with a non-loopback address is a usage error" 2 "127.0.0.1" "" -- \
    "$bin/otrp-tam" serve "$tam" --listen 0.0.0.0:0
expect "serve with a bad fault is a usage error" 2 "--fault" "" -- "$bin/otrp-tam" serve "$tam" --fault bogus
expect "serve of a directory that is no TAM fails" 1 "otrp-tam init" "" -- "$bin/otrp-tam" serve "$tmp/tee"

serve_start main --tls
case "$url" in
    https://127.0.0.1:*/tam) ok "serve --tls prints the https URL first" ;;
    *) bad "serve --tls prints the https URL first (got '$url')" ;;
esac
if [ "$pin" = "$("$bin/otrp-tam" pin "$tam")" ] && [ -n "$pin" ]; then
    ok "serve --tls prints the pin that otrp-tam pin prints"
else
    bad "serve --tls prints the pin that otrp-tam pin prints"
fi
agent="$bin/otrp-agent --tee mock:$tmp/tee --tam $url --cacert $tam/ca/cert.pem --pin $pin"
expect "request-ta installs the TA over HTTPS" 0 "" "" -- $agent request-ta cli-ta
expect "state lists the installed TA" 0 "" '"taid":"cli-ta"' -- $agent state
expect "add-ta of a newer file makes version 2" 0 "" "version 2" -- "$bin/otrp-tam" add-ta "$tam" cli-ta "$tmp/ta-v2.bin"
expect "request-ta again updates the TA" 0 "" "" -- $agent request-ta cli-ta
if grep -q "UpdateTA 'cli-ta'" "$tmp/main.log"; then ok "the TAM sent UpdateTA"; else bad "the TAM sent UpdateTA"; fi
expect "unrequest-ta deletes the TA" 0 "" "" -- $agent unrequest-ta cli-ta
expect "state lists no TA any more" 0 "" '"talist":\[\]' -- $agent state
expect "a wrong pin is refused" 1 "ERR_TLS_PIN" "" -- \
    "$bin/otrp-agent" --tee mock:"$tmp/tee" --tam "$url" --cacert "$tam/ca/cert.pem" \
    --pin sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= request-ta cli-ta
if command -v curl >/dev/null 2>&1; then
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$tam/ca/cert.pem" \
        -H 'Content-Type: text/plain' -H 'Accept: application/otrp+json' --data-binary x "$url")
    [ "$code" = 415 ] && ok "a body of another type gets 415" || bad "a body of another type gets 415 (got $code)"
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$tam/ca/cert.pem" "$url")
    [ "$code" = 405 ] && ok "GET gets 405" || bad "GET gets 405 (got $code)"
    code=$(curl -s -o "$tmp/body" -w '%{http_code}' --cacert "$tam/ca/cert.pem" \
        -H 'Content-Type: application/otrp+json' -H 'Accept: application/otrp+json' \
        --data-binary '{"GetDeviceStateResponse":[]}' "$url")
    [ "$code" = 400 ] && grep -q "tid" "$tmp/body" && ok "a message without a session gets 400 with a detail" ||
        bad "a message without a session gets 400 with a detail (got $code)"
fi
serve_stop
rc=$?
[ "$rc" -eq 0 ] && ok "SIGTERM stops serve cleanly (exit 0)" || bad "SIGTERM stops serve cleanly (exit $rc)"
grep -q "stopped (SIGTERM): 3 sessions, 3 completed, 0 ended by a TEE failure, 1 refused" "$tmp/main.log" &&
    ok "serve reports its sessions when it stops" || bad "serve reports its sessions when it stops"

serve_start slow --fault delay:5000 -q
expect "--session-timeout ends a session that runs out of time" 1 \
    "ERR_TIMEOUT.*session timeout of 1000 ms reached in POST #1" "" -- \
    "$bin/otrp-agent" --tee mock:"$tmp/tee" --tam "$url" --allow-http --session-timeout 1 request-ta cli-ta
serve_stop

serve_start fault --fault 500@2 -q
expect "an injected 500 fails the session with the HTTP status" 1 "ERR_HTTP_STATUS" "" -- \
    "$bin/otrp-agent" --tee mock:"$tmp/tee" --tam "$url" --allow-http request-ta cli-ta
kill -INT "$spid"; wait "$spid"; rc=$?
[ "$rc" -eq 0 ] && ok "SIGINT stops serve cleanly" || bad "SIGINT stops serve cleanly (exit $rc)"

echo "tam-cli $passed $failed" >> "$results"
[ "$failed" -eq 0 ]
