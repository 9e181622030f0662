# The common start of the shell tests that run servers (sourced, not run): arguments,
# a private temporary directory, the PIDs of what the test starts (ended on exit), no
# proxy from the environment, and the counters. Set NAME before sourcing it; ok() and
# the results line use it.
#   usage of a test: test_X.sh BUILD [RESULTS]   (RESULTS default BUILD/results)
build=${1:-build}
results=${2:-$build/results}
bin=$build/bin
tmp=$(mktemp -d "/tmp/otrp-$NAME-XXXXXX")
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    [ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
unset http_proxy https_proxy HTTPS_PROXY all_proxy ALL_PROXY
passed=0; failed=0
ok() { passed=$((passed + 1)); echo "ok    $NAME: $1"; }
