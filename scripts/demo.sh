#!/bin/sh
# make demo: the whole OTrP story on one machine, in a few readable steps.
# A reference TAM serves over HTTPS on 127.0.0.1; a mock TEE asks for a Trusted
# Application; otrp-agent (libotrp) carries the messages between them.
# usage: demo.sh BUILD [DIR]   (binaries in BUILD/bin; everything it makes goes to DIR,
#                               default BUILD/demo, which it empties first)
set -eu
build=${1:-build}
bin=$build/bin
demo=${2:-$build/demo}
tam_pid=""

stop_tam() {
    if [ -n "$tam_pid" ]; then
        kill -TERM "$tam_pid" 2>/dev/null || true
        wait "$tam_pid" 2>/dev/null || true
        tam_pid=""
    fi
}
trap 'stop_tam' EXIT
trap 'exit 130' INT TERM
unset http_proxy https_proxy HTTPS_PROXY all_proxy ALL_PROXY

if [ -t 1 ]; then
    say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
else
    say() { printf '\n%s\n' "$*"; }
fi
# The TAM's log lines since the last call, indented.
tam_lines=0
show_tam_log() {
    total=$(wc -l < "$demo/tam.log")
    if [ "$total" -gt "$tam_lines" ]; then
        tail -n +"$((tam_lines + 1))" "$demo/tam.log" | sed -e 's/^[0-9:.]* otrp-tam: /    TAM: /' -e 's/^otrp-tam: /    TAM: /'
    fi
    tam_lines=$total
}

rm -rf "$demo"
mkdir -p "$demo"
head -c 4096 /dev/urandom > "$demo/hello-ta.bin"

say "1. A demo PKI: the TAM's CA, its identity and a service provider's signing key"
"$bin/otrp-tam" init "$demo/tam" --tamid tam.demo.example | sed 's/^/    /'
"$bin/otrp-tam" add-ta "$demo/tam" hello-ta "$demo/hello-ta.bin" | sed 's/^/    /'
echo "    The TAM will hand out TA 'hello-ta' (4 KiB) as an image signed by the SP."

say "2. The reference TAM starts, over HTTPS on 127.0.0.1 (a free port)"
"$bin/otrp-tam" serve "$demo/tam" --tls >"$demo/tam.url" 2>"$demo/tam.log" &
tam_pid=$!
i=0
while ! grep -q . "$demo/tam.url" 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -gt 200 ] || ! kill -0 "$tam_pid" 2>/dev/null; then
        echo "the TAM did not start:" >&2
        cat "$demo/tam.log" >&2
        exit 1
    fi
    sleep 0.05
done
url=$(sed -n 1p "$demo/tam.url")
pin=$(sed -n 2p "$demo/tam.url")
echo "    TAM URL $url (PID $tam_pid)"
echo "    The agent will trust only the TAM's CA and this public key: $pin"

say "3. A mock TEE is provisioned: its identity comes from the TAM's CA, and it trusts the TAM"
"$bin/otrp-tam" provision-tee "$demo/tam" "$demo/tee" --name demo-tee --tam-uri "$url" | sed 's/^/    /'

agent="$bin/otrp-agent --tee mock:$demo/tee --cacert $demo/tam/ca/cert.pem --pin $pin"

say "4. An app needs 'hello-ta': otrp-agent request-ta hello-ta"
echo "    The TEE names its TAM; the agent POSTs, the TAM asks for the device state, checks the"
echo "    TEE's signed answer, creates a security domain and installs the TA (encrypted for the TEE)."
$agent -q request-ta hello-ta
show_tam_log
echo "    otrp-agent: request-ta succeeded"

say "5. What the agent sees now: otrp-agent state"
$agent state | sed 's/^/    /'
$agent state | grep -q '"taid":"hello-ta"' && echo "    -> 'hello-ta' is installed in TEE 'demo-tee' (security domain sd.otrp.example)"

say "6. The app no longer needs it: otrp-agent unrequest-ta hello-ta"
$agent -q unrequest-ta hello-ta
show_tam_log
$agent state | grep -q '"talist":\[\]' && echo "    -> TEE 'demo-tee' holds no TA any more"

say "7. The TAM stops"
stop_tam
show_tam_log
echo
echo "Done. Everything the demo made is in $demo (the TAM directory, the TEE directory, tam.log)."
echo "Try: $bin/otrp-tam --help, $bin/otrp-agent --help, man doc/otrp-tam.1"
