"""NETCONF call home over TLS (RFC 8071 port 4335, RFC 7589) at the hub,
over real TLS.

The device is `openssl s_server` (the TLS server, as RFC 8071 keeps it)
dialled out to the hub by socat, which cannot hand s_server a connected
fd: socat connects to the hub and relays to s_server's UNIX socket
(docs/tls.md, peer notes). s_server's stdin/stdout are a small NETCONF
server written here (base:1.0 framing). Certificates come from
scripts/make-test-pki.sh: a manufacturer root whose intermediate issues
the devices (the hub trusts only the root, so every admitted device proves
that the hub got the device's full chain), and an operator CA for the
hub's client certificate, which s_server verifies (-Verify).
"""

import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from helpers import (EOM, NS_BASE, REPO, SAMPLE_RUNNING_XML, SOCAT,
                     free_port, wait_for)

OPENSSL = "/usr/bin/openssl"
MAKE_PKI = REPO / "scripts" / "make-test-pki.sh"
SERIALS = ("SN-0001", "SN-0002")
TEST_NS = "urn:callhome:params:xml:ns:yang:callhome-test"   # tests/yang

DEV_HELLO = (f'<hello xmlns="{NS_BASE}"><capabilities>'
             "<capability>urn:ietf:params:netconf:base:1.0</capability>"
             "<capability>urn:ietf:params:netconf:capability:"
             "writable-running:1.0</capability>"
             "</capabilities><session-id>7</session-id></hello>").encode() + EOM


def _need_tools():
    for p in (OPENSSL, SOCAT):
        if not Path(p).exists():
            pytest.skip(f"{p} not installed (scripts/install-deps.sh)")


@pytest.fixture
def pki(workdir):
    """A fresh test PKI (scripts/make-test-pki.sh) for this test."""
    _need_tools()
    d = workdir / "pki"
    subprocess.run(["bash", str(MAKE_PKI), str(d), *SERIALS], check=True,
                   capture_output=True, timeout=60)
    return d


def tls_args(pki, port, crl=True):
    args = ["--listen-tls", f"127.0.0.1:{port}",
            "--tls-cert", pki / "hub.pem", "--tls-key", pki / "hub.key",
            "--trust-anchor", pki / "mfr-root.pem"]
    if crl:
        args += ["--crl", pki / "mfr-crls.pem"]
    return args


@pytest.fixture
def tls_hub(hub, pki):
    """Factory: a hub listening for TLS too; .tls_port is set."""
    def start(admission="approve", crl=True, extra=()):
        port = free_port()
        h = hub(admission=admission,
                extra=[*tls_args(pki, port, crl), *extra])
        h.tls_port = port
        h.proc.wait_log(r"listening for call-home connections over TLS")
        return h
    return start


def ok(resp):
    assert resp.get("ok") is True, resp
    return resp


def events(h, device=None):
    req = {"cmd": "events", "limit": 500}
    if device:
        req["device"] = device
    return ok(h.ctl(req))["events"]


def wait_event(h, kind, detail_re, device=None, timeout=10):
    """Waits for an event of the device (a registry name or identity:
    also an unknown device's identity) whose detail matches."""
    pat = re.compile(detail_re)

    def found():
        for e in events(h):
            if e["kind"] == kind and pat.search(e["detail"]) and (
                    device is None or device in (e["device"], e["name"])):
                return e
        return None
    return wait_for(found, timeout, f"event {kind} /{detail_re}/",
                    proc=h.proc)


def device_rec(h, device):
    return ok(h.ctl({"cmd": "device", "device": device}))["device"]


