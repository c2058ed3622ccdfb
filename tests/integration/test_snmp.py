"""SNMP over call home (docs/snmp.md): a genuine net-snmp snmpd in the
device's namespace behind NAT (helpers.Nat), bound to its loopback only;
the real agent relays its `snmp` subsystem channels there
(--snmp-agent) and takes snmpd's notifications (--snmp-trap-listen); the
real hub, in its own namespace, gives the NMS a UDP endpoint (`callhome
snmp`, --snmp-map) and re-emits notifications to snmptrapd
(--snmp-trap-to). From the hub's side, net-snmp's snmpget and snmpwalk
reach the device with v2c and v3 authPriv; a trap sent on the device
reaches snmptrapd. Hostile: an oversized BER length or garbage on a
channel (paramiko as the manager) ends that channel alone."""

import os
import re
import shutil
import signal
import subprocess

import pytest

from helpers import (Nat, binary, free_port, listener, ssh_keygen,
                     wait_for)

SNMPD = shutil.which("snmpd") or "/usr/sbin/snmpd"
SNMPTRAPD = shutil.which("snmptrapd") or "/usr/sbin/snmptrapd"
pytestmark = pytest.mark.skipif(
    not (os.path.exists(SNMPD) and shutil.which("snmpget")),
    reason="Debian snmpd and snmp (net-snmp) missing")

SNMPD_PORT = 1161       # the device's snmpd, on its loopback
TRAP_PORT = 1162        # the agent's trap listener, on the device's loopback
TRAPD_PORT = 1162       # snmptrapd, on the hub's loopback
NMS_PORT = 1161         # callhome snmp's endpoint, in the hub's namespace
MAP_PORT = 10161        # --snmp-map's
HUB_PORT = 4334
EXIT_TIMEOUT_S = 30
SYSDESCR = "1.3.6.1.2.1.1.1.0"
DESCR = "callhome-snmp-test-device"
USER, AUTH, PRIV = "opuser", "authpass-0123", "privpass-0123"

# The worked example of docs/snmp.md: the device's snmpd.conf.
SNMPD_CONF = f"""\
agentAddress udp:127.0.0.1:{SNMPD_PORT}
rocommunity public 127.0.0.1
createUser {USER} SHA "{AUTH}" AES "{PRIV}"
rouser {USER} priv
sysDescr {DESCR}
sysLocation rack 7
trap2sink 127.0.0.1:{TRAP_PORT} public
"""

V3 = ["-v3", "-l", "authPriv", "-u", USER, "-a", "SHA", "-A", AUTH,
      "-x", "AES", "-X", PRIV]
V2C = ["-v2c", "-c", "public"]
QUIET = {"MIBS": "", "MIBDIRS": "/nonexistent"}   # numeric OIDs only


def snmpd(net, role, workdir, port=SNMPD_PORT):
    """snmpd in role's namespace on 127.0.0.1:port, with its own
    persistent directory (createUser's keys)."""
    d = workdir / f"snmpd-{role}"
    d.mkdir()
    conf = d / "snmpd.conf"
    conf.write_text(SNMPD_CONF.replace(f":{SNMPD_PORT}\n", f":{port}\n", 1))
    env = dict(os.environ, SNMP_PERSISTENT_DIR=str(d), **QUIET)
    argv = [SNMPD, "-f", "-Lo", "-C", "-c", str(conf), "-p",
            str(d / "pid")]
    if net is None:     # the caller starts it
        return argv, env
    p = net.spawn(role, "snmpd", argv, env=env)
    wait_for(lambda: net.run(role, ["ss", "-Hlun", f"sport = :{port}"],
                             check=False).stdout.strip(), 15,
             "snmpd listening")
    return p


def snmp_tool(net, tool, *args):
    """net-snmp's tool in the hub's namespace: (status, stdout, stderr)."""
    r = subprocess.run(net.argv("hub", [tool, "-On", "-t", "3", "-r", "2",
                                        *args]),
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, **QUIET))
    return r.returncode, r.stdout, r.stderr


