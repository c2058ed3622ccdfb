"""Interop with software we did not write, on both sides of a call-home
connection: ncclient and OpenSSH's ssh as managers our agent calls;
OpenSSH's sshd (dialled out by socat) with yuma123 netconfd behind it as a
device calling our hub."""

import threading
import time

import pytest

from helpers import (GET_CONFIG_RUNNING, HELLO_10, current_user, fd_reader,
                     fingerprint_b64, fingerprint_of_pub, free_port, listener, port_listening,
                     pub_blob_b64, read_until, rpc_10, ssh_keygen, wait_for)

ncclient = pytest.importorskip(
    "ncclient", reason="python3-ncclient (Debian) is not installed")
from ncclient import manager                        # noqa: E402
from ncclient.operations.rpc import RPCError        # noqa: E402

def test_agent_calls_ncclient_call_home_listener(agent, workdir):
    """(a) ncclient's own call-home API (manager.call_home) is the manager:
    it listens, our agent dials in, ncclient runs SSH + NETCONF."""
    mgr_key = ssh_keygen(workdir / "ncclient_key", comment="ncclient")
    port = free_port()
    result = {}

    def listen():
        try:
            result["m"] = manager.call_home(
                host="127.0.0.1", port=port, username="netconf",
                key_filename=str(mgr_key), allow_agent=False,
                look_for_keys=False, hostkey_verify=False, timeout=20)
        except Exception as e:                 # reported below
            result["error"] = e

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    wait_for(lambda: port_listening(port), 10, "ncclient's listener")
    a = agent(call_home=[f"127.0.0.1:{port}"],
              authorized=[f"{mgr_key}.pub"])
    t.join(20)
    assert "error" not in result, result.get("error")
    m = result["m"]
    try:
        # the key we talked to is the agent's host key
        remote = m._session._transport.get_remote_server_key()
        assert fingerprint_b64(remote.get_base64()) == a.fingerprint
        assert "urn:ietf:params:netconf:base:1.1" in m.server_capabilities
        reply = m.get_config(source="running")
        assert "<name>eth0</name>" in reply.xml
        reply = m.get()
        assert "callhome integration sample" in reply.xml
    finally:
        m.close_session()
    a.proc.wait_log(r"session-id=1 ended")


def test_ncclient_on_accepted_socket_pins_host_key(agent, workdir):
    """ncclient on a socket we accepted, with the agent's host key pinned
    (hostkey_b64): the robust call-home recipe for scripts."""
    mgr_key = ssh_keygen(workdir / "mgr_key", comment="mgr")
    lsock, port = listener()
    a = agent(call_home=[f"127.0.0.1:{port}"],
              authorized=[f"{mgr_key}.pub"])
    a.fingerprint                             # waits for the key file
    b64 = pub_blob_b64(a.pub)
    conn, peer = lsock.accept()
    m = manager.connect(host=peer[0], port=peer[1], sock=conn,
                        username="ops", key_filename=str(mgr_key),
                        hostkey_b64=b64, allow_agent=False,
                        look_for_keys=False, timeout=20)
    try:
        assert m.session_id == "1"
        reply = m.get_config(source="running")
        assert "<name>eth0</name>" in reply.xml
        # an unsupported operation is an rpc-error, not a dropped session
        with pytest.raises(RPCError) as ei:
            m.lock(target="running")
        assert ei.value.tag == "operation-not-supported"
        with pytest.raises(RPCError) as ei:
            m.get_config(source="candidate")
        assert ei.value.tag == "invalid-value"
        assert "<name>eth0</name>" in m.get().xml
    finally:
        m.close_session()
    a.proc.wait_log(r"user=ops NETCONF hello done")
    a.proc.wait_log(r"session-id=1 ended")
    lsock.close()