class TlsDevice:
    """One call: s_server on a UNIX socket with a NETCONF server on its
    stdin/stdout, dialled to the hub by socat. rpcs lists the operations
    it received (message-id, text)."""

    def __init__(self, procs, workdir, pki, cert, name="tlsdev",
                 chain=True, s_server_args=(), answer=True):
        self.procs, self.pki = procs, pki
        self.dir = workdir / name
        self.dir.mkdir(parents=True, exist_ok=True)
        # OpenSSL 3.0's s_server fails at start ("addr_strings: system
        # lib") when the -unix path is 32 bytes or longer: keep it short.
        self.sock = self.dir / "s"
        assert len(str(self.sock)) < 32, self.sock
        self.rpcs = []
        self.got_hello = threading.Event()
        self.answer = answer       # False: a stuck NETCONF server
        self.buf = b""
        argv = [OPENSSL, "s_server", "-quiet", "-naccept", "1",
                "-unix", str(self.sock),
                "-cert", str(pki / f"{cert}.pem"),
                "-key", str(pki / f"{cert}.key"),
                "-Verify", "2", "-CAfile", str(pki / "op-ca.pem"),
                "-verify_return_error"]
        if chain:
            argv += ["-cert_chain", str(pki / "mfr-chain.pem")]
        argv += list(s_server_args)
        self.err = open(self.dir / "s_server.log", "wb")
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=self.err)
        procs.popens.append(self)
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def _send(self, data):
        try:
            self.p.stdin.write(data)
            self.p.stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            pass

    def _reply(self, msg):
        m = re.search(rb'message-id="([^"]*)"', msg)
        mid = m.group(1).decode() if m else "?"
        self.rpcs.append((mid, msg.decode(errors="replace")))
        if not self.answer:
            return
        if b"<get-config" in msg:
            body = f"<data>{SAMPLE_RUNNING_XML}</data>"
        elif b"<get>" in msg or b"<get " in msg:
            body = "<data/>"
        else:
            body = "<ok/>"
        self._send((f'<rpc-reply xmlns="{NS_BASE}" message-id="{mid}">'
                    f"{body}</rpc-reply>").encode() + EOM)
        if b"<close-session" in msg:
            self.p.stdin.close()

    def _serve(self):
        while True:
            data = self.p.stdout.read1(65536)
            if not data:
                return
            self.buf += data
            while EOM in self.buf:
                msg, self.buf = self.buf.split(EOM, 1)
                if b"<hello" in msg:
                    self._send(DEV_HELLO)
                    self.got_hello.set()
                elif b"<rpc" in msg:
                    self._reply(msg)

    def dial(self, port):
        wait_for(self.sock.exists, 10, f"{self.sock}")
        return self.procs.spawn("socat", [
            SOCAT, f"TCP:127.0.0.1:{port},connect-timeout=5",
            f"UNIX-CONNECT:{self.sock}"])

    def log(self):
        return (self.dir / "s_server.log").read_text(errors="replace")

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(5)
        self.err.close()


@pytest.fixture
def tls_device(procs, workdir, pki):
    """Factory: tls_device(cert="dev-SN-0001", ...) -> TlsDevice; every
    s_server is killed at the end."""
    procs.popens = []
    n = [0]

    def make(cert, **kw):
        n[0] += 1
        kw.setdefault("name", f"tlsdev{n[0]}")
        return TlsDevice(procs, workdir, pki, cert, **kw)
    yield make
    for d in procs.popens:
        d.stop()


def import_serials(h, pki, names=True):
    lst = pki / "list.txt"
    lst.write_text("# ACME batch\n" + "".join(
        f"{s},edge-{i}\n" if names else f"{s}\n"
        for i, s in enumerate(SERIALS[:1], 1)) + "bad serial\n")
    rc, out, err = h.cli("import-serials", lst)
    assert rc == 0, err
    assert out.startswith("added 1, already known 0, invalid 1"), out
    assert "line 3: not a serial number" in out


# ---------------------------------------------------------------- admitted

