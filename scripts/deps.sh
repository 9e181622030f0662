#!/bin/sh
# Install the Debian packages that building and testing libotrp needs, when missing.
# Uses apt-get (through sudo when not root). Exits non-zero with a clear message when
# it cannot install them.
set -eu

PACKAGES="build-essential pkg-config libmbedtls-dev libcjson-dev libcurl4-openssl-dev
libcmocka-dev libmicrohttpd-dev jose clang-14 libclang-rt-14-dev openssl"
# scripts/check-install.sh links the example as a static user of libotrp does, with
# pkg-config --static: that names libcurl's own private libraries, whose -dev packages
# provide the -l names.
PACKAGES="$PACKAGES libnghttp2-dev librtmp-dev libssh2-1-dev libpsl-dev libkrb5-dev
libldap-dev libzstd-dev libidn2-dev libbrotli-dev zlib1g-dev libssl-dev"
# The event-loop adapters of otrp/session.h are built and tested against GLib and
# libuv (test/test_adapters_*.c; skipped where pkg-config finds neither).
PACKAGES="$PACKAGES libglib2.0-dev libuv1-dev"

missing=""
for pkg in $PACKAGES; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    case "$status" in
        *"install ok installed"*) ;;
        *) missing="$missing $pkg" ;;
    esac
done
[ -z "$missing" ] && exit 0

echo "deps: installing missing Debian packages:$missing"
if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: apt-get not found; install these packages by hand:$missing" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "deps: not root and no sudo; install these packages by hand:$missing" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get update -qq || ! $SUDO apt-get install -y -qq --no-install-recommends $missing; then
    echo "deps: apt-get could not install:$missing" >&2
    exit 1
fi
