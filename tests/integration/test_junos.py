"""Junos outbound-ssh (docs/junos.md): a genuine OpenSSH sshd -i behind a
wrapper that first writes the preamble a Juniper device sends
(MSG-ID: DEVICE-CONN-INFO ... HMAC), dialled out by socat, calls the hub.
The hub reads the preamble up to the SSH banner and not a byte further,
checks the HMAC with the device's secret, checks that the handshake
shows HOST-KEY, and names the device from DEVICE-ID."""

import hashlib
import hmac
import os
import subprocess

import pytest

from helpers import (SOCAT, SSHD, binary, current_user, free_port,
                     ssh_keygen)

SECRET = "Juniper-s3cret and more"


def ok(resp):
    assert resp.get("ok") is True, resp
    return resp


def host_key_text(pub_path):
    """HOST-KEY as a device sends it: "type base64", no comment."""
    kind, b64 = pub_path.read_text().split()[:2]
    return f"{kind} {b64}"


def junos_hmac(secret, host_key):
    return hmac.new(secret.encode(), host_key.encode(),
                    hashlib.sha1).hexdigest()


def preamble(device_id, host_key=None, secret=None, id_sep=": ",
             eol="\r\n", trailer=""):
    text = (f"MSG-ID: DEVICE-CONN-INFO{eol}MSG-VER: V1{eol}"
            f"DEVICE-ID{id_sep}{device_id}{eol}")
    if host_key is not None:
        text += (f"HOST-KEY: {host_key}{eol}"
                 f"HMAC: {junos_hmac(secret, host_key)}{eol}")
    return text + trailer


class JunosDevice:
    """An OpenSSHDevice (sshd -i + netconfd) whose outbound connection
    starts with a Junos preamble: socat runs a shell script that writes
    it, then execs sshd -i on the same socket."""

    def __init__(self, dev):
        self.dev = dev
        self.n = 0

    def dial(self, port, text=None, script=None):
        """text: the preamble, written before sshd starts; script: shell
        lines to run instead (they may never exec sshd)."""
        self.n += 1
        d = self.dev.dir
        wrapper = d / f"junos-{self.n}.sh"
        if script is None:
            pre = d / f"preamble-{self.n}"
            pre.write_bytes(text.encode())
            script = (f"cat {pre}\n"
                      f"exec {SSHD} -i -f {self.dev.config} "
                      f"-E {self.dev.sshd_log}\n")
        wrapper.write_text("#!/bin/sh\n" + script)
        return self.dev.procs.spawn(
            f"{self.dev.name}-socat{self.n}",
            [SOCAT, "-d", "-d",
             f"TCP:127.0.0.1:{port},connect-timeout=5,nodelay",
             f"EXEC:/bin/sh {wrapper},nofork"])


@pytest.fixture
def junos(hub, openssh_device, workdir):
    """Factory: junos(secrets={"r1": SECRET}, extra=[...]) -> (hub,
    JunosDevice) with the hub reading preambles."""
    def make(secrets=None, extra=(), **hub_kw):
        secrets = {"r1": SECRET} if secrets is None else secrets
        path = workdir / "junos-secrets"
        path.write_text("# DEVICE-ID SECRET\n" + "".join(
            f"{k} {v}\n" for k, v in secrets.items()))
        os.chmod(path, 0o600)
        h = hub(user=current_user(),
                extra=["--junos-secrets", str(path)] + list(extra),
                **hub_kw)
        h.proc.wait_log(r"Junos outbound-ssh: preambles read")
        return h, JunosDevice(openssh_device([h.pub]))
    return make


def events(h):
    return ok(h.ctl({"cmd": "events", "limit": 200}))["events"]


def refused_with(h, text):
    return [e for e in events(h)
            if e["kind"] == "refused" and text in e["detail"]]


def test_signed_preamble_admitted_and_named(junos):
    """The worked example of docs/junos.md: a good HMAC; the device is
    enrolled under its DEVICE-ID and get-config reaches netconfd."""
    h, jd = junos()
    key = host_key_text(jd.dev.hostkey_pub)
    jd.dial(h.port, preamble("r1", key, SECRET))
    devs = h.wait_device_connected(1)
    assert devs[0]["fingerprint"] == jd.dev.fingerprint
    assert devs[0]["name"] == "r1"
    h.proc.wait_log(r"DEVICE-ID r1, HMAC verified")
    rc, out, err = h.cli("get-config", "r1")
    assert rc == 0, err
    assert "<rpc-reply" in out and "<data" in out
    assert any(e["kind"] == "named" and e["detail"] == "r1"
               for e in events(h))


@pytest.mark.parametrize("sep", [": : ", ":: "])
def test_doubled_colon_and_blank_lines_accepted(junos, sep):
    """Juniper's documentation shows "DEVICE-ID: : <id>"; blank lines
    after the HMAC and LF line ends are tolerated too."""
    h, jd = junos()
    key = host_key_text(jd.dev.hostkey_pub)
    jd.dial(h.port, preamble("r1", key, SECRET, id_sep=sep, eol="\n",
                             trailer="\r\n\r\n"))
    devs = h.wait_device_connected(1)
    assert devs[0]["name"] == "r1"
    rc, out, err = h.cli("get-config", "r1")
    assert rc == 0, err