def test_listed_serial_admitted_with_full_chain(tls_hub, tls_device, pki):
    h = tls_hub()
    import_serials(h, pki)
    dev = tls_device("dev-SN-0001")
    dev.dial(h.tls_port)
    assert dev.got_hello.wait(10), dev.log()
    (d,) = h.wait_device_connected()
    assert d["fingerprint"] == "serial:SN-0001"
    assert d["kind"] == "x509-serial"
    assert d["name"] == "edge-1"
    assert d["admission"] == "admitted"
    # the intermediate is not in the hub's trust anchor: it came from the
    # device (RFC 8071 S4), and the hub says it verified 2 certificates
    h.proc.wait_log(r"TLS handshake done in [\d.]+ ms: TLSv1\.[23] \S+, "
                    r"chain of 2 certificate\(s\) verified; serial SN-0001")
    # mutual: s_server verified the hub's certificate from the operator CA
    assert "callhome-hub" in dev.log()
    fp = subprocess.run([OPENSSL, "x509", "-in", pki / "dev-SN-0001.pem",
                         "-noout", "-fingerprint", "-sha256"],
                        capture_output=True, text=True).stdout
    hexfp = fp.split("=")[1].strip().replace(":", "").lower()
    assert device_rec(h, "edge-1")["certificate"] == f"x509:SHA256:{hexfp}"
    # NETCONF over TLS: a get-config, an rpc-error-free edit-config job
    rc, out, err = h.cli("get-config", "SN-0001")
    assert rc == 0, err
    assert "<name>eth0</name>" in out
    cfg = pki / "edit.xml"
    cfg.write_text("<top xmlns='urn:x'><a>1</a></top>")
    rc, out, err = h.cli("edit-config", "edge-1", cfg)
    assert rc == 0, err
    ops = [t for _, t in dev.rpcs]
    assert any("<edit-config" in t and "<a>1</a>" in t for t in ops), ops
    assert [e["kind"] for e in events(h, "edge-1")][:3] == [
        "added", "called", "connected"]


def test_serial_bound_to_its_manufacturer(tls_hub, tls_device, pki):
    """Two trust anchors: a serial number admitted under one cannot be
    taken over by a certificate with the same serial from the other."""
    h = tls_hub(crl=False, extra=["--trust-anchor", pki / "rogue-ca.pem"])
    import_serials(h, pki)
    dev = tls_device("dev-SN-0001")
    dev.dial(h.tls_port)
    h.wait_device_connected()
    assert device_rec(h, "edge-1")["admission"] == "admitted"
    dev.stop()
    wait_for(lambda: h.devices()[0]["state"] != "connected", 10,
             "the genuine device to leave")
    rogue = tls_device("dev-wrongca", chain=False)
    rogue.dial(h.tls_port)
    ev = wait_event(h, "refused", r"but the device is bound to x509:")
    assert ev["device"] == "serial:SN-0001", ev
    assert not rogue.got_hello.is_set()
    assert all(d["state"] != "connected" for d in h.devices())
    # the genuine device is still welcome
    again = tls_device("dev-SN-0001")
    again.dial(h.tls_port)
    h.wait_device_connected()
    # and the other CA's certificate does not replace its session
    rogue2 = tls_device("dev-wrongca", chain=False)
    rogue2.dial(h.tls_port)
    wait_for(lambda: sum(e["kind"] == "refused" and "bound to x509:" in
                         e["detail"] for e in events(h)) >= 2, 10,
             "the second refusal", proc=h.proc)
    assert not any(e["kind"] == "replaced" for e in events(h))
    assert [d["state"] for d in h.devices()] == ["connected"]


