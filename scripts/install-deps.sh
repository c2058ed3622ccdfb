#!/usr/bin/env bash
# Installs the Debian 12 packages callhome needs to build, test and demo.
# Idempotent: does nothing (and needs no network) when all are present.
set -euo pipefail

BUILD_PKGS=(build-essential cmake pkg-config clang libclang-rt-14-dev
  libssh-dev libssl-dev libxml2-dev libuv1-dev libsqlite3-dev libjansson-dev
  libcmocka-dev libyang2-dev libmnl-dev)
# Test peers and tools: real third-party software on the other side.
TEST_PKGS=(python3 python3-pytest python3-ncclient openssh-server
  openssh-client socat iproute2 nftables netconfd sqlite3 procps
  iperf3 asciinema python3-paramiko snmpd snmp snmptrapd yangcli
  systemd man-db groff bash-completion)
# Benchmark peers, optional: libnetconf2's call-home accept loop
# (bench/nc2hub.c, built only where libnetconf2 is found;
# bench/scale_bench.py skips that peer without it).
BENCH_PKGS=(libnetconf2-dev)
# Packaging: the .deb (dpkg-buildpackage) and the fresh Debian root the
# packaging test installs it into (debootstrap).
PKG_PKGS=(debhelper dpkg-dev fakeroot debootstrap)

# --build-only: to build; --package: to build the .deb; --bench: to
# build and run the benchmarks with every peer; else everything
want=("${BUILD_PKGS[@]}")
case "${1:-}" in
--build-only) ;;
--package) want+=("${PKG_PKGS[@]}") ;;
--bench) want+=("${TEST_PKGS[@]}" "${BENCH_PKGS[@]}") ;;
*) want+=("${TEST_PKGS[@]}" "${BENCH_PKGS[@]}" "${PKG_PKGS[@]}") ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
