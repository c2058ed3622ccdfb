"""NAT traversal for real: the device sits in a network namespace behind
a firewall namespace that masquerades outbound and drops every new
inbound connection. The hub, outside, cannot reach the device; the
device's call home works anyway."""

import socket


from helpers import Nat, wait_for


def test_call_home_through_nat(nat, hub, agent):
    port = 4334                                # the IANA port: own netns
    h = hub(host=Nat.HUB, port=port, netns_argv=nat.argv("hub", []))
    a = agent(hub=h, netns_argv=nat.argv("dev", []),
              extra=["--backoff-base", "100", "--backoff-max", "500"])
    devs = h.wait_device_connected(1, timeout=20)
    d = devs[0]
    assert d["fingerprint"] == a.fingerprint
    # the hub sees the firewall's address: the call came through NAT
    assert d["address"].startswith(Nat.FW_HUB + ":"), d["address"]
    rc, out, err = h.cli("get-config", a.fingerprint)
    assert rc == 0, err
    assert "<name>eth0</name>" in out

    # the device namespace listens on nothing (the agent opens no port)
    r = nat.run("dev", ["ss", "-Hltn"])
    assert r.stdout.strip() == "", r.stdout

    # and the hub cannot open a connection to the device: even to a port
    # that is listening there, new inbound connections are dropped
    probe = nat.spawn("dev", "probe-listener", [
        "socat", "TCP-LISTEN:2222,bind=" + Nat.DEV + ",reuseaddr",
        "SYSTEM:echo hi"])
    wait_for(lambda: ":2222" in nat.run("dev", ["ss", "-Hltn"]).stdout,
             5, "probe listener in dev")

    def dial_device():
        s = socket.socket()
        s.settimeout(2)
        try:
            s.connect((Nat.DEV, 2222))
            return "connected"
        except OSError as e:
            return type(e).__name__
        finally:
            s.close()

    assert nat.call("hub", dial_device) in ("timeout", "TimeoutError")
    # while from the device side the same kind of connection works
    assert nat.run("dev", ["socat", "-u", "/dev/null",
                           f"TCP:{Nat.HUB}:{port},connect-timeout=3"],
                   check=False).returncode == 0
    probe.stop()
