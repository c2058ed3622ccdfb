#!/usr/bin/env bash
# The main job, on loopback: a hub with its SQLite registry, and a device
# agent that calls home to it. Shows the registry and a NETCONF
# get-config run through the call-home session, then stops both.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/$build"
work=$(mktemp -d /tmp/callhome-demo.XXXXXX)
hub_pid="" agent_pid=""

cleanup() {
  for p in $agent_pid $hub_pid; do kill -TERM "$p" 2>/dev/null || true; done
  for p in $agent_pid $hub_pid; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# The IANA call-home port if it is free on loopback, else a free one.
port=4334
if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { echo "demo: $*" >&2; echo "--- hub log"; tail -20 "$work/hub.log"; echo "--- agent log"; tail -20 "$work/agent.log"; exit 1; }

step "start the hub (listens on 127.0.0.1:$port, registry in $work/hub)"
"$bin/callhome-hub" --listen "127.0.0.1:$port" --state "$work/hub" \
  --accept-new 2>"$work/hub.log" &
hub_pid=$!
for _ in $(seq 100); do [ -S "$work/hub/hub.sock" ] && break; sleep 0.1; done
[ -S "$work/hub/hub.sock" ] || fail "the hub did not start"
export CALLHOME_HUB="$work/hub/hub.sock"

step "provision a device: it trusts the hub's key; its running config"
mkdir -p "$work/device"
cp "$work/hub/hub_key.pub" "$work/device/authorized_keys"
cat >"$work/device/running.xml" <<'XML'
<system xmlns="urn:example:system">
  <hostname>branch-router-7</hostname>
  <location>behind NAT, no open port</location>
</system>
XML
echo "authorized_keys: $(cut -c1-60 "$work/device/authorized_keys")..."

step "start the device agent: it dials out (it never listens)"
"$bin/callhomed" --call-home "127.0.0.1:$port" \
  --host-key "$work/device/ssh_host_ed25519_key" \
  --authorized-keys "$work/device/authorized_keys" \
  --datastore "$work/device" 2>"$work/agent.log" &
agent_pid=$!

connected=""
for _ in $(seq 100); do
  if "$bin/callhome" devices --json 2>/dev/null | grep -q '"connected"'; then
    connected=1; break
  fi
  sleep 0.1
done
[ -n "$connected" ] || fail "the device did not connect"

step "callhome devices"
"$bin/callhome" devices

fp=$(grep -o 'SHA256:[A-Za-z0-9+/]*' "$work/agent.log" | head -1)
step "callhome get-config ${fp:0:20}...   (NETCONF over the call-home SSH session)"
"$bin/callhome" get-config "${fp:0:20}"
echo

step "what the logs say"
grep -E 'device called|authenticated|NETCONF session up' "$work/hub.log" | sed 's/^/hub:   /'
grep -E 'calling home|authenticated|hello done' "$work/agent.log" | sed 's/^/agent: /'

step "stop both"
kill -TERM "$agent_pid"; wait "$agent_pid" || true; agent_pid=""
kill -TERM "$hub_pid"; wait "$hub_pid" || true; hub_pid=""
echo "demo finished: OK"
