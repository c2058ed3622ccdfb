"""Terminal sessions at the hub (docs/terminal.md, "Sessions" and
"Recordings"): a pty shell outlives its CLI (attach, watch, sessions),
the grace period ends it with its processes, and every shell is recorded
in asciicast v2 that asciinema accepts and callhome play replays."""

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import termios
import time

import pytest

from helpers import binary, read_until, wait_for
from test_shell_agent import pty_reader, set_size, shell_user  # noqa: F401

EXIT_TIMEOUT_S = 30


@pytest.fixture
def device(hub, agent, shell_user):  # noqa: F811
    """Factory: device(hub_extra=[...]) -> (Hub, Agent): a hub with those
    arguments and an agent serving shells as shell_user, named r1."""
    def start(hub_extra=()):
        h = hub(extra=list(hub_extra))
        a = agent(hub=h, name="agent-r1",
                  extra=["--shell-user", shell_user.pw_name])
        fp = a.fingerprint
        wait_for(lambda: any(d["fingerprint"] == fp and
                             d["state"] == "connected"
                             for d in h.devices()), 15, "r1 connected",
                 interval=0.1, proc=h.proc)
        rc, _, err = h.cli("rename", fp, "r1")
        assert rc == 0, err
        return h, a
    return start


def cli_argv(h, *args):
    return [str(binary("callhome")), "--hub", str(h.sock)] + list(args)


class Tty:
    """The CLI on a pty of its own: write(), expect(), wait()."""

    def __init__(self, h, *args, rows=24, cols=80):
        self.master, self.slave = os.openpty()
        set_size(self.slave, rows, cols)
        self.p = subprocess.Popen(cli_argv(h, *args), stdin=self.slave,
                                  stdout=self.slave, stderr=self.slave,
                                  start_new_session=True,
                                  env=dict(os.environ, TERM="xterm"))
        self.read = pty_reader(self.master)
        self.rest = b""

    def write(self, b):
        os.write(self.master, b)

    def expect(self, delim, timeout=EXIT_TIMEOUT_S):
        msg, self.rest = read_until(self.read, time.monotonic() + timeout,
                                    delim=delim, buf=self.rest)
        return msg

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


def sessions(h, *args):
    rc, out, err = h.cli("sessions", "--json", *args)
    assert rc == 0, err
    resp = json.loads(out)
    assert resp["ok"] is True
    return resp["sessions"]


def one_session(h, state=None):
    def get():
        s = sessions(h)
        if len(s) == 1 and (state is None or s[0]["state"] == state):
            return s[0]
        return None
    return wait_for(get, 15, f"one session {state or ''}", interval=0.1,
                    proc=h.proc)


def cast_lines(path):
    with open(path, encoding="utf-8") as f:
        lines = [json.loads(line) for line in f]
    return lines[0], lines[1:]


def asciinema_cat(path):
    """asciinema cat FILE, with a pty as its controlling terminal (it
    opens /dev/tty for keys) and its standard output a pipe."""
    master, slave = os.openpty()

    def ctty():
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    try:
        return subprocess.run(["asciinema", "cat", str(path)], stdin=slave,
                              capture_output=True, start_new_session=True,
                              preexec_fn=ctty, timeout=EXIT_TIMEOUT_S)
    finally:
        os.close(master)
        os.close(slave)


def test_attach_after_the_cli_is_killed(device):
    """SIGKILL of the CLI driving a pty shell: the hub keeps the session;
    --attach redraws the earlier output, takes input and ends with the
    shell's status; the recording has no keystrokes by default."""
    h, _ = device(["--term-grace", "60"])
    t = Tty(h, "shell", "r1")
    try:
        t.write(b"echo EARLY$((40+2))\r")
        t.expect(b"EARLY42")
        s = one_session(h, "attached")
        assert s["kind"] == "shell" and s["pty"] is True
        assert s["name"] == "r1" and s["uid"] == os.getuid()
        t.p.send_signal(signal.SIGKILL)
        t.p.wait()
        s = one_session(h, "detached")
        h.proc.wait_log(r"term=%d .*detached, kept 60 s" % s["id"])
        rc, out, _ = h.cli("sessions")
        assert rc == 0 and "detached" in out and "shell" in out, out
    finally:
        t.close()
    t = Tty(h, "shell", "r1", "--attach", str(s["id"]), rows=30, cols=100)
    try:
        t.expect(b"EARLY42")            # the screen so far
        one_session(h, "attached")
        t.write(b"stty size; echo AGAIN$((1+1))\r")
        t.expect(b"30 100")             # the new terminal's size
        t.expect(b"AGAIN2")
        t.write(b"exit 7\r")
        assert t.p.wait(EXIT_TIMEOUT_S) == 7
    finally:
        t.close()
    wait_for(lambda: sessions(h) == [], 15, "no session left")
    header, events = cast_lines(h.state / "recordings" / f"{s['id']}.cast")
    assert header["version"] == 2 and header["callhome"]["device"]
    assert not [e for e in events if e[1] == "i"]
    assert ["r", "100x30"] in [e[1:] for e in events]
    # the audit: who started it, who attached, and its end with the
    # recording's id and the exit status
    rc, out, err = h.cli("audit", "--json", "--device", "r1")
    assert rc == 0, err
    recs = [r for r in json.loads(out)["audit"]
            if r["action"].startswith("shell")]
    assert [(r["action"], r["outcome"]) for r in recs] == [
        ("shell-start", "ok"), ("shell-attach", "ok"), ("shell-end", "ok")]
    assert recs[1]["detail"] == "session %d" % s["id"]
    assert recs[2]["recording"] == str(s["id"])
    assert recs[2]["exit_status"] == 7


