"""callhomed and callhome-hub end to end, over real sockets on loopback:
the agent dials out, the hub identifies it and speaks NETCONF."""

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from helpers import (binary, descendants, free_port, listener,
                     read_until_closed, ssh_keygen, wait_for)

FAST = ["--backoff-base", "100", "--backoff-max", "500"]


def connected_fps(hub):
    return {d["fingerprint"] for d in hub.devices()
            if d["state"] == "connected"}


def wait_connected_fp(hub, fp, timeout=15):
    wait_for(lambda: fp in connected_fps(hub), timeout,
             f"device {fp} connected", interval=0.1, proc=hub.proc)



def test_call_home_get_config(hub, agent):
    h = hub()
    a = agent(hub=h, extra=FAST)
    devs = h.wait_device_connected(1)
    d = devs[0]
    assert d["fingerprint"] == a.fingerprint
    assert d["admission"] == "admitted"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", d["address"])
    assert d["capabilities"] == 2          # base:1.0 and base:1.1
    assert d["connected_since"]

    # DEVICE as a unique fingerprint prefix, without "SHA256:"
    rc, out, err = h.cli("get-config", a.fingerprint[7:20])
    assert rc == 0, err
    assert "<rpc-reply" in out and "<data>" in out
    assert "<name>eth0</name>" in out
    assert "callhome integration sample" in out

    rc, out, err = h.cli("rpc", a.fingerprint, "<get/>")
    assert rc == 0, err
    assert "<name>eth0</name>" in out

    # An operation the device does not implement: a proper rpc-error,
    # shown, with the documented exit code; the session stays up.
    rc, out, err = h.cli("rpc", a.fingerprint,
                         "<lock><target><running/></target></lock>")
    assert rc == 3, (rc, out, err)
    assert "operation-not-supported" in out
    rc, out, _ = h.cli("get-config", a.fingerprint)
    assert rc == 0 and "<name>eth0</name>" in out

    # The same over the JSON API
    rc, out, err = h.cli("--json", "get-config", a.fingerprint)
    assert rc == 0, err
    resp = json.loads(out)
    assert resp["ok"] is True and resp["rpc_error"] is False
    assert resp["job"]["device"] == a.fingerprint
    assert resp["job"]["state"] == "done"

    # Both sides log the session with its identity
    h.proc.wait_log(r"NETCONF session up: session-id=1")
    a.proc.wait_log(r"manager authenticated as 'admin' with key "
                    + re.escape(h.fingerprint))


def test_call_home_over_ipv6(hub, agent):
    h = hub(host="::1")
    a = agent(call_home=[f"[::1]:{h.port}"], authorized=[h.pub])
    d = h.wait_device_connected(1)[0]
    assert d["fingerprint"] == a.fingerprint
    assert d["address"].startswith("[::1]:")
    rc, out, _ = h.cli("get-config", a.fingerprint)
    assert rc == 0 and "<name>eth0</name>" in out


def test_malformed_operation_is_refused_by_the_hub(hub, agent):
    h = hub()
    a = agent(hub=h)
    h.wait_device_connected(1)
    rc, out, err = h.cli("rpc", a.fingerprint, "<get><unclosed></get>")
    assert rc == 4, (rc, out, err)
    assert "callhome:" in err
    # nothing reached the device; the session is intact
    rc, out, _ = h.cli("get-config", a.fingerprint)
    assert rc == 0


@pytest.mark.parametrize("how", ["term", "kill9"])
def test_hub_restart_agent_reconnects(hub, agent, procs, how):
    h = hub(extra=["--keepalive", "2", "--keepalive-count", "2"])
    a = agent(hub=h, extra=FAST)
    h.wait_device_connected(1)
    if how == "term":
        h.proc.stop()
        a.proc.wait_log(r"call-home session ended")
    else:
        h.proc.kill9()
    # the same hub again: same state dir, key and port
    h.restart("hub-again")
    # known device: admitted without --accept-new from the registry
    wait_connected_fp(h, a.fingerprint, timeout=20)
    rc, out, _ = h.cli("get-config", a.fingerprint)
    assert rc == 0 and "<name>eth0</name>" in out


def test_manager_key_not_authorized(hub, agent, workdir):
    h = hub()
    other = ssh_keygen(workdir / "other_key", comment="other")
    a = agent(hub=h, authorized=[f"{other}.pub"], extra=FAST)
    h.proc.wait_log(r"device refused the hub's key")
    a.proc.wait_log(r"manager key SHA256:\S+ for user 'admin' is not "
                    r"authorized")
    assert connected_fps(h) == set()
    # the agent keeps calling (and keeps being right to refuse)
    a.proc.wait_log(r"round \d+ failed")


