"""The NETCONF front door (docs/front-door.md): operators' standard
NETCONF clients (ncclient, yangcli) connect to the hub with the device as
their SSH user name; each session is relayed to a new netconf channel on
the device's call-home SSH connection, so hello, session-id, locks and
replies are the device's own: (a) our agent, (b) a genuine OpenSSH
`sshd -i` with yuma123's netconfd dialled out by socat. Refusals reach
the client with their reason; the audit shows every session with its
rpc count."""

import json
import re
import shutil
import subprocess

import pytest
from ncclient import manager
from ncclient.operations import RPCError
from ncclient.transport.errors import AuthenticationError, SessionCloseError

from helpers import (current_user, free_port, pub_blob_b64, ssh_keygen,
                     wait_for)
from ncsession import MODULE, SYSTEM_FILTER, config, hostname, system

YANGCLI = "/usr/bin/yangcli"
OTHER_FP = "SHA256:Zzzz0000CCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK"


class FrontDoor:
    """A hub with --front-door and an operator keys file: alice reaches
    r1 and lab-*, bob reaches r2 only, mallory's key is not listed (the
    worked example of docs/front-door.md)."""

    def __init__(self, hub, workdir, user="admin"):
        d = workdir / "operators"
        d.mkdir()
        self.keys = {n: ssh_keygen(d / n, comment=f"{n}@laptop")
                     for n in ("alice", "bob", "mallory")}
        pub = {n: open(f"{k}.pub").read().strip()
               for n, k in self.keys.items()}
        self.opkeys = d / "operator_keys"
        self.opkeys.write_text(
            "# operators of the front door\n"
            f'operator="alice",devices="r1,lab-*" {pub["alice"]}\n'
            f'devices="r2" {pub["bob"]}\n')
        self.port = free_port()
        self.h = hub(user=user, extra=[
            "--front-door", f"127.0.0.1:{self.port}",
            "--operator-keys", self.opkeys])
        self.h.proc.wait_log(r"front door host key .*front_door_host_key")
        self.hostkey_b64 = pub_blob_b64(
            self.h.state / "front_door_host_key.pub")

    def connect(self, user, who="alice", timeout=20):
        """ncclient through the front door, the hub's front-door host
        key pinned."""
        return manager.connect(
            host="127.0.0.1", port=self.port, username=user,
            key_filename=str(self.keys[who]), hostkey_b64=self.hostkey_b64,
            allow_agent=False, look_for_keys=False, timeout=timeout)

    def name(self, fp, name):
        rc, out, err = self.h.cli("rename", fp, name)
        assert rc == 0, err

    def audit(self, *args):
        rc, out, err = self.h.cli("audit", "--json", *args)
        assert rc == 0, err
        return [r for r in json.loads(out)["audit"]
                if r["via"] == "front-door"]

    def wait_audit(self, n, action="netconf-end"):
        return wait_for(lambda: (lambda r: r if len(r) >= n else None)(
            [r for r in self.audit() if r["action"] == action]), 15,
            f"{n} {action} audit records", proc=self.h.proc)


def refused_with(fd, user, who, reason):
    """The session is refused: ncclient's SessionCloseError carries the
    line the hub sent instead of a hello."""
    with pytest.raises(SessionCloseError) as ei:
        fd.connect(user, who)
    assert reason in str(ei.value), str(ei.value)


def lock_contention(m1, m2, target, between=None):
    """m1 locks target; m2's lock is denied naming m1's session-id (RFC
    6241 7.5); between() runs while m1 holds it; after m1's unlock m2
    takes it. 4 rpcs of m1's (with between's 2: 6), 3 of m2's."""
    m1.lock(target=target)
    with pytest.raises(RPCError) as ei:
        m2.lock(target=target)
    assert ei.value.tag == "lock-denied"
    assert re.search(rf"<[^>]*session-id>{m1.session_id}</",
                     ei.value.info), ei.value.info
    if between:
        between()
    m1.unlock(target=target)
    m2.lock(target=target)
    m2.unlock(target=target)


def test_ncclient_through_the_front_door_to_our_agent(hub, agent, workdir):
    """(a) our agent: get-config, edit-config, lock; two clients get two
    sessions of the device's, and the second lock is denied naming the
    holder's session-id (RFC 6241 7.5); the audit shows both sessions
    with their rpc counts."""
    fd = FrontDoor(hub, workdir)
    a = agent(hub=fd.h, extra=MODULE, running_xml=None)
    fd.h.wait_device_connected(1)
    fd.name(a.fingerprint, "r1")

    m1 = fd.connect("r1")
    m2 = fd.connect("alice+r1")
    try:
        # the hub keeps session 1; ours are the device's next ones
        assert m1.session_id != m2.session_id
        assert int(m1.session_id) > 1 and int(m2.session_id) > 1
        assert any("callhome-test" in c for c in m1.server_capabilities)
        m1.edit_config(target="running", config=config(system(
            "<hostname>via-front-door</hostname>")))
        assert hostname(m1) == "via-front-door"
        assert "<hostname>via-front-door</hostname>" in m2.get_config(
            source="running", filter=SYSTEM_FILTER).data_xml
        lock_contention(m1, m2, "running")
    finally:
        m1.close_session()
        m2.close_session()

    recs = fd.wait_audit(2)
    assert all(r["actor"] == "alice" for r in recs)
    assert all(r["device"] == a.fingerprint for r in recs)
    rpcs = sorted(int(re.search(r"(\d+) rpcs", r["detail"]).group(1))
                  for r in recs)
    # m1: edit, get-config, lock, unlock, close; m2: get-config, lock
    # (denied), lock, unlock, close
    assert rpcs == [5, 5], recs
    for r in recs:
        assert r["bytes_in"] > 0 and r["bytes_out"] > 0
    starts = [r for r in fd.audit() if r["action"] == "netconf-start"]
    assert [r["outcome"] for r in starts] == ["ok", "ok"]
    rc, out, err = fd.h.cli("events", "r1")
    assert "front-door netconf session on r1 started" in out, out


