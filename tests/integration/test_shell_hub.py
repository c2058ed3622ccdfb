"""Shells and execs through the hub (docs/terminal.md, the operator's
side; docs/control-api.md, "Streams"): the real hub, the real agent with
--shell-user (a throwaway local account) and the real CLI, driven through
pipes and a pty."""

import os
import re
import signal
import subprocess
import termios
import threading
import time

import pytest

from helpers import binary, read_until, wait_for
from test_shell_agent import pty_reader, set_size, shell_user  # noqa: F401

EXIT_TIMEOUT_S = 30
RSS_BOUND_KB = 48 * 1024     # the hub's growth while an operator stalls


@pytest.fixture
def device(hub, agent, shell_user):  # noqa: F811
    """Factory: device(name="r1", shell=True) -> (Hub, Agent): a hub and
    an agent connected to it, named NAME, serving shells as shell_user
    when shell."""
    h = [None]

    def start(name="r1", shell=True):
        if h[0] is None:
            h[0] = hub()
        extra = ["--shell-user", shell_user.pw_name] if shell else []
        a = agent(hub=h[0], name=f"agent-{name}", extra=extra)
        fp = a.fingerprint
        wait_for(lambda: any(d["fingerprint"] == fp and
                             d["state"] == "connected"
                             for d in h[0].devices()), 15,
                 f"{name} connected", interval=0.1, proc=h[0].proc)
        rc, _, err = h[0].cli("rename", fp, name)
        assert rc == 0, err
        return h[0], a
    return start


def cli_argv(h, *args):
    return [str(binary("callhome")), "--hub", str(h.sock)] + list(args)


def run(h, *args, data=None):
    r = subprocess.run(cli_argv(h, *args), input=data, capture_output=True,
                       timeout=EXIT_TIMEOUT_S)
    return r.returncode, r.stdout, r.stderr.decode(errors="replace")


def vm_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M).group(1))


def test_exec_output_and_exit_status(device):
    h, _ = device()
    rc, out, err = run(h, "exec", "r1", "--", "echo hello; id -un; exit 3")
    assert rc == 3, err
    assert out.startswith(b"hello\n")
    rc, out, err = run(h, "exec", "r1", "--", "true")
    assert (rc, out) == (0, b""), err


def test_exec_stdin_through_cat(device):
    """A few hundred kB through stdin -> cat -> stdout, unchanged."""
    h, _ = device()
    data = b"".join(b"%06d the quick brown fox jumps\n" % i
                    for i in range(12000))
    assert len(data) > 300 * 1024
    rc, out, err = run(h, "exec", "r1", "--", "cat", data=data)
    assert rc == 0, err
    assert out == data


def test_exec_with_tty(device):
    h, _ = device()
    rc, out, err = run(h, "exec", "-t", "r1", "--", "tty; stty size")
    assert rc == 0, err
    assert b"/dev/pts/" in out
    assert b"24 80" in out


def test_shell_on_a_pty_resize_and_exit(device):
    """callhome shell on a real pty: typed commands run, stty size follows
    a window change (TIOCSWINSZ and SIGWINCH to the CLI), exit 5 is the
    CLI's status, and the terminal's modes are given back."""
    h, _ = device()
    master, slave = os.openpty()
    set_size(slave, 24, 80)
    before = termios.tcgetattr(slave)
    p = subprocess.Popen(cli_argv(h, "shell", "r1"), stdin=slave,
                         stdout=slave, stderr=slave, start_new_session=True,
                         env=dict(os.environ, TERM="xterm"))
    try:
        read = pty_reader(master)
        deadline = time.monotonic() + EXIT_TIMEOUT_S
        os.write(master, b"echo MARK$((40+2))\r")
        read_until(read, deadline, delim=b"MARK42")
        # raw mode while the shell runs
        assert not termios.tcgetattr(slave)[3] & termios.ICANON
        set_size(slave, 40, 120)
        p.send_signal(signal.SIGWINCH)
        os.write(master, b"stty size\r")
        read_until(read, deadline, delim=b"40 120")
        os.write(master, b"exit 5\r")
        assert p.wait(EXIT_TIMEOUT_S) == 5
        after = termios.tcgetattr(slave)
        assert after[3] == before[3] and after[0] == before[0]
    finally:
        if p.poll() is None:
            p.kill()
        os.close(master)
        os.close(slave)


