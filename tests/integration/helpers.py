"""Helpers for callhome's integration tests: processes with captured logs,
ports, key fingerprints, NETCONF 1.0 framing, third-party peers (OpenSSH
sshd -i dialled out by socat, yuma123 netconfd) and network namespaces.

Synchronisation is always "poll with a deadline" (wait_for / Proc.wait_log),
never a bare sleep.
"""

import base64
import ctypes
import hashlib
import itertools
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS_DIR = HERE / "peers"
REPO = HERE.parent.parent

SSHD = "/usr/sbin/sshd"
SSH = "/usr/bin/ssh"
SSH_KEYGEN = "/usr/bin/ssh-keygen"
SOCAT = "/usr/bin/socat"
NETCONFD = "/usr/sbin/netconfd"
NETCONF_SUBSYSTEM = "/usr/sbin/netconf-subsystem"

EOM = b"]]>]]>"  # NETCONF 1.0 end of message (RFC 6242 section 4.3)
NS_BASE = "urn:ietf:params:xml:ns:netconf:base:1.0"

HELLO_10 = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<hello xmlns="{NS_BASE}"><capabilities>'
    "<capability>urn:ietf:params:netconf:base:1.0</capability>"
    "</capabilities></hello>"
).encode() + EOM


def rpc_10(body, message_id=1):
    """One framed NETCONF 1.0 <rpc> around body (bytes)."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>'
        f'<rpc message-id="{message_id}" xmlns="{NS_BASE}">{body}</rpc>'
    ).encode() + EOM


GET_CONFIG_RUNNING = "<get-config><source><running/></source></get-config>"
CLOSE_SESSION = "<close-session/>"

# What the agent fixture puts in DATASTORE/running.xml (content of <data>).
SAMPLE_RUNNING_XML = """\
<interfaces xmlns="urn:ietf:params:xml:ns:yang:ietf-interfaces">
  <interface>
    <name>eth0</name>
    <description>callhome integration sample</description>
    <type xmlns:ianaift="urn:ietf:params:xml:ns:yang:iana-if-type">ianaift:ethernetCsmacd</type>
    <enabled>true</enabled>
  </interface>
