#!/bin/sh
# Fetch Debian 13 (trixie)'s mbedTLS 3.6 packages without installing them: a private apt
# configuration and state under DIR (the system's apt state is not touched), then
# `apt-get download` + `dpkg-deb -x` into DIR/root. Leaves DIR/prefix/{include,lib}
# pointing into it, as the Makefile's MBEDTLS_PREFIX expects.
# usage: jose-mbedtls3.sh DIR
set -eu
dir=$(mkdir -p "$1" && cd "$1" && pwd)
if [ -f "$dir/prefix/include/mbedtls/version.h" ]; then
    exit 0
fi
apt_dir="$dir/apt"
mkdir -p "$apt_dir/state/lists/partial" "$apt_dir/cache/archives/partial" "$dir/debs" "$dir/root"
: > "$apt_dir/state/status"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
    > "$apt_dir/sources.list"
set -- -o Dir::Etc::sourcelist="$apt_dir/sources.list" -o Dir::Etc::sourceparts=- \
    -o Dir::State="$apt_dir/state" -o Dir::State::status="$apt_dir/state/status" \
    -o Dir::Cache="$apt_dir/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root
echo "mbedtls3: apt-get update (trixie, private state in $apt_dir)"
apt-get "$@" -qq update
# libmbedtls-dev and the runtime libraries it depends on (their names carry sonames)
pkgs="libmbedtls-dev $(apt-cache "$@" depends libmbedtls-dev | sed -n 's/^ *Depends: \(libmbed[a-z0-9-]*\)$/\1/p' | sort -u | tr '\n' ' ')"
echo "mbedtls3: downloading $pkgs"
(cd "$dir/debs" && apt-get "$@" -qq download $pkgs)
for deb in "$dir"/debs/*.deb; do
    dpkg-deb -x "$deb" "$dir/root"
done
libdir=$(dirname "$(find "$dir/root" -name 'libmbedcrypto.so' | head -n 1)")
mkdir -p "$dir/prefix"
ln -sfn "$dir/root/usr/include" "$dir/prefix/include"
ln -sfn "$libdir" "$dir/prefix/lib"
echo "mbedtls3: $(sed -n 's/^#define MBEDTLS_VERSION_STRING *"\(.*\)"/\1/p' "$dir/prefix/include/mbedtls/build_info.h" 2>/dev/null || true) in $dir/prefix"
