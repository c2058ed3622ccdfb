"""Scripted peers built on paramiko (ncclient's SSH library), for tests
that need a device or manager to misbehave on purpose."""

import socket
import threading

import paramiko

from helpers import ssh_keygen

BASE = "urn:ietf:params:xml:ns:netconf:base:1.0"


def hello(session_id=None):
    sid = f"<session-id>{session_id}</session-id>" if session_id else ""
    return (f'<hello xmlns="{BASE}"><capabilities>'
            "<capability>urn:ietf:params:netconf:base:1.0</capability>"
            "<capability>urn:ietf:params:netconf:base:1.1</capability>"
            f"</capabilities>{sid}</hello>]]>]]>").encode()


def chunked(xml):
    """One message in base:1.1 chunked framing (RFC 6242 4.2)."""
    data = xml.encode()
    return b"\n#%d\n" % len(data) + data + b"\n##\n"


GET_CONFIG = chunked(f'<rpc message-id="2" xmlns="{BASE}"><get-config>'
                     "<source><running/></source></get-config></rpc>")


def recv_until(chan, marker, timeout=10):
    chan.settimeout(timeout)
    buf = b""
    while marker not in buf:
        data = chan.recv(65536)
        if not data:
            break
        buf += data
    return buf


def channel_closed(chan, timeout=10):
    """True once the peer closed the channel (EOF)."""
    chan.settimeout(timeout)
    try:
        while chan.recv(65536):
            pass
        return True
    except OSError:
        return chan.closed or chan.eof_received


class FakeDevice(paramiko.ServerInterface):
    """An SSH server that accepts the hub and lets the test script the
    netconf subsystem."""

    def __init__(self):
        self.subsystem = threading.Event()

    def get_allowed_auths(self, username):
        return "publickey"

    def check_auth_publickey(self, username, key):
        return paramiko.AUTH_SUCCESSFUL

    def check_channel_request(self, kind, chanid):
        return paramiko.OPEN_SUCCEEDED

    def check_channel_subsystem_request(self, channel, name):
        self.subsystem.set()
        return name == "netconf"


def fake_device_calls(hub, workdir, name, key_path=None):
    """A paramiko SSH server dials the hub as a call-home device, takes
    the hub's netconf channel and reads its hello. Returns (transport,
    channel); the test scripts the rest."""
    key = paramiko.Ed25519Key(filename=str(key_path or
                                           ssh_keygen(workdir / name)))
    sock = socket.create_connection(("127.0.0.1", hub.port))
    t = paramiko.Transport(sock)
    t.add_server_key(key)
    srv = FakeDevice()
    t.start_server(server=srv)
    chan = t.accept(15)
    assert chan is not None, "the hub opened no channel"
    assert srv.subsystem.wait(10)
    got = recv_until(chan, b"]]>]]>")
    assert b"<hello" in got                    # the hub's hello
    return t, chan
