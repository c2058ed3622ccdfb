"""Forwarding through the hub (docs/remote-access.md, "Forwarding through
the hub"): the real hub, outside, in its own namespace; the real agent in
a device namespace behind a NAT namespace (helpers.Nat) with an interior
LAN namespace holding a web server (python3 -m http.server) and a genuine
OpenSSH sshd. The real CLI in the root namespace: `callhome forward`
fetches the LAN's web page through a local port, OpenSSH's ssh with
ProxyCommand='callhome connect r1 %h:%p' logs in to the LAN's sshd;
destinations outside the device's interior are refused with the reason;
an offline device is a clear error."""

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from helpers import (Nat, PEERS_DIR, SSH, SSHD, binary, current_user,
                     ssh_keygen, wait_for)
from test_forward_agent import web

LAN_DEV = "198.18.4.1"      # the device's interior address
LAN = "198.18.4.2"          # the LAN host: web server and sshd
WEB_PORT = 8000
SSH_PORT = 22
HUB_PORT = 4334             # the IANA port: the hub's own namespace
EXIT_TIMEOUT_S = 30


class LanNat(Nat):
    """helpers.Nat (hub -- fw -- dev), and a LAN behind the device:

        dev 198.18.4.1/24 [lan0] == [dev0] 198.18.4.2/24 lan
    """

    ROLES = Nat.ROLES + ("lan",)

    def _build(self):
        super()._build()
        self.veth("dev", "lan0", f"{LAN_DEV}/24", "lan", "dev0", f"{LAN}/24")


def cli_argv(h, *args):
    return [str(binary("callhome")), "--hub", str(h.sock)] + list(args)


def run(h, *args, data=b""):
    r = subprocess.run(cli_argv(h, *args), input=data, capture_output=True,
                       timeout=EXIT_TIMEOUT_S)
    return r.returncode, r.stdout, r.stderr.decode(errors="replace")


def lan_sshd(net, workdir):
    """OpenSSH's sshd in the LAN namespace on LAN:22, taking a fresh key
    for the user running the tests; returns (Proc, key path)."""
    d = Path(workdir) / "lansshd"
    d.mkdir()
    hostkey = ssh_keygen(d / "hostkey", comment="lan-hostkey")
    key = ssh_keygen(d / "id_ed25519", comment="operator")
    (d / "authorized_keys").write_text(Path(f"{key}.pub").read_text())
    config = d / "sshd_config"
    config.write_text((PEERS_DIR / "sshd_config.in").read_text().format(
        hostkey=hostkey, authorized_keys=d / "authorized_keys",
        subsystem="/bin/false"))
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    p = net.spawn("lan", "lansshd", [SSHD, "-D", "-e", "-f", str(config),
                                     "-o", f"ListenAddress={LAN}:{SSH_PORT}"])
    wait_for(lambda: net.run("lan", ["ss", "-Htln", f"sport = :{SSH_PORT}"],
                             check=False).stdout.strip(), 10,
             "the LAN's sshd listening")
    return p, key


@pytest.fixture
def fwdhub(netns, hub, agent, workdir):
    """The topology, the LAN's web server and sshd, the hub in its
    namespace and the agent (--forward) in the device's, connected and
    named r1: (net, hub, agent)."""
    net = netns(LanNat)
    net.web, net.token = web(net, "lan", "lanweb", LAN, WEB_PORT, workdir)
    net.sshd, net.key = lan_sshd(net, workdir)
    h = hub(host=Nat.HUB, port=HUB_PORT, netns_argv=net.argv("hub", []))
    a = agent(hub=h, netns_argv=net.argv("dev", []),
              extra=["--forward", "--border-holddown", "1",
                     "--backoff-base", "100", "--backoff-max", "500"])
    fp = a.fingerprint
    h.wait_device_connected(1, timeout=20)
    rc, _, err = run(h, "rename", fp, "r1")
    assert rc == 0, err
    a.proc.wait_log(r"border: lan0 (is|changed from \w+ to) interior",
                    timeout=20)
    return net, h, a


class Forward:
    """`callhome forward r1 0:HOST:PORT` in the foreground; .port is the
    local port it chose (from its "listening on" line)."""

    def __init__(self, h, spec):
        self.p = subprocess.Popen(cli_argv(h, "forward", "r1", spec),
                                  stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
        line = self.p.stderr.readline().decode()
        m = re.match(r"callhome: listening on 127\.0\.0\.1:(\d+)$",
                     line.strip())
        assert m, line
        self.port = int(m.group(1))

    def stop(self):
        """Ctrl-C: (exit status, what it said on stderr)."""
        self.p.send_signal(signal.SIGINT)
        rc = self.p.wait(timeout=EXIT_TIMEOUT_S)
        return rc, self.p.stderr.read().decode(errors="replace")


def get(port, path="page.txt"):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}",
                                timeout=EXIT_TIMEOUT_S) as r:
        return r.read()


