"""The fixtures themselves work, with third-party software only (OpenSSH,
yuma123 netconfd, ncclient, socat, ip netns, nftables): these pass before
any callhome binary exists, and when one of our tests fails they tell
whether the harness or the product is at fault."""

import socket
import subprocess
import time

import pytest

from helpers import (CLOSE_SESSION, GET_CONFIG_RUNNING, HELLO_10, fd_reader,
                     fingerprint_b64, free_port, port_listening,
                     pub_blob_b64, read_until, rpc_10, ssh_keygen, wait_for)


def test_openssh_device_serves_netconf(openssh_device, openssh_client,
                                       netconfd):
    """A genuine OpenSSH client, listening through socat, takes the call
    from the sshd -i device, pins its host key and runs NETCONF 1.0
    against netconfd behind it."""
    cli = openssh_client()
    dev = openssh_device([cli.pub])
    assert dev.fingerprint == fingerprint_b64(dev.hostkey_b64)
    assert dev.fingerprint.startswith("SHA256:")
    cli.trust("dev", dev.hostkey_pub)  # StrictHostKeyChecking=yes

    port = free_port()
    ssh = cli.subsystem(port, dev.user)
    try:
        # The device dials once: the listener must be up first.
        wait_for(lambda: port_listening(port), 10, "ssh's socat listener")
        dev.dial(port)
        read = fd_reader(ssh.stdout.fileno())
        deadline = time.monotonic() + 20

        hello, rest = read_until(read, deadline)
        assert b"<hello" in hello
        assert b"<capability>urn:ietf:params:netconf:base:1.0" in hello
        assert b"<session-id>" in hello

        ssh.stdin.write(HELLO_10)
        ssh.stdin.flush()
        # Not before netconfd has taken our hello (see Netconfd.wait_active).
        netconfd.wait_active(1)
        ssh.stdin.write(rpc_10(GET_CONFIG_RUNNING, 101))
        ssh.stdin.flush()
        reply, rest = read_until(read, deadline, buf=rest)
        assert b"<rpc-reply" in reply
        assert b'message-id="101"' in reply
        assert b"<data" in reply
        assert b"<rpc-error" not in reply

        ssh.stdin.write(rpc_10(CLOSE_SESSION, 102))
        ssh.stdin.flush()
        reply, rest = read_until(read, deadline, buf=rest)
        assert b'message-id="102"' in reply and b"<ok/>" in reply
        assert ssh.wait(10) == 0
    finally:
        if ssh.poll() is None:
            ssh.kill()
        ssh.wait(5)
    log = dev.log()
    assert f"Accepted publickey for {dev.user}" in log
    assert "subsystem 'netconf'" in log


def test_nat_fixture(nat):
    """dev reaches hub through fw (masqueraded); hub cannot open a
    connection to dev; dev listens only on what the test opened; teardown
    kills what runs inside and removes the namespaces."""
    def listen(addr, port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        s.listen(8)
        s.settimeout(5)
        return s

    def connect(addr, port, timeout):
        return socket.create_connection((addr, port), timeout=timeout)

    # Outbound, dev -> hub: allowed, and the hub sees the NAT's address.
    hub_l = nat.call("hub", listen, "0.0.0.0", 4334)
    c = nat.call("dev", connect, nat.HUB, 4334, 5)
    conn, peer = hub_l.accept()
    assert peer[0] == nat.FW_HUB
    c.sendall(b"ping")
    assert conn.recv(4) == b"ping"
    conn.sendall(b"pong")  # the reply rides "established"
    c.settimeout(5)
    assert c.recv(4) == b"pong"
    for s in (c, conn, hub_l):
        s.close()

    # Inbound, hub -> dev: dropped by fw's forward policy, bounded wait.
    dev_l = nat.call("dev", listen, "0.0.0.0", 830)
    t0 = time.monotonic()
    with pytest.raises(OSError) as exc:
        nat.call("hub", connect, nat.DEV, 830, 2)
    assert time.monotonic() - t0 < 3
    # A drop shows as a timeout; not "unreachable" (hub has a route).
    assert isinstance(exc.value, (TimeoutError, ConnectionRefusedError)), \
        exc.value
    nat.call("dev", connect, nat.DEV, 830, 2).close()  # the listener works

    out = nat.run("dev", ["ss", "-Hltn"]).stdout.splitlines()
    assert len(out) == 1, out
    assert out[0].split()[3] == "0.0.0.0:830", out
    dev_l.close()

    # A daemon started in a namespace dies with it.
    echo = nat.spawn("hub", "echo", ["socat", "TCP-LISTEN:7,fork",
                                     "EXEC:/bin/cat"])
    wait_for(lambda: port_listening(7, netns=nat.hub), 10, "echo listener",
             proc=echo)
    c = nat.call("dev", connect, nat.HUB, 7, 5)
    c.sendall(b"x")
    c.settimeout(5)
    assert c.recv(1) == b"x"
    c.close()
    names = list(nat.ns.values())
    nat.teardown()
    assert echo.popen.wait(5) is not None
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True,
                            text=True, check=True).stdout
    for n in names:
        assert n not in listed


def test_ncclient_on_accepted_socket(openssh_device, workdir):
    """The recipe for ncclient call-home interop: accept the device's
    connection ourselves, then manager.connect(sock=...) with hostkey_b64
    pinning. A wrong pinned key must be refused."""
    from ncclient import manager
    from ncclient.transport.errors import SSHUnknownHostError

    key = ssh_keygen(workdir / "ncclient_key", comment="ncclient")
    dev = openssh_device([f"{key}.pub"])
    other = ssh_keygen(workdir / "not_the_device", comment="other")

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as ls:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", 0))
        ls.listen(4)
        ls.settimeout(10)
        port = ls.getsockname()[1]

        dev.dial(port)
        conn, peer = ls.accept()
        m = manager.connect(host=peer[0], port=peer[1], sock=conn,
                            username=dev.user, key_filename=str(key),
                            hostkey_b64=dev.hostkey_b64, allow_agent=False,
                            look_for_keys=False, timeout=10)
        try:
            assert m.connected
            assert "urn:ietf:params:netconf:base:1.0" in \
                m.server_capabilities
            reply = m.get_config(source="running")
            assert reply.ok
            assert "<data" in reply.xml
        finally:
            m.close_session()
            conn.close()

        dev.dial(port)
        conn, peer = ls.accept()
        try:
            with pytest.raises(SSHUnknownHostError):
                manager.connect(host=peer[0], port=peer[1], sock=conn,
                                username=dev.user, key_filename=str(key),
                                hostkey_b64=pub_blob_b64(f"{other}.pub"),
                                allow_agent=False, look_for_keys=False,
                                timeout=10)
        finally:
            conn.close()