def test_pending_device_named_from_device_id(junos):
    """Under --admission approve the device is recorded as pending with
    the name it offered, and approved by that name."""
    h, jd = junos(accept_new=False)
    key = host_key_text(jd.dev.hostkey_pub)
    jd.dial(h.port, preamble("r1", key, SECRET))
    h.proc.wait_log(r"unknown device: recorded as pending")
    d = {x["name"]: x for x in h.devices()}["r1"]
    assert d["admission"] == "pending"
    assert d["fingerprint"] == jd.dev.fingerprint
    rc, out, err = h.cli("approve", "r1")
    assert rc == 0, err
    jd.dial(h.port, preamble("r1", key, SECRET))
    h.wait_device_connected(1)


def test_bad_hmac_refused(junos):
    h, jd = junos()
    key = host_key_text(jd.dev.hostkey_pub)
    jd.dial(h.port, preamble("r1", key, "not the secret"))
    h.proc.wait_log(r"refused: Junos outbound-ssh from 127\.0\.0\.1:\d+, "
                    r"DEVICE-ID r1: bad HMAC")
    assert refused_with(h, "bad HMAC")
    assert h.devices() == []
    assert "Accepted publickey" not in jd.dev.log()


def test_host_key_other_than_the_handshakes_refused(junos, workdir):
    """A correctly signed HOST-KEY that is not the key sshd then shows."""
    h, jd = junos()
    other = ssh_keygen(workdir / "other_key", comment="other")
    key = host_key_text(other.parent / f"{other.name}.pub")
    jd.dial(h.port, preamble("r1", key, SECRET))
    h.proc.wait_log(r"refused: Junos outbound-ssh from .*DEVICE-ID r1: "
                    r"its handshake showed host key")
    assert refused_with(h, "not the HOST-KEY")
    assert all(d["fingerprint"] != jd.dev.fingerprint
               for d in h.devices())
    # no credentials were offered to it
    assert "Accepted publickey" not in jd.dev.log()


def test_unknown_device_id_refused_unless_unsigned_allowed(junos):
    h, jd = junos()
    jd.dial(h.port, preamble("r9"))
    h.proc.wait_log(r"DEVICE-ID r9: no secret for this DEVICE-ID")
    assert refused_with(h, "no secret")


def test_unsigned_allowed_with_a_warning(junos):
    h, jd = junos(secrets={}, extra=["--junos-allow-unsigned"])
    jd.dial(h.port, preamble("r7"))
    devs = h.wait_device_connected(1)
    assert devs[0]["name"] == "r7"
    h.proc.wait_log(r"DEVICE-ID r7 is UNAUTHENTICATED")


def test_oversized_preamble_refused(junos):
    h, jd = junos()
    pad = "".join(f"X-PAD-{i}: {'x' * 100}\r\n" for i in range(90))
    jd.dial(h.port, preamble("r1", trailer=pad))
    h.proc.wait_log(r"refused: Junos outbound-ssh from .*: preamble "
                    r"longer than 8192 bytes")
    assert refused_with(h, "preamble longer than")


def test_never_ending_preamble_refused(junos):
    """A slow drip that never reaches the banner: refused at the
    deadline (the shorter of 10 s and --handshake-timeout)."""
    h, jd = junos(extra=["--handshake-timeout", "2"])
    jd.dial(h.port, script=(
        "printf 'MSG-ID: DEVICE-CONN-INFO\\r\\nMSG-VER: V1\\r\\n"
        "DEVICE-ID: r1'\n"
        "while :; do printf 1 || exit 0; sleep 0.2; done\n"))
    h.proc.wait_log(r"refused: Junos outbound-ssh from .*: no SSH banner "
                    r"within 2000 ms", timeout=15)
    assert refused_with(h, "no SSH banner")


def test_plain_ssh_still_served_with_preambles_on(hub, agent, workdir):
    """With preambles read, a device that starts with its banner (our
    agent) is an ordinary SSH call home."""
    secrets = workdir / "s"
    secrets.write_text("r1 x\n")
    os.chmod(secrets, 0o600)
    h = hub(extra=["--junos-secrets", str(secrets)])
    a = agent(hub=h)
    devs = h.wait_device_connected(1)
    assert devs[0]["fingerprint"] == a.fingerprint


def test_secrets_file_open_to_others_refused_at_start(workdir):
    secrets = workdir / "s"
    secrets.write_text("r1 x\n")
    os.chmod(secrets, 0o644)
    state = workdir / "state"
    r = subprocess.run([binary("callhome-hub"), "--junos-secrets",
                        str(secrets), "--state", str(state), "--listen",
                        f"127.0.0.1:{free_port()}"], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode != 0
    assert "chmod 600" in r.stderr