</interfaces>
"""


# ---------------------------------------------------------------- basics

def build_dir():
    """The cmake build dir holding our binaries: $CH_BUILD_DIR, else
    <repo>/build (tests/integration/../../build)."""
    env = os.environ.get("CH_BUILD_DIR")
    return Path(env) if env else REPO / "build"


def binary(name):
    return build_dir() / name


def ctl_request(sock_path, obj, timeout=15):
    """Sends one request line to a hub's control socket and returns the
    decoded response line."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    try:
        s.connect(str(sock_path))
        line = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        s.sendall(line + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
        return json.loads(buf)
    finally:
        s.close()


def listener(host="127.0.0.1", timeout=20):
    """A listening TCP socket on a free port: a stand-in manager that a
    call-home device dials. Returns (socket, port)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 0))
    s.listen(16)
    s.settimeout(timeout)
    return s, s.getsockname()[1]


def read_until_closed(sock, timeout):
    """Reads until the peer closes (or resets) the connection; returns
    (bytes read, seconds waited). socket.timeout if it never does."""
    sock.settimeout(timeout)
    t0 = time.monotonic()
    got = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
    except ConnectionResetError:
        pass
    return got, time.monotonic() - t0


def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago (bind to port 0, read, close).
    Racy by nature; good enough for tests on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for(pred, timeout, what, interval=0.05, proc=None):
    """Polls pred() until it returns something truthy, which is returned.
    Raises TimeoutError naming what after timeout seconds; fails early if
    proc (a Proc) exits meanwhile."""
    __tracebackhide__ = True
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if proc is not None and not proc.alive():
            v = pred()  # it may have done it on its way out
            if v:
                return v
            raise AssertionError(
                f"{proc.name} exited (rc={proc.returncode()}) while waiting "
                f"for {what}\n{proc.tail()}")
        if time.monotonic() >= deadline:
            tail = f"\n{proc.tail()}" if proc is not None else ""
            raise TimeoutError(f"timed out after {timeout}s waiting for "
                               f"{what}{tail}")
        time.sleep(interval)


def port_listening(port, netns=None):
    """True if something listens on TCP port (any address) in netns."""
    argv = ["ss", "-Hltn", f"sport = :{port}"]
    if netns:
        argv = ["ip", "netns", "exec", netns] + argv
    out = subprocess.run(argv, capture_output=True, text=True, timeout=5)
    return out.returncode == 0 and out.stdout.strip() != ""


def _children_map():
    """ppid -> [pid] for every process now visible in /proc."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # comm may hold spaces and parens: ppid follows the last ')'.
        fields = stat[stat.rfind(b")") + 2:].split()
        kids.setdefault(int(fields[1]), []).append(int(d))
    return kids


def descendants(pid):
    """Every process below pid (children, grandchildren, ...)."""
    kids = _children_map()
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def tree_rss_kb(pid):
    """VmRSS of pid and its descendants (a hub's workers) together, kB."""
    total = 0
    for p in [pid] + descendants(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) for line in f
                              if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total


def loadgen_report(proc):
    """callhome-loadgen's report (its last one, in proc's log) as a
    dict of its 'key: value' lines."""
    r = {}
    for line in proc.log().splitlines():
        if ": " in line and not line.startswith((" ", "t=", "callhome")):
            k, v = line.split(": ", 1)
            r[k] = v
    return r


def _kill(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


# ---------------------------------------------------------------- Proc

class Proc:
    """A daemon under test. stdout and stderr go to LOGDIR/NAME.log, which
    the conftest hook prints when the test fails. Started in its own
    session, so stop() also reaches what it spawned."""

    def __init__(self, name, argv, log_dir, env=None, cwd=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = Path(log_dir) / f"{name}.log"
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        with open(self.log_path, "ab") as log:
            log.write(("+ " + " ".join(self.argv) + "\n").encode())
            log.flush()
            self.popen = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=full_env, cwd=cwd,
                start_new_session=True)
        self.started = time.monotonic()

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def returncode(self):
        return self.popen.poll()

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines=40):
        text = self.log().splitlines()[-lines:]
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(text)

    def mark(self):
        """Current end of the log; pass to wait_log(since=) to wait for
        lines written after this point only."""
        return len(self.log())

    def wait_log(self, regex, timeout=10.0, since=0, flags=re.M):
        """Waits until regex matches the log (from offset since); returns
        the match. Fails early if the process exits without it."""
        __tracebackhide__ = True
        pat = re.compile(regex, flags)

        def found():
            return pat.search(self.log(), since)
        return wait_for(found, timeout, f"/{regex}/ in {self.name}'s log",
                        proc=self)

    def wait_exit(self, timeout=10.0):
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{self.name} still running after "
                               f"{timeout}s\n{self.tail()}") from None

    def stop(self, timeout=5.0):
        """SIGTERM, wait up to timeout, then SIGKILL. Anything it spawned
        (even in another session, like sshd's children) is killed too.
        Returns the exit status (negative: killed by that signal)."""
        tree = descendants(self.pid) if self.alive() else []
        if self.alive():
            _kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                _kill(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        for pid in tree:
            _kill(pid, signal.SIGKILL)
        return self.popen.returncode

    def signal(self, sig):
        """Sends sig to the process (not its children)."""
        _kill(self.pid, sig)

    def kill9(self):
        """SIGKILL, no grace: the crash case."""
        if self.alive():
            _kill(self.pid, signal.SIGKILL)
        self.popen.wait(5)
        return self.popen.returncode


class ProcGroup:
    """Every Proc of one test, stopped in reverse order at its end."""

    def __init__(self, log_dir):
        self.log_dir = Path(log_dir)
        self.procs = []

    def spawn(self, name, argv, env=None, cwd=None):
        base, n = name, 2
        while any(p.name == name for p in self.procs):
            name, n = f"{base}-{n}", n + 1
        p = Proc(name, argv, self.log_dir, env=env, cwd=cwd)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.procs):
            try:
                p.stop()
            except Exception:  # keep going: every process must die
                p.kill9()