@pytest.mark.ch_timeout(120)
def test_forward_and_connect_reach_the_lan(fwdhub):
    net, h, a = fwdhub

    # forward: the LAN's web page, several connections at once
    fwd = Forward(h, f"0:{LAN}:{WEB_PORT}")
    assert get(fwd.port).decode() == f"lanweb {net.token}\n"
    big = (Path(net.web.dir) / "big.bin").read_bytes()
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(4) as ex:
        bodies = list(ex.map(lambda _: get(fwd.port, "big.bin"), range(4)))
    assert all(b == big for b in bodies), [len(b) for b in bodies]
    rc, err = fwd.stop()
    assert rc == 0, err
    assert err == "", err
    # the hub's events: who, where, bytes each way, how long
    rc, out, err = run(h, "events", "r1")
    assert rc == 0, err
    assert re.search(rb"forward to 198\.18\.4\.2:8000 ended \(session \d+, "
                     rb"\w+\(uid=\d+\)\): closed, \d+ bytes in, \d{7,} "
                     rb"out, [\d.]+ s", out), out

    # connect: OpenSSH's ssh through ProxyCommand, the user's own client
    proxy = " ".join(cli_argv(h, "connect", "r1", "%h:%p"))
    r = subprocess.run(
        [SSH, "-F", "/dev/null", "-o", f"ProxyCommand={proxy}",
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
         "-o", "IdentityAgent=none", "-i", str(net.key),
         "-l", current_user(), LAN, "echo from-the-lan; hostname -I"],
        capture_output=True, timeout=EXIT_TIMEOUT_S)
    out = r.stdout.decode()
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert out.startswith("from-the-lan\n") and LAN in out, out
    # it came from the device's interior address
    assert re.search(r"Accepted publickey .* from 198\.18\.4\.1 ",
                     net.sshd.log()), net.sshd.log()

    # every forward is audited: who, where, bytes each way
    rc, out, err = run(h, "audit", "--json", "--device", "r1")
    assert rc == 0, err
    recs = [r for r in json.loads(out)["audit"]
            if r["action"].startswith("forward")]
    ends = [r for r in recs if r["action"] == "forward-end"]
    assert ends and all(r["outcome"] == "ok" and r["uid"] == os.getuid()
                        for r in recs), recs
    assert any(r["bytes_out"] >= 8 << 20 and "198.18.4.2:8000" in
               r["detail"] for r in ends), ends

    # connect on stdio: a request, the page, exit 0 at its end
    rc, out, err = run(h, "connect", "r1", f"{LAN}:{WEB_PORT}",
                       data=b"GET /page.txt HTTP/1.0\r\n\r\n")
    assert rc == 0, err
    assert out.endswith(f"lanweb {net.token}\n".encode()), out


@pytest.mark.ch_timeout(120)
def test_refusals_and_offline(fwdhub):
    net, h, a = fwdhub
    refused = "the device refused the forward to %s: direct-tcpip " \
              "channel refused: administratively prohibited"
    for dest, why in ((f"{Nat.FW_DEV}:80", "not in the interior prefix"),
                      (f"{Nat.HUB}:{HUB_PORT}", "not in the interior "
                       "prefix"),
                      ("127.0.0.1:22", "loopback"),
                      (f"{LAN_DEV}:22", "the device itself")):
        since = len(a.proc.log())
        rc, out, err = run(h, "connect", "r1", dest)
        assert rc == 4, (dest, rc, err)
        assert err.strip() == "callhome: " + refused % dest, err
        assert out == b""
        a.proc.wait_log(r"forwarding to %s refused .*%s" % (
            re.escape(dest), why), since=since)

    # the same through forward: the connection is closed, the line said
    fwd = Forward(h, f"0:127.0.0.1:22")
    with pytest.raises(Exception):
        get(fwd.port)
    rc, err = fwd.stop()
    assert rc == 0
    assert refused % "127.0.0.1:22" in err, err

    # nothing listens there: the device says so (as the channel's stderr,
    # before it closes it) and the CLI shows it, exit 4
    rc, out, err = run(h, "connect", "r1", f"{LAN}:9")
    assert (rc, out) == (4, b""), err
    assert err.strip() == (f"callhome: forward to {LAN}:9 on r1: forwarding "
                           f"to {LAN}:9: cannot connect: connection "
                           "refused"), err

    # an unknown device, then r1 gone
    rc, out, err = run(h, "connect", "nope", f"{LAN}:{WEB_PORT}")
    assert rc == 4 and "nope" in err, err
    a.proc.stop()
    wait_for(lambda: not any(d["state"] == "connected"
                             for d in h.devices()), 15, "r1 gone")
    rc, out, err = run(h, "connect", "r1", f"{LAN}:{WEB_PORT}")
    assert rc == 4, err
    assert err.strip() == "callhome: device r1 is not connected", err
