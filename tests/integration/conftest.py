"""pytest fixtures for callhome's integration tests.

Run with Debian's interpreter (python3-ncclient lives there):
    CH_BUILD_DIR=/path/to/build /usr/bin/python3 -m pytest tests/integration

Every test gets: a short private directory (`workdir`), a process group
(`procs`) that is stopped at the end whatever happens, a hard timeout
(SIGALRM; default DEFAULT_TIMEOUT_S, `@pytest.mark.ch_timeout(S)` to
change), and, when it fails, every captured log in its report.
"""

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

import helpers
from helpers import (SAMPLE_RUNNING_XML, Nat, Netconfd, OpenSSHClient,
                     OpenSSHDevice, ProcGroup, authorized_keys_text, binary,
                     fingerprint_of_pub, free_port, json_devices, ssh_keygen,
                     wait_for)

DEFAULT_TIMEOUT_S = 120
HUB_START_TIMEOUT_S = 15
CLI_TIMEOUT_S = 15


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "ch_timeout(seconds): hard timeout for one test "
        f"(default {DEFAULT_TIMEOUT_S})")
    # Debian's ncclient 0.6.13 and paramiko's invoke use deprecated APIs.
    for mod in ("ncclient", "invoke"):
        config.addinivalue_line(
            "filterwarnings", f"ignore::DeprecationWarning:{mod}.*")


# ---------------------------------------------------------------- reports

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure in any phase, attach every log of the test (our daemons,
    socat/sshd/netconfd, sshd -E files) to the report."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    item.ch_failed = True
    group = getattr(item, "ch_procs", None)
    seen = set()
    if group is not None:
        for p in group.procs:
            seen.add(p.log_path)
            rep.sections.append((f"log {p.name} (pid {p.pid})", p.log()))
    wd = getattr(item, "ch_workdir", None)
    if wd is not None and wd.exists():
        for path in sorted(wd.rglob("*.log")):
            if path in seen or not path.is_file():
                continue
            rep.sections.append((f"log {path.relative_to(wd)}",
                                 path.read_text(errors="replace")[-20000:]))
        rep.sections.append(("workdir", f"{wd} (kept)"))


# ---------------------------------------------------------------- basics

class HardTimeout(Exception):
    pass


