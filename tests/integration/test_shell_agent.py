"""Terminal access on the agent (docs/terminal.md): a genuine OpenSSH
client, listening through socat as the call-home manager, gets shells and
exec channels on callhomed, with and without a pty, as a local account
made for the test."""

import fcntl
import os
import pty
import pwd
import re
import secrets
import select
import signal
import struct
import subprocess
import termios
import time

import pytest

from helpers import (GET_CONFIG_RUNNING, HELLO_10, binary, build_dir,
                     fd_reader, free_port, port_listening, read_until,
                     rpc_10, ssh_keygen, wait_for)

EXIT_TIMEOUT_S = 20


@pytest.fixture
def shell_user():
    """A local account with /bin/sh as its shell, removed at the end with
    whatever it left running."""
    if os.geteuid() != 0:
        pytest.skip("needs root: creates a local account and runs shells "
                    "as it")
    name = "chsh" + secrets.token_hex(4)
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True,
                   capture_output=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
        subprocess.run(["userdel", "-r", "-f", name], capture_output=True)


@pytest.fixture
def device(agent, openssh_client, workdir, shell_user):
    """Factory: device(shell=True) -> (cli, start), where start(remote,
    options, **popen) starts ssh waiting for the agent on a fresh port,
    then the agent that calls it; returns (ssh Popen, Agent)."""
    cli = openssh_client()
    hostkey = ssh_keygen(workdir / "agent_hostkey")
    cli.trust("dev", f"{hostkey}.pub")
    count = [0]

    def start(remote=(), options=(), shell=True, **popen):
        port = free_port()
        argv = cli.argv(port, shell_user.pw_name, *remote, options=options)
        popen.setdefault("stdin", subprocess.DEVNULL)
        popen.setdefault("stdout", subprocess.PIPE)
        popen.setdefault("stderr", subprocess.PIPE)
        ssh = subprocess.Popen(argv, start_new_session=True, **popen)
        ssh.log_path = cli.log
        wait_for(lambda: port_listening(port), 10, "ssh's socat listener")
        extra = ["--host-key", hostkey]
        if shell:
            extra += ["--shell-user", shell_user.pw_name]
        count[0] += 1
        a = agent(call_home=[f"127.0.0.1:{port}"], authorized=[cli.pub],
                  extra=extra, name=f"agent{count[0]}")
        return ssh, a
    return start


def session_pids(sid):
    """The processes of session sid, from /proc."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[3]) == sid:
            out.append(int(d))
    return out


def pty_reader(fd):
    """read(n) on a pty master for read_until: EIO is the end."""
    def read(n):
        r, _, _ = select.select([fd], [], [], 0.1)
        if not r:
            return None
        try:
            return os.read(fd, n)
        except OSError:
            return b""
    return read


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def test_exec_with_pty_gets_term_and_size(device, shell_user):
    """ssh -tt on a real pty: the command runs on a pty of the agent with
    the size and TERM the manager's terminal has, as the account."""
    master, slave = os.openpty()
    set_size(slave, 33, 101)
    ssh, a = device(["stty size; echo T=$TERM; id -un; pwd; tty"],
                    options=["-tt"], stdin=slave, stdout=slave,
                    stderr=slave, env=dict(os.environ, TERM="xterm-256color"))
    os.close(slave)
    try:
        read = pty_reader(master)
        deadline = time.monotonic() + EXIT_TIMEOUT_S
        out, _ = read_until(read, deadline, delim=b"/dev/pts/")
        text = out.decode(errors="replace")
        assert "33 101" in text
        assert "T=xterm-256color" in text
        assert shell_user.pw_name in text
        assert shell_user.pw_dir in text
        assert ssh.wait(EXIT_TIMEOUT_S) == 0
    finally:
        os.close(master)
    a.proc.wait_log(r"exec started as '%s' .*pty xterm-256color 101x33"
                    % shell_user.pw_name)


