#!/bin/sh
# Throwaway TLS material for the loopback HTTPS tests (test/test_http.c), made fresh on
# every run so that nothing checked in can expire. EC P-256 keys: fast to generate.
#
# usage: pki-test.sh DIR
# DIR receives (PEM unless noted):
#   ca.pem ca.key            the test CA (valid 100 years from today)
#   other-ca.pem             a second, unrelated CA (the "wrong CA")
#   server.pem server.key    CN/SAN 127.0.0.1 and localhost, signed by ca
#   expired.pem expired.key  SAN 127.0.0.1/localhost, signed by ca, valid 2000-2001 only
#   wronghost.pem wronghost.key  SAN wrong.example only, signed by ca
#   server.pin               "sha256//<base64>" SPKI pin of server.key
#   other.pin                a pin of another key (other-ca.key)
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"

days=36500
newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
pin() {
    printf 'sha256//%s\n' "$(openssl pkey -in "$1" -pubout -outform DER |
        openssl dgst -sha256 -binary | openssl base64 -A)"
}

newkey ca.key
openssl req -x509 -new -key ca.key -out ca.pem -days $days -subj "/CN=libotrp test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
newkey other-ca.key
openssl req -x509 -new -key other-ca.key -out other-ca.pem -days $days \
    -subj "/CN=libotrp unrelated CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

# "openssl ca" is the only 3.0 command that takes explicit start and end dates.
mkdir -p db
: > db/index.txt
echo 1000 > db/serial
cat > ca.cnf <<CNF
[ca]
default_ca = test_ca
[test_ca]
dir = .
database = db/index.txt
serial = db/serial
new_certs_dir = db
certificate = ca.pem
private_key = ca.key
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
[good]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
[wrong]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example
CNF

issue() { # name cn section startdate enddate
    newkey "$1.key"
    openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2"
    openssl ca -batch -notext -config ca.cnf -extensions "$3" -startdate "$4" -enddate "$5" \
        -in "$1.csr" -out "$1.pem" 2>/dev/null
    rm -f "$1.csr"
}
later=$(date -u -d "+$days days" +%Y%m%d%H%M%SZ)
# Start a day early so that a clock a little behind does not make the good cert "not yet valid".
yesterday=$(date -u -d "-1 day" +%Y%m%d%H%M%SZ)
issue server 127.0.0.1 good "$yesterday" "$later"
issue expired 127.0.0.1 good 20000101000000Z 20010101000000Z
issue wronghost wrong.example wrong "$yesterday" "$later"

pin server.key > server.pin
pin other-ca.key > other.pin