def test_import_binds_serials_to_their_manufacturer(tls_hub, tls_device,
                                                    pki):
    """import-serials --anchor: a serial is the manufacturer's from the
    start, so another trusted CA's certificate with that serial is
    refused even as the first call."""
    h = tls_hub(crl=False, extra=["--trust-anchor", pki / "rogue-ca.pem"])
    lst = pki / "acme.txt"
    lst.write_text("SN-0001,edge-1\n")
    rc, out, err = h.cli("import-serials", lst, "--anchor",
                         pki / "mfr-root.pem")
    assert rc == 0 and out.startswith("added 1"), (out, err)
    anchor = device_rec(h, "edge-1")["trust_anchor"]
    assert anchor.startswith("x509:SHA256:"), anchor
    rogue = tls_device("dev-wrongca", chain=False)
    rogue.dial(h.tls_port)
    wait_event(h, "refused", r"but the device is bound to " + anchor)
    assert not rogue.got_hello.is_set()
    dev = tls_device("dev-SN-0001")
    dev.dial(h.tls_port)
    (d,) = h.wait_device_connected()
    assert d["name"] == "edge-1"
    # the same list under another CA is refused line by line
    rc, out, err = h.cli("import-serials", lst, "--anchor",
                         pki / "rogue-ca.pem")
    assert rc == 0, err
    assert "invalid 1" in out and "bound to another trust anchor" in out
    rc, out, err = h.cli("import-serials", lst, "--anchor", "nonsense")
    assert rc != 0 and "anchor" in err


def test_sighup_reloads_the_trust_files(hub, tls_device, pki, workdir):
    """Renewed CRLs and anchors without a restart: SIGHUP rereads the TLS
    files for the next connections (a file that fails keeps the old)."""
    anchors = workdir / "anchors.pem"
    shutil.copy(pki / "rogue-ca.pem", anchors)
    port = free_port()
    h = hub(admission="trust-new", extra=[
        "--listen-tls", f"127.0.0.1:{port}", "--tls-cert", pki / "hub.pem",
        "--tls-key", pki / "hub.key", "--trust-anchor", anchors])
    dev = tls_device("dev-SN-0001")
    dev.dial(port)
    wait_event(h, "refused", r"^unknown issuer")
    shutil.copy(pki / "mfr-root.pem", anchors)
    mark = h.proc.mark()
    h.proc.signal(signal.SIGHUP)
    h.proc.wait_log(r"SIGHUP: TLS files reloaded", since=mark)
    again = tls_device("dev-SN-0001")
    again.dial(port)
    (d,) = h.wait_device_connected()
    assert d["fingerprint"] == "serial:SN-0001"
    anchors.write_text("not a certificate\n")
    mark = h.proc.mark()
    h.proc.signal(signal.SIGHUP)
    h.proc.wait_log(r"the previous ones stay in use", since=mark)
    assert h.proc.alive()


def test_revoke_closes_a_tls_session(tls_hub, tls_device, pki):
    h = tls_hub()
    import_serials(h, pki)
    dev = tls_device("dev-SN-0001")
    dev.dial(h.tls_port)
    h.wait_device_connected()
    rc, out, err = h.cli("revoke", "edge-1")
    assert rc == 0, err
    h.proc.wait_log(r"connection closed: identity revoked")
    dev2 = tls_device("dev-SN-0001")
    dev2.dial(h.tls_port)
    wait_event(h, "refused", r"identity revoked", device="edge-1")


def test_pinned_certificate_without_serial(tls_hub, tls_device, pki):
    h = tls_hub(admission="known-only")
    fp = subprocess.run([OPENSSL, "x509", "-in", pki / "dev-noserial.pem",
                         "-noout", "-fingerprint", "-sha256"],
                        capture_output=True, text=True).stdout
    fp = fp.split("=")[1].strip()           # AB:CD:... as openssl prints
    rc, out, err = h.cli("add", "pinned-1", "--cert-fingerprint", fp)
    assert rc == 0, err
    dev = tls_device("dev-noserial")
    dev.dial(h.tls_port)
    (d,) = h.wait_device_connected()
    assert d["name"] == "pinned-1"
    assert d["kind"] == "x509-cert"
    assert d["fingerprint"] == "x509:SHA256:" + fp.replace(":", "").lower()