def test_interactive_shell_resize_and_exit(device):
    """A login shell on a pty: typed commands run, `stty size` follows a
    window change, and `exit 5` ends ssh with status 5."""
    master, slave = os.openpty()
    set_size(slave, 24, 80)
    ssh, a = device([], options=["-tt"], stdin=slave, stdout=slave,
                    stderr=slave)
    os.close(slave)
    try:
        read = pty_reader(master)
        deadline = time.monotonic() + EXIT_TIMEOUT_S
        os.write(master, b"echo MARK$((6*7)); stty size\r")
        out, rest = read_until(read, deadline, delim=b"MARK42")
        out, rest = read_until(read, deadline, delim=b"24 80", buf=rest)
        set_size(master, 40, 132)
        os.kill(ssh.pid, signal.SIGWINCH)
        # the change reaches the agent in its own time: ask until it shows
        for _ in range(50):
            os.write(master, b"stty size\r")
            try:
                out, rest = read_until(read, time.monotonic() + 0.5,
                                       delim=b"40 132", buf=rest)
                break
            except TimeoutError:
                rest = b""
        else:
            pytest.fail("the window change did not reach the shell")
        os.write(master, b"exit 5\r")
        assert ssh.wait(EXIT_TIMEOUT_S) == 5
    finally:
        os.close(master)
    a.proc.wait_log(r"shell started as .* pty")
    a.proc.wait_log(r"exited with status 5")


def test_exec_exit_status(device):
    ssh, a = device(["exit 3"])
    assert ssh.wait(EXIT_TIMEOUT_S) == 3
    a.proc.wait_log(r"exec started as .* pipes")


def test_exec_stdin_and_output(device):
    """Without a pty: stdin from the manager (its EOF closes it), stdout
    back, stderr apart as extended data (ssh writes it to its stderr), the
    exit status of the command."""
    ssh, a = device(["cat; echo out; echo err >&2; exit 4"],
                    stdin=subprocess.PIPE)
    data = b"hi\n" + b"x" * 300000 + b"\nend\n"
    out, err = ssh.communicate(data, timeout=EXIT_TIMEOUT_S)
    assert ssh.returncode == 4, err
    assert out == data + b"out\n"
    assert err == b"err\n"


def test_large_output_is_flow_controlled(device):
    """Output many times the high-water mark arrives whole and in order."""
    ssh, a = device(["head -c 20000000 /dev/zero | tr '\\0' a; echo END"])
    out, err = ssh.communicate(timeout=60)
    assert ssh.returncode == 0, err
    assert out == b"a" * 20000000 + b"END\n"


def test_shell_disabled_is_refused_with_reason(device):
    ssh, a = device(["true"], shell=False)
    ssh.communicate(timeout=EXIT_TIMEOUT_S)
    assert ssh.returncode == 255
    assert "exec request failed" in ssh.log_path.read_text()
    a.proc.wait_log(r"refused: shell access is not enabled on this device")


def test_connection_end_kills_the_session(device, shell_user):
    """The manager goes mid-command: every process of the command's
    session goes too, the one that ignores SIGHUP after the grace."""
    ssh, a = device(["sleep 1000 & trap '' HUP; echo ready; sleep 1001"])
    read = fd_reader(ssh.stdout.fileno())
    read_until(read, time.monotonic() + EXIT_TIMEOUT_S, delim=b"ready")
    m = a.proc.wait_log(r"exec started as .* pid=(\d+)")
    sid = int(m.group(1))
    wait_for(lambda: len(session_pids(sid)) >= 3, 10, "the session's "
             "processes")
    os.killpg(ssh.pid, signal.SIGKILL)
    ssh.wait(5)
    wait_for(lambda: not session_pids(sid), 10, "no process of the "
             "session left")
    a.proc.wait_log(r"outlived SIGHUP .*: killed")


