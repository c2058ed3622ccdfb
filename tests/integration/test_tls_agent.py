"""callhomed over TLS (RFC 8071 + RFC 7589) against `openssl s_client` as
the manager. s_client cannot take a connected fd, so socat plays the
manager's listener: it accepts the agent's TCP call on PORT, then relays it
to a UNIX socket where s_client connects (the TLS client, as RFC 8071 says
the manager is). A test PKI is made with the openssl command per test."""

import os
import re
import socket
import subprocess
import time

import pytest

from helpers import SOCAT, free_port, port_listening, ssh_keygen, wait_for

OPENSSL = "/usr/bin/openssl"
FAST = ["--backoff-base", "100", "--backoff-max", "500"]
NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
EOM = "]]>]]>"
HELLO = (f'<?xml version="1.0" encoding="UTF-8"?><hello xmlns="{NS}">'
         "<capabilities><capability>urn:ietf:params:netconf:base:1.0"
         "</capability></capabilities></hello>" + EOM)


def rpc(body, mid):
    return f'<rpc message-id="{mid}" xmlns="{NS}">{body}</rpc>' + EOM


def ossl(*args, cwd):
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, timeout=30,
                   capture_output=True)


def make_pki(d):
    """mroot -> minter -> dev (serialNumber SN-0001): the manufacturer;
    oroot -> hub (SAN DNS:Hub.Example.com): the operator; rogue: a
    self-signed manager certificate."""
    d.mkdir()
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    (d / "ca.ext").write_text("basicConstraints=critical,CA:TRUE\n"
                              "keyUsage=critical,keyCertSign,cRLSign\n")
    (d / "hub.ext").write_text("subjectAltName=DNS:Hub.Example.com\n")
    for root, cn in (("mroot", "Mfg Root"), ("oroot", "Operator Root"),
                     ("rogue", "rogue")):
        ossl("req", "-x509", *ec, "-keyout", f"{root}.key", "-out",
             f"{root}.pem", "-subj", f"/CN={cn}", "-days", "30",
             "-addext", "basicConstraints=critical,CA:TRUE", cwd=d)

    def issue(name, subj, ca, ext=None):
        ossl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
             "-subj", subj, cwd=d)
        ossl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem",
             "-CAkey", f"{ca}.key", "-CAcreateserial", "-out",
             f"{name}.pem", "-days", "30",
             *(["-extfile", ext] if ext else []), cwd=d)
    issue("minter", "/CN=Mfg Devices", "mroot", "ca.ext")
    issue("dev", "/CN=dev1/serialNumber=SN-0001", "minter")
    issue("hub", "/CN=hub", "oroot", "hub.ext")
    return d


def fingerprint(pem):
    """The RFC 7407 tls-fingerprint ("04:AB:...") of a PEM certificate."""
    out = subprocess.run([OPENSSL, "x509", "-noout", "-fingerprint",
                          "-sha256", "-in", str(pem)], check=True,
                         capture_output=True, text=True).stdout
    return "04:" + out.strip().split("=", 1)[1]


@pytest.fixture
def tls_agent(agent, procs, workdir):
    """Factory: a socat listener for one call, an agent calling it over
    TLS with the given cert-to-name rules. Returns (agent, unix socket)."""
    for tool in (OPENSSL, SOCAT):
        if not os.access(tool, os.X_OK):
            pytest.skip(f"{tool} not installed")
    pki = make_pki(workdir / "pki")
    mk = ssh_keygen(workdir / "mgr_key")

    def start(rules, extra=(), **kw):
        port = free_port()
        sock = workdir / f"m{port}.sock"
        procs.spawn(f"socat{port}", [
            SOCAT, f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr",
            f"UNIX-LISTEN:{sock},unlink-early"])
        wait_for(lambda: port_listening(port), 10, f"socat on {port}")
        argv = ["--call-home-tls", f"127.0.0.1:{port}",
                "--cert", pki / "dev.pem", "--key", pki / "dev.key",
                "--chain", pki / "minter.pem",
                "--client-ca", pki / "oroot.pem"]
        for r in rules:
            argv += ["--cert-to-name", r]
        a = agent(call_home=[], authorized=[f"{mk}.pub"],
                  extra=FAST + argv + list(extra), **kw)
        wait_for(sock.exists, 15, "the agent's call (socat's unix socket)",
                 proc=a.proc)
        return a, sock
    start.pki = pki
    return start