@pytest.fixture
def snmpnet(netns, hub, agent, workdir):
    """The topology; snmpd on the device's loopback; snmptrapd on the
    hub's; the hub (--snmp-map r1=..., --snmp-trap-to) and the agent
    (--snmp-agent, --snmp-trap-listen), connected, the device named
    r1: (net, hub, agent, snmptrapd)."""
    net = netns(Nat)
    net.run("dev", ["ip", "link", "set", "lo", "up"])
    net.run("hub", ["ip", "link", "set", "lo", "up"])
    net.snmpd = snmpd(net, "dev", workdir)
    d = workdir / "snmptrapd"
    d.mkdir()
    (d / "snmptrapd.conf").write_text("disableAuthorization yes\n")
    trapd = net.spawn("hub", "snmptrapd", [
        SNMPTRAPD, "-f", "-Lo", "-C", "-c", str(d / "snmptrapd.conf"),
        "-p", str(d / "pid"), f"udp:127.0.0.1:{TRAPD_PORT}"],
        env=dict(os.environ, SNMP_PERSISTENT_DIR=str(d), **QUIET))
    wait_for(lambda: net.run("hub", ["ss", "-Hlun",
                                     f"sport = :{TRAPD_PORT}"],
                             check=False).stdout.strip(), 15,
             "snmptrapd listening")
    h = hub(host=Nat.HUB, port=HUB_PORT, netns_argv=net.argv("hub", []),
            extra=["--snmp-map", f"r1=127.0.0.1:{MAP_PORT}",
                   "--snmp-trap-to", f"127.0.0.1:{TRAPD_PORT}"])
    a = agent(hub=h, netns_argv=net.argv("dev", []),
              extra=["--snmp-agent", f"udp:127.0.0.1:{SNMPD_PORT}",
                     "--snmp-trap-listen", f"127.0.0.1:{TRAP_PORT}",
                     "--backoff-base", "100", "--backoff-max", "500"])
    h.wait_device_connected(1, timeout=20)
    rc, _, err = h.cli("rename", a.fingerprint, "r1")
    assert rc == 0, err
    h.proc.wait_log(r"snmp: notification channel open", timeout=15)
    return net, h, a, trapd


class Session:
    """`callhome snmp r1 [BIND:]PORT` in the foreground."""

    def __init__(self, h, spec):
        self.p = subprocess.Popen(
            [str(binary("callhome")), "--hub", str(h.sock), "snmp", "r1",
             spec],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE)
        self.line = self.p.stderr.readline().decode().strip()

    def stop(self):
        self.p.send_signal(signal.SIGINT)
        rc = self.p.wait(timeout=EXIT_TIMEOUT_S)
        return rc, self.p.stderr.read().decode(errors="replace")


@pytest.mark.ch_timeout(180)
def test_snmp_get_walk_v2c_v3_and_traps(snmpnet):
    net, h, a, trapd = snmpnet
    # the device's snmpd is on its loopback only: the hub's side cannot
    # reach it but through the call-home connection
    rc, _, _ = snmp_tool(net, "snmpget", *V2C, f"{Nat.DEV}:{SNMPD_PORT}",
                         SYSDESCR)
    assert rc != 0

    s = Session(h, str(NMS_PORT))
    assert s.line == (f"callhome: SNMP for r1 on udp 127.0.0.1:{NMS_PORT} "
                      "(Ctrl-C ends it)"), s.line
    nms = f"127.0.0.1:{NMS_PORT}"
    rc, out, err = snmp_tool(net, "snmpget", *V2C, nms, SYSDESCR)
    assert rc == 0 and DESCR in out, (out, err)
    rc, out, err = snmp_tool(net, "snmpwalk", *V2C, nms, "1.3.6.1.2.1.1")
    assert rc == 0 and DESCR in out and "rack 7" in out, (out, err)
    assert len(out.splitlines()) >= 7, out
    # SNMPv3 authPriv: end to end with the device's snmpd (the hub and
    # the agent carry ciphertext)
    rc, out, err = snmp_tool(net, "snmpget", *V3, nms, SYSDESCR)
    assert rc == 0 and DESCR in out, (out, err)
    rc, out, err = snmp_tool(net, "snmpwalk", *V3, nms, "1.3.6.1.2.1.1")
    assert rc == 0 and DESCR in out and "rack 7" in out, (out, err)
    # a wrong v3 key: snmpd's own refusal comes back through
    rc, out, err = snmp_tool(net, "snmpget", *[x if x != PRIV else
                                               "wrong-priv-0123" for x in V3],
                             nms, SYSDESCR)
    assert rc != 0 and DESCR not in out

    # the hub's own --snmp-map endpoint
    rc, out, err = snmp_tool(net, "snmpget", *V2C, f"127.0.0.1:{MAP_PORT}",
                             SYSDESCR)
    assert rc == 0 and DESCR in out, (out, err)

    # a trap sent on the device reaches snmptrapd at the hub's side
    token = "trap-from-the-device-%d" % os.getpid()
    r = net.run("dev", ["snmptrap", *V2C, f"127.0.0.1:{TRAP_PORT}", "",
                        "1.3.6.1.4.1.8072.2.3.0.1",
                        "1.3.6.1.4.1.8072.2.3.2.1", "s", token],
                env=dict(os.environ, **QUIET))
    assert r.returncode == 0, r.stderr
    trapd.wait_log(re.escape(token), timeout=15)

    rc, err = s.stop()
    assert rc == 0 and err == "", (rc, err)
    # the endpoint is gone with the command
    rc, _, _ = snmp_tool(net, "snmpget", "-r", "0", *V2C, nms, SYSDESCR)
    assert rc != 0
    # audited: who, start and end, datagrams each way
    h.proc.wait_log(r"snmp: udp 127\.0\.0\.1:%d \(device r1\) closed" %
                    NMS_PORT)
    rc, out, err = h.cli("audit", "--json", "--device", "r1")
    assert rc == 0, err
    assert '"snmp-start"' in out and '"snmp-end"' in out, out
    assert re.search(r"snmp on udp 127\.0\.0\.1:%d ended .*: \d+ datagrams "
                     r"in, \d+ out" % NMS_PORT, out), out


