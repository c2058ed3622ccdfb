"""Plumbing for callhome's benchmarks: spawning and reaping processes
(the benchmark is a child subreaper, so nothing escapes it), reading CPU
and memory from /proc, and the hub with its log read as it is written.

Everything runs on loopback; every process started here is killed and
reaped by Env.cleanup(), also on Ctrl-C.
"""

import ctypes
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PR_SET_CHILD_SUBREAPER = 36


RESULTS = "/tmp/callhome-bench-results.txt"


class BenchError(RuntimeError):
    pass


def report(lines):
    """Prints a result table and appends it to RESULTS."""
    print("\n".join(lines))
    with open(RESULTS, "a") as f:
        f.write("\n" + "\n".join(lines) + "\n")


# ---------------------------------------------------------------- /proc

def _stat_fields(pid):
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    # comm may hold spaces and parens: the fields follow the last ')'.
    return data[data.rfind(b")") + 2:].split()


def cpu_stat_s(pid):
    """utime + stime of pid (seconds, CLK_TCK resolution)."""
    f = _stat_fields(pid)
    return (int(f[11]) + int(f[12])) / CLK_TCK


def cpu_sched_s(pid):
    """Time pid's threads have run on a CPU, from /proc/PID/schedstat
    (nanosecond resolution; user + system together)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total / 1e9


def cpu_tree_s(pid):
    """CPU of pid and every live process below it (schedstat), plus what
    their reaped children used (cutime + cstime, CLK_TCK resolution)."""
    total = 0.0
    for x in [pid] + descendants(pid):
        try:
            f = _stat_fields(x)
            total += cpu_sched_s(x) + (int(f[13]) + int(f[14])) / CLK_TCK
        except OSError:
            pass
    return total


def mem_kb(pid):
    """{'rss','anon','file','shmem','pss'} in kB for pid, and its
    'threads'."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "Threads"):
                out[k] = int(v.split()[0])
    pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return {"rss": out.get("VmRSS", 0), "anon": out.get("RssAnon", 0),
            "file": out.get("RssFile", 0), "shmem": out.get("RssShmem", 0),
            "pss": pss, "threads": out.get("Threads", 0)}