def test_watch_follows_read_only(device):
    """A watcher sees the output (the earlier part too), what it types
    goes nowhere, and it gets the session's exit status at the end."""
    h, _ = device()
    owner = subprocess.Popen(cli_argv(h, "shell", "r1"),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    watcher = None
    try:
        owner.stdin.write(b"echo BEFORE$((1+2))\n")
        owner.stdin.flush()
        assert owner.stdout.readline() == b"BEFORE3\n"
        s = one_session(h)
        watcher = subprocess.Popen(cli_argv(h, "shell", "--watch",
                                            str(s["id"])),
                                   stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        assert watcher.stdout.readline() == b"BEFORE3\n"
        wait_for(lambda: sessions(h)[0]["watchers"] == 1, 15,
                 "a watcher")
        watcher.stdin.write(b"echo FROMWATCHER\n")   # read-only: dropped
        watcher.stdin.flush()
        owner.stdin.write(b"echo LIVE$((2+3))\n")
        owner.stdin.flush()
        assert owner.stdout.readline() == b"LIVE5\n"
        assert watcher.stdout.readline() == b"LIVE5\n"
        # no pty: such a session cannot be attached again
        rc, _, err = h.cli("shell", "r1", "--attach", str(s["id"]))
        assert rc == 4 and "has no pty" in err, err
        owner.stdin.write(b"exit 4\n")
        owner.stdin.close()
        assert owner.wait(EXIT_TIMEOUT_S) == 4
        assert watcher.wait(EXIT_TIMEOUT_S) == 4
        assert b"FROMWATCHER" not in watcher.stdout.read()
    finally:
        for p in (owner, watcher):
            if p and p.poll() is None:
                p.kill()


def test_grace_expiry_ends_the_processes(device):
    """A detached shell is closed when the grace runs out, and the
    device kills its whole session (a background job included)."""
    h, _ = device(["--term-grace", "2"])
    t = Tty(h, "shell", "r1")
    try:
        t.write(b"sleep 1000 & echo SID=$(ps -o sid= -p $$ | tr -d ' ')\r")
        msg = t.expect(b"\n")
        while b"SID=" not in msg or not re.search(rb"SID=\d+", msg):
            msg = t.expect(b"\n")
        sid = int(re.search(rb"SID=(\d+)", msg).group(1))
        assert subprocess.run(["pgrep", "-s", str(sid)],
                              capture_output=True).returncode == 0
        t.p.send_signal(signal.SIGKILL)
        t.p.wait()
    finally:
        t.close()
    h.proc.wait_log(r"detached for longer than the grace period \(2 s\)",
                    timeout=15)
    wait_for(lambda: subprocess.run(["pgrep", "-s", str(sid)],
                                    capture_output=True).returncode == 1,
             15, f"no process left in session {sid}")
    wait_for(lambda: sessions(h) == [], 15, "no session left")
    rc, out, _ = h.cli("events", "r1")
    assert "detached" in out and "ended" in out, out


def test_recording_plays_in_asciinema_and_callhome(device):
    """A scripted session, UTF-8 cut anywhere included: its recording is
    valid asciicast v2 (asciinema cat reproduces the output), lists with
    callhome recordings, replays with callhome play; with --record-input
    the keystrokes are in it."""
    if shutil.which("asciinema") is None:
        pytest.skip("asciinema is not installed (scripts/install-deps.sh)")
    h, _ = device(["--record-input"])
    t = Tty(h, "shell", "r1")
    try:
        t.write(b"printf 'caf\\303\\251 %s\\n' DONE$((6*7))\r")
        t.expect("café DONE42".encode())
        t.write(b"exit 0\r")
        assert t.p.wait(EXIT_TIMEOUT_S) == 0
    finally:
        t.close()
    rc, out, err = h.cli("recordings", "--json")
    assert rc == 0, err
    recs = json.loads(out)["recordings"]
    assert len(recs) == 1
    r = recs[0]
    assert r["kind"] == "shell" and r["name"] == "r1" and r["size"] > 0
    path = h.state / "recordings" / f"{r['id']}.cast"
    header, events = cast_lines(path)
    assert header["version"] == 2 and header["width"] == 80
    assert [e for e in events if e[1] == "i"], "no input events"
    cat = asciinema_cat(path)
    assert cat.returncode == 0, cat.stderr
    assert "café DONE42".encode() in cat.stdout
    rc, out, _ = h.cli("recordings", "r1")
    assert rc == 0 and "shell" in out and "OPERATOR" in out, out
    play = subprocess.run(cli_argv(h, "play", str(r["id"]), "--speed",
                                   "100"), capture_output=True,
                          timeout=EXIT_TIMEOUT_S)
    assert play.returncode == 0, play.stderr
    assert "café DONE42".encode() in play.stdout
    rc, out, _ = h.cli("events", "r1")
    assert f"recording {r['id']}" in out, out


def test_unknown_sessions_and_recordings(device):
    h, _ = device()
    for args in (["shell", "r1", "--attach", "999"],
                 ["shell", "--watch", "999"]):
        p = subprocess.run(cli_argv(h, *args), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=EXIT_TIMEOUT_S)
        err = p.stderr.decode()
        assert p.returncode == 4, err
        assert err.count("\n") == 1 and "no live session 999" in err, err
    rc, _, err = h.cli("play", "999")
    assert rc == 4 and "no recording 999" in err, err
    rc, _, err = h.cli("shell", "r1", "--attach", "x")
    assert rc == 1 and "--attach wants a session ID" in err, err
    rc, _, err = h.cli("play", "1", "--speed", "0")
    assert rc == 1 and "--speed" in err, err
