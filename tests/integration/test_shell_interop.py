"""Terminal access with genuine peers both ways (docs/terminal.md):
OpenSSH's ssh as the call-home manager of our agent (env allowed and
refused, exit-signal), paramiko sending a signal request, a genuine
OpenSSH sshd -i dialled out by socat as a device on which `callhome shell`
and `callhome exec` work through our hub; stderr and exit-signal through
the hub to the CLI; the callhome-terminal configuration changed live."""

import os
import re
import signal
import socket
import subprocess
import time

import pytest

from helpers import (binary, current_user, fingerprint_of_pub, read_until,
                     ssh_keygen, wait_for)
from ncsession import MODULE
from test_shell_agent import (device, pty_reader,  # noqa: F401
                              shell_user)
from test_shell_hub import cli_argv, run

EXIT_TIMEOUT_S = 30
TERM_NS = "urn:callhome:yang:callhome-terminal"


def named(h, fp, name):
    wait_for(lambda: any(d["fingerprint"] == fp and d["state"] == "connected"
                         for d in h.devices()), 15, f"{name} connected",
             interval=0.1, proc=h.proc)
    rc, _, err = h.cli("rename", fp, name)
    assert rc == 0, err


# ---- (a) OpenSSH's ssh as the manager of our agent ----

def test_openssh_env_allowed_and_refused(device):
    """ssh -o SendEnv: LANG and LC_* are in the default allow-list and
    reach the command; FOO is refused (logged), the command runs without
    it; HOME is never the manager's."""
    ssh, a = device(['echo "L=$LANG A=$LC_ALL F=${FOO-unset} H=$HOME"'],
                    options=["-o", "SendEnv=LANG LC_ALL FOO HOME"],
                    env=dict(os.environ, LANG="C.UTF-8", LC_ALL="C",
                             FOO="bar", HOME="/nowhere"))
    out, err = ssh.communicate(timeout=EXIT_TIMEOUT_S)
    assert ssh.returncode == 0, err
    text = out.decode()
    assert "L=C.UTF-8 A=C F=unset" in text, text
    assert "H=/nowhere" not in text
    a.proc.wait_log(r"env FOO refused: not in the terminal env allow-list")
    a.proc.wait_log(r"env HOME refused")


def test_openssh_exec_killed_by_a_signal(device):
    """A command killed by a signal: exit-signal TERM goes to ssh (which
    exits 255 for it, as with OpenSSH's own sshd), not a made-up status."""
    ssh, a = device(["echo before; kill -TERM $$"], options=["-v"])
    out, err = ssh.communicate(timeout=EXIT_TIMEOUT_S)
    assert out == b"before\n"
    assert ssh.returncode == 255
    assert "rtype exit-signal" in ssh.log_path.read_text()
    a.proc.wait_log(r"killed by signal 15")


def paramiko_manager(agent, workdir, shell_user, name):
    """paramiko as the call-home manager of an agent serving shells as
    shell_user: (transport, agent)."""
    paramiko = pytest.importorskip("paramiko")
    key_path = ssh_keygen(workdir / name)
    key = paramiko.Ed25519Key.from_private_key_file(str(key_path))
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    port = lsock.getsockname()[1]
    a = agent(call_home=[f"127.0.0.1:{port}"], authorized=[f"{key_path}.pub"],
              extra=["--shell-user", shell_user.pw_name])
    lsock.settimeout(20)
    conn, _ = lsock.accept()
    lsock.close()
    t = paramiko.Transport(conn)
    t.start_client(timeout=20)
    t.auth_publickey(shell_user.pw_name, key)
    return t, a