def test_add_serial_then_rotated_certificate(tls_hub, tls_device, pki):
    h = tls_hub(admission="known-only")
    rc, out, err = h.cli("add", "r9", "--serial", "SN-0002")
    assert rc == 0, err
    assert "serial:SN-0002" in out
    dev = tls_device("dev-SN-0002")
    dev.dial(h.tls_port)
    h.wait_device_connected()
    first = device_rec(h, "r9")["certificate"]
    # the manufacturer re-issues SN-0002 a certificate (new key)
    new = pki / "dev-SN-0002b"
    subprocess.run([OPENSSL, "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-out", f"{new}.key"],
                   check=True, capture_output=True)
    subprocess.run([OPENSSL, "req", "-new", "-key", f"{new}.key", "-subj",
                    "/O=ACME Devices/CN=acme-router/serialNumber=SN-0002",
                    "-out", f"{new}.csr"], check=True, capture_output=True)
    subprocess.run([OPENSSL, "ca", "-batch", "-config",
                    pki / "ca-mfr-int" / "ca.cnf", "-preserveDN", "-notext",
                    "-extensions", "v3_device", "-in", f"{new}.csr", "-out",
                    f"{new}.pem"], check=True, capture_output=True)
    dev2 = tls_device("dev-SN-0002b")
    dev2.dial(h.tls_port)
    ev = wait_event(h, "cert-rotated", r"serial:SN-0002 presented a new "
                    r"certificate .* \(was x509:SHA256:[0-9a-f]{64}\); its "
                    r"chain validated", device="r9")
    assert first in ev["detail"]
    # the newer connection replaced the older one
    wait_event(h, "replaced", r"replaced by", device="r9")
    assert device_rec(h, "r9")["certificate"] != first


# ---------------------------------------------------------------- refused

def test_unknown_serial_pending_then_approved(tls_hub, tls_device, pki):
    h = tls_hub()          # --admission approve
    dev = tls_device("dev-SN-0002")
    dev.dial(h.tls_port)
    h.proc.wait_log(r"connection closed: unknown serial number: recorded "
                    r"as pending")
    wait_event(h, "refused", r"unknown serial number",
               device="serial:SN-0002")
    assert device_rec(h, "SN-0002")["admission"] == "pending"
    assert not dev.got_hello.is_set()       # nothing after the handshake
    rc, out, err = h.cli("approve", "SN-0002", "--name", "late")
    assert rc == 0, err
    dev2 = tls_device("dev-SN-0002")
    dev2.dial(h.tls_port)
    (d,) = h.wait_device_connected()
    assert d["name"] == "late"


def test_unknown_serial_known_only(tls_hub, tls_device, pki):
    h = tls_hub(admission="known-only")
    dev = tls_device("dev-SN-0002")
    dev.dial(h.tls_port)
    h.proc.wait_log(r"connection closed: unknown serial number or "
                    r"certificate \(--admission known-only\)")
    wait_event(h, "refused", r"unknown serial number called from",
               device="serial:SN-0002")
    rc, out, err = h.cli("device", "SN-0002")
    assert rc == 4                          # no record, only the event


@pytest.mark.parametrize("cert,chain,log_re,event_re", [
    ("dev-expired", True, r"expired certificate",
     r"^expired certificate: certificate has expired"),
    ("dev-wrongca", False, r"unknown issuer",
     r"^unknown issuer: the chain leads to no --trust-anchor"),
    ("dev-revoked", True, r"revoked certificate \(CRL\)",
     r"^revoked certificate \(CRL\): certificate revoked"),
    # no intermediate sent: the hub does not go looking for it
    ("dev-SN-0001", False, r"unknown issuer", r"^unknown issuer"),
])
def test_refused_certificates(tls_hub, tls_device, pki, cert, chain, log_re,
                              event_re):
    h = tls_hub()
    import_serials(h, pki)       # SN-0001 is listed: the chain decides
    dev = tls_device(cert, chain=chain)
    dev.dial(h.tls_port)
    h.proc.wait_log(r"TLS refused: " + log_re)
    h.proc.wait_log(r"connection closed: " + log_re)
    ev = wait_event(h, "refused", event_re)
    assert "from 127.0.0.1:" in ev["detail"]
    # a failed handshake proves no identity: the certificate's is only
    # quoted, and the event is filed under no device
    assert not ev["device"], ev
    if cert != "dev-wrongca":
        assert ", claiming serial:" in ev["detail"], ev
        assert ", unverified" in ev["detail"], ev
    assert not dev.got_hello.is_set()
    assert all(d["state"] != "connected" for d in h.devices())


