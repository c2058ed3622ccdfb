"""The border's policy and forwarding's configuration, for real
(docs/remote-access.md, "Policy" and "Allow rules"): the agent in the
device namespace writes its nftables ruleset from the classification and
loads it there with nft; a LAN host's packet with a spoofed outside
source is dropped (counted in the table, never seen by the manager's
side) while its own passes; a default route through the LAN re-applies
the policy at once; a clean stop removes the table, and the spoofed
packet then goes through. Forwarding's allow rules are edited over
NETCONF (ncclient) and an OpenSSH `ssh -W` through the device is let
through, and refused again once the rule is deleted."""

import re
import sys
import xml.etree.ElementTree as ET

import pytest

import ncsession
from helpers import listener, ssh_keygen, wait_for
from test_border import B, BORDER_FILTER, BorderNet, wait_category
from test_callhome_config import callhome, client, endpoint
from test_forward_agent import (MGR_ALLOWED, MGR_OTHER, ForwardNet, Manager,
                                assert_refused, web)

SPOOF = "198.18.9.9"           # not in the interior prefix set
LAN_HOST = BorderNet.LAN_GW     # 198.18.4.2, the lan namespace
TABLE = ["inet", "callhome_border"]
HOLDDOWN_S = 1


class RoutedNet(BorderNet):
    """BorderNet with the device routing between the LAN and the
    manager's side (mgr knows the LAN's way back), and a counter in mgr
    of what arrives from the spoofed address (the receiving side)."""

    def _build(self):
        super()._build()
        self.run("dev", ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        self.ip("mgr", "route", "add", "198.18.4.0/23", "via",
                "198.18.3.2")
        self.ip("lan", "route", "add", "default", "via", "198.18.4.1")
        self.ip("lan", "addr", "add", f"{SPOOF}/32", "dev", "dev0")
        self.run("mgr", ["nft", "-f", "-"], input=(
            "table inet seen {\n counter spoofed {\n }\n"
            " chain in {\n  type filter hook prerouting priority 0;\n"
            f'  ip saddr {SPOOF} counter name "spoofed"\n }}\n}}\n'))


def nft_counter(net, role, table, name):
    out = net.run(role, ["nft", "list", "counter", *table, name]).stdout
    return int(re.search(r"packets (\d+)", out).group(1))


ECHO_PORT = 7000
# A UDP echo server, and one datagram from a chosen source, answered or not
ECHO = ("import socket, sys\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "s.bind((sys.argv[1], int(sys.argv[2])))\n"
        "while True:\n"
        "    d, a = s.recvfrom(2048)\n"
        "    s.sendto(d, a)\n")
SEND = ("import socket, sys\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "s.bind((sys.argv[1], 0))\n"
        "s.settimeout(2)\n"
        "s.sendto(b'x', (sys.argv[2], int(sys.argv[3])))\n"
        "try:\n"
        "    s.recvfrom(2048)\n"
        "except OSError:\n"
        "    sys.exit(1)\n")


def echo_server(net):
    net.spawn("mgr", "echo", [sys.executable, "-c", ECHO, BorderNet.MGR,
                              str(ECHO_PORT)])
    wait_for(lambda: net.run("mgr", ["ss", "-Hunl", f"sport = :{ECHO_PORT}"],
                             check=False).stdout.strip(), 10, "echo server")


def udp(net, source):
    """One datagram from the LAN host, from source, to the echo server:
    whether the answer came back."""
    return net.run("lan", [sys.executable, "-c", SEND, source,
                           BorderNet.MGR, str(ECHO_PORT)],
                   check=False).returncode == 0


def policy_state(m):
    root = ET.fromstring(m.get(filter=BORDER_FILTER).data_xml)
    pol = root.find(f"{{{B}}}border/{{{B}}}policy")
    return {c.tag.split("}")[1]: c.text for c in pol} if pol is not None \
        else None


def start(agent, workdir, net, extra=()):
    key = ssh_keygen(workdir / "mgr_key", comment="mgr")
    lsock, port = net.call("mgr", listener, BorderNet.MGR)
    a = agent(call_home=[f"{BorderNet.MGR}:{port}"],
              authorized=[f"{key}.pub"], running_xml=None,
              netns_argv=net.argv("dev", []),
              extra=[*ncsession.MODULE, "--border-holddown", str(HOLDDOWN_S),
                     *extra])
    a.fingerprint
    return a, ncsession.connect(lsock, a, key)


@pytest.mark.ch_timeout(120)
def test_policy_file_matches_the_topology(netns, agent, workdir):
    """Without apply: the file only, nothing loaded."""
    net = netns(BorderNet)
    path = workdir / "policy.nft"
    a, m = start(agent, workdir, net, ["--border-policy-file", path])
    wait_category(m, "lan0", "interior", 20)
    a.proc.wait_log(r"border: lan0 changed from exterior to interior",
                    timeout=10)

    def written():
        t = path.read_text() if path.exists() else ""
        return t if "# interior: lan0\n" in t else None
    text = wait_for(written, 10, "the ruleset with lan0 interior")
    assert "# exterior: ext0\n" in text
    assert "# mixed: none\n" in text
    assert 'iifname { "lan0" } jump antispoof' in text
    assert "elements = { 198.18.4.0/24 }" in text
    assert "198.18.3.0" not in text
    # it loads as it is (checked by nft, not loaded)
    net.run("dev", ["nft", "-c", "-f", str(path)])
    assert net.run("dev", ["nft", "list", "table", *TABLE],
                   check=False).returncode != 0, "loaded without apply"
    st = policy_state(m)
    assert st["file"] == str(path) and st["apply"] == "false", st
    assert "written" in st and "result" not in st, st
    m.close_session()


@pytest.mark.ch_timeout(150)
def test_policy_applied_drops_spoofed_and_follows_the_border(
        netns, agent, workdir):
    net = netns(RoutedNet)
    a, m = start(agent, workdir, net, ["--border-policy-apply",
                                       "--border-policy-remove"])
    wait_category(m, "lan0", "interior", 20)
    a.proc.wait_log(r"border policy: .*border-policy\.nft applied",
                    timeout=10)

    def listed():
        out = net.run("dev", ["nft", "list", "table", *TABLE],
                      check=False).stdout
        return out if '"lan0"' in out else None
    table = wait_for(listed, 10, "lan0 in the loaded table")
    assert re.search(r'iifname "lan0" jump antispoof', table), table
    st = wait_for(lambda: (s := policy_state(m)) and
                  s.get("result") == "applied" and s, 10, "applied state")
    assert st["apply"] == "true" and "applied" in st, st

    # a legitimate packet passes; a spoofed one is dropped and counted
    echo_server(net)
    assert udp(net, LAN_HOST), "the LAN host's own datagram did not pass"
    dropped = nft_counter(net, "dev", TABLE, "spoofed")
    assert not udp(net, SPOOF)
    assert nft_counter(net, "dev", TABLE, "spoofed") > dropped
    assert nft_counter(net, "mgr", ["inet", "seen"], "spoofed") == 0, \
        "the spoofed packet reached the manager's side"

    # a default route through the LAN: mixed, re-applied at once
    net.ip("dev", "route", "add", "default", "via", BorderNet.LAN_GW,
           "dev", "lan0", "metric", "50")
    wait_category(m, "lan0", "mixed", 10)
    mixed = wait_for(lambda: (t := net.run(
        "dev", ["nft", "list", "table", *TABLE]).stdout) and
        re.search(r'iifname "lan0" jump mixed', t) and t, 10,
        "lan0 mixed in the loaded table")
    assert "jump antispoof" not in mixed.split("chain prerouting")[1] \
        .split("}")[0], mixed
    assert "198.18.4.0/24" not in mixed

    # back to interior after the hold-down
    net.ip("dev", "route", "del", "default", "via", BorderNet.LAN_GW,
           "dev", "lan0", "metric", "50")
    wait_for(lambda: re.search(r'iifname "lan0" jump antispoof', net.run(
        "dev", ["nft", "list", "table", *TABLE]).stdout), 10 + HOLDDOWN_S,
        "lan0 interior again in the loaded table")
    m.close_session()

    # a clean stop removes the table: the spoofed packet goes through
    a.proc.stop()
    a.proc.wait_log(r"border policy: table inet callhome_border deleted",
                    timeout=5)
    assert net.run("dev", ["nft", "list", "table", *TABLE],
                   check=False).returncode != 0
    udp(net, SPOOF)         # no answer comes back: it reached mgr
    assert nft_counter(net, "mgr", ["inet", "seen"], "spoofed") > 0


def forwarding(body):
    return f'<forwarding xmlns="{B}">{body}</forwarding>'


def allow(name, prefix, lo, hi, op=""):
    return (f"<allow{op}><name>{name}</name><prefix>{prefix}</prefix>"
            f"<port-min>{lo}</port-min><port-max>{hi}</port-max></allow>")


@pytest.mark.ch_timeout(180)
def test_allow_rules_over_netconf(netns, agent, openssh_client, workdir):
    """Two managers from running: ncclient edits forwarding, OpenSSH's
    ssh -W asks for the channels."""
    net = netns(ForwardNet)
    cli = openssh_client()
    mgr = Manager(net, cli)
    _, token = web(net, "mgr", "mgrweb", BorderNet.MGR, MGR_ALLOWED, workdir)
    key = ssh_keygen(workdir / "mgr_key", comment="mgr")
    lsock, port = net.call("mgr", listener, BorderNet.MGR)
    running = callhome(
        client("nc", [endpoint("e", port, host=BorderNet.MGR)]),
        client("ssh", [endpoint("e", mgr.port, host=BorderNet.MGR)]))
    a = agent(call_home=[], authorized=[f"{key}.pub", cli.pub],
              running_xml=running, netns_argv=net.argv("dev", []),
              extra=[*ncsession.MODULE,
                     "--border-holddown", str(HOLDDOWN_S),
                     "--backoff-base", "100", "--backoff-max", "300"])
    a.fingerprint
    cli.trust("dev", a.pub)
    m = ncsession.connect(lsock, a, key)
    a.proc.wait_log(r"forwarding off: every direct-tcpip", timeout=10)
    dest = f"{BorderNet.MGR}:{MGR_ALLOWED}"

    # off: refused
    since = len(a.proc.log())
    assert_refused(mgr, a, dest, "forwarding is not enabled", since)

    # on, with one exterior host AND port allowed
    m.edit_config(target="running", config=ncsession.config(forwarding(
        "<enabled>true</enabled>" +
        allow("mgrweb", f"{BorderNet.MGR}/32", MGR_ALLOWED, MGR_ALLOWED))))
    a.proc.wait_log(r"forwarding allowed to 198\.18\.3\.1/32:8080-8080",
                    timeout=10)
    status, out, log = mgr.fetch(dest)
    assert token in out, (out, log)
    since = len(a.proc.log())
    assert_refused(mgr, a, f"{BorderNet.MGR}:{MGR_OTHER}",
                   "not in the interior prefix set", since)
    # in running, as configured
    got = m.get_config(source="running", filter=(
        "subtree", forwarding(""))).data_xml
    assert "<port-min>8080</port-min>" in got, got

    # the rule deleted: refused again
    m.edit_config(target="running", config=ncsession.config(forwarding(
        allow("mgrweb", f"{BorderNet.MGR}/32", MGR_ALLOWED, MGR_ALLOWED,
              op=' xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" '
                 'nc:operation="delete"'))))
    a.proc.wait_log(r"forwarding enabled \(running changed\): interior "
                    r"destinations, 0 allow", timeout=10)
    since = len(a.proc.log())
    assert_refused(mgr, a, dest, "not in the interior prefix set", since)

    # a port range the schema refuses never reaches the agent
    with pytest.raises(Exception, match="port-max is below port-min"):
        m.edit_config(target="running", config=ncsession.config(forwarding(
            allow("bad", "198.18.3.0/24", 90, 80))))
    m.close_session()


@pytest.mark.ch_timeout(90)
def test_forward_flags_seed_running_once(netns, agent, workdir):
    """--forward and --forward-allow are written to running when it has
    no forwarding configuration, and ignored once it has one."""
    net = netns(BorderNet)
    a, m = start(agent, workdir, net, [
        "--forward", "--forward-allow", f"{BorderNet.MGR}:{MGR_ALLOWED}"])
    a.proc.wait_log(r"forwarding: the command line's configuration is now "
                    r"in running", timeout=10)
    got = m.get_config(source="running", filter=(
        "subtree", forwarding(""))).data_xml
    assert "<enabled>true</enabled>" in got and \
        "<prefix>198.18.3.1/32</prefix>" in got, got
    m.close_session()
