#!/usr/bin/env bash
# tools/deps.sh - installs every Debian 12 package needed to build and test stirwire.
#
# Idempotent: when every package is already installed (dpkg -s) it does nothing and does
# not touch apt. Otherwise it runs apt-get update and apt-get install, through sudo when
# not root. Quiet on success; apt's errors are shown when it fails.
#
# Usage: tools/deps.sh [--list]   (--list prints the package names and exits)
set -euo pipefail

packages=(
    # build
    build-essential autoconf automake libtool pkg-config
    # libraries (DESIGN.md, "Dependencies")
    libssl-dev libjansson-dev libcmocka-dev libosip2-dev libcurl4-openssl-dev
    libconfig-dev libpcap-dev libmicrohttpd-dev libc-ares-dev
    # fuzzing and layout
    clang libclang-rt-14-dev clang-format
    # peers and tools the tests and scripts drive
    secsipidx sip-tester openssl jq util-linux
    # a local DNS server for the next-hop tests (SRV, TTL): dnsmasq's binary alone
    dnsmasq-base
    # the libsecsipid drop-in's conformance test and Kamailio on it
    libsecsipid-dev kamailio kamailio-secsipid-modules
    # the local HTTPS server that integration tests fetch x5u certificates from
    python3
    # the Debian packages (tests/packaging/deb.sh): dpkg-buildpackage, dh, the system
    # user, systemd-analyze verify, logrotate -d on the snippet
    debhelper dpkg-dev fakeroot adduser systemd logrotate
    # the TAP: gzip'd captures and HEP payloads; the peers its tests drive (tshark and
    # tcpdump capture, sngrep sends HEP, chromium renders the HTML report headless)
    zlib1g-dev tshark tcpdump sngrep chromium iproute2
)

if [ "${1:-}" = "--list" ]; then
    printf '%s\n' "${packages[@]}"
    exit 0
fi

missing=()
for p in "${packages[@]}"; do
    # dpkg -s succeeds for removed-but-configured packages too; ask for the real state.
    if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" != "installed" ]; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#packages[@]} packages are installed"
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "deps: need root to install: ${missing[*]}" >&2
        echo "deps: run as root, or install sudo" >&2
        exit 1
    fi
    sudo=(sudo)
fi

echo "deps: installing ${missing[*]}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
run() { # run CMD...: quiet, but prints the command's output when it fails
    if ! "$@" >"$log" 2>&1; then
        echo "deps: failed: $*" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
}
run "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
run "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "deps: done"