def test_sighup_reloads_the_manager_keys(hub, agent, workdir):
    """A manager's key added to --authorized-keys counts after SIGHUP,
    without a restart (a move to another hub); an unreadable file keeps
    the keys loaded before and the agent running."""
    h = hub()
    other = ssh_keygen(workdir / "other_key", comment="other")
    a = agent(hub=h, authorized=[f"{other}.pub"], extra=FAST)
    a.proc.wait_log(r"manager key SHA256:\S+ for user 'admin' is not "
                    r"authorized")
    ak = a.authorized_keys
    saved = ak.read_text()
    ak.write_text("# nothing usable\n")
    a.proc.signal(signal.SIGHUP)
    a.proc.wait_log(r"SIGHUP: \S+ does not load; the 1 manager key\(s\) "
                    r"loaded before stay")
    assert a.proc.alive()
    ak.write_text(saved + Path(h.pub).read_text())
    a.proc.signal(signal.SIGHUP)
    a.proc.wait_log(r"SIGHUP: 2 manager key\(s\) authorized from ")
    wait_for(lambda: connected_fps(h), 20, "the device connects",
             proc=a.proc)


def test_unknown_device_refused_then_admitted(hub, agent, procs):
    h = hub(admission="approve")
    a = agent(hub=h, extra=FAST)
    h.proc.wait_log(r"unknown device: recorded as pending")
    devs = {d["fingerprint"]: d for d in h.devices()}
    assert devs[a.fingerprint]["admission"] == "pending"
    assert devs[a.fingerprint]["state"] == "disconnected"
    assert devs[a.fingerprint]["address"].startswith("127.0.0.1:")
    rc, _, err = h.cli("get-config", a.fingerprint)
    assert rc == 4 and "pending" in err
    # refused before authentication: the hub sent no credentials
    assert "authenticated to the device" not in h.proc.log()

    # the same hub with --accept-new admits it at its next call
    h.proc.stop()
    h.restart("hub2", ["--accept-new"])
    wait_connected_fp(h, a.fingerprint, timeout=20)
    devs = {d["fingerprint"]: d for d in h.devices()}
    assert devs[a.fingerprint]["admission"] == "admitted"


def test_hub_state_is_private(hub):
    h = hub()
    for name in ("registry.db", "hub.sock"):
        assert (os.stat(h.state / name).st_mode & 0o077) == 0, name


def test_two_agents_at_once(hub, agent):
    h = hub()
    a1 = agent(hub=h, name="a1", running_xml="<x xmlns=\"urn:t\">one</x>")
    a2 = agent(hub=h, name="a2", running_xml="<x xmlns=\"urn:t\">two</x>")
    h.wait_device_connected(2)
    assert connected_fps(h) == {a1.fingerprint, a2.fingerprint}
    rc, out1, _ = h.cli("get-config", a1.fingerprint)
    rc2, out2, _ = h.cli("get-config", a2.fingerprint)
    assert rc == 0 and rc2 == 0
    assert ">one</x>" in out1 and ">two</x>" in out2


def test_hostile_peers_do_not_delay_a_good_device(hub, agent):
    # A long handshake deadline: if the hub served connections one at a
    # time, the stalled ones would hold the good device back a minute.
    h = hub(extra=["--handshake-timeout", "60", "--block-after", "0"])
    stalled, garbage = [], []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", h.port))
        stalled.append(s)                     # sends nothing at all
    for i in range(20):
        s = socket.create_connection(("127.0.0.1", h.port))
        s.sendall(b"SSH-2.0-evil\r\n" + os.urandom(4096) if i % 2
                  else b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 50)
        garbage.append(s)
    t0 = time.monotonic()
    a = agent(hub=h)
    wait_connected_fp(h, a.fingerprint, timeout=20)
    elapsed = time.monotonic() - t0
    rc, out, _ = h.cli("get-config", a.fingerprint)
    assert rc == 0 and "<name>eth0</name>" in out
    # binary garbage after a banner is closed by the hub at once; text
    # lines before a banner are legal (RFC 4253 4.2) and are bounded by
    # the handshake deadline instead
    for s in garbage[1::2]:
        read_until_closed(s, 10)
        s.close()
    assert h.proc.alive
    for s in stalled + garbage[0::2]:
        s.close()
    print(f"good device connected {elapsed:.2f}s after 40 hostile peers")


