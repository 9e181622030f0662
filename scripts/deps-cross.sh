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

# Programs that tests start (otrp-tee-sim) are arm64 too: let the kernel run arm64 ELF
# files through qemu (binfmt_misc), so a test's fork+exec works as on a real board.
# Registration is per boot; a machine that refuses it (no privileges) still runs the
# test programs themselves through OTRP_TEST_RUNNER, and only the tests that start other
# programs fail.
register_binfmt() {
    entry=/proc/sys/fs/binfmt_misc/qemu-aarch64
    [ "$ARCH" = arm64 ] || return 0
    [ -e "$entry" ] && return 0
    [ -w /proc/sys/fs/binfmt_misc/register ] ||
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || true
    if ! printf '%s' ':qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-aarch64-static:F' \
            2>/dev/null >/proc/sys/fs/binfmt_misc/register; then
        echo "deps-cross: cannot register qemu-aarch64 with binfmt_misc; tests that start" \
             "other arm64 programs will fail" >&2
    fi
}

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
if [ -z "$missing" ]; then
    register_binfmt
    exit 0
fi

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
register_binfmt
