"""NETCONF sessions on our agent for the datastore tests
(test_netconf_ops.py, test_notifications.py): the agent started with the
test module (tests/yang/callhome-test) calling a socket we listen on,
ncclient as the manager on that call, a second raw NETCONF session on
the same SSH connection, and the little XML builders they share."""

import re
import time

from fakes import chunked, hello, recv_until
from helpers import REPO, listener, pub_blob_b64, ssh_keygen

from ncclient import manager

YANG_DIR = REPO / "tests" / "yang"
T = "urn:callhome:params:xml:ns:yang:callhome-test"
BASE = "urn:ietf:params:xml:ns:netconf:base:1.0"
CAP = "urn:ietf:params:netconf:capability:"
NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
MODULE = ["--yang-dir", str(YANG_DIR), "--module", "callhome-test"]
PAST = "2000-01-01T00:00:00Z"
SYSTEM_FILTER = ("subtree", f'<system xmlns="{T}"/>')
EXAMPLE_HOOK = REPO / "examples" / "on-commit" / "check-hostname.sh"


def config(body):
    return f'<config xmlns="{BASE}" xmlns:nc="{BASE}">{body}</config>'


def system(body):
    return f'<system xmlns="{T}">{body}</system>'


def connect(lsock, a, key, timeout=20):
    """ncclient on the next call of agent a to lsock, as user ops with
    key; the agent's host key is pinned."""
    conn, peer = lsock.accept()
    return manager.connect(host=peer[0], port=peer[1], sock=conn,
                           username="ops", key_filename=str(key),
                           hostkey_b64=pub_blob_b64(a.pub),
                           allow_agent=False, look_for_keys=False,
                           timeout=timeout)


def drain(lsock):
    """Closes the connections waiting on lsock: calls made by an agent
    that has stopped since (after a graceful close a persistent client
    calls again at once), which would otherwise be accepted as the next
    agent's."""
    lsock.setblocking(False)
    try:
        while True:
            lsock.accept()[0].close()
    except BlockingIOError:
        pass
    lsock.settimeout(20)


def start(agent, workdir, running_xml=None, extra=(), modules=MODULE):
    """Our agent with the test module, calling a socket we listen on;
    returns (agent, ncclient manager, listener). The manager's key is
    workdir/mgr_key."""
    mgr_key = ssh_keygen(workdir / "mgr_key", comment="mgr")
    lsock, port = listener()
    a = agent(call_home=[f"127.0.0.1:{port}"],
              authorized=[f"{mgr_key}.pub"], running_xml=running_xml,
              extra=list(modules) + list(extra))
    a.fingerprint                             # waits for the key file
    return a, connect(lsock, a, mgr_key), lsock


def hostname(m, source="running"):
    xml = m.get_config(source=source, filter=SYSTEM_FILTER).data_xml
    found = re.search(r"<hostname>([^<]*)</hostname>", xml)
    return found.group(1) if found else None


# The agent's own notifications (its call-home configuration written to
# running at start, its call-home events, its border's changes), which
# these tests are not about.
AGENT_OWN = ("urn:callhome:yang:callhome-netconf-server",
             "urn:callhome:border")


def own(xml):
    return any(ns in xml for ns in AGENT_OWN)


def take(m, timeout=10):
    """The next notification's XML on manager m, the agent's own
    skipped."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        n = m.take_notification(timeout=max(left, 0.01))
        assert n is not None, "no notification came"
        if not own(n.notification_xml):
            return n.notification_xml


def no_notification(m, timeout):
    """True when no notification but the agent's own comes within
    timeout."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        n = m.take_notification(timeout=left)
        if n is None:
            return True
        if not own(n.notification_xml):
            return False


def hook_script(workdir, name, body):
    """An executable POSIX shell script in workdir (an --on-commit
    program)."""
    path = workdir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def wait_file(path, timeout=10):
    """Waits for path to exist and returns its text."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.05)
    return path.read_text()


class RawSession:
    """A second NETCONF session on the manager's SSH connection: another
    netconf channel (ncclient opens only one), base:1.1 framing."""

    def __init__(self, m):
        transport = m._session._transport
        self.chan = transport.open_session(timeout=10)
        self.chan.invoke_subsystem("netconf")
        got = recv_until(self.chan, b"]]>]]>")
        found = re.search(rb"<session-id>(\d+)</session-id>", got)
        assert found, got
        self.session_id = int(found.group(1))
        self.chan.sendall(hello())
        self.next_id = 100
        self.pending = b""

    def send(self, op):
        """Sends an rpc without waiting for its reply."""
        self.next_id += 1
        self.chan.sendall(chunked(f'<rpc message-id="{self.next_id}" '
                                  f'xmlns="{BASE}">{op}</rpc>'))

    def recv_many(self, count=1, timeout=10):
        """The next count messages, as a list of strings."""
        self.chan.settimeout(timeout)
        buf = self.pending
        while buf.count(b"\n##\n") < count:
            data = self.chan.recv(65536)
            if not data:
                break
            buf += data
        parts = buf.split(b"\n##\n")
        self.pending = b"\n##\n".join(parts[count:])
        return [re.sub(rb"\n#\d+\n", b"", p).decode()
                for p in parts[:count]]

    def recv(self, timeout=10):
        """The next message (a reply or a notification)."""
        return self.recv_many(1, timeout)[0]

    def rpc(self, op):
        self.send(op)
        return self.recv()

    def edit(self, body, target="running"):
        """edit-config of <system> body; asserts <ok/>."""
        reply = self.rpc(f"<edit-config><target><{target}/></target>"
                         f"{config(system(body))}</edit-config>")
        assert "<ok/>" in reply, reply
        return reply

    def close(self):
        self.chan.close()