# ---------------------------------------------------------------- keys

def ssh_keygen(path, keytype="ed25519", comment="test"):
    """A new unencrypted OpenSSH key at path (+ path.pub)."""
    path = Path(path)
    for p in (path, Path(f"{path}.pub")):
        if p.exists():
            p.unlink()
    subprocess.run([SSH_KEYGEN, "-q", "-t", keytype, "-N", "", "-C",
                    comment, "-f", str(path)], check=True, timeout=30)
    return path


def authorized_keys_text(keys):
    """An authorized_keys file from .pub paths and/or "type base64
    [comment]" lines."""
    lines = []
    for k in keys:
        k = str(k)
        if re.match(r"^(ssh-|ecdsa-|sk-)\S+ AAAA", k):
            lines.append(k.strip())
        else:
            lines.append(Path(k).read_text().strip())
    return "\n".join(lines) + "\n"


def pub_blob_b64(pub_path):
    """The base64 field of a .pub file (what ncclient's hostkey_b64 and a
    known_hosts line take)."""
    return Path(pub_path).read_text().split()[1]


def pub_type(pub_path):
    return Path(pub_path).read_text().split()[0]


def fingerprint_b64(b64):
    """"SHA256:..." of a key blob given as base64, as OpenSSH prints it."""
    digest = hashlib.sha256(base64.b64decode(b64)).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def fingerprint_of_pub(pub_path):
    return fingerprint_b64(pub_blob_b64(pub_path))


def ssh_keygen_fingerprint(pub_path):
    """The fingerprint exactly as `ssh-keygen -lf` prints it."""
    out = subprocess.run([SSH_KEYGEN, "-lf", str(pub_path)], check=True,
                         capture_output=True, text=True, timeout=10).stdout
    return out.split()[1]


# ---------------------------------------------------------------- NETCONF

def read_until(read, deadline, delim=EOM, buf=b""):
    """Reads with read(n) -> bytes (b"" on EOF, None if nothing yet) until
    delim; returns (message, rest). Raises TimeoutError / EOFError."""
    while delim not in buf:
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no {delim!r} yet; got {buf[-500:]!r}")
        chunk = read(65536)
        if chunk is None:
            continue
        if chunk == b"":
            raise EOFError(f"EOF before {delim!r}; got {buf[-500:]!r}")
        buf += chunk
    i = buf.index(delim)
    return buf[:i], buf[i + len(delim):]


def fd_reader(fd, poll_s=0.1):
    """read(n) over a pipe or socket fd with a short poll, for read_until."""
    def read(n):
        r, _, _ = select.select([fd], [], [], poll_s)
        if not r:
            return None
        return os.read(fd, n)
    return read


# ---------------------------------------------------------------- netconfd

class Netconfd:
    """yuma123 netconfd on a private UNIX socket, HOME in the test dir (it
    writes ~/.yuma/). Sessions reach it through netconf-subsystem."""

    def __init__(self, procs, workdir, superuser):
        self.dir = Path(workdir) / "netconfd"
        self.dir.mkdir(exist_ok=True)
        self.sock = self.dir / "ncxserver.sock"
        self.proc = procs.spawn("netconfd", [
            NETCONFD, f"--ncxserver-sockname={self.sock}", "--port=830",
            f"--superuser={superuser}", "--no-startup",
            "--log-level=info", f"--log={self.dir / 'netconfd.log'}",
        ], env={"HOME": str(self.dir)}, cwd=str(self.dir))
        wait_for(self.sock.exists, 15, "netconfd's socket", proc=self.proc)

    def log(self):
        p = self.dir / "netconfd.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def active_sessions(self):
        """How many sessions have completed their hello exchange so far
        (netconfd logs each at info level)."""
        return len(re.findall(r"^Session \d+ for \S+ now active",
                              self.log(), re.M))

    def wait_active(self, n, timeout=10):
        """Waits until n sessions have finished their hello exchange.
        netconfd silently drops an <rpc> that arrives in the same read as
        the client's <hello>, so a raw client must wait for this before
        its first rpc."""
        return wait_for(lambda: self.active_sessions() >= n, timeout,
                        f"{n} active netconfd session(s)", proc=self.proc)


