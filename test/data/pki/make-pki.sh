#!/bin/sh
# Regenerates the fixed test PKI of the mock TEE tests (test/test_mocktee*.c, bench/tee).
# Made with the openssl CLI (last on 2026-12-03, when TAM certificates got the OTrP TAM
# marker) and checked in so that tests need no key generation. No time bombs: the
# long-lived certificates are valid for 100 years; the tests verify at a fixed time
# (TEST_PKI_TIME, 2027-06-01), at which tam1-expired.pem (valid for one day from its
# creation) is expired and everything else is valid.
# Every TAM certificate carries the extended key usage "OTrP TAM" (the private OID
# below, docs/conformance.md): the mock TEE accepts no TAM signer without it (PROFILE
# P10 "Isolation between TAMs"), so that a TEE identity from the same CA cannot pass
# as a TAM.
#   tam-root.pem/-key.pem     TAM root CA (RSA-2048), the mock TEE's trust anchor
#   tam1.pem/-key.pem         TAM "tam1.example" (RSA-2048) issued by tam-root
#   tam2.pem/-key.pem         another TAM "tam2.example" issued by tam-root
#   tam1-expired.pem          "tam1.example" again, with tam1-key.pem, valid for one day
#   tam1-nomark.pem           "tam1.example" again, with tam1-key.pem, without the marker
#   rogue-root.pem, rogue-tam.pem/-key.pem  "tam1.example" under an untrusted root
#   tam-ec.pem/-key.pem       "tamec.example" with a P-256 key (not allowed: P3)
#   tee.pem/-key.pem          TEE identity (RSA-2048), self-signed "mocktee-test"
#   tee-issued.pem/-key.pem   a TEE identity "mocktee-issued" issued by tam-root, as the
#                             reference TAM's CA issues them (no TAM marker)
#   sp1.pem/-key.pem          SP TA signer (P-256, self-signed)
#   sp2.pem/-key.pem          SP TA signer (RSA-2048, self-signed)
#   sp-rogue.pem/-key.pem     an SP key registered nowhere (P-256)
set -eu
cd "$(dirname "$0")"
days=36500
rsa() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
ca() { # key subject out
    openssl req -x509 -new -key "$1" -subj "$2" -days $days -sha256 -out "$3" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
selfsigned() { # key subject out
    openssl req -x509 -new -key "$1" -subj "$2" -days $days -sha256 -out "$3" \
        -addext basicConstraints=critical,CA:FALSE
}
# The "OTrP TAM" extended key usage: 2.25.<UUID 02146ab0-3beb-454a-ac42-cecd7bc6c8dc>
# (ITU-T X.667, an OID nobody needs to register); lib/jose/jose.h OTRP__X509_EKU_OTRP_TAM.
tam_eku=2.25.2764465826859158253794466195288017116
leaf() { # key subject cakey cacert out days [extendedKeyUsage]
    openssl req -new -key "$1" -subj "$2" -out tmp.csr
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n' > tmp.ext
    [ -z "${7:-}" ] || printf 'extendedKeyUsage=%s\n' "$7" >> tmp.ext
    openssl x509 -req -in tmp.csr -CA "$4" -CAkey "$3" -CAcreateserial -days "$6" -sha256 \
        -extfile tmp.ext -out "$5" 2>/dev/null
    rm -f tmp.csr tmp.ext
}
rsa tam-root-key.pem; ca tam-root-key.pem "/CN=libotrp test TAM root/O=libotrp" tam-root.pem
rsa tam1-key.pem; leaf tam1-key.pem "/CN=tam1.example/O=libotrp" tam-root-key.pem tam-root.pem tam1.pem $days $tam_eku
rsa tam2-key.pem; leaf tam2-key.pem "/CN=tam2.example/O=libotrp" tam-root-key.pem tam-root.pem tam2.pem $days $tam_eku
leaf tam1-key.pem "/CN=tam1.example/O=libotrp" tam-root-key.pem tam-root.pem tam1-expired.pem 1 $tam_eku
leaf tam1-key.pem "/CN=tam1.example/O=libotrp" tam-root-key.pem tam-root.pem tam1-nomark.pem $days
rsa rogue-root-key.pem; ca rogue-root-key.pem "/CN=rogue root/O=elsewhere" rogue-root.pem
rsa rogue-tam-key.pem; leaf rogue-tam-key.pem "/CN=tam1.example/O=elsewhere" rogue-root-key.pem rogue-root.pem rogue-tam.pem $days $tam_eku
ec tam-ec-key.pem; leaf tam-ec-key.pem "/CN=tamec.example/O=libotrp" tam-root-key.pem tam-root.pem tam-ec.pem $days $tam_eku
rsa tee-key.pem; selfsigned tee-key.pem "/CN=mocktee-test/O=libotrp" tee.pem
rsa tee-issued-key.pem; leaf tee-issued-key.pem "/CN=mocktee-issued/O=libotrp mock TEE" tam-root-key.pem tam-root.pem tee-issued.pem $days
ec sp1-key.pem; selfsigned sp1-key.pem "/CN=sp1.example/O=libotrp" sp1.pem
rsa sp2-key.pem; selfsigned sp2-key.pem "/CN=sp2.example/O=libotrp" sp2.pem
ec sp-rogue-key.pem; selfsigned sp-rogue-key.pem "/CN=sp1.example/O=rogue" sp-rogue.pem
rm -f *.srl rogue-root-key.pem
