#!/usr/bin/env bash
# The main job, on loopback: a hub with its SQLite registry, and a device
# agent that calls home to it. The device enrolls, goes offline, a change
# is queued for it, and the change is applied (lock, candidate, confirmed
# commit, confirm) the moment it calls home again. The operator runs a
# command and a shell on it through the connection it opened.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/$build"
work=$(mktemp -d /tmp/callhome-demo.XXXXXX)
hub_pid="" agent_pid="" tls_pid=""

cleanup() {
  for p in $tls_pid $agent_pid $hub_pid; do kill -TERM "$p" 2>/dev/null || true; done
  for p in $tls_pid $agent_pid $hub_pid; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# The IANA call-home ports if they are free on loopback, else free ones.
free_port() {
  if ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; then
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
  else
    echo "$1"
  fi
}
port=$(free_port 4334)
tls_port=$(free_port 4335)

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { echo "demo: $*" >&2; echo "--- hub log"; tail -20 "$work/hub.log"; echo "--- agent log"; tail -20 "$work/agent.log"; [ -f "$work/edge.log" ] && { echo "--- TLS agent log"; tail -20 "$work/edge.log"; }; exit 1; }
ch() { echo "\$ callhome $*"; "$bin/callhome" "$@"; }
wait_for() {  # wait_for WHAT COMMAND...: poll up to 10 s
  local what=$1; shift
  for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "$what"
}
connected() { "$bin/callhome" --json device branch-7 | grep -q '"state": *"connected"'; }
start_agent() {
  "$bin/callhomed" --call-home "127.0.0.1:$port" \
    --host-key "$work/device/ssh_host_ed25519_key" \
    --authorized-keys "$work/device/authorized_keys" \
    --datastore "$work/device" \
    --yang-dir "$root/examples/yang" --module example-system \
    --shell-user "$(id -un)" \
    2>>"$work/agent.log" &
  agent_pid=$!
}

step "a manufacturer's test PKI (for the TLS device further down)"
bash "$root/scripts/make-test-pki.sh" "$work/pki" SN-DEMO-0042 >/dev/null
ls "$work/pki" | tr '\n' ' '; echo

step "start the hub: SSH on 127.0.0.1:$port, TLS on 127.0.0.1:$tls_port, registry in $work/hub"
"$bin/callhome-hub" --listen "127.0.0.1:$port" --state "$work/hub" \
  --listen-tls "127.0.0.1:$tls_port" --tls-cert "$work/pki/hub.pem" \
  --tls-key "$work/pki/hub.key" --trust-anchor "$work/pki/mfr-root.pem" \
  --admission trust-new --confirm-after 1 2>"$work/hub.log" &
hub_pid=$!
for _ in $(seq 100); do [ -S "$work/hub/hub.sock" ] && break; sleep 0.1; done
[ -S "$work/hub/hub.sock" ] || fail "the hub did not start"
export CALLHOME_HUB="$work/hub/hub.sock"

step "provision a device: it trusts the hub's key; its startup configuration"
mkdir -p "$work/device"
cp "$work/hub/hub_key.pub" "$work/device/authorized_keys"
cat >"$work/device/startup.xml" <<'XML'
<system xmlns="urn:example:system">
  <hostname>branch-router-7</hostname>
  <location>behind NAT, no open port</location>
</system>
XML

step "the device calls home (it never listens), and is enrolled"
start_agent
for _ in $(seq 100); do
  grep -q 'NETCONF hello done' "$work/agent.log" 2>/dev/null && break; sleep 0.1
done
fp=$(grep -o 'SHA256:[A-Za-z0-9+/]*' "$work/agent.log" | head -1)
[ -n "$fp" ] || fail "the device did not call"
ch rename "$fp" branch-7 >/dev/null
wait_for "the device did not connect" connected
ch devices
ch get-config branch-7
echo

step "the device goes offline"
kill -TERM "$agent_pid"; wait "$agent_pid" || true; agent_pid=""
wait_for "the hub did not notice" sh -c "! $bin/callhome --json device branch-7 | grep -q '\"state\": *\"connected\"'"
ch devices

step "the operator changes it anyway: the change is queued"
cat >"$work/change.xml" <<'XML'
<system xmlns="urn:example:system">
  <hostname>branch-7</hostname>
  <ntp-server><address>192.0.2.123</address><prefer>true</prefer></ntp-server>
</system>
XML
ch edit-config branch-7 "$work/change.xml"
ch jobs branch-7

step "the device calls home again: the queued change is applied safely"
start_agent
job=$("$bin/callhome" --json jobs branch-7 | grep -o '"id": *[0-9]*' | head -1 | grep -o '[0-9]*$')
for _ in $(seq 100); do
  "$bin/callhome" --json job "$job" | grep -q '"state": *"done"' && break; sleep 0.1
done
ch jobs branch-7
ch get-config branch-7
echo

step "the hub archived each configuration the device had: history and diff"
wait_for "a second archived version" sh -c \
  "[ \$('$bin/callhome' --json history branch-7 | grep -c '\"version\"') -ge 2 ]"
ch history branch-7
ch diff branch-7 1 2
echo

step "a terminal on the device, through the connection it opened"
echo "\$ callhome exec branch-7 -- 'echo \"on \$(hostname) as \$(id -un)\"; uname -sr'"
"$bin/callhome" exec branch-7 -- 'echo "on $(hostname) as $(id -un)"; uname -sr'
echo "\$ printf 'cd /; pwd; exit 3\\n' | callhome shell branch-7"
set +e
printf 'cd /; pwd; exit 3\n' | "$bin/callhome" shell branch-7
status=$?
set -e
echo "(the shell's exit status comes back: $status)"
[ "$status" = 3 ] || fail "the shell's exit status was $status, not 3"
echo

step "a second device calls over TLS: admitted by its certificate's serial number"
echo "SN-DEMO-0042,edge-42" >"$work/serials.txt"
ch import-serials "$work/serials.txt" --anchor "$work/pki/mfr-root.pem"
mkdir -p "$work/edge"
"$bin/callhomed" --call-home-tls "127.0.0.1:$tls_port" \
  --cert "$work/pki/dev-SN-DEMO-0042.pem" --key "$work/pki/dev-SN-DEMO-0042.key" \
  --chain "$work/pki/mfr-chain.pem" --client-ca "$work/pki/op-ca.pem" \
  --cert-to-name '*,specified,admin' --host-key "$work/edge/host_key" \
  --authorized-keys "$work/edge/none" --datastore "$work/edge" \
  2>>"$work/edge.log" &
tls_pid=$!
wait_for "the TLS device did not connect" sh -c "$bin/callhome --json device edge-42 | grep -q '\"state\": *\"connected\"'"
ch devices
echo

step "what the hub recorded: the device's events, and who did what"
ch events branch-7
ch audit --device branch-7
ch recordings branch-7

step "the hub at a glance"
ch status

step "stop all"
kill -TERM "$tls_pid"; wait "$tls_pid" || true; tls_pid=""
kill -TERM "$agent_pid"; wait "$agent_pid" || true; agent_pid=""
kill -TERM "$hub_pid"; wait "$hub_pid" || true; hub_pid=""
echo "demo finished: OK"