def test_shell_beside_netconf_and_its_jobs_go_with_it(device, workdir):
    """One connection, several channels (OpenSSH connection sharing): a
    NETCONF session works while an interactive shell runs; the shell
    leaves a background job (its own process group, on the pty) and
    exits: its channel closes after the drain and the job goes with the
    session; NETCONF and the connection stay."""
    ctl = workdir / "ctl"
    master_ssh, a = device([], options=["-M", "-S", str(ctl), "-N"])
    wait_for(lambda: ctl.exists(), EXIT_TIMEOUT_S, "ssh's control socket",
             proc=a.proc)
    argv = master_ssh.args
    mux = [argv[0], "-F", "/dev/null", "-S", str(ctl), "-l",
           argv[argv.index("-l") + 1]]
    m, s = os.openpty()
    shell = subprocess.Popen(mux + ["-tt", "dev"], stdin=s, stdout=s,
                             stderr=s, start_new_session=True)
    os.close(s)
    nc = subprocess.Popen(mux + ["-s", "dev", "netconf"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        read = pty_reader(m)
        os.write(m, b"sleep 1002 & echo BG$((1+1))\r")
        read_until(read, time.monotonic() + EXIT_TIMEOUT_S, delim=b"BG2")
        sid = int(a.proc.wait_log(r"shell started as .* pid=(\d+)")
                  .group(1))
        wait_for(lambda: len(session_pids(sid)) >= 2, 10,
                 "the shell and its job")
        nread = fd_reader(nc.stdout.fileno())
        hello, rest = read_until(nread, time.monotonic() + EXIT_TIMEOUT_S)
        assert b"urn:ietf:params:netconf:base:1.1" in hello
        nc.stdin.write(HELLO_10 + rpc_10(GET_CONFIG_RUNNING, 8))
        nc.stdin.flush()
        reply, rest = read_until(nread, time.monotonic() + EXIT_TIMEOUT_S,
                                 buf=rest)
        assert b'message-id="8"' in reply
        os.write(m, b"exit 6\r")
        assert shell.wait(EXIT_TIMEOUT_S) == 6
        wait_for(lambda: not session_pids(sid), 10, "no process of the "
                 "shell's session left")
        nc.stdin.write(rpc_10(GET_CONFIG_RUNNING, 9))
        nc.stdin.flush()
        reply, rest = read_until(nread, time.monotonic() + EXIT_TIMEOUT_S,
                                 buf=rest)
        assert b'message-id="9"' in reply and b"<name>eth0</name>" in reply
        assert master_ssh.poll() is None
    finally:
        os.close(m)
        for p in (shell, nc, master_ssh):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)


def test_help_lists_the_flag():
    exe = binary("callhomed")
    if not exe.exists():
        pytest.skip(f"{exe} not built")
    out = subprocess.run([exe, "--help"], capture_output=True, text=True)
    assert re.search(r"--shell-user NAME", out.stdout)


SLOW_READER = ("python3 -c 'import sys, time, hashlib\n"
               "h, n = hashlib.sha256(), 0\n"
               "while True:\n"
               "    b = sys.stdin.buffer.read1(65536)\n"
               "    if not b:\n"
               "        break\n"
               "    h.update(b); n += len(b); time.sleep(0.01)\n"
               "print(n, h.hexdigest())'")


def sanitized():
    """Whether the binaries are a sanitizer build (CH_SANITIZE set)."""
    cache = build_dir() / "CMakeCache.txt"
    return cache.exists() and re.search(r"^CH_SANITIZE:STRING=.+",
                                        cache.read_text(), re.M) is not None


def vm_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(rf"^{field}:\s+(\d+)", f.read(), re.M).group(1))


def test_slow_stdin_gets_everything_in_bounded_memory(device):
    """A command that reads its stdin slowly while the manager sends as
    fast as the window allows: the channel is paused and resumed many
    times; every byte arrives, in order, and the agent holds about a
    window and one delivery, not the input (libssh reopens the window at
    each read, whatever it still buffers: reading what waited piece by
    piece let the manager add a window per piece, 24 MiB here)."""
    import hashlib
    data = os.urandom(24 << 20)
    ssh, a = device([SLOW_READER], stdin=subprocess.PIPE)
    a.proc.wait_log(r"exec started as")
    before = vm_kb(a.proc.pid, "VmHWM")
    out, err = ssh.communicate(data, timeout=120)
    assert ssh.returncode == 0, err
    assert out.decode().split() == [str(len(data)),
                                    hashlib.sha256(data).hexdigest()]
    assert "too much input" not in a.proc.log()
    if sanitized():
        return      # ASan's quarantine holds freed memory: RSS says nothing
    grew = vm_kb(a.proc.pid, "VmHWM") - before
    assert grew < 12 * 1024, f"the agent's peak RSS grew by {grew} kB"