def test_tls_1_1_device_refused(tls_hub, tls_device, pki):
    h = tls_hub()
    import_serials(h, pki)
    # Debian's OpenSSL offers TLS 1.1 only at security level 0.
    dev = tls_device("dev-SN-0001", s_server_args=[
        "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"])
    dev.dial(h.tls_port)
    h.proc.wait_log(r"TLS refused: TLS protocol version refused \(TLS 1\.2 "
                    r"or 1\.3 required\)")
    wait_event(h, "refused", r"^TLS protocol version refused")
    assert not dev.got_hello.is_set()


def test_failed_handshakes_count_for_the_blocklist(tls_hub, tls_device, pki):
    h = tls_hub(extra=["--block-after", "2"])
    for i in range(2):
        dev = tls_device("dev-expired", name=f"bl{i}")
        dev.dial(h.tls_port)
        h.proc.wait_log(r"connection closed: expired certificate",
                        since=0)
        wait_for(lambda: dev.p.poll() is not None, 10, "s_server exit")
    h.proc.wait_log(r"blocking 127\.0\.0\.1:\d+ for \d+ s after 2 failed "
                    r"handshakes")


def test_silent_tls_peer_hits_the_handshake_deadline(tls_hub, pki):
    """A peer that connects to 4335 and never answers the ClientHello
    costs one socket until --handshake-timeout, and --max-handshakes
    applies to TLS connections as to SSH ones."""
    import socket
    # one process: with several workers each takes its share of the
    # limit, rounded up (docs/scale.md)
    h = tls_hub(extra=["--handshake-timeout", "1", "--max-handshakes", "1",
                       "--block-after", "0", "--workers", "1"])
    s1 = socket.create_connection(("127.0.0.1", h.tls_port))
    h.proc.wait_log(r"device called \(tls\)")
    s2 = socket.create_connection(("127.0.0.1", h.tls_port))
    h.proc.wait_log(r"1 handshakes in progress, refusing 127\.0\.0\.1")
    s2.settimeout(5)
    assert s2.recv(100) == b""              # closed before any crypto
    h.proc.wait_log(r"connection closed: handshake did not finish in time",
                    timeout=5)
    s1.settimeout(5)
    data = s1.recv(4096)                    # the ClientHello, then EOF
    while data:
        data = s1.recv(4096)
    s1.close()
    s2.close()


# ---------------------------------------------------------------- liveness

@pytest.mark.ch_timeout(60)
def test_keepalive_probe_over_tls(tls_hub, tls_device, pki):
    h = tls_hub(extra=["--keepalive", "1", "--keepalive-count", "2"])
    import_serials(h, pki)
    dev = tls_device("dev-SN-0001")
    dev.dial(h.tls_port)
    h.wait_device_connected()
    # an answering device stays: probes go out and are answered
    wait_for(lambda: sum(m.startswith("ch-ka-") for m, _ in dev.rpcs) >= 2,
             10, "two keep-alive probes", proc=h.proc)
    assert all(d["state"] == "connected" for d in h.devices())
    probe = next(t for m, t in dev.rpcs if m.startswith("ch-ka-"))
    assert "<get>" in probe and "urn:callhome:keepalive" in probe
    # a device whose NETCONF server hangs (TCP and TLS still fine) is
    # found dead within interval * (count + 1) of its last byte
    dev.answer = False
    t0 = time.monotonic()
    h.proc.wait_log(r"connection closed: no answer to keep-alives",
                    timeout=15)
    assert time.monotonic() - t0 < 6


