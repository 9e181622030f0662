#!/bin/sh
# Install what the aarch64 cross leg (make cross-aarch64, mk/cross.mk) needs, when
# missing: the cross compiler, qemu user emulation and the arm64 multiarch -dev packages
# of the dependencies, plus OP-TEE's libteec (optee-client-dev, arm64/armhf only).
# usage: deps-cross.sh [ARCH]   (ARCH defaults to arm64)
# Debian 12's arm64 -dev packages are co-installable with the amd64 ones (checked with
# apt-get -s: nothing is removed; multiarch only moves shared amd64 runtime libraries to
# the same Debian revision as their arm64 twins).
set -eu

ARCH=${1:-arm64}
HOST_PACKAGES="gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static pkg-config"
TARGET_PACKAGES="libc6-dev libmbedtls-dev libcjson-dev libcurl4-openssl-dev libcmocka-dev
libmicrohttpd-dev optee-client-dev"

installed() {
    case "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" in
        *"install ok installed"*) return 0 ;;
        *) return 1 ;;
    esac
}

missing=""
for pkg in $HOST_PACKAGES; do
    installed "$pkg" || missing="$missing $pkg"
done
for pkg in $TARGET_PACKAGES; do
    installed "$pkg:$ARCH" || missing="$missing $pkg:$ARCH"
done
[ -z "$missing" ] && exit 0

echo "deps-cross: installing missing Debian packages:$missing"
if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps-cross: apt-get not found; install these packages by hand:$missing" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "deps-cross: not root and no sudo; install these packages by hand:$missing" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
if ! dpkg --print-foreign-architectures | grep -qx "$ARCH"; then
    $SUDO dpkg --add-architecture "$ARCH"
fi
if ! $SUDO apt-get update -qq ||
   ! $SUDO apt-get install -y -qq --no-install-recommends $missing; then
    echo "deps-cross: apt-get could not install:$missing" >&2
    exit 1
fi