def test_openssh_client_is_the_manager(agent, openssh_client, workdir):
    """A genuine OpenSSH client listening through socat takes our agent's
    call, pins its host key, and runs NETCONF 1.0 over the subsystem."""
    cli = openssh_client()
    hostkey = ssh_keygen(workdir / "agent_hostkey")
    cli.trust("dev", f"{hostkey}.pub")        # StrictHostKeyChecking=yes
    port = free_port()
    ssh = cli.subsystem(port, "operator")
    try:
        wait_for(lambda: port_listening(port), 10, "ssh's socat listener")
        a = agent(call_home=[f"127.0.0.1:{port}"], authorized=[cli.pub],
                  extra=["--host-key", hostkey])
        read = fd_reader(ssh.stdout.fileno())
        deadline = time.monotonic() + 20
        hello, rest = read_until(read, deadline)
        assert b"<session-id>1</session-id>" in hello
        assert b"urn:ietf:params:netconf:base:1.1" in hello
        ssh.stdin.write(HELLO_10)               # base:1.0 only: EOM framing
        ssh.stdin.write(rpc_10(GET_CONFIG_RUNNING, 7))
        ssh.stdin.flush()
        reply, rest = read_until(read, deadline, buf=rest)
        assert b'message-id="7"' in reply
        assert b"<name>eth0</name>" in reply
        ssh.stdin.write(rpc_10("<close-session/>", 8))
        ssh.stdin.flush()
        reply, rest = read_until(read, deadline, buf=rest)
        assert b"<ok/>" in reply
        assert ssh.wait(10) == 0
        a.proc.wait_log(r"manager authenticated as 'operator'")
    finally:
        if ssh.poll() is None:
            ssh.kill()
            ssh.wait(5)


def test_openssh_device_calls_our_hub(hub, openssh_device, netconfd):
    """(b) sshd -i dialled out by socat, netconfd behind its netconf
    subsystem: our hub identifies it by the fingerprint ssh-keygen
    prints, then hello and rpcs go through."""
    h = hub(user=current_user())
    dev = openssh_device([h.pub])
    dev.dial(h.port)
    devs = h.wait_device_connected(1)
    assert devs[0]["fingerprint"] == dev.fingerprint
    assert devs[0]["capabilities"] > 20       # netconfd advertises ~37
    rc, out, err = h.cli("get-config", dev.fingerprint)
    assert rc == 0, err
    assert "<rpc-reply" in out and "<data" in out
    rc, out, err = h.cli("rpc", dev.fingerprint, "<get/>")
    assert rc == 0, err
    assert "netconf-state" in out or "<data" in out


def test_unknown_openssh_device_is_refused_and_recorded(hub,
                                                        openssh_device,
                                                        netconfd):
    h = hub(user=current_user(), accept_new=False)
    dev = openssh_device([h.pub])
    dev.dial(h.port)
    h.proc.wait_log(r"unknown device: recorded as pending")
    devs = {d["fingerprint"]: d for d in h.devices()}
    assert devs[dev.fingerprint]["admission"] == "pending"
    assert devs[dev.fingerprint]["state"] == "disconnected"
    # no credentials were offered to an unidentified device
    assert "Accepted publickey" not in dev.log()


def test_known_hosts_import_admits_openssh_and_our_devices(
        hub, agent, openssh_device, netconfd, workdir):
    """import-keys takes an OpenSSH known_hosts file as it is: the
    device behind a line is admitted and named at its first call (no
    pending step), whether it is sshd or our agent; what it cannot take
    is a refused line named by number."""
    h = hub(user=current_user(), accept_new=False)
    dev = openssh_device([h.pub])
    key = ssh_keygen(workdir / "agent_hostkey")
    pub = (workdir / "agent_hostkey.pub").read_text().split()
    kh = workdir / "known_hosts"
    kh.write_text(
        "# the fleet's host keys\n"
        f"sshdev,192.0.2.7 {dev.hostkey_pub.read_text().strip()}\n"
        f"[edge-9]:830 {pub[0]} {pub[1]}\n"
        f"@cert-authority *.example.net {pub[0]} {pub[1]}\n"
        f"2001:db8::9 {pub[0]} {pub[1]}\n")
    rc, out, err = h.cli("import-keys", kh)
    assert rc == 0, err
    assert out.startswith("added 2, already known 0, invalid 2"), out
    assert "line 4: a marker line" in out and "line 5: bad NAME" in out, out
    dev.dial(h.port)
    agent(hub=h, extra=["--host-key", key])
    devs = {d["name"]: d for d in h.wait_device_connected(2)}
    assert devs["sshdev"]["fingerprint"] == dev.fingerprint
    assert devs["edge-9"]["fingerprint"] == \
        fingerprint_of_pub(f"{key}.pub")
    assert "recorded as pending" not in h.proc.log()
    # the same list again from standard input: all known now
    rc, out, err = h.cli("import-keys", "-", "--json",
                         input_text=kh.read_text())
    assert rc == 0, err
    assert '"known": 2' in out and '"added": 0' in out, out
    rc, out, err = h.cli("audit", "--json")
    assert rc == 0 and "import-keys" in out, out
