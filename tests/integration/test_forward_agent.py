"""Forwarding on the agent (docs/remote-access.md, "Forwarding"): a genuine
OpenSSH client, listening through socat in the manager's namespace as the
call-home manager, asks callhomed in the device namespace for direct-tcpip
channels with `ssh -W HOST:PORT`. The LAN's web page (python3 -m
http.server in the lan namespace) comes through; the exterior side, the
manager's own network, the device itself and its loopback are refused
with the reason in the agent's log; an allow rule lets one exterior host
AND port through; a LAN that becomes mixed is refused; without --forward
everything is."""

import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import free_port, ssh_keygen, wait_for
from test_border import BorderNet

LAN_WEB = BorderNet.LAN_GW          # 198.18.4.2, in the lan namespace
DEV_LAN = "198.18.4.1"              # the device's interior address
DEV_EXT = "198.18.3.2"              # the device's exterior address
WEB_PORT = 8000
MGR_ALLOWED = 8080                  # the manager's network: one port allowed
MGR_OTHER = 8081                    # ... and another one of the same host
SSH_TIMEOUT_S = 30
REQUEST = b"GET /page.txt HTTP/1.0\r\nHost: x\r\n\r\n"
BIG = 8 * 1024 * 1024   # past the high-water marks many times


class ForwardNet(BorderNet):
    """BorderNet (mgr -- dev -- lan), with names the device resolves
    (/etc/netns/DEV/hosts, which `ip netns exec` mounts over /etc/hosts):
    lanweb -> the LAN web server, outside -> the manager."""

    HOSTS = {"lanweb": LAN_WEB, "outside": BorderNet.MGR}

    def _build(self):
        super()._build()
        self.etc = Path("/etc/netns") / self.ns["dev"]
        self.etc.mkdir(parents=True)
        (self.etc / "hosts").write_text(
            "127.0.0.1 localhost\n" +
            "".join(f"{a} {n}\n" for n, a in self.HOSTS.items()))

    def teardown(self):
        super().teardown()
        etc = getattr(self, "etc", None)
        if etc is not None:
            shutil.rmtree(etc, ignore_errors=True)


def web(net, role, name, bind, port, workdir):
    """python3 -m http.server in role's namespace serving a page.txt
    holding a fresh token; returns (Proc, token)."""
    d = Path(workdir) / name
    d.mkdir()
    token = secrets.token_hex(8)
    (d / "page.txt").write_text(f"{name} {token}\n")
    (d / "big.bin").write_bytes(secrets.token_bytes(BIG))
    p = net.spawn(role, name, [sys.executable, "-m", "http.server",
                               str(port), "--bind", bind, "--directory",
                               str(d)])
    p.dir = d
    wait_for(lambda: net.run(role, ["ss", "-Htln", f"sport = :{port}"],
                             check=False).stdout.strip(), 10,
             f"{name} listening")
    return p, token


class Manager:
    """ssh -W through the device, run in the manager's namespace: each
    fetch waits for the agent's next call on the same port."""

    def __init__(self, net, cli):
        self.net, self.cli = net, cli
        self.port = free_port()

    def fetch(self, dest, path="page.txt"):
        """ssh -W dest with an HTTP GET of path on stdin: (status, stdout,
        what ssh logged for this run)."""
        argv = self.cli.argv(self.port, "admin", bind=BorderNet.MGR,
                             options=["-W", dest])
        before = (self.cli.log.stat().st_size
                  if self.cli.log.exists() else 0)
        req = REQUEST.replace(b"/page.txt", b"/" + path.encode())
        p = subprocess.run(self.net.argv("mgr", argv), input=req,
                           capture_output=True, timeout=SSH_TIMEOUT_S)
        self.raw = p.stdout
        with open(self.cli.log, "rb") as f:
            f.seek(before)
            log = f.read().decode(errors="replace")
        return p.returncode, p.stdout.decode(errors="replace"), log


@pytest.fixture
def fwdnet(netns, agent, openssh_client, workdir):
    """Factory: fwdnet(extra) -> (net, agent, manager): the topology, the
    web servers, and the agent with extra flags calling the manager."""
    def make(extra):
        net = netns(ForwardNet)
        cli = openssh_client()
        hostkey = ssh_keygen(workdir / "agent_hostkey")
        cli.trust("dev", f"{hostkey}.pub")
        mgr = Manager(net, cli)
        net.webs = {
            "lan": web(net, "lan", "lanweb", LAN_WEB, WEB_PORT, workdir),
            "allowed": web(net, "mgr", "mgrweb", BorderNet.MGR,
                           MGR_ALLOWED, workdir),
            "other": web(net, "mgr", "mgrweb2", BorderNet.MGR, MGR_OTHER,
                         workdir),
        }
        a = agent(call_home=[f"{BorderNet.MGR}:{mgr.port}"],
                  authorized=[cli.pub], netns_argv=net.argv("dev", []),
                  extra=["--host-key", hostkey, "--border-holddown", "1",
                         "--backoff-base", "100", "--backoff-max", "300",
                         *extra])
        return net, a, mgr
    return make