@pytest.fixture(autouse=True)
def _hard_timeout(request):
    """SIGALRM after the test's budget. Set up first and torn down last,
    so it also bounds the setup and teardown of the other fixtures."""
    marker = request.node.get_closest_marker("ch_timeout")
    seconds = int(marker.args[0]) if marker else DEFAULT_TIMEOUT_S

    def expired(signum, frame):
        raise HardTimeout(f"test exceeded its hard timeout of {seconds}s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture
def workdir(request):
    """A short private directory (UNIX socket paths must stay under 108
    bytes, which pytest's tmp_path does not promise). Removed after a
    passing test, kept after a failing one."""
    d = Path(tempfile.mkdtemp(prefix="ch-", dir="/tmp"))
    request.node.ch_workdir = d
    yield d
    if not getattr(request.node, "ch_failed", False):
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def procs(request, workdir):
    """The test's ProcGroup: procs.spawn(name, argv) -> helpers.Proc.
    Everything spawned is stopped (SIGTERM, then SIGKILL) at the end."""
    group = ProcGroup(workdir)
    request.node.ch_procs = group
    yield group
    group.stop_all()


def _require_binary(name):
    path = binary(name)
    if path.exists():
        return path
    msg = f"{path} not built (set CH_BUILD_DIR to the cmake build dir)"
    if os.environ.get("CH_BUILD_DIR"):
        pytest.fail(msg)  # ctest sets it: a missing binary is a failure
    pytest.skip(msg)


def _require_tools(*paths):
    for p in paths:
        if not os.access(p, os.X_OK):
            pytest.skip(f"{p} not installed (scripts/install-deps.sh "
                        "installs every test peer)")


# ---------------------------------------------------------------- hub

class Hub:
    """A running callhome-hub plus the CLI to talk to it."""

    def __init__(self, proc, port, state, key, user, host, procs=None):
        self.procs = procs
        self.proc = proc
        self.port = port
        self.host = host
        self.state = state
        self.key = key
        self.pub = Path(f"{key}.pub")
        self.user = user
        self.sock = state / "hub.sock"

    @property
    def address(self):
        """HOST:PORT as our command lines take it ([v6]:port)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def fingerprint(self):
        return fingerprint_of_pub(self.pub)

    def restart(self, name, extra=()):
        """Starts this hub again (after it stopped or was killed) on the
        same state, key and port, as process NAME; waits until it serves
        (after kill -9 the old socket file is still there)."""
        self.proc = self.procs.spawn(name, [
            _require_binary("callhome-hub"), "--listen", self.address,
            "--key", self.key, "--user", self.user, "--state", self.state,
            "--log-level", "debug"] + list(extra))
        self.proc.wait_log(r"hub ready", timeout=15)

    def cli(self, *args, timeout=CLI_TIMEOUT_S, input_text=None):
        """Runs `callhome --hub SOCK ARGS...` (input_text on its standard
        input); returns (rc, stdout, stderr)."""
        argv = [str(_require_binary("callhome")), "--hub", str(self.sock)]
        argv += [str(a) for a in args]
        r = subprocess.run(argv, capture_output=True, text=True,
                           timeout=timeout, input=input_text)
        return r.returncode, r.stdout, r.stderr

    def ctl(self, obj, timeout=CLI_TIMEOUT_S):
        """One request on the control socket, the decoded response (a
        raw line is sent as is when obj is bytes)."""
        return helpers.ctl_request(self.sock, obj, timeout)

    def devices(self):
        rc, out, err = self.cli("devices", "--json")
        assert rc == 0, f"callhome devices --json: rc={rc}\n{err}"
        return json_devices(out)

    def wait_device_connected(self, n=1, timeout=15):
        """Polls `devices --json` until at least n devices are connected;
        returns the connected ones."""
        def connected():
            devs = [d for d in self.devices()
                    if d.get("state") == "connected"]
            return devs if len(devs) >= n else None
        return wait_for(connected, timeout, f"{n} connected device(s)",
                        interval=0.1, proc=self.proc)


@pytest.fixture
def hub(procs, workdir):
    """Factory: hub(name="hub", accept_new=True, user="admin", ...) starts
    callhome-hub on a free loopback port and returns a Hub once
    STATE/hub.sock exists.

    make_key=True pre-creates KEY with ssh-keygen (the hub loads it);
    False lets the hub create it. extra: more command-line arguments.
    """
    def start(name="hub", accept_new=True, user="admin", make_key=True,
              admission=None,
              log_level="debug", host="127.0.0.1", port=None, extra=(),
              env=None, netns_argv=None):
        exe = _require_binary("callhome-hub")
        d = workdir / name
        state = d / "state"
        state.mkdir(parents=True)
        key = d / "hub_key"
        if make_key:
            ssh_keygen(key, comment=f"{name}-key")
        port = port or free_port()
        listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        argv = [exe, "--listen", listen, "--key", key,
                "--user", user, "--state", state, "--log-level", log_level]
        if admission:
            argv += ["--admission", admission]
        elif accept_new:
            argv.append("--accept-new")
        argv += list(extra)
        if netns_argv:  # e.g. nat.argv("hub", []) to run inside a netns
            argv = list(netns_argv) + [str(a) for a in argv]
        proc = procs.spawn(name, argv, env=env)
        h = Hub(proc, port, state, key, user, host, procs)
        wait_for(h.sock.exists, HUB_START_TIMEOUT_S, f"{h.sock}", proc=proc)
        wait_for(h.pub.exists, 5, f"{h.pub}", proc=proc)
        return h
    return start


# ---------------------------------------------------------------- agent

class Agent:
    def __init__(self, proc, host_key, authorized_keys, datastore):
        self.proc = proc
        self.host_key = host_key
        self.pub = Path(f"{host_key}.pub")
        self.authorized_keys = authorized_keys
        self.datastore = datastore

    @property
    def fingerprint(self):
        """The agent's host-key fingerprint (waits for the agent to have
        created its key)."""
        wait_for(self.pub.exists, 10, f"{self.pub}", proc=self.proc)
        return fingerprint_of_pub(self.pub)


@pytest.fixture
def agent(procs, workdir):
    """Factory: agent(hub=HUB or call_home=["host:port", ...]) starts
    callhomed. The agent creates its own host key; authorized_keys holds
    the hub's KEY.pub (or the given .pub paths / key lines); the datastore
    holds running.xml (SAMPLE_RUNNING_XML unless given) and startup.xml
    when given. call_home=[] gives no --call-home flag (the datastore
    holds the call-home configuration)."""
    def start(hub=None, name="agent", call_home=None, authorized=None,
              running_xml=SAMPLE_RUNNING_XML, log_level="debug", extra=(),
              env=None, netns_argv=None, startup_xml=None):
        exe = _require_binary("callhomed")
        d = workdir / name
        d.mkdir(parents=True)
        datastore = d / "datastore"
        datastore.mkdir()
        if running_xml is not None:
            (datastore / "running.xml").write_text(running_xml)
        if startup_xml is not None:
            (datastore / "startup.xml").write_text(startup_xml)
        if authorized is None:
            assert hub is not None, "give hub= or authorized="
            authorized = [hub.pub]
        ak = d / "authorized_keys"
        ak.write_text(authorized_keys_text(authorized))
        if call_home is None:
            assert hub is not None, "give hub= or call_home="
            call_home = [hub.address]
        host_key = d / "host_key"
        argv = [exe]
        for ep in call_home:
            argv += ["--call-home", ep]
        argv += ["--host-key", host_key, "--authorized-keys", ak,
                 "--datastore", datastore, "--log-level", log_level]
        argv += list(extra)
        if netns_argv:
            argv = list(netns_argv) + [str(a) for a in argv]
        proc = procs.spawn(name, argv, env=env)
        return Agent(proc, host_key, ak, datastore)
    return start


# ---------------------------------------------------------------- peers

@pytest.fixture
def netconfd(procs, workdir):
    """A yuma123 netconfd for this test (superuser: the current user)."""
    _require_tools(helpers.NETCONFD, helpers.NETCONF_SUBSYSTEM)
    return Netconfd(procs, workdir, helpers.current_user())


@pytest.fixture
def openssh_device(procs, workdir, netconfd):
    """Factory: openssh_device(authorized=[pub paths or key lines],
    name="sshdev") -> OpenSSHDevice, a genuine OpenSSH sshd acting as a
    call-home device with netconfd behind its netconf subsystem.
    dev.dial(port) makes one outbound connection (socat + sshd -i);
    dev.fingerprint is what `ssh-keygen -lf` prints for its host key;
    dev.user is the login user (the current user)."""
    _require_tools(helpers.SSHD, helpers.SOCAT, helpers.SSH_KEYGEN)
    if os.geteuid() != 0:
        pytest.skip("sshd -i as a device needs root here (privilege "
                    "separation, /run/sshd)")

    def make(authorized, name="sshdev"):
        return OpenSSHDevice(procs, workdir, netconfd, authorized, name=name)
    return make


@pytest.fixture
def openssh_client(workdir):
    """Factory: an OpenSSH client playing the call-home manager."""
    _require_tools(helpers.SSH, helpers.SOCAT, helpers.SSH_KEYGEN)
    return lambda name="sshcli": OpenSSHClient(workdir, name=name)


@pytest.fixture
def netns(procs):
    """Factory: netns(cls) builds cls (a helpers.Netns subclass: its
    namespaces and topology) and returns it. Skips with the reason if
    this machine cannot make namespaces. Every process in them is killed
    and they are deleted at the end, pass or fail."""
    reason = helpers.netns_usable()
    if reason:
        pytest.skip(reason)
    made = []

    def make(cls):
        try:
            n = cls(procs)
        except subprocess.CalledProcessError as e:
            err = (e.stderr or b"").decode(errors="replace").strip()
            if "Operation not permitted" in err:
                pytest.skip(f"cannot create network namespaces: {err}")
            raise
        made.append(n)
        return n
    yield make
    # Our own Procs first, gracefully; then whatever is left in there.
    procs.stop_all()
    for n in made:
        n.teardown()


@pytest.fixture
def nat(netns):
    """Three network namespaces hub / fw / dev behind an nftables NAT
    (see helpers.Nat)."""
    return netns(Nat)


# ---------------------------------------------------------------- CI

def pytest_sessionfinish(session, exitstatus):
    """In CI every peer is installed and we run as root, so a skipped test
    means something is missing that should not be: fail the run."""
    if os.environ.get("CI", "").lower() not in ("true", "1", "yes"):
        return
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = tr.stats.get("skipped", []) if tr else []
    if skipped:
        for rep in skipped:
            tr.write_line(f"CI: skipped test is a failure: {rep.nodeid} "
                          f"{rep.longrepr}", red=True)
        session.exitstatus = 1