def s_client(pki, sock, stdin="", cert="hub", extra=(), timeout=20):
    """Runs openssl s_client as the manager over the relayed call: sends
    stdin, then waits until the agent closes. Returns (rc, out, err)."""
    argv = [OPENSSL, "s_client", "-unix", str(sock)]
    if cert:
        argv += ["-cert", str(pki / f"{cert}.pem"),
                 "-key", str(pki / f"{cert}.key")]
    argv += ["-CAfile", str(pki / "mroot.pem"), "-verify_return_error",
             "-quiet", *extra]
    p = subprocess.run(argv, input=stdin.encode(), capture_output=True,
                       timeout=timeout)
    return (p.returncode, p.stdout.decode(errors="replace"),
            p.stderr.decode(errors="replace"))


def test_tls_netconf_session_with_s_client(tls_agent):
    a, sock = tls_agent(["*,san-dns-name"])
    msgs = (HELLO + rpc("<get-config><source><running/></source>"
                        "</get-config>", 1) + rpc("<close-session/>", 2))
    rc, out, err = s_client(tls_agent.pki, sock, msgs)
    # the chain verified up to the manufacturer root that is all the
    # manager trusts: the device sent its intermediate (RFC 8071 S4)
    assert "depth=1 CN = Mfg Devices" in err
    assert "depth=0 CN = dev1, serialNumber = SN-0001" in err
    assert rc == 0, err
    assert re.search(r"<hello [^>]*>.*<session-id>\d+</session-id></hello>"
                     + re.escape(EOM), out, re.S)
    assert "<name>eth0</name>" in out
    assert out.endswith('message-id="2"><ok/></rpc-reply>' + EOM)
    a.proc.wait_log(r"TLSv1\.3 \S+, manager certificate SHA256:[0-9a-f]{64} "
                    r"\(/CN=hub\) is user 'hub\.example\.com' by "
                    r"cert-to-name rule 1")
    a.proc.wait_log(r"connection closed: closed by the manager "
                    r"\(close-session\)")


def test_tls_ca_fingerprint_rule(tls_agent):
    """Rule 1 names another certificate and is skipped; rule 2 pins the
    operator CA of the manager's chain and specifies the user."""
    pki = tls_agent.pki
    a, sock = tls_agent([fingerprint(pki / "rogue.pem") + ",san-dns-name",
                         fingerprint(pki / "oroot.pem") + ",specified,admin"])
    rc, out, err = s_client(pki, sock, HELLO + rpc("<close-session/>", 1))
    assert rc == 0, err
    assert out.endswith('message-id="1"><ok/></rpc-reply>' + EOM)
    a.proc.wait_log(r"is user 'admin' by cert-to-name rule 2")


def test_tls_no_cert_to_name_match(tls_agent):
    a, sock = tls_agent(["*,san-rfc822-name"])
    rc, out, err = s_client(tls_agent.pki, sock, HELLO)
    assert "<hello" not in out           # nothing before the identity
    a.proc.wait_log(r"\(/CN=hub\) maps to no user: rule 1 "
                    r"\(san-rfc822-name\) matched but the certificate has "
                    r"no rfc822Name")
    a.proc.wait_log(r"connection closed: manager certificate matches no "
                    r"cert-to-name rule")


def test_tls_untrusted_manager(tls_agent):
    a, sock = tls_agent(["*,common-name"])
    rc, out, err = s_client(tls_agent.pki, sock, HELLO, cert="rogue")
    assert "<hello" not in out
    a.proc.wait_log(r"TLS handshake failed: TLS handshake: certificate "
                    r"verify failed: self-signed certificate \(depth 0: "
                    r"/CN=rogue\)")
    a.proc.wait_log(r"connection closed: manager certificate refused")


def test_tls_manager_without_certificate(tls_agent):
    a, sock = tls_agent(["*,common-name"])
    rc, out, err = s_client(tls_agent.pki, sock, HELLO, cert=None)
    assert "<hello" not in out
    a.proc.wait_log(r"TLS handshake failed: TLS handshake: peer did not "
                    r"return a certificate")
    a.proc.wait_log(r"connection closed: manager certificate refused")


