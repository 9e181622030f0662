#!/bin/sh
# examples/event_loop (otrp/session.h on a poll() loop) against the reference TAM: three
# TEE daemons, three RequestTAs at once from one thread, each TA then installed in its
# TEE; a request with an unknown TA id still ends well (nothing to install), and a TAM
# that is not there fails each request with its status. Appends "event-loop <passed>
# <failed>" to BUILD/results.
# usage: test_event_loop.sh BUILD [RESULTS]
set -u
NAME=event-loop
. "$(dirname "$0")/prelude.sh"
bad() { failed=$((failed + 1)); echo "FAIL  event-loop: $1"; sed 's/^/      /' "$tmp/out" | head -8; }

tam="$tmp/tam"
"$bin/otrp-tam" init "$tam" --tamid tam.loop.example >/dev/null &&
    head -c 4000 /dev/urandom >"$tmp/ta.bin" &&
    "$bin/otrp-tam" add-ta "$tam" loop-ta "$tmp/ta.bin" >/dev/null || { echo "setup failed"; exit 1; }
socks=""
for i in 0 1 2; do
    "$bin/otrp-tam" provision-tee "$tam" "$tmp/tee$i" --name "loop-tee-$i" >/dev/null || exit 1
    "$bin/otrp-tee-sim" serve "$tmp/tee$i" --listen "unix:$tmp/tee$i.sock" 2>"$tmp/tee$i.log" &
    pids="$pids $!"
    socks="$socks $tmp/tee$i.sock"
done
"$bin/otrp-tam" serve "$tam" --tls -q >"$tmp/serve.out" 2>"$tmp/serve.log" &
spid=$!
pids="$pids $spid"
i=0
while [ "$i" -lt 200 ] && { ! grep -q . "$tmp/serve.out" 2>/dev/null ||
    [ ! -S "$tmp/tee0.sock" ] || [ ! -S "$tmp/tee1.sock" ] || [ ! -S "$tmp/tee2.sock" ]; }; do
    sleep 0.05; i=$((i + 1))
done
url=$(sed -n 1p "$tmp/serve.out")
loop="$build/examples/event_loop --cacert $tam/ca/cert.pem"

# shellcheck disable=SC2086
if $loop "$url" loop-ta $socks >"$tmp/out" 2>&1 && [ "$(grep -c ': OK$' "$tmp/out")" -eq 3 ]; then
    ok "three requests at once on one loop all succeed"
else
    bad "three requests at once on one loop all succeed"
fi
n=0
for i in 0 1 2; do
    "$bin/otrp-agent" --tee "socket:$tmp/tee$i.sock" state >"$tmp/state" 2>&1 &&
        grep -q '"taid":"loop-ta"' "$tmp/state" && n=$((n + 1))
done
[ "$n" -eq 3 ] && ok "each TEE holds the TA" || bad "each TEE holds the TA ($n of 3)"
# shellcheck disable=SC2086
if $loop "$url" no-such-ta $socks >"$tmp/out" 2>&1 && [ "$(grep -c ': OK$' "$tmp/out")" -eq 3 ]; then
    ok "a TA the TAM does not manage ends well in every session"
else
    bad "a TA the TAM does not manage ends well in every session"
fi
kill -TERM "$spid"; wait "$spid" 2>/dev/null
# shellcheck disable=SC2086
$loop "$url" loop-ta $socks >"$tmp/out" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && [ "$(grep -c 'ERR_HTTP_CONNECT' "$tmp/out")" -eq 3 ]; then
    ok "without a TAM each request fails with ERR_HTTP_CONNECT"
else
    bad "without a TAM each request fails with ERR_HTTP_CONNECT (exit $rc)"
fi
# shellcheck disable=SC2086
$loop "$url" >"$tmp/out" 2>&1
[ $? -eq 2 ] && grep -q usage "$tmp/out" && ok "no TEE socket is a usage error" ||
    bad "no TEE socket is a usage error"
echo "event-loop $passed $failed" >>"$results"
[ "$failed" -eq 0 ]
