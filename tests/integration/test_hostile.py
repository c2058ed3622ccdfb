"""Hostile peers that speak SSH correctly and NETCONF wrongly, scripted
with paramiko (ncclient's SSH library): each bad session ends alone, with
a clear log line, and everything else keeps working (RFC 6242 4.2: an
invalid chunk MUST close the channel)."""

import time

import pytest

from helpers import listener, ssh_keygen, wait_for

paramiko = pytest.importorskip(
    "paramiko", reason="python3-paramiko (Debian, with ncclient) missing")
from fakes import (BASE, GET_CONFIG, channel_closed, chunked,  # noqa: E402
                   fake_device_calls, hello, recv_until)


@pytest.mark.parametrize("junk,why", [
    (b"\n#0\n", "zero"),                        # chunk-size 0 is invalid
    (b"\n#012\n", "leading zero"),
    (b"\nX", "expected"),                        # not a chunk header
    (b"\n#99999999999\n", "digits"),             # > 4294967295
    (b"\n#100000000\n", "limit"),                # > --max-message
])
def test_device_with_bad_framing_is_cut_alone(hub, agent, workdir, junk,
                                              why):
    h = hub(extra=["--max-message", "1048576"])
    good = agent(hub=h)
    wait_for(lambda: any(d["state"] == "connected" for d in h.devices()),
             15, "good device connected", proc=h.proc)
    t, chan = fake_device_calls(h, workdir, "evil")
    chan.sendall(hello(session_id=5))
    wait_for(lambda: sum(d["state"] == "connected"
                         for d in h.devices()) == 2, 10,
             "fake device connected", proc=h.proc)
    chan.sendall(junk)
    assert channel_closed(chan)
    h.proc.wait_log(r"connection closed: (NETCONF protocol error|over a limit) "
                    r"from device: framing")
    t.close()
    # the good device never noticed
    rc, out, err = h.cli("get-config", good.fingerprint)
    assert rc == 0 and "<name>eth0</name>" in out, err
    evil = [d for d in h.devices() if d["fingerprint"] != good.fingerprint]
    assert evil[0]["state"] == "disconnected"
    assert "framing" in evil[0]["last_error"]


def test_device_that_never_says_hello_is_dropped(hub, workdir):
    h = hub(extra=["--handshake-timeout", "2"])
    t, chan = fake_device_calls(h, workdir, "mute")
    t0 = time.monotonic()
    assert channel_closed(chan, timeout=15)
    assert time.monotonic() - t0 < 10
    h.proc.wait_log(r"handshake did not finish in time")
    t.close()


def manager_session(agent, workdir, extra=()):
    """Our agent calls a paramiko client (the test) that authenticates
    and opens one netconf channel; returns (agent, transport, channel,
    the agent's hello)."""
    lsock, port = listener()
    key = ssh_keygen(workdir / "mgr")
    a = agent(call_home=[f"127.0.0.1:{port}"], authorized=[f"{key}.pub"],
              extra=["--backoff-base", "100", "--backoff-max", "300"]
              + list(extra))
    conn, _ = lsock.accept()
    lsock.close()
    t = paramiko.Transport(conn)
    t.start_client(timeout=15)
    t.auth_publickey("mgr", paramiko.Ed25519Key(filename=str(key)))
    chan = t.open_session(timeout=10)
    chan.invoke_subsystem("netconf")
    got = recv_until(chan, b"]]>]]>")
    assert b"<session-id>" in got
    return a, t, chan


def new_channel_works(t):
    chan = t.open_session(timeout=10)
    chan.invoke_subsystem("netconf")
    assert b"<session-id>" in recv_until(chan, b"]]>]]>")
    chan.sendall(hello())
    chan.sendall(GET_CONFIG)
    reply = recv_until(chan, b"\n##\n")
    chan.close()
    return b"<name>eth0</name>" in reply


@pytest.mark.parametrize("junk", [b"\n#0\n", b"\n#4294967296\n",
                                  b"\n#2000000\n", b"junk\n"])
def test_manager_with_bad_framing_is_cut_alone(agent, workdir, junk):
    a, t, chan = manager_session(agent, workdir,
                                 ["--max-message", "1048576"])
    chan.sendall(hello())
    chan.sendall(junk)
    assert channel_closed(chan)
    a.proc.wait_log(r"session-id=1: framing: ")
    # the SSH connection and the agent are fine: a new session works
    assert new_channel_works(t)
    t.close()


def test_manager_that_never_says_hello_loses_the_session(agent, workdir):
    a, t, chan = manager_session(agent, workdir, ["--hello-timeout", "2"])
    t0 = time.monotonic()
    assert channel_closed(chan, timeout=15)
    assert time.monotonic() - t0 < 10
    a.proc.wait_log(r"session-id=1: the manager sent no NETCONF hello")
    assert new_channel_works(t)
    t.close()


def test_manager_sending_a_dtd_gets_an_error_not_an_expansion(agent,
                                                              workdir):
    a, t, chan = manager_session(agent, workdir)
    chan.sendall(hello())
    bomb = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
            f'<rpc message-id="9" xmlns="{BASE}"><get>&c;</get></rpc>')
    chan.sendall(chunked(bomb))
    reply = recv_until(chan, b"\n##\n")
    assert b"malformed-message" in reply
    assert b"aaaaaaaaaa" not in reply
    # the session goes on
    chan.sendall(GET_CONFIG)
    assert b"<name>eth0</name>" in recv_until(chan, b"</rpc-reply>")
    t.close()