def test_signal_request_reaches_the_command(agent, workdir, shell_user):
    """paramiko (OpenSSH's ssh cannot send one) as the manager: a signal
    request INT goes to the command's process group; the trap runs and
    the command exits with its own status. An unknown name is ignored."""
    pytest.importorskip("paramiko")
    from paramiko.common import cMSG_CHANNEL_REQUEST
    from paramiko.message import Message

    t, a = paramiko_manager(agent, workdir, shell_user, "pmk")
    try:
        chan = t.open_session(timeout=20)

        def send_signal(name):
            m = Message()
            m.add_byte(cMSG_CHANNEL_REQUEST)
            m.add_int(chan.remote_chanid)
            m.add_string("signal")
            m.add_boolean(False)
            m.add_string(name)
            t._send_user_message(m)

        chan.exec_command("trap 'echo GOT-INT; exit 9' INT; echo READY; "
                          "while :; do sleep 0.1; done")
        buf = b""
        deadline = time.monotonic() + EXIT_TIMEOUT_S
        while b"READY" not in buf and time.monotonic() < deadline:
            if chan.recv_ready():
                buf += chan.recv(4096)
            else:
                time.sleep(0.05)
        assert b"READY" in buf
        send_signal("NOSUCH")
        a.proc.wait_log(r"signal NOSUCH is not one of RFC 4254's")
        send_signal("INT")
        assert chan.recv_exit_status() == 9
        while chan.recv_ready():
            buf += chan.recv(4096)
        assert b"GOT-INT" in buf
        a.proc.wait_log(r"signal INT to process group")
    finally:
        t.close()


def test_channels_opened_in_a_loop_are_capped(agent, workdir, shell_user):
    """Hostile: a manager opening session channels in a loop, never
    closing them, meets the per-connection cap (refusals logged, rate
    limited); shells past the agent's cap are refused with the reason;
    the connection survives, and a channel closed makes room for a new
    one that works."""
    paramiko = pytest.importorskip("paramiko")
    t, a = paramiko_manager(agent, workdir, shell_user, "loop")
    chans, refused = [], 0
    try:
        for _ in range(200):
            try:
                chans.append(t.open_session(timeout=10))
            except paramiko.ChannelException:
                refused += 1
        assert refused > 0 and 0 < len(chans) < 200, (len(chans), refused)
        a.proc.wait_log(r"refused a session channel \(at the cap, "
                        r"\d+ open\)")
        # far fewer log lines than refusals: rate-limited
        lines = a.proc.log().count("refused a session channel")
        assert lines < refused, (lines, refused)
        # more shells than the agent runs at once: refused with the reason
        started = 0
        for c in chans:
            try:
                c.exec_command("sleep 30")
                started += 1
            except paramiko.SSHException:
                pass
        assert 0 < started < len(chans), (started, len(chans))
        a.proc.wait_log(r"too many shells")
        # the connection lives: close all; once the agent has ended their
        # processes, a new channel runs a command
        for c in chans:
            c.close()
        chans = []

        def fresh():
            try:
                c = t.open_session(timeout=10)
                c.exec_command("echo still-here")
                return c
            except (paramiko.ChannelException, paramiko.SSHException):
                return None
        c = wait_for(fresh, 30, "a new channel and command", interval=0.2)
        assert c.recv_exit_status() == 0
        assert c.recv(100) == b"still-here\n"
        assert a.proc.alive()
    finally:
        t.close()


# ---- (b) a genuine sshd as a device of our hub ----

