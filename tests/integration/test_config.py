"""The daemons' configuration files (--config, docs/configuration.md) and
where their logs go (--log-target): the real binaries, a real hub and
agent on loopback."""

import os
import re
import shutil
import subprocess

import pytest

from conftest import _require_binary
from helpers import (authorized_keys_text, free_port, ssh_keygen, wait_for)


def run(exe, *args):
    r = subprocess.run([str(exe)] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=15)
    return r.returncode, r.stderr


def hub_conf(d, port, extra=""):
    state = d / "state"
    key = d / "hub_key"
    ssh_keygen(key, comment="hub-key")
    conf = d / "hub.conf"
    conf.write_text(f"""# a hub configured by its file only
listen = 127.0.0.1:{port}

state = {state}
ssh-key = {key}
user = admin
accept-new = yes
log-level = debug
{extra}""")
    return conf, state, key


def cli(state, *args):
    r = subprocess.run([str(_require_binary("callhome")), "--hub",
                        str(state / "hub.sock")] + list(args),
                       capture_output=True, text=True, timeout=15)
    return r.returncode, r.stdout, r.stderr


def test_hub_and_agent_from_their_files(procs, workdir):
    """A hub and an agent given nothing but --config FILE: the agent calls
    the hub and is admitted; a repeated key (call-home) repeats."""
    port = free_port()
    conf, state, key = hub_conf(workdir, port)
    hub = procs.spawn("hub", [_require_binary("callhome-hub"), "--config",
                              conf])
    hub.wait_log(r"hub ready")
    assert f"configuration file {conf}" in hub.log()
    ak = workdir / "authorized_keys"
    ak.write_text(authorized_keys_text([f"{key}.pub"]))
    ds = workdir / "ds"
    ds.mkdir()
    (ds / "running.xml").write_text("<data/>")
    aconf = workdir / "callhomed.conf"
    aconf.write_text(f"""# first a dead endpoint, then the hub
call-home = 127.0.0.1:{free_port()}
call-home = 127.0.0.1:{port}
host-key = {workdir}/host_key
authorized-keys = {ak}
datastore = {ds}
backoff-base = 100
""")
    agent = procs.spawn("agent", [_require_binary("callhomed"), "--config",
                                  aconf])

    def connected():
        rc, out, _ = cli(state, "devices")
        return rc == 0 and "connected" in out
    wait_for(connected, 20, "the agent connected", proc=agent)


def test_command_line_wins(procs, workdir):
    """A flag given on the command line replaces the file's: a repeatable
    one (--listen) is replaced, not added to."""
    port, other = free_port(), free_port()
    conf, state, _ = hub_conf(workdir, port)
    hub = procs.spawn("hub", [_require_binary("callhome-hub"), "--config",
                              conf, "--listen", f"127.0.0.1:{other}",
                              "--log-level", "info"])
    hub.wait_log(r"hub ready")
    log = hub.log()
    assert f"127.0.0.1:{other}" in log
    assert f"127.0.0.1:{port}" not in log
    assert "[debug]" not in log      # the file's log-level lost too


@pytest.mark.parametrize("prog", ["callhome-hub", "callhomed"])
def test_errors_name_file_line_key(workdir, prog):
    exe = _require_binary(prog)
    conf = workdir / "x.conf"
    conf.write_text("# comment\n\nlog-level = debug\nlistn = 1.2.3.4\n")
    rc, err = run(exe, "--config", conf)
    assert rc == 1
    assert f"{prog}: {conf}:4: unknown key 'listn'" in err
    conf.write_text("keepalive = soon\n")
    rc, err = run(exe, "--config", conf)
    assert rc == 1
    assert f"{conf}:1: --keepalive: 'soon' is not a number" in err
    conf.write_text("version = yes\n")
    rc, err = run(exe, "--config", conf)
    assert rc == 1 and "not a configuration file key 'version'" in err
    rc, err = run(exe, "--config", workdir / "missing.conf")
    assert rc == 1 and "missing.conf': no such file" in err


def test_journal_stream_keeps_levels(procs, workdir):
    """Under systemd (JOURNAL_STREAM names stderr's DEV:INO) each line
    carries its sd-daemon priority and no time stamp of ours; elsewhere
    the usual lines."""
    log = workdir / "hub.log"
    log.touch()
    st = os.stat(log)
    conf, state, _ = hub_conf(workdir, free_port())
    hub = procs.spawn("hub", [_require_binary("callhome-hub"), "--config",
                              conf],
                      env={"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
    hub.wait_log(r"^<6>hub ready")
    assert "\n<7>" in hub.log()      # debug lines
    assert "callhome-hub[info]" not in hub.log()
    hub.stop()
    # the same variable naming another stream: ours is not the journal
    hub2 = procs.spawn("hub2", [_require_binary("callhome-hub"), "--config",
                                conf],
                       env={"JOURNAL_STREAM": f"{st.st_dev}:1"})
    hub2.wait_log(r"callhome-hub\[info\] hub ready")
    hub2.stop()
    log3 = workdir / "hub3.log"
    log3.touch()
    st3 = os.stat(log3)
    hub3 = procs.spawn("hub3", [_require_binary("callhome-hub"), "--config",
                                conf, "--log-target", "stderr"],
                       env={"JOURNAL_STREAM": f"{st3.st_dev}:{st3.st_ino}"})
    hub3.wait_log(r"callhome-hub\[info\] hub ready")


def test_syslog_target(procs, workdir):
    """--log-target syslog: syslog(3), facility daemon, the ident and the
    pid, each line's priority; nothing on stderr. /dev/log is a datagram
    socket of the test's, bound over /dev in a private mount namespace
    (glibc's syslog writes to that path only)."""
    if os.geteuid() != 0:
        pytest.skip("needs root (a private mount namespace for /dev/log)")
    _require_tools_unshare()
    import socket
    sock_path = workdir / "log.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(sock_path))
    s.settimeout(15)
    conf, state, _ = hub_conf(workdir, free_port())
    dev = workdir / "dev"
    dev.mkdir()
    script = f"""set -e
for n in null zero random urandom; do
  touch {dev}/$n; mount --bind /dev/$n {dev}/$n
done
touch {dev}/log; mount --bind {sock_path} {dev}/log
mount --rbind {dev} /dev
exec "$@"
"""
    hub = procs.spawn("hub", ["unshare", "--mount", "--propagation",
                              "private", "bash", "-c", script, "-",
                              _require_binary("callhome-hub"), "--config",
                              conf, "--log-target", "syslog"])
    got = []
    try:
        while not any("hub ready" in g for g in got):
            got.append(s.recv(8192).decode(errors="replace"))
    finally:
        s.close()
    ready = next(g for g in got if "hub ready" in g)
    # <daemon.info>, the ident and the hub's pid (unshare exec'd bash,
    # which exec'd the hub: the same pid)
    assert re.match(r"<30>.*callhome-hub\[%d\]: hub ready" % hub.pid, ready), ready
    assert any(g.startswith("<31>") for g in got)    # debug lines
    assert "hub ready" not in hub.log()


def _require_tools_unshare():
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) not installed")