def socket_fds(pid):
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            pass
    return n


def test_handshake_deadline_closes_stalled_peer(hub):
    h = hub(extra=["--handshake-timeout", "2"])
    baseline = socket_fds(h.proc.pid)
    s = socket.create_connection(("127.0.0.1", h.port))
    _, waited = read_until_closed(s, 15)
    assert waited < 12, f"stalled peer kept for {waited:.1f}s"
    h.proc.wait_log(r"handshake did not finish in time")
    s.close()
    # and the hub holds no descriptor for it any more
    wait_for(lambda: socket_fds(h.proc.pid) == baseline, 5,
             "hub back to its baseline of sockets", proc=h.proc)


def test_agent_drops_manager_that_never_authenticates(agent, workdir):
    """RFC 8071 S5: a manager that does not authenticate in time is
    dropped, and the agent calls again."""
    lsock, port = listener()
    pub = ssh_keygen(workdir / "mgr_key")
    a = agent(call_home=[f"127.0.0.1:{port}"], authorized=[f"{pub}.pub"],
              extra=["--auth-timeout", "2"] + FAST)
    conn, _ = lsock.accept()
    got, waited = read_until_closed(conn, 15)
    assert got.startswith(b"SSH-2.0-")        # the device spoke first
    assert waited < 12
    a.proc.wait_log(r"did not complete the SSH handshake in time")
    conn2, _ = lsock.accept()                 # and it calls again
    conn2.close()
    conn.close()
    lsock.close()


def process_tree(pid):
    """pid and its descendants (a hub's workers)."""
    return [pid] + descendants(pid)


def listening_sockets(pid):
    """Listening TCP/UDP sockets owned by pid or its children, from ss."""
    out = subprocess.run(["ss", "-Hlnptu"], capture_output=True,
                         text=True, check=True).stdout
    tree = process_tree(pid)
    return [l for l in out.splitlines()
            if any(f"pid={p}," in l for p in tree)]


def test_agent_never_listens(hub, agent):
    h = hub()
    a = agent(hub=h)
    h.wait_device_connected(1)
    assert listening_sockets(a.proc.pid) == []
    # and the hub does listen, so the check can see listeners at all
    assert any(f":{h.port}" in l for l in listening_sockets(h.proc.pid))


def test_agent_walks_endpoints_and_backs_off(hub, agent):
    h = hub()
    dead = free_port()                         # nothing listens there
    a = agent(hub=h, call_home=[f"127.0.0.1:{dead}", h.address],
              extra=FAST)
    wait_connected_fp(h, a.fingerprint)
    log = a.proc.log()
    first = log.index(f"calling home to 127.0.0.1:{dead}")
    second = log.index(f"calling home to {h.address}")
    assert first < second
    assert "Connection refused" in log

    # no manager at all: rounds fail and the waits stay within the cap
    h.proc.stop()
    a.proc.wait_log(r"round 3 failed", timeout=20)
    waits = [float(w) for w in re.findall(
        r"calling again in (\d+\.\d+) s", a.proc.log())]
    assert waits and all(0 <= w <= 0.5 for w in waits), waits


def test_keepalive_detects_frozen_hub(hub, agent):
    """SIGSTOP: no FIN, no RST, the hub just stops answering."""
    h = hub()
    a = agent(hub=h, extra=["--keepalive", "1", "--keepalive-count", "2"]
              + FAST)
    h.wait_device_connected(1)
    mark = a.proc.mark()
    t0 = time.monotonic()
    for pid in process_tree(h.proc.pid):       # and its workers
        os.kill(pid, signal.SIGSTOP)
    try:
        a.proc.wait_log(r"no answer to keep-alives", timeout=15,
                        since=mark)
        detected = time.monotonic() - t0
    finally:
        for pid in process_tree(h.proc.pid):
            os.kill(pid, signal.SIGCONT)
    # bound: interval * (count + 1) plus scheduling slack
    assert detected < 3 + 2, detected
    print(f"frozen hub detected after {detected:.2f}s (bound 3s)")


def test_keepalive_detects_frozen_device(hub, agent):
    h = hub(extra=["--keepalive", "1", "--keepalive-count", "2"])
    a = agent(hub=h)
    h.wait_device_connected(1)
    os.kill(a.proc.pid, signal.SIGSTOP)
    try:
        h.proc.wait_log(r"connection closed: no answer to keep-alives",
                        timeout=15)
        wait_for(lambda: connected_fps(h) == set(), 5, "device marked "
                 "disconnected", proc=h.proc)
        dev = [d for d in h.devices() if d["fingerprint"] ==
               a.fingerprint][0]
        assert "keep-alive" in dev["last_error"]
    finally:
        os.kill(a.proc.pid, signal.SIGCONT)