# ---------------------------------------------------------------- agent

def test_hub_and_agent_over_tls(tls_hub, agent, pki):
    h = tls_hub()
    import_serials(h, pki)
    a = agent(hub=h, call_home=[], running_xml=(
        f'<system xmlns="{TEST_NS}"><hostname>dev1</hostname></system>'),
        extra=[
        "--yang-dir", REPO / "tests" / "yang", "--module", "callhome-test",
        "--call-home-tls", f"127.0.0.1:{h.tls_port}",
        "--cert", pki / "dev-SN-0001.pem", "--key", pki / "dev-SN-0001.key",
        "--chain", pki / "mfr-chain.pem", "--client-ca", pki / "op-ca.pem",
        "--cert-to-name", "*,specified,admin"])
    (d,) = h.wait_device_connected(timeout=20)
    assert d["fingerprint"] == "serial:SN-0001"
    rc, out, err = h.cli("get-config", "edge-1")
    assert rc == 0, err
    assert "<hostname>dev1</hostname>" in out
    # a change through the job queue, applied over TLS
    cfg = pki / "edit.xml"
    cfg.write_text(f'<system xmlns="{TEST_NS}">'
                   "<hostname>set-over-tls</hostname></system>")
    rc, out, err = h.cli("edit-config", "edge-1", "--queue", "--wait", cfg)
    assert rc == 0, err
    rc, out, err = h.cli("get-config", "edge-1")
    assert rc == 0 and "<hostname>set-over-tls</hostname>" in out, (out, err)
    assert a.proc.alive()


def test_agent_uses_a_renewed_certificate_at_its_next_call(tls_hub, agent,
                                                          pki, workdir):
    """The agent keeps its TLS context between calls, but not past a
    change of its files: a certificate replaced on disk is the one the
    next call presents."""
    h = tls_hub()
    import_serials(h, pki)
    cert, key = workdir / "device.pem", workdir / "device.key"
    shutil.copy(pki / "dev-SN-0001.pem", cert)
    shutil.copy(pki / "dev-SN-0001.key", key)
    a = agent(hub=h, call_home=[], extra=[
        "--call-home-tls", f"127.0.0.1:{h.tls_port}", "--cert", cert,
        "--key", key, "--chain", pki / "mfr-chain.pem", "--client-ca",
        pki / "op-ca.pem", "--cert-to-name", "*,specified,admin",
        "--backoff-base", "100", "--backoff-max", "300"])
    (d,) = h.wait_device_connected(timeout=20)
    assert d["fingerprint"] == "serial:SN-0001"
    # the same files: the next call reuses the context
    mark = a.proc.mark()
    subprocess.run(["ss", "-K", "-t", "state", "established",
                    f"( dport = :{h.tls_port} )"], check=True,
                   capture_output=True, timeout=10)
    a.proc.wait_log(r"NETCONF hello done", since=mark, timeout=20)
    assert "new context" not in a.proc.log()[mark:]
    # renewed on disk (another device identity, to tell them apart)
    shutil.copy(pki / "dev-SN-0002.pem", cert)
    shutil.copy(pki / "dev-SN-0002.key", key)
    mark = a.proc.mark()
    subprocess.run(["ss", "-K", "-t", "state", "established",
                    f"( dport = :{h.tls_port} )"], check=True,
                   capture_output=True, timeout=10)
    a.proc.wait_log(r"TLS files changed: new context", since=mark,
                    timeout=20)
    wait_for(lambda: any(x["fingerprint"] == "serial:SN-0002"
                         for x in h.devices()), 10, "SN-0002 to call")