def assert_refused(mgr, a, dest, reason, since):
    """dest refused: nothing came through, the reason is in the agent's
    log; literals are refused at the open (administratively
    prohibited)."""
    status, out, log = mgr.fetch(dest)
    assert "HTTP/1.0 200" not in out, (dest, out)
    assert status != 0 or out == "", (dest, status, out)
    a.proc.wait_log(r"forwarding to %s refused .*%s" % (
        dest.replace(".", r"\.").replace("[", r"\[").replace("]", r"\]"),
        reason), timeout=10, since=since)
    return log


@pytest.mark.ch_timeout(150)
def test_forward_to_the_lan_and_only_there(fwdnet):
    net, a, mgr = fwdnet(["--forward",
                          "--forward-allow", f"{BorderNet.MGR}:{MGR_ALLOWED}"])
    a.proc.wait_log(r"forwarding enabled: interior destinations, 1 allow",
                    timeout=10)
    a.proc.wait_log(r"border: lan0 (is|changed from \w+ to) interior",
                    timeout=20)

    # the LAN's web page, by address and by a name the device resolves
    _, lan_token = net.webs["lan"]
    for dest in (f"{LAN_WEB}:{WEB_PORT}", f"lanweb:{WEB_PORT}"):
        status, out, log = mgr.fetch(dest)
        assert "HTTP/1.0 200" in out and lan_token in out, (dest, out, log)
    # a large body: both high-water marks passed and drained, all of it
    status, out, log = mgr.fetch(f"{LAN_WEB}:{WEB_PORT}", "big.bin")
    body = mgr.raw.split(b"\r\n\r\n", 1)[1]
    want = (Path(net.webs["lan"][0].dir) / "big.bin").read_bytes()
    assert len(body) == BIG and body == want, (len(body), log)
    a.proc.wait_log(r"ended after [\d.]+ s: \d+ bytes to it, \d{7,} from "
                    r"it \(both sides ended\)")
    a.proc.wait_log(r"forwarding to lanweb:8000 .*resolving the name")
    a.proc.wait_log(r"forwarding to lanweb:8000 \(198\.18\.4\.2:8000\) "
                    r"ended after [\d.]+ s: \d+ bytes to it, \d+ from it")
    # it left from the device's interior address (its internal presence)
    lan_proc, _ = net.webs["lan"]
    lan_proc.wait_log(r"^%s - - .*GET /page\.txt" % DEV_LAN.replace(
        ".", r"\."), timeout=5)

    # the allow rule: that host AND port, not another port of the host
    _, allowed_token = net.webs["allowed"]
    status, out, log = mgr.fetch(f"{BorderNet.MGR}:{MGR_ALLOWED}")
    assert allowed_token in out, (out, log)
    since = len(a.proc.log())
    log = assert_refused(mgr, a, f"{BorderNet.MGR}:{MGR_OTHER}",
                         "not in the interior prefix set", since)
    assert "administratively prohibited" in log, log

    # the exterior side, the device itself, its loopback
    for dest, reason in ((f"{DEV_EXT}:22", "the device itself"),
                         (f"{DEV_LAN}:22", "the device itself"),
                         ("127.0.0.1:22", "loopback"),
                         ("198.18.3.9:80", "not in the interior prefix")):
        since = len(a.proc.log())
        log = assert_refused(mgr, a, dest, reason, since)
        assert "administratively prohibited" in log, (dest, log)

    # a name resolving outside: refused on the resolved address
    since = len(a.proc.log())
    assert_refused(mgr, a, f"outside:{MGR_OTHER}",
                   r"resolves to 198\.18\.3\.1:8081: not in the interior",
                   since)

    # the LAN becomes mixed (a default route through it): refused
    net.ip("dev", "route", "add", "default", "via", BorderNet.LAN_GW,
           "dev", "lan0", "metric", "50")
    a.proc.wait_log(r"border: lan0 changed from interior to mixed",
                    timeout=10)
    since = len(a.proc.log())
    assert_refused(mgr, a, f"{LAN_WEB}:{WEB_PORT}",
                   "not in the interior prefix set", since)


@pytest.mark.ch_timeout(90)
def test_forward_off_refuses_everything(fwdnet):
    net, a, mgr = fwdnet(["--forward-allow", f"{LAN_WEB}:{WEB_PORT}"])
    a.proc.wait_log(r"--forward-allow without --forward", timeout=10)
    a.proc.wait_log(r"border: lan0 (is|changed from \w+ to) interior",
                    timeout=20)
    for dest in (f"{LAN_WEB}:{WEB_PORT}", f"lanweb:{WEB_PORT}"):
        since = len(a.proc.log())
        log = assert_refused(mgr, a, dest,
                             "forwarding is not enabled on this device",
                             since)
        assert "administratively prohibited" in log, (dest, log)
