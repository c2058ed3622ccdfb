"""Terminal access through the hub, against OpenSSH straight to a device.

Three measurements, each set against OpenSSH 9.2 in the same run, all on
127.0.0.1:

1. Keystroke round trip: on a pty of ours (raw, so nothing echoes
   locally), `callhome exec -t DEVICE -- cat` (CLI -> hub -> callhomed ->
   a pty on the device running cat) vs `ssh -tt root@127.0.0.1 cat` to a
   listening `sshd -D`. One byte is written, and the next is written once
   its echo (the device pty's line discipline) is read back; N of them
   after warm-ups.
2. Bulk: `exec cat` of 100 MiB (random bytes from a file, stdout counted
   by wc -c) through the hub vs `ssh root@127.0.0.1 cat`.
3. Memory per open shell: the hub's RSS before and with 50 interactive
   shells open (`callhome shell` on 50 ptys, over 4 agents: an agent
   serves at most 16), the growth / 50; against the RSS of one `ssh -tt`
   client process holding one shell (OpenSSH's manager side per shell).
   glibc's heap in use (malloc_stats() through gdb) is shown too: RSS
   moves in pages and may not move at all for a few kB each.

usage: terminal_bench.py BUILD_DIR [--keys N] [--mib M] [--shells S]
Needs root (shells run as root; sshd -D). Not for CI: it reports numbers.
"""

import argparse
import os
import select
import socket
import statistics
import subprocess
import sys
import time
import tty
from pathlib import Path

import benchlib as bl
from callhome_bench import SSHD, USER, OursDevice, p90, say, sshd_config

SSH = "/usr/bin/ssh"
SHELLS_PER_AGENT = 16       # CH_AGENT_MAX_SHELLS


def raw_pty():
    m, s = os.openpty()
    tty.setraw(s)
    return m, s


def read_some(fd, timeout):
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return None
    try:
        return os.read(fd, 65536)
    except OSError:
        return b""


def wait_for_bytes(fd, want, timeout):
    buf = b""
    deadline = time.monotonic() + timeout
    while want not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise bl.BenchError(f"no {want!r} after {timeout}s: {buf[-200:]!r}")
        got = read_some(fd, left)
        if got == b"":
            raise bl.BenchError(f"pty closed waiting for {want!r}: {buf!r}")
        if got:
            buf += got
    return buf


def keystrokes(env, argv, n, warm=20):
    """Round trips (s) of one byte through argv's echoing cat."""
    m, s = raw_pty()
    # not env.spawn: stdin must be the pty too
    p = subprocess.Popen([str(a) for a in argv], stdin=s, stdout=s,
                         stderr=s, start_new_session=True)
    env.procs.append(p)
    os.close(s)
    try:
        # the remote cat is up once a byte comes back
        deadline = time.monotonic() + 20
        while True:
            os.write(m, b"!")
            got = read_some(m, 0.5)
            if got and b"!" in got:
                break
            if time.monotonic() > deadline or p.poll() is not None:
                raise bl.BenchError(f"{argv[0]}: no echo from cat")
        while read_some(m, 0.2):
            pass
        out = []
        for i in range(warm + n):
            c = bytes([ord("a") + i % 26])
            t0 = time.perf_counter()
            os.write(m, c)
            wait_for_bytes(m, c, 10)
            if i >= warm:
                out.append(time.perf_counter() - t0)
        return out
    finally:
        env.stop(p)
        os.close(m)


def bulk(argv_cmd, path, size, tries=3):
    """Best of tries: seconds to push size bytes through `cat` and back."""
    best = None
    for _ in range(tries):
        t0 = time.perf_counter()
        r = subprocess.run(f"{argv_cmd} < {path} | wc -c", shell=True,
                           capture_output=True, timeout=300)
        dt = time.perf_counter() - t0
        if r.returncode != 0 or int(r.stdout.split()[0]) != size:
            raise bl.BenchError(f"bulk through {argv_cmd!r}: rc="
                                f"{r.returncode} {r.stdout!r} {r.stderr!r}")
        best = dt if best is None else min(best, dt)
    return best


def open_shells(env, argv, n):
    """n interactive shells of argv, each on its own pty, each past a
    command's output; returns (procs, masters)."""
    procs, masters = [], []
    for i in range(n):
        m, s = raw_pty()
        p = subprocess.Popen([str(a) for a in argv], stdin=s, stdout=s,
                             stderr=s, start_new_session=True)
        env.procs.append(p)
        os.close(s)
        procs.append(p)
        masters.append(m)
        os.write(m, f"echo R$(({i}+1000))\r".encode())
        wait_for_bytes(m, f"R{i + 1000}".encode(), 30)
    return procs, masters