def test_shell_escape_leaves(device):
    """~. after a newline leaves: the terminal is restored, status 255."""
    h, _ = device()
    master, slave = os.openpty()
    before = termios.tcgetattr(slave)
    p = subprocess.Popen(cli_argv(h, "shell", "r1"), stdin=slave,
                         stdout=slave, stderr=slave, start_new_session=True)
    try:
        read = pty_reader(master)
        deadline = time.monotonic() + EXIT_TIMEOUT_S
        os.write(master, b"echo UP$((1+1))\r")
        read_until(read, deadline, delim=b"UP2")
        os.write(master, b"\r~.")
        assert p.wait(EXIT_TIMEOUT_S) == 255
        assert termios.tcgetattr(slave)[3] == before[3]
        read_until(read, deadline, delim=b"callhome: shell on r1: left "
                   b"with ~.")
    finally:
        if p.poll() is None:
            p.kill()
        os.close(master)
        os.close(slave)


def test_refused_without_shell_user(device):
    h, a = device(shell=False)
    rc, out, err = run(h, "exec", "r1", "--", "true")
    assert rc == 4
    assert out == b""
    assert err.count("\n") == 1 and "refused the exec" in err, err
    rc, _, err = run(h, "shell", "r1", data=b"")
    assert rc == 4 and "refused the shell" in err, err
    a.proc.wait_log(r"refused: shell access is not enabled")


def test_offline_and_unknown_device(device):
    h, a = device()
    a.proc.stop()
    wait_for(lambda: all(d["state"] != "connected" for d in h.devices()),
             15, "r1 disconnected", interval=0.1, proc=h.proc)
    rc, _, err = run(h, "exec", "r1", "--", "true")
    assert rc == 4 and "callhome: device r1 is not connected" in err, err
    rc, _, err = run(h, "shell", "nosuch", data=b"")
    assert rc == 4 and "no device named 'nosuch'" in err, err


def test_netconf_job_and_two_shells_at_once(device):
    """Two shells on one device and one on another, a get-config job on
    the first meanwhile: all succeed."""
    h, _ = device("r1")
    device("r2")
    shells = [subprocess.Popen(cli_argv(h, "shell", d),
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
              for d in ("r1", "r1", "r2")]
    try:
        for i, s in enumerate(shells):
            s.stdin.write(b"echo READY%d\n" % i)
            s.stdin.flush()
            line = s.stdout.readline()
            assert line == b"READY%d\n" % i
        rc, out, err = run(h, "get-config", "r1")
        assert rc == 0, err
        assert b"<data" in out
        for i, s in enumerate(shells):
            s.stdin.write(b"exit %d\n" % (i + 10))
            s.stdin.close()
            assert s.wait(EXIT_TIMEOUT_S) == i + 10
    finally:
        for s in shells:
            if s.poll() is None:
                s.kill()


def test_device_going_away_mid_session(device):
    h, a = device()
    s = subprocess.Popen(cli_argv(h, "shell", "r1"), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        s.stdin.write(b"echo HERE\n")
        s.stdin.flush()
        assert s.stdout.readline() == b"HERE\n"
        a.proc.kill9()
        assert s.wait(EXIT_TIMEOUT_S) == 255
        err = s.stderr.read().decode()
        assert err.count("\n") == 1, err
        assert "callhome: shell on r1 ended without an exit status" in err
    finally:
        if s.poll() is None:
            s.kill()


def test_stalled_operator_does_not_grow_the_hub(device):
    """A command writing 200 MB while the CLI is stopped: the hub pauses
    the device's channel instead of buffering; everything arrives once the
    CLI goes on."""
    h, _ = device()
    total = 200 * 1024 * 1024
    base = vm_rss_kb(h.proc.pid)
    p = subprocess.Popen(cli_argv(h, "exec", "r1", "--",
                                  f"head -c {total} /dev/zero"),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    got = [0]

    def drain():
        while True:
            b = p.stdout.read(1 << 16)
            if not b:
                return
            got[0] += len(b)
    t = threading.Thread(target=drain, daemon=True)
    t.start()
    try:
        wait_for(lambda: got[0] > 0, EXIT_TIMEOUT_S, "the first output")
        p.send_signal(signal.SIGSTOP)
        # an observation window while the operator reads nothing
        peak, end = base, time.monotonic() + 3
        while time.monotonic() < end:
            peak = max(peak, vm_rss_kb(h.proc.pid))
            time.sleep(0.1)
        stalled_at = got[0]
        assert peak - base < RSS_BOUND_KB, (base, peak)
        assert stalled_at < total
        p.send_signal(signal.SIGCONT)
        assert p.wait(120) == 0, p.stderr.read()
        t.join(10)
        assert got[0] == total
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGCONT)
            p.kill()