# ---------------------------------------------------------------- OpenSSH

class OpenSSHDevice:
    """A genuine OpenSSH server acting as a call-home device: socat dials
    the manager, then execs `sshd -i` on the connected socket (nofork:
    without it sshd sees the peer as UNKNOWN and netconfd 2.13 aborts).

    The sshd config is private to the test: own host key, PidFile none,
    UsePAM no, AuthorizedKeysFile in the test dir, StrictModes no, and
    `Subsystem netconf` running yuma's netconf-subsystem through
    peers/netconf-subsystem.sh (fixes the SSH_CONNECTION port, see there).
    Users log in as the user running the tests (root in CI, allowed with
    PermitRootLogin prohibit-password: keys only)."""

    def __init__(self, procs, workdir, netconfd, authorized_pubkeys,
                 name="sshdev"):
        self.procs = procs
        self.name = name
        self.dir = Path(workdir) / name
        self.dir.mkdir()
        self.user = current_user()
        self.hostkey = ssh_keygen(self.dir / "ssh_host_ed25519_key",
                                  comment=f"{name}-hostkey")
        self.hostkey_pub = Path(f"{self.hostkey}.pub")
        self.fingerprint = ssh_keygen_fingerprint(self.hostkey_pub)
        self.hostkey_b64 = pub_blob_b64(self.hostkey_pub)
        self.authorized_keys = self.dir / "authorized_keys"
        self.set_authorized_keys(authorized_pubkeys)
        self.sshd_log = self.dir / "sshd.log"
        self.config = self.dir / "sshd_config"
        template = (PEERS_DIR / "sshd_config.in").read_text()
        self.config.write_text(template.format(
            hostkey=self.hostkey, authorized_keys=self.authorized_keys,
            subsystem=f"/bin/sh {PEERS_DIR / 'netconf-subsystem.sh'} "
                      f"{netconfd.sock}"))
        # Debian's sshd wants its privilege separation directory.
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        subprocess.run([SSHD, "-t", "-f", str(self.config)], check=True,
                       capture_output=True, timeout=10)
        self.dials = []

    def set_authorized_keys(self, pubkeys):
        """pubkeys: see authorized_keys_text."""
        self.authorized_keys.write_text(authorized_keys_text(pubkeys))

    def dial(self, port, host="127.0.0.1", retries=0, interval=0.2):
        """Dials host:port once (socat: one connection, one sshd -i).
        retries > 0 retries a refused connect, like a real device
        would. Returns the Proc (socat, then sshd after exec)."""
        # nodelay: sshd leaves Nagle on for sessions without a pty, and
        # socat relays its small packets; without it each waits 40 ms.
        opts = [f"TCP:{host}:{port}", "connect-timeout=5", "nodelay"]
        if retries:
            opts += [f"retry={retries}", f"interval={interval}"]
        exec_ = (f"EXEC:{SSHD} -i -f {self.config} -E {self.sshd_log},"
                 "nofork")
        p = self.procs.spawn(f"{self.name}-socat",
                             [SOCAT, "-d", "-d", ",".join(opts), exec_])
        self.dials.append(p)
        return p

    def log(self):
        return (self.sshd_log.read_text(errors="replace")
                if self.sshd_log.exists() else "")


def current_user():
    import pwd
    return pwd.getpwuid(os.getuid()).pw_name