def test_refusals_reach_the_client_with_the_reason(hub, agent, workdir):
    """An unknown key fails authentication; a device the operator may not
    reach, an unknown device, an offline one and an operator name that
    is not the key's are refused with the reason, each audited."""
    fd = FrontDoor(hub, workdir)
    a = agent(hub=fd.h, extra=MODULE, running_xml=None)
    fd.h.wait_device_connected(1)
    fd.name(a.fingerprint, "r1")
    assert fd.h.cli("add", "lab-7", "--fingerprint", OTHER_FP)[0] == 0

    with pytest.raises(AuthenticationError):
        fd.connect("r1", who="mallory")
    refused_with(fd, "r1", "bob", "operator 'bob' may not reach device "
                 "'r1'")
    refused_with(fd, "lab-9", "alice", "no device named 'lab-9'")
    refused_with(fd, "lab-7", "alice", "device lab-7 is offline")
    refused_with(fd, "bob+r1", "alice", "the user name names operator "
                 "'bob' but the key is operator 'alice''s")

    recs = fd.audit()
    assert [(r["action"], r["outcome"], r["actor"]) for r in recs] == [
        ("netconf-auth", "refused", "unknown"),
        ("netconf-start", "refused", "bob"),
        ("netconf-start", "refused", "alice"),
        ("netconf-start", "refused", "alice"),
        ("netconf-start", "refused", "alice")]
    assert "may not reach" in recs[1]["detail"]
    assert recs[3]["device"] == OTHER_FP
    # the device's own session was never disturbed
    m = fd.connect("r1")
    assert m.get_config(source="running").ok
    m.close_session()


@pytest.fixture
def front_door_openssh(hub, openssh_device, netconfd, workdir):
    """(b) a genuine OpenSSH sshd -i with netconfd behind it, dialled out
    by socat to the hub, named r1."""
    fd = FrontDoor(hub, workdir, user=current_user())
    dev = openssh_device([fd.h.pub])
    dev.dial(fd.h.port)
    fd.h.wait_device_connected(1)
    fd.name(dev.fingerprint, "r1")
    return fd, netconfd


NACM = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"


def test_ncclient_through_the_front_door_to_openssh_netconfd(
        front_door_openssh):
    fd, nd = front_door_openssh
    m1 = fd.connect("r1")
    m2 = fd.connect("alice+r1")
    try:
        assert m1.session_id != m2.session_id
        assert any("yuma" in c for c in m1.server_capabilities)
        assert m1.get_config(source="running").ok
        lock_contention(m1, m2, "candidate", between=lambda: (
            m1.edit_config(target="candidate", config=(
                '<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
                f'<nacm xmlns="{NACM}"><enable-nacm>true</enable-nacm>'
                '</nacm></config>')),
            m1.commit()))
    finally:
        m1.close_session()
        m2.close_session()
    recs = fd.wait_audit(2)
    assert sorted(int(re.search(r"(\d+) rpcs", r["detail"]).group(1))
                  for r in recs) == [4, 6]


def test_yangcli_through_the_front_door(front_door_openssh, workdir):
    """Debian's yangcli (yuma123) runs a get-config through the front
    door, as its documentation's batch mode does."""
    if not shutil.which(YANGCLI):
        pytest.skip("yangcli is not installed (scripts/install-deps.sh)")
    fd, nd = front_door_openssh
    key = fd.keys["alice"]
    home = workdir / "yangcli-home"
    home.mkdir()
    r = subprocess.run([
        YANGCLI, "--server=127.0.0.1", f"--ncport={fd.port}",
        "--user=r1", f"--public-key={key}.pub",
        f"--private-key={key}", "--password=unused", "--batch-mode",
        "--run-command=get-config --source=running", "--log-level=info",
        "--display-mode=xml"],
        capture_output=True, text=True, timeout=60,
        env={"HOME": str(home), "PATH": "/usr/bin:/bin"}, cwd=home)
    out = r.stdout + r.stderr
    assert "rpc-reply" in out or "<data" in out or "data {" in out, out
    recs = fd.wait_audit(1)
    assert recs[0]["actor"] == "alice"