def test_same_device_twice_newer_wins(hub, agent, procs):
    h = hub()
    a = agent(hub=h, extra=FAST)
    h.wait_device_connected(1)
    # a second agent with the same host key: the same identity
    b = agent(hub=h, name="twin", extra=FAST)
    os.remove(b.host_key) if b.host_key.exists() else None
    b.proc.stop()
    import shutil
    shutil.copy(a.host_key, b.host_key)
    shutil.copy(f"{a.host_key}.pub", f"{b.host_key}.pub")
    b.proc = procs.spawn("twin2", [
        binary("callhomed"), "--call-home", h.address,
        "--host-key", b.host_key, "--authorized-keys", b.authorized_keys,
        "--datastore", b.datastore] + FAST)
    h.proc.wait_log(r"replaced by a newer connection of the same device")
    wait_connected_fp(h, a.fingerprint)


def test_every_binary_has_help():
    for name in ("callhomed", "callhome-hub", "callhome"):
        r = subprocess.run([binary(name), "--help"], capture_output=True,
                           text=True, timeout=10)
        assert r.returncode == 0, name
        assert "Usage:" in r.stdout or "usage:" in r.stdout.lower()
        r = subprocess.run([binary(name), "--no-such-option"],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 1, name
        assert r.stderr.strip(), name


def _help(name):
    r = subprocess.run([binary(name), "--help"], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 0, name
    return r.stdout


def _option_lines(text, opt):
    """The --help lines that name option opt, with their continuations."""
    out, cur = [], None
    for line in text.splitlines():
        if re.match(r"^\s+-", line):
            cur = line if re.search(rf"(^|[\s,]){re.escape(opt)}[\s,=]",
                                    line + " ") else None
            if cur:
                out.append(cur)
        elif cur is not None and line.startswith(" " * 20):
            out[-1] += " " + line.strip()
        else:
            cur = None
    return out


def test_k_is_the_programs_own_ssh_key_in_both_daemons(procs, workdir):
    """-k: the same meaning in callhome-hub and callhomed (this program's
    own SSH key); a TLS key is --tls-key in both, never -k."""
    for name, long_opt, role in (("callhome-hub", "--ssh-key", "client key"),
                                 ("callhomed", "--host-key", "host key")):
        text = _help(name)
        k = _option_lines(text, "-k")
        assert len(k) == 1, (name, k)
        assert k[0].split()[:2] == ["-k,", long_opt], (name, k)
        assert "this program's own SSH key" in k[0] and role in k[0], k
        tls = _option_lines(text, "--tls-key")
        assert len(tls) == 1 and "-k" not in tls[0].split(), (name, tls)
    # the new long name works (the fixtures use the old one, --key)
    key = workdir / "k1"
    p = procs.spawn("hub", [binary("callhome-hub"), "--listen",
                            f"127.0.0.1:{free_port()}", "--ssh-key", key,
                            "--state", workdir / "state"])
    p.wait_log(r"hub ready", timeout=15)
    assert Path(f"{key}.pub").exists()


def test_cli_errors_are_one_clear_line(hub, workdir):
    r = subprocess.run([binary("callhome"), "--hub",
                        str(workdir / "nope.sock"), "devices"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert r.stderr.startswith("callhome: ")
    h = hub()
    rc, out, err = h.cli("get-config", "no-such-device")
    assert rc == 4 and "no device named 'no-such-device'" in err
    assert len(err.strip().splitlines()) == 1


def test_agent_refuses_bad_configuration(workdir):
    exe = binary("callhomed")
    r = subprocess.run([exe], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "--call-home" in r.stderr
    r = subprocess.run([exe, "--call-home", "host:99999"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "HOST[:PORT]" in r.stderr
    # no usable manager key: refuse to start rather than refuse everyone
    (workdir / "ak").write_text("# nothing here\n")
    r = subprocess.run([exe, "--call-home", "127.0.0.1:1", "--host-key",
                        str(workdir / "hk"), "--authorized-keys",
                        str(workdir / "ak"), "--datastore",
                        str(workdir / "ds")],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert "no usable manager key" in r.stderr
    # the host key was created with mode 0600
    assert (os.stat(workdir / "hk").st_mode & 0o777) == 0o600