@pytest.mark.ch_timeout(120)
def test_refused_unless_enabled_on_the_agent(netns, hub, agent):
    """An agent without --snmp-agent refuses snmp channels: the hub's
    notification channel is refused with the reason."""
    h = hub(extra=["--snmp-trap-to", "127.0.0.1:9"])
    agent(hub=h)
    h.wait_device_connected(1, timeout=20)
    h.proc.wait_log(r"snmp: device .* refused the notification channel",
                    timeout=15)


# ---- hostile managers: paramiko on the channel itself ----

def get_request(reqid, community=b"public"):
    """A v2c get-request for sysDescr.0, BER by hand."""
    def tlv(tag, body):
        assert len(body) < 128
        return bytes([tag, len(body)]) + body
    oid = tlv(0x06, bytes([0x2b, 6, 1, 2, 1, 1, 1, 0]))
    vb = tlv(0x30, tlv(0x30, oid + b"\x05\x00"))
    pdu = tlv(0xa0, tlv(0x02, reqid.to_bytes(4, "big")) +
              tlv(0x02, b"\x00") + tlv(0x02, b"\x00") + vb)
    return tlv(0x30, tlv(0x02, b"\x01") + tlv(0x04, community) + pdu)


def recv_message(chan, timeout=10):
    chan.settimeout(timeout)
    got = b""
    while True:
        got += chan.recv(65536)
        if len(got) >= 2 and got[1] < 0x80 and len(got) >= 2 + got[1]:
            return got
        if len(got) >= 4 and got[1] == 0x82 and \
                len(got) >= 4 + int.from_bytes(got[2:4], "big"):
            return got


@pytest.mark.ch_timeout(120)
@pytest.mark.parametrize("junk,why", [
    (b"\x30\x84\x7f\xff\xff\xff", "over the message size limit"),
    (b"\x30\x83\x01\x00\x00", "over the message size limit"),
    (b"\x30\x80\x02\x01\x01", "indefinite"),
    (b"GET / HTTP/1.0\r\n\r\n", "no BER SEQUENCE"),
])
def test_bad_messages_end_that_channel_alone(procs, agent, workdir, junk,
                                             why):
    paramiko = pytest.importorskip("paramiko")
    port = free_port()
    argv, env = snmpd(None, "root", workdir, port)
    procs.spawn("snmpd", argv, env=env)
    lsock, mport = listener()
    key = ssh_keygen(workdir / "mgr")
    a = agent(call_home=[f"127.0.0.1:{mport}"], authorized=[f"{key}.pub"],
              extra=["--snmp-agent", f"udp:127.0.0.1:{port}"])
    conn, _ = lsock.accept()
    lsock.close()
    t = paramiko.Transport(conn)
    t.start_client(timeout=15)
    t.auth_publickey("mgr", paramiko.Ed25519Key(filename=str(key)))

    def channel():
        c = t.open_session(timeout=10)
        c.invoke_subsystem("snmp")
        return c
    good = channel()
    wait_for(lambda: subprocess.run(["ss", "-Hlun", f"sport = :{port}"],
                                    capture_output=True,
                                    text=True).stdout.strip(), 15,
             "snmpd listening")
    good.sendall(get_request(1))
    assert DESCR.encode() in recv_message(good)
    bad = channel()
    bad.sendall(junk)
    bad.settimeout(10)
    assert bad.recv(100) == b""     # closed by the agent
    a.proc.wait_log(r"snmp: .*%s.*; closing the channel" % re.escape(why))
    # the other channel, and the connection, are fine
    good.sendall(get_request(2))
    assert DESCR.encode() in recv_message(good)
    again = channel()
    again.sendall(get_request(3)[:10])
    again.sendall(get_request(3)[10:])   # a message cut in two
    assert DESCR.encode() in recv_message(again)
    t.close()