def ms(xs):
    return (f"{1000 * statistics.median(xs):7.3f} ms  p90 "
            f"{1000 * p90(xs):7.3f} ms")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", type=Path)
    ap.add_argument("--keys", type=int, default=500)
    ap.add_argument("--mib", type=int, default=100)
    ap.add_argument("--shells", type=int, default=50)
    args = ap.parse_args()
    build = args.build.resolve()
    env = bl.Env()
    try:
        port = bl.free_port()
        key = bl.ssh_keygen(env.dir / "hub_key", "bench-hub")
        pub = Path(f"{key}.pub")
        hub = bl.Hub(env, build, port, key, env.dir / "hub-state", USER)
        cli = [build / "callhome", "--hub", hub.sock_path]

        nagents = max(1, -(-args.shells // SHELLS_PER_AGENT))
        fps = []
        for i in range(nagents):
            dev = OursDevice(env, build, port, pub, name=f"ours{i}")
            dev.argv += ["--shell-user", USER]
            before = hub.max_conn()
            p = dev.spawn()
            _, rec = hub.wait_event("up", before, 20, proc=p)
            fps.append(rec["fp"])

        # OpenSSH straight: sshd -D on loopback, a client key of its own
        od = env.dir / "openssh"
        od.mkdir()
        hostkey = bl.ssh_keygen(od / "host_key", "bench-sshd")
        ckey = bl.ssh_keygen(od / "client_key", "bench-client")
        ak = od / "authorized_keys"
        ak.write_text(Path(f"{ckey}.pub").read_text())
        cfg = sshd_config(od, hostkey, ak, od / "none.sock")
        sport = bl.free_port()
        env.spawn([SSHD, "-D", "-f", cfg, "-E", od / "sshd.log", "-o",
                   "ListenAddress=127.0.0.1", "-p", str(sport)])
        bl.wait_until(lambda: listening(sport), 10, "sshd listening")
        ssh = [SSH, "-F", "/dev/null", "-i", ckey, "-p", str(sport),
               "-o", "StrictHostKeyChecking=no", "-o",
               "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
               "-o", "LogLevel=ERROR", f"{USER}@127.0.0.1"]

        say(f"keystroke round trips: {args.keys} through the hub")
        k_ours = keystrokes(env, cli + ["exec", "-t", fps[0], "--", "cat"],
                            args.keys)
        say(f"keystroke round trips: {args.keys} with ssh -tt")
        k_ossh = keystrokes(env, ssh + ["-tt", "cat"], args.keys)

        size = args.mib << 20
        data = env.dir / "bulk.bin"
        with open(data, "wb") as f:
            f.write(os.urandom(size))
        say(f"exec cat of {args.mib} MiB through the hub")
        q = " ".join(str(a) for a in cli)
        b_ours = bulk(f"{q} exec {fps[0]} -- cat", data, size)
        say(f"ssh cat of {args.mib} MiB")
        b_ossh = bulk(" ".join(str(a) for a in ssh) + " cat", data, size)
        # OpenSSH prefers chacha20-poly1305; AES-GCM has the CPU's help
        b_gcm = bulk(" ".join(str(a) for a in ssh) +
                     " -c aes256-gcm@openssh.com cat", data, size)
        data.unlink()

        say(f"hub memory with {args.shells} shells open")
        time.sleep(0.5)
        rss0 = bl.mem_kb(hub.pid)["rss"]
        heap0 = hub.malloc_in_use()
        procs, masters = [], []
        for i in range(args.shells):
            pr, ms_ = open_shells(env, cli + ["shell", fps[i % nagents]], 1)
            procs += pr
            masters += ms_
        time.sleep(0.5)
        rss1 = bl.mem_kb(hub.pid)["rss"]
        heap1 = hub.malloc_in_use()
        per_shell = (rss1 - rss0) / args.shells
        have_heap = heap0 is not None and heap1 is not None
        heap_kb = (heap1 - heap0) / args.shells / 1024 if have_heap else 0
        heap_line = (f"  hub heap in use per open shell (malloc_stats) "
                     f"{heap_kb:8.1f} kB" if have_heap else
                     "  hub heap in use: no gdb")
        for p in procs:
            env.stop(p)
        for m in masters:
            os.close(m)
        sp, sm = open_shells(env, ssh + ["-tt"], 1)
        ssh_rss = bl.mem_kb(sp[0].pid)["rss"]
        env.stop(sp[0])
        os.close(sm[0])

        mib_s_o = args.mib / b_ours
        mib_s_s = args.mib / b_ossh
        lines = [
            "terminal (docs/terminal.md): through the hub vs OpenSSH "
            "straight to sshd",
            f"  keystroke echo, callhome exec -t -> hub -> callhomed "
            f"{ms(k_ours)}  (n={len(k_ours)})",
            f"  keystroke echo, ssh -tt -> sshd                      "
            f"{ms(k_ossh)}  (n={len(k_ossh)})",
            f"  ratio ours/peer (median)                             "
            f"{statistics.median(k_ours) / statistics.median(k_ossh):7.2f}x",
            f"  exec cat {args.mib} MiB, through the hub   {b_ours:7.2f} s "
            f"({mib_s_o:6.1f} MiB/s)",
            f"  ssh cat {args.mib} MiB, straight           {b_ossh:7.2f} s "
            f"({mib_s_s:6.1f} MiB/s)",
            f"  ssh -c aes256-gcm cat {args.mib} MiB       {b_gcm:7.2f} s "
            f"({args.mib / b_gcm:6.1f} MiB/s)",
            f"  ratio ours/peer (time; default / aes256-gcm) "
            f"{b_ours / b_ossh:5.2f}x / {b_ours / b_gcm:5.2f}x",
            f"  hub RSS per open shell ({args.shells} shells)  "
            f"{per_shell:8.1f} kB  ({rss0} -> {rss1} kB)",
            heap_line,
            f"  ssh -tt client RSS for one shell       {ssh_rss:8d} kB",
            f"  ratio ours/peer ({'heap' if have_heap else 'RSS'} per shell "
            f"/ ssh's RSS) {(heap_kb if have_heap else per_shell) / ssh_rss:8.4f}x",
        ]
        bl.report(lines)
    finally:
        env.cleanup()


def listening(port):
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


if __name__ == "__main__":
    sys.exit(main())