class OpenSSHClient:
    """A genuine OpenSSH client playing the call-home manager: socat inside
    ProxyCommand listens for the device, ssh runs over it and pins the
    device's host key through HostKeyAlias + a private known_hosts."""

    def __init__(self, workdir, name="sshcli"):
        self.dir = Path(workdir) / name
        self.dir.mkdir()
        self.key = ssh_keygen(self.dir / "id_ed25519", comment=name)
        self.pub = Path(f"{self.key}.pub")
        self.known_hosts = self.dir / "known_hosts"
        self.log = self.dir / "ssh.log"

    def trust(self, alias, hostkey_pub):
        with open(self.known_hosts, "a") as f:
            f.write(f"{alias} {pub_type(hostkey_pub)} "
                    f"{pub_blob_b64(hostkey_pub)}\n")

    def argv(self, port, user, *remote, alias="dev", accept_timeout=20,
             options=(), bind="127.0.0.1"):
        """ssh's command line: it waits for the device on bind:port (socat
        in ProxyCommand) and pins its host key; remote: what follows the
        host (-s NAME, a command, ...); options: more ssh flags."""
        proxy = (f"{SOCAT} - TCP-LISTEN:{port},bind={bind},reuseaddr,"
                 f"accept-timeout={accept_timeout}")
        return [SSH, "-F", "/dev/null", "-E", str(self.log),
                "-o", f"ProxyCommand={proxy}",
                "-o", f"HostKeyAlias={alias}",
                "-o", f"UserKnownHostsFile={self.known_hosts}",
                "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "StrictHostKeyChecking=yes",
                "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
                "-o", "IdentityAgent=none", "-i", str(self.key),
                "-l", user, *options, alias, *remote]

    def subsystem(self, port, user, subsystem="netconf", alias="dev",
                  accept_timeout=20):
        """Starts `ssh -s` waiting for the device on port; returns the
        Popen with pipes for stdin/stdout (stderr goes to self.log)."""
        argv = self.argv(port, user, subsystem, alias=alias,
                         accept_timeout=accept_timeout, options=["-s"])
        return subprocess.Popen(argv, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL,
                                start_new_session=True)


# ---------------------------------------------------------------- netns

_libc = None
CLONE_NEWNET = 0x40000000


def in_netns(ns, fn, *args):
    """Runs fn(*args) on a fresh thread that has joined network namespace
    ns, and returns its result. Sockets created there stay in ns, so a
    test can listen or connect inside a namespace without a subprocess
    (Python 3.11 has no os.setns; setns(2) through ctypes)."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    result, error = [], []

    def run():
        try:
            fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    e = ctypes.get_errno()
                    raise OSError(e, f"setns {ns}: {os.strerror(e)}")
            finally:
                os.close(fd)
            result.append(fn(*args))
        except BaseException as e:  # re-raised on the caller's thread
            error.append(e)

    t = threading.Thread(target=run, name=f"netns-{ns}")
    t.start()
    t.join()
    if error:
        raise error[0]
    return result[0]


class Netns:
    """Network namespaces a test creates and removes, one per role,
    named after this process so parallel runs cannot collide. A subclass
    lists its ROLES and builds its topology in _build (addresses in
    198.18.0.0/15 only); a failing build removes what it made."""

    ROLES = ()
    _seq = itertools.count(1)

    def __init__(self, procs):
        self.procs = procs
        tag = f"ch{os.getpid()}x{next(self._seq)}"
        self.ns = {role: f"{tag}-{role}" for role in self.ROLES}
        self.created = []
        try:
            for ns in self.ns.values():
                self._ip("netns", "add", ns)
                self.created.append(ns)
                self._ip("-n", ns, "link", "set", "lo", "up")
            self._build()
        except Exception:
            self.teardown()
            raise

    def _build(self):
        raise NotImplementedError

    def _ip(self, *args):
        subprocess.run(["ip"] + list(args), check=True, capture_output=True,
                       timeout=10)

    def veth(self, a, a_dev, a_addr, b, b_dev, b_addr):
        """A veth pair between roles a and b, both ends created inside
        their namespaces (no names in the root namespace), addressed and
        up."""
        self._ip("-n", self.ns[a], "link", "add", a_dev, "type", "veth",
                 "peer", "name", b_dev, "netns", self.ns[b])
        for role, dev, addr in ((a, a_dev, a_addr), (b, b_dev, b_addr)):
            self._ip("-n", self.ns[role], "addr", "add", addr, "dev", dev)
            self._ip("-n", self.ns[role], "link", "set", dev, "up")

    def ip(self, role, *args):
        """`ip ARGS...` inside namespace role."""
        self._ip("-n", self.ns[role], *args)

    def argv(self, role, argv):
        return ["ip", "netns", "exec", self.ns[role]] + [str(a)
                                                          for a in argv]

    def run(self, role, argv, timeout=10, check=True, **kw):
        """Runs a command to completion inside namespace role; returns
        the CompletedProcess (text)."""
        return subprocess.run(self.argv(role, argv), capture_output=True,
                              text=True, timeout=timeout, check=check, **kw)

    def spawn(self, role, name, argv, env=None):
        """Starts a daemon inside namespace role as a Proc (log captured,
        stopped at test end)."""
        return self.procs.spawn(name, self.argv(role, argv), env=env)

    def call(self, role, fn, *args):
        """fn(*args) on a thread inside namespace role (see in_netns)."""
        return in_netns(self.ns[role], fn, *args)

    def teardown(self):
        """Kills every process left in the namespaces (SIGTERM, then
        SIGKILL) and deletes them. Safe to call twice."""
        pids = []
        for ns in self.created:
            r = subprocess.run(["ip", "netns", "pids", ns],
                               capture_output=True, text=True, timeout=10)
            pids += [int(p) for p in r.stdout.split()]
        for pid in pids:
            _kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 3
        while pids and time.monotonic() < deadline:
            pids = [p for p in pids if Path(f"/proc/{p}").exists()
                    and not _is_zombie(p)]
            time.sleep(0.05)
        for pid in pids:
            _kill(pid, signal.SIGKILL)
        for ns in reversed(self.created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True,
                           timeout=10)
        self.created = []


class Nat(Netns):
    """Three namespaces: hub -- fw -- dev, joined by veth pairs, addresses
    in 198.18.0.0/15 only. fw forwards (ip_forward=1) under an nftables
    forward policy of drop: established/related pass, new connections only
    from the dev side, masqueraded out of the hub side. hub has a route to
    the dev subnet through fw, so a refused inbound connection is the
    firewall's doing, not a missing route.

        hub 198.18.1.1/24 [fw0] == [hub0] 198.18.1.254  fw
        fw  198.18.2.254  [dev0] == [fw0] 198.18.2.2/24 dev (default via fw)
    """

    ROLES = ("hub", "fw", "dev")
    HUB = "198.18.1.1"
    FW_HUB = "198.18.1.254"
    FW_DEV = "198.18.2.254"
    DEV = "198.18.2.2"

    NFT_RULES = """\