def test_tls_old_protocol_refused(tls_agent):
    a, sock = tls_agent(["*,san-dns-name"])
    rc, out, err = s_client(tls_agent.pki, sock, HELLO,
                            extra=["-tls1_1", "-cipher",
                                   "DEFAULT:@SECLEVEL=0"])
    assert rc != 0
    assert "alert protocol version" in err
    a.proc.wait_log(r"TLS handshake failed: TLS handshake: unsupported "
                    r"protocol")


def test_tls_handshake_deadline(tls_agent):
    """A manager that accepts the call and never starts TLS is dropped
    after --auth-timeout (RFC 8071 S5)."""
    a, sock = tls_agent(["*,san-dns-name"], extra=["--auth-timeout", "1"])
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(sock))
    t0 = time.monotonic()
    a.proc.wait_log(r"manager did not complete the TLS handshake in time",
                    timeout=10)
    s.settimeout(10)
    assert s.recv(100) == b""             # the agent hung up
    assert time.monotonic() - t0 < 5
    s.close()


def chunked(msg):
    b = msg.encode()
    return f"\n#{len(b)}\n".encode() + b + b"\n##\n"


def test_tls_chunked_framing(tls_agent):
    """base:1.1 over TLS: the same RFC 6242 framing as over SSH."""
    a, sock = tls_agent(["*,san-dns-name"])
    hello = HELLO.replace("netconf:base:1.0</capability>",
                          "netconf:base:1.1</capability>")
    msgs = (hello.encode()
            + chunked(rpc("<get-config><source><running/></source>"
                          "</get-config>", 7)[:-len(EOM)])
            + chunked(rpc("<close-session/>", 8)[:-len(EOM)]))
    rc, out, err = s_client(tls_agent.pki, sock, msgs.decode())
    assert rc == 0, err
    assert re.search(r"\n#\d+\n<rpc-reply [^>]*message-id=\"7\"", out)
    assert "<name>eth0</name>" in out
    assert out.endswith('message-id="8"><ok/></rpc-reply>\n##\n')
    a.proc.wait_log(r"NETCONF hello done \(1 client capabilities, base:1\.1\)")


def test_tls_hello_timeout_and_bad_hello(tls_agent):
    a, sock = tls_agent(["*,san-dns-name"], extra=["--hello-timeout", "1"])
    t0 = time.monotonic()
    rc, out, err = s_client(tls_agent.pki, sock, "")
    assert "<hello" in out               # the agent's own hello
    assert time.monotonic() - t0 < 8
    a.proc.wait_log(r"connection closed: the manager sent no NETCONF hello "
                    r"in time")
    # the agent calls again: this time a broken hello
    sock.unlink(missing_ok=True)
    port = int(re.search(r"127\.0\.0\.1:(\d+)", a.proc.log()).group(1))
    mark = a.proc.mark()
    p = subprocess.Popen([SOCAT, f"TCP-LISTEN:{port},bind=127.0.0.1,"
                          "reuseaddr", f"UNIX-LISTEN:{sock},unlink-early"])
    try:
        wait_for(sock.exists, 15, "the second call", proc=a.proc)
        rc, out, err = s_client(tls_agent.pki, sock,
                                "<hello><oops>" + EOM)
        a.proc.wait_log(r"connection closed: NETCONF protocol error",
                        since=mark)
    finally:
        p.kill()
        p.wait()


def test_tls_session_is_netconf_tls_in_monitoring(tls_agent):
    """RFC 6022: a session over TLS says so in netconf-state/sessions."""
    from ncsession import MODULE
    mon = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
    a, sock = tls_agent(["*,san-dns-name"], extra=MODULE, running_xml=None)
    flt = (f'<filter type="subtree"><netconf-state xmlns="{mon}">'
           "<sessions/></netconf-state></filter>")
    rc, out, err = s_client(tls_agent.pki, sock, HELLO +
                            rpc(f"<get>{flt}</get>", 1) +
                            rpc("<close-session/>", 2))
    assert rc == 0, err
    assert re.search(r"<transport>(\w+:)?netconf-tls</transport>", out), out
    assert "netconf-ssh" not in out