@pytest.mark.ch_timeout(90)
def test_hub_shell_and_exec_on_an_openssh_device(hub, openssh_device,
                                                 netconfd):
    """sshd -i dialled out by socat: the hub authenticates with its key,
    `callhome exec` gets stdout and stderr apart and the exit status,
    exit-signal becomes 128 + the number, `callhome shell` on a pty runs
    typed commands and returns `exit 7`."""
    h = hub(user=current_user())
    dev = openssh_device([h.pub])
    dev.dial(h.port)
    named(h, dev.fingerprint, "sd")
    rc, out, err = run(h, "exec", "sd", "--", "echo out; echo err >&2; "
                       "exit 3")
    assert (rc, out) == (3, b"out\n"), err
    assert "err\n" in err
    rc, out, err = run(h, "exec", "sd", "--", "cat", data=b"piped\n" * 1000)
    assert (rc, out) == (0, b"piped\n" * 1000), err
    rc, out, err = run(h, "exec", "sd", "--", "kill -TERM $$")
    assert rc == 128 + signal.SIGTERM, err
    assert "killed by signal TERM" in err
    master, slave = os.openpty()
    p = subprocess.Popen(cli_argv(h, "shell", "sd"), stdin=slave,
                         stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    try:
        read = pty_reader(master)
        deadline = time.monotonic() + EXIT_TIMEOUT_S
        os.write(master, b"echo UP$((40+2)); tty\r")
        _, rest = read_until(read, deadline, delim=b"UP42")
        read_until(read, deadline, delim=b"/dev/pts/", buf=rest)
        os.write(master, b"exit 7\r")
        assert p.wait(EXIT_TIMEOUT_S) == 7
    finally:
        if p.poll() is None:
            p.kill()
        os.close(master)
    assert "Accepted publickey" in dev.log()


# ---- stderr and exit-signal from our agent through our hub ----

def test_hub_exec_stderr_and_exit_signal_on_our_agent(hub, agent, shell_user):
    h = hub()
    a = agent(hub=h, name="agent-r1",
              extra=["--shell-user", shell_user.pw_name])
    named(h, a.fingerprint, "r1")
    rc, out, err = run(h, "exec", "r1", "--", "echo out; echo err >&2; "
                       "kill -TERM $$")
    assert rc == 128 + signal.SIGTERM, err
    assert out == b"out\n"
    assert err.startswith("err\n") and "killed by signal TERM" in err, err
    h.proc.wait_log(r"exec .* ended: signal TERM")


# ---- the callhome-terminal configuration, changed live ----

def terminal(body):
    return (f'<terminal xmlns="{TERM_NS}" xmlns:nc="urn:ietf:params:xml:'
            f'ns:netconf:base:1.0" nc:operation="replace">{body}</terminal>')


def edit(h, a, body):
    r = h.ctl({"cmd": "edit-config", "device": a.fingerprint,
               "config": terminal(body), "wait": True}, timeout=40)
    assert r["job"]["state"] == "done", r


def refused(h, a, reason):
    """An exec the device refuses: SSH's failure carries no text, so the
    CLI says it was refused and the agent logs why."""
    since = len(a.proc.log())
    rc, out, err = run(h, "exec", "r1", "--", "true")
    assert (rc, out) == (4, b"") and "refused the exec" in err, err
    a.proc.wait_log(reason, since=since)


@pytest.mark.ch_timeout(120)
def test_terminal_configuration_is_live(hub, agent, shell_user):
    """Off until configured; then each edit takes effect for the next
    request, without a restart: a manager not in allowed-manager, an
    account that is root without allow-root and max-sessions are refused
    with the reason logged; the hub's key fingerprint lets it in."""
    h = hub(extra=["--confirm-timeout", "20", "--confirm-after", "1"])
    a = agent(hub=h, name="agent-r1", running_xml=None, extra=MODULE)
    named(h, a.fingerprint, "r1")
    hub_fp = fingerprint_of_pub(h.pub)
    refused(h, a, r"refused: shell access is not enabled")

    user = shell_user.pw_name
    edit(h, a, f"<enabled>true</enabled><account>{user}</account>"
         "<allowed-manager>SHA256:someoneelse</allowed-manager>")
    a.proc.wait_log(r"terminal: shell and exec enabled, as '%s'" % user)
    refused(h, a, r"is not in terminal allowed-manager(?:.*\n)*.*refused: "
            r"this manager is not allowed shells")

    edit(h, a, f"<enabled>true</enabled><account>{user}</account>"
         f"<allowed-manager>{hub_fp}</allowed-manager>"
         "<max-sessions>1</max-sessions>")
    a.proc.wait_log(r"at most 1 at once, for the allowed managers")
    rc, out, _ = run(h, "exec", "r1", "--", "id -un")
    assert (rc, out) == (0, f"{user}\n".encode())
    # one open (its stdin held open), the next at the cap
    p = subprocess.Popen(cli_argv(h, "exec", "r1", "--", "cat"),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        wait_for(lambda: len(re.findall(r"exec started as .* pipes",
                                        a.proc.log())) >= 2, 15,
                 "the second exec", proc=a.proc)
        refused(h, a, r"1 shell\(s\) open, at most 1(?:.*\n)*.*refused: "
                r"too many shells")
    finally:
        p.communicate(b"", timeout=EXIT_TIMEOUT_S)

    edit(h, a, "<enabled>true</enabled><account>root</account>")
    refused(h, a, r"account 'root' is uid 0 and allow-root is not set: "
            r"refused(?:.*\n)*.*refused: the shell account is root")

    edit(h, a, f"<enabled>false</enabled><account>{user}</account>")
    a.proc.wait_log(r"terminal: shell and exec are off")
    refused(h, a, r"refused: shell access is not enabled")


def test_help_and_module_are_installed():
    exe = binary("callhomed")
    if not exe.exists():
        pytest.skip(f"{exe} not built")
    out = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert "callhome-terminal" in out.stdout