table inet chnat {
    chain forward {
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname "dev0" oifname "hub0" ct state new accept
    }
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "hub0" masquerade
    }
}
"""

    def __init__(self, procs):
        super().__init__(procs)
        self.hub, self.fw, self.dev = (self.ns[r] for r in Nat.ROLES)

    def _build(self):
        self.veth("hub", "fw0", f"{self.HUB}/24",
                  "fw", "hub0", f"{self.FW_HUB}/24")
        self.veth("dev", "fw0", f"{self.DEV}/24",
                  "fw", "dev0", f"{self.FW_DEV}/24")
        self.ip("dev", "route", "add", "default", "via", self.FW_DEV)
        self.ip("hub", "route", "add", "198.18.2.0/24", "via", self.FW_HUB)
        self.run("fw", ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        r = subprocess.run(["ip", "netns", "exec", self.ns["fw"], "nft",
                            "-f", "-"], input=self.NFT_RULES, text=True,
                           capture_output=True, timeout=10)
        if r.returncode != 0:
            raise RuntimeError(f"nft failed: {r.stderr}")


def _is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return stat[stat.rfind(b")") + 2:].split()[0] == b"Z"
    except OSError:
        return True


def netns_usable():
    """None if we can create network namespaces here, else the reason."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "nft", "sysctl", "ss"):
        if shutil.which(tool) is None:
            return f"{tool} not installed"
    r = subprocess.run(["ip", "netns", "list"], capture_output=True,
                       text=True, timeout=10)
    if r.returncode != 0:
        return f"`ip netns` unavailable: {r.stderr.strip()}"
    return None


def json_devices(text):
    """Parses `callhome devices --json` output (the hub's response object,
    as every --json): the devices."""
    resp = json.loads(text)
    assert resp["ok"] is True, resp
    return resp["devices"]