def ctx_switches(pid):
    """Voluntary context switches of pid's main thread: how often it went
    to sleep in the kernel (for an event loop: its wake-ups)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    return 0


def comm(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
        return " ".join(a.decode(errors="replace") for a in args if a)[:70]
    except OSError:
        return "?"


def _children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            f = _stat_fields(d)
        except OSError:
            continue
        kids.setdefault(int(f[1]), []).append(int(d))
    return kids


def descendants(pid):
    """Every process below pid, parents before children."""
    kids = _children_map()
    out, todo = [], [pid]
    while todo:
        for c in sorted(kids.get(todo.pop(0), [])):
            out.append(c)
            todo.append(c)
    return out


def _gone(pid):
    """True once pid no longer exists: its parent reaped it (its CPU is
    then in that parent's child rusage) or we did."""
    return not os.path.exists(f"/proc/{pid}")


def _is_our_child(pid):
    try:
        return int(_stat_fields(pid)[1]) == os.getpid()
    except OSError:
        return False


def _kill(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


# ---------------------------------------------------------------- Env

class Env:
    """The run: a temp dir, every process spawned, and their cleanup.

    We become a child subreaper (prctl), so a process whose parent dies
    (sshd's session child after the monitor, say) is re-parented to us:
    reaping it adds its CPU to our RUSAGE_CHILDREN, and nothing can
    outlive the run."""

    def __init__(self, keep=False):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise BenchError("prctl(PR_SET_CHILD_SUBREAPER) failed")
        self.dir = Path(tempfile.mkdtemp(prefix="callhome-bench-"))
        self.keep = keep
        self.procs = []     # Popen objects still to stop at cleanup

    def spawn(self, argv, log=None, stderr=None, stdout=None, env=None,
              cwd=None):
        """Starts argv in its own session (Ctrl-C reaches only us).
        log: a path; stdout and stderr are appended there unless given."""
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        logf = open(log, "ab") if log else subprocess.DEVNULL
        try:
            p = subprocess.Popen(
                [str(a) for a in argv], stdin=subprocess.DEVNULL,
                stdout=stdout if stdout is not None else logf,
                stderr=stderr if stderr is not None else logf,
                env=full_env, cwd=cwd, start_new_session=True)
        finally:
            if log:
                logf.close()
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=5.0):
        """Signals p, then reaps p and everything it had spawned (they
        come back to us as orphans). SIGKILL after timeout. Returns once
        every one of them is reaped or gone, so RUSAGE_CHILDREN holds
        their CPU."""
        tree = descendants(p.pid) if p.poll() is None else []
        _kill(p.pid, sig)
        deadline = time.monotonic() + timeout
        killed = False
        while True:
            p.poll()
            tree = [pid for pid in tree if not self._reap(pid)]
            if p.returncode is not None and not tree:
                break
            if time.monotonic() >= deadline:
                if killed:
                    raise BenchError(f"pids {tree} survive SIGKILL")
                killed = True
                _kill(p.pid, signal.SIGKILL)
                for pid in tree:
                    _kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + 5
            time.sleep(0.002)
        if p in self.procs:
            self.procs.remove(p)
        return p.returncode

    @staticmethod
    def _reap(pid):
        """True once pid is reaped by us or gone."""
        try:
            r, _ = os.waitpid(pid, os.WNOHANG)
            return r == pid
        except ChildProcessError:
            return _gone(pid)

    def stop_many(self, procs, timeout=10.0):
        """SIGTERM to all, then reap all (each like stop)."""
        trees = {}
        for p in procs:
            trees[p.pid] = descendants(p.pid) if p.poll() is None else []
            _kill(p.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        pending = list(procs)
        while pending and time.monotonic() < deadline:
            for p in list(pending):
                p.poll()
                trees[p.pid] = [x for x in trees[p.pid] if not self._reap(x)]
                if p.returncode is not None and not trees[p.pid]:
                    pending.remove(p)
            time.sleep(0.01)
        for p in pending:
            for x in [p.pid] + trees[p.pid]:
                _kill(x, signal.SIGKILL)
            p.wait(5)
        for p in procs:
            if p in self.procs:
                self.procs.remove(p)

    def cleanup(self):
        """Kills everything still running (SIGTERM, then SIGKILL), reaps
        every orphan, removes the temp dir. Safe to call twice."""
        procs, self.procs = list(reversed(self.procs)), []
        pids = set()
        for p in procs:
            if p.poll() is None:
                pids.update(descendants(p.pid))
                pids.add(p.pid)
        # A child whose Popen was interrupted (Ctrl-C inside spawn) is in
        # no list, but it is still our child.
        pids.update(descendants(os.getpid()))
        for pid in pids:
            _kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            for p in procs:
                p.poll()
            if all(_gone(x) or self._reap(x) for x in pids):
                break
            time.sleep(0.02)
        for pid in pids:
            _kill(pid, signal.SIGKILL)
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
        # Orphans re-parented to us.
        while True:
            try:
                r, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if r == 0:
                time.sleep(0.02)
                if not any(_is_our_child(x) for x in pids):
                    break
        if self.dir.exists() and not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ssh_keygen(path, comment="bench"):
    path = Path(path)
    subprocess.run(["/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "",
                    "-C", comment, "-f", str(path)], check=True, timeout=30)
    return path


def wait_until(pred, timeout, what, proc=None, interval=0.002):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if proc is not None and proc.poll() is not None:
            raise BenchError(f"{what}: process {proc.args[0]} exited "
                             f"(rc={proc.returncode})")
        if time.monotonic() >= deadline:
            raise BenchError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------- the hub

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z ")
_CONN = re.compile(r"\] conn=(\d+) peer=\S+ device=(\S+) (.*)$")


def _stamp_ms(text):
    t = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000.0


# "device=SHA256:... job=17 get-config: done" (src/hub/jobs.c)
_JOB_DONE = re.compile(r"device=(\S+) job=(\d+) \S+: done$")


def wait_job_done(hub, job_id, timeout):
    """Waits for the hub's log line saying job_id is done; returns the
    perf_counter() time the line arrived."""
    with hub.cv:
        if not hub.cv.wait_for(lambda: any(j == job_id for _, _, j in
                                           hub.jobs_done), timeout):
            raise BenchError(f"job {job_id} not done after {timeout}s")
        return next(t for t, _, j in hub.jobs_done if j == job_id)


class Hub:
    """callhome-hub with its stderr read by a thread. Each line is
    stamped with perf_counter() as it arrives (the hub writes every line
    unbuffered), so per-connection events have both the hub's own ms
    timestamp and a sub-ms arrival time."""

    EVENTS = (("device called", "called"), ("NETCONF session up", "up"),
              ("connection closed", "closed"))

    def __init__(self, env, build, port, key, state, user, name="hub",
                 extra=()):
        self.env = env
        self.state = Path(state)
        self.sock_path = self.state / "hub.sock"
        self.log_path = env.dir / f"{name}.log"
        self.logf = open(self.log_path, "a")
        self.cv = threading.Condition()
        self.conns = {}         # conn id -> {event: (perf_t, log_ms), fp}
        self.other = []         # lines that are not log lines (malloc_stats)
        self.ready = False
        self.jobs_done = []     # (perf_t, fingerprint, job id), in order
        self.watch = None       # a device pid: its CPU is read at events
        self.p = env.spawn([build / "callhome-hub", "--listen",
                            f"127.0.0.1:{port}", "--key", key, "--user",
                            user, "--state", state, "--accept-new",
                            *extra],
                           stderr=subprocess.PIPE,
                           stdout=subprocess.DEVNULL)
        self.pid = self.p.pid
        self.thread = threading.Thread(target=self._reader, daemon=True)
        self.thread.start()
        with self.cv:
            if not self.cv.wait_for(lambda: self.ready or
                                    self.p.poll() is not None, 15):
                raise BenchError("hub not ready after 15 s")
        if not self.ready:
            raise BenchError(f"hub exited; see {self.log_path}")

    def _reader(self):
        for raw in self.p.stderr:
            t = time.perf_counter()
            line = raw.decode(errors="replace").rstrip("\n")
            self.logf.write(line + "\n")
            m = _STAMP.match(line)
            with self.cv:
                if not m:
                    self.other.append(line)
                elif "hub ready" in line:
                    self.ready = True
                elif (j := _JOB_DONE.search(line)) is not None:
                    self.jobs_done.append((t, j.group(1), int(j.group(2))))
                else:
                    c = _CONN.search(line)
                    if c:
                        self._event(int(c.group(1)), c.group(2),
                                    c.group(3), t, _stamp_ms(m.group(1)))
                self.cv.notify_all()
        self.logf.close()

    def _event(self, conn, fp, msg, t, ms):
        rec = self.conns.setdefault(conn, {})
        if fp != "?":
            rec["fp"] = fp
        for prefix, ev in self.EVENTS:
            if msg.startswith(prefix):
                rec.setdefault(ev, (t, ms))
                if ev in ("called", "up") and self.watch:
                    # The device's CPU so far, read on the reader thread
                    # as the line arrives: at "called", its process start;
                    # at "up", start + handshake.
                    try:
                        rec["cpu_" + ev] = cpu_tree_s(self.watch)
                    except OSError:
                        pass
                    if ev == "up":
                        self.watch = None
                if ev == "closed":
                    rec["why"] = msg

    def watch_pid(self, pid):
        with self.cv:
            self.watch = pid

    def max_conn(self):
        with self.cv:
            return max(self.conns, default=0)

    def count(self, ev, after=0):
        with self.cv:
            return sum(1 for c, r in self.conns.items()
                       if c > after and ev in r)

    def wait_event(self, ev, after, timeout, proc=None):
        """Waits for the first conn > after to reach ev; returns (conn,
        record). A connection closed before reaching ev is an error."""
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                for c in sorted(self.conns):
                    if c <= after:
                        continue
                    r = self.conns[c]
                    if ev in r:
                        return c, dict(r)
                    if "closed" in r:
                        raise BenchError(f"conn={c} closed before {ev}: "
                                         f"{r.get('why')}; see "
                                         f"{self.log_path}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BenchError(f"no hub '{ev}' after {timeout}s; see "
                                     f"{self.log_path}")
                if proc is not None and proc.poll() is not None:
                    raise BenchError(f"device {proc.args[0]} exited "
                                     f"rc={proc.returncode} before {ev}")
                self.cv.wait(min(left, 0.05))

    def wait_closed(self, conn, timeout):
        with self.cv:
            if not self.cv.wait_for(lambda: "closed" in
                                    self.conns.get(conn, {}), timeout):
                raise BenchError(f"hub never closed conn={conn}")

    def wait_count(self, ev, n, after, timeout):
        with self.cv:
            if not self.cv.wait_for(lambda: sum(
                    1 for c, r in self.conns.items()
                    if c > after and ev in r) >= n, timeout):
                raise BenchError(f"fewer than {n} '{ev}' after {timeout}s")

    def wait_connected(self, timeout, what="a device connected"):
        """Waits for a connected device; returns its fingerprint."""
        def connected():
            devs = self.control({"cmd": "devices"}).get("devices", [])
            return next((x["fingerprint"] for x in devs
                         if x.get("state") == "connected"), None)
        return wait_until(connected, timeout, what)

    def control(self, obj, timeout=10):
        """One request on the control socket; returns the parsed reply."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(self.sock_path))
            s.sendall((json.dumps(obj) + "\n").encode())
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        return json.loads(buf)

    def malloc_in_use(self):
        """glibc's heap bytes in use (malloc_stats(), called through gdb,
        prints to the hub's stderr), or None without gdb."""
        gdb = shutil.which("gdb")
        if gdb is None:
            return None
        with self.cv:
            start = len(self.other)
        r = subprocess.run([gdb, "-nx", "-batch", "-p", str(self.pid),
                            "-ex", "call (void)malloc_stats()"],
                           capture_output=True, timeout=60)
        if r.returncode != 0:
            return None
        with self.cv:
            self.cv.wait_for(lambda: any("max mmap bytes" in x for x in
                                         self.other[start:]), 5)
            lines = self.other[start:]
        # The "Total (incl. mmap):" block follows the per-arena blocks.
        for i, line in enumerate(lines):
            if line.startswith("Total (incl. mmap)"):
                for x in lines[i + 1:]:
                    if x.startswith("in use bytes"):
                        return int(x.split("=")[1])
        return None

    def stop(self):
        self.env.stop(self.p)
        self.thread.join(5)
