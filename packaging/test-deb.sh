#!/usr/bin/env bash
# Builds the .deb from the tree (dpkg-buildpackage -us -uc -b, in a copy),
# installs it with its dependencies into a fresh Debian 12 root
# (debootstrap --variant=minbase, from the mirror apt uses here; the root
# is kept as BUILD_DIR/debian12-minbase.tar for the next run), starts the
# hub there from its unit's ExecStart line as the unit's user (systemd
# itself does not run in a chroot), and asks it `callhome devices` as a
# member of the group callhome. Everything runs in a private mount and
# network namespace; the root is removed at the end.
#
#   packaging/test-deb.sh BUILD_DIR     (root; tests/integration/test_packaging.py)
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "needs root (debootstrap, chroot, namespaces): skipped"
  exit 77
fi
build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/ch-deb.XXXXXX)
keep=${CH_KEEP_DEB_ROOT:-}
cleanup() { [ -n "$keep" ] || rm -rf "$work"; }
trap cleanup EXIT
step() { echo "== $(date +%T) $*"; }

# the mirror apt uses on this machine
mirror=$(sed -n 's/^URIs: *\([^ ]*\/debian\)$/\1/p' \
           /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 ~ /\/debian\/?$/ {
           print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
mirror=${mirror:-http://deb.debian.org/debian}

step "building the .deb (a copy of the tree in $work/src)"
mkdir -p "$work/src/callhome"
if git -C "$src" rev-parse 2>/dev/null; then
  (cd "$src" && git ls-files -co --exclude-standard) |
    grep -v -e '^build' -e '^obj-' |
    (cd "$src" && tar -cf - -T -) | tar -C "$work/src/callhome" -xf -
else
  tar -C "$src" --exclude='./build*' --exclude='./obj-*' -cf - . |
    tar -C "$work/src/callhome" -xf -
fi
(cd "$work/src/callhome" &&
 DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
   dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1) ||
  { tail -40 "$work/build.log"; exit 1; }
deb=$(ls "$work"/src/callhome_*.deb)
echo "$deb"

root=$work/root
cache=$build/debian12-minbase.tar
if [ ! -s "$cache" ]; then
  step "debootstrap bookworm from $mirror (cached as $cache)"
  debootstrap --variant=minbase bookworm "$root" "$mirror" \
    >"$work/debootstrap.log" 2>&1 ||
    { tail -40 "$work/debootstrap.log"; exit 1; }
  tar -C "$root" -cf "$cache.tmp" . && mv "$cache.tmp" "$cache"
else
  step "a fresh root from $cache"
  mkdir "$root"
  tar -C "$root" -xf "$cache"
fi
cp "$deb" "$root/tmp/callhome.deb"
cp /etc/resolv.conf "$root/etc/resolv.conf"

step "installing it there with apt, starting the hub"
# The network namespace is the host's until the install is done (apt
# fetches the dependencies), then a new one: the hub listens on every
# address, port 4334, by default.
unshare --mount --propagation private bash -euo pipefail -c '
  root=$1
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
  chroot "$root" apt-get update -qq
  chroot "$root" apt-get install -y -qq --no-install-recommends \
    /tmp/callhome.deb >/dev/null
  unshare --net bash -euo pipefail -c "
    root=\$1
    ip link set lo up
    unit=\$root/lib/systemd/system/callhome-hub.service
    exec_start=\$(sed -n \"s/^ExecStart=//p\" \"\$unit\")
    user=\$(sed -n \"s/^User=//p\" \"\$unit\")
    group=\$(sed -n \"s/^Group=//p\" \"\$unit\")
    echo \"ExecStart=\$exec_start (as \$user:\$group)\"
    # the packaged configuration file is read: a setting added to it
    echo \"admission = known-only\" >>\"\$root/etc/callhome/hub.conf\"
    chroot --userspec=\$user:\$group \"\$root\" \$exec_start \
      >\"\$root/tmp/hub.log\" 2>&1 &
    hub=\$!
    for i in \$(seq 100); do
      grep -q \"hub ready\" \"\$root/tmp/hub.log\" && break
      kill -0 \$hub 2>/dev/null || break
      sleep 0.1
    done
    cat \"\$root/tmp/hub.log\"
    grep -q \"configuration file /etc/callhome/hub.conf\" \"\$root/tmp/hub.log\"
    grep -q \"hub ready (.*admission known-only[,)]\" \"\$root/tmp/hub.log\"
    chroot \"\$root\" useradd --no-create-home -G callhome alice
    # an operator in the group callhome, not root
    chroot --userspec=alice:alice --groups=callhome \"\$root\" \
      callhome devices
    chroot \"\$root\" callhome --json devices
    kill \$hub
    wait \$hub
  " - "$root"
  chroot "$root" dpkg -s callhome | grep -q "^Status: install ok installed"
  chroot "$root" apt-get purge -y -qq callhome >/dev/null
  test ! -e "$root/var/lib/callhome"
' - "$root"
step "passed"
