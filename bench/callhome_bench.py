"""callhome benchmarks: our daemons against peers measured in the same
run, on loopback. See bench/README.md for what each number means.

usage: callhome_bench.py BUILD_DIR [--out FILE] [--ours N] [--openssh N]
                         [--recalls N]
                         [--agents N] [--idle-seconds S] [--no-ncclient]
                         [--no-gdb] [--keep]
"""

import argparse
import math
import os
import platform
import re
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import benchlib as bl

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PEERS = REPO / "tests" / "integration" / "peers"
SSHD = "/usr/sbin/sshd"
SOCAT = "/usr/bin/socat"
NETCONFD = "/usr/sbin/netconfd"
OPENSSL = "/usr/bin/openssl"
PY = "/usr/bin/python3"
USER = "root"   # sshd runs the netconf subsystem as a real user

# The re-call phases reset sessions every few ms: without this the agent
# takes back-to-back short sessions for a manager that drops it in a loop
# and backs off (docs/callhome-config.md), which is not what is measured.
RECALL_AT_ONCE = ["--backoff-base", "1", "--backoff-max", "1"]

RUNNING_XML = """\
<interfaces xmlns="urn:ietf:params:xml:ns:yang:ietf-interfaces">
  <interface><name>eth0</name><enabled>true</enabled></interface>
</interfaces>
"""

# The OpenSSH device: same options as the integration tests' recipe
# (tests/integration/peers/sshd_config.in) but LogLevel INFO, the level
# our agent logs at, and SHLVL=1: sshd runs the subsystem through the
# user's shell, and Debian's bash sources ~/.bashrc when it sees
# SSH_CLIENT at shell level 1 (SSH_SOURCE_BASHRC). This machine's root
# .bashrc (pyenv init) costs ~0.5 s of CPU per session: that is the
# machine's, not OpenSSH's. At SHLVL 2 bash reads no startup file.
SSHD_CONFIG = """\
HostKey {hostkey}
PidFile none
UsePAM no
StrictModes no
AuthorizedKeysFile {authorized_keys}
AuthorizedPrincipalsFile none
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
PermitUserEnvironment no
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
PrintLastLog no
LoginGraceTime 20
LogLevel INFO
SetEnv SHLVL=1
Subsystem netconf /bin/sh {wrapper} {sock}
"""


def say(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def p90(xs):
    s = sorted(xs)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


# ---------------------------------------------------------------- devices

class OursDevice:
    """callhomed, one process per call-home session."""

    label = "callhomed"

    def __init__(self, env, build, port, hub_pub, name="ours", key=None):
        self.env = env
        self.dir = env.dir / name
        self.dir.mkdir(exist_ok=True)
        ds = env.dir / "datastore"
        ds.mkdir(exist_ok=True)
        (ds / "running.xml").write_text(RUNNING_XML)
        self.argv = [build / "callhomed", "--call-home",
                     f"127.0.0.1:{port}", "--host-key",
                     key or self.dir / "host_key", "--authorized-keys",
                     hub_pub, "--datastore", ds] + RECALL_AT_ONCE
        self.log = env.dir / f"{name}.log"

    def spawn(self):
        return self.env.spawn(self.argv, log=self.log)

    def daemon_pid(self):
        return None


def sshd_config(d, hostkey, authorized_keys, sock):
    """Writes d/sshd_config for `sshd -i` with netconfd (its socket sock)
    behind the netconf subsystem, checks it with `sshd -t`, returns its
    path."""
    cfg = d / "sshd_config"
    cfg.write_text(SSHD_CONFIG.format(
        hostkey=hostkey, authorized_keys=authorized_keys,
        wrapper=PEERS / "netconf-subsystem.sh", sock=sock))
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    subprocess.run([SSHD, "-t", "-f", str(cfg)], check=True,
                   capture_output=True, timeout=10)
    return cfg


class OpenSSHDevice:
    """OpenSSH 9.2 `sshd -i` dialled out by socat (nofork: socat execs
    sshd on the connected socket), yuma123 netconfd behind the netconf
    subsystem. The per-session processes are socat->sshd and what sshd
    forks; netconfd is one daemon for all sessions."""

    label = "OpenSSH sshd -i + netconfd"

    def __init__(self, env, port, hub_pub):
        self.env = env
        self.dir = env.dir / "openssh"
        self.dir.mkdir()
        hostkey = bl.ssh_keygen(self.dir / "ssh_host_ed25519_key", "sshdev")
        ak = self.dir / "authorized_keys"
        ak.write_text(Path(hub_pub).read_text())
        # netconfd, HOME in our dir (it writes ~/.yuma/).
        nd = self.dir / "netconfd"
        nd.mkdir()
        sock = nd / "ncxserver.sock"
        self.netconfd = env.spawn(
            [NETCONFD, f"--ncxserver-sockname={sock}", "--port=830",
             f"--superuser={USER}", "--no-startup", "--log-level=info",
             f"--log={nd / 'netconfd.log'}"],
            log=nd / "stdout.log", env={"HOME": str(nd)}, cwd=str(nd))
        bl.wait_until(sock.exists, 20, "netconfd's socket",
                      proc=self.netconfd)
        cfg = sshd_config(self.dir, hostkey, ak, sock)
        exec_ = f"EXEC:{SSHD} -i -f {cfg} -E {self.dir / 'sshd.log'},nofork"
        # nodelay: sshd sets TCP_NODELAY only for interactive (pty)
        # sessions, so on a subsystem channel its small packets meet the
        # hub's delayed ACK (a 40 ms stall per round trip). callhomed sets
        # TCP_NODELAY, so the peer gets it too, from socat.
        self.argv = [SOCAT,
                     f"TCP:127.0.0.1:{port},connect-timeout=5,nodelay",
                     exec_]

    def spawn(self):
        return self.env.spawn(self.argv, log=self.dir / "socat.log")

    def daemon_pid(self):
        return self.netconfd.pid


# ---------------------------------------------------------------- phases

def crypto_floor():
    """openssl speed, one core: per-op seconds for Ed25519 sign/verify and
    X25519."""
    say("openssl speed -seconds 2 ed25519 ecdhx25519 (about 6 s)")
    out = subprocess.run([OPENSSL, "speed", "-seconds", "2", "ed25519",
                          "ecdhx25519"], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    m = re.search(r"EdDSA \(Ed25519\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)",
                  out)
    x = re.search(r"ecdh \(X25519\)\s+\S+s\s+([\d.]+)", out)
    if not m or not x:
        raise bl.BenchError(f"cannot parse openssl speed output:\n{out}")
    sign, verify, x25519 = float(m.group(1)), float(m.group(2)), \
        float(x.group(1))
    # One handshake, either side: an X25519 key generation and a derive
    # (counted as two X25519 operations), one Ed25519 sign, one verify.
    floor = 2 / x25519 + 1 / sign + 1 / verify
    return {"sign_per_s": sign, "verify_per_s": verify,
            "x25519_per_s": x25519, "floor_s": floor}


def run_sessions(env, hub, dev, n, warmup):
    """n sequential call-home sessions (after warmup ones): spawn the
    device, wait for the hub's 'NETCONF session up', SIGTERM the device,
    wait for the hub's close, reap every device process."""
    say(f"{dev.label}: {warmup} warm-up + {n} sessions, one at a time")
    res = {"lat_arrival": [], "lat_log": [], "spawn_up": [], "dev_cpu": [],
           "dev_cpu_start": [], "dev_cpu_hs": [], "n": n}
    daemon = dev.daemon_pid()
    for i in range(warmup + n):
        if i == warmup:
            hub0 = (bl.cpu_stat_s(hub.pid), bl.cpu_sched_s(hub.pid),
                    bl.ctx_switches(hub.pid))
            d0 = bl.cpu_sched_s(daemon) if daemon else 0.0
            d0s = bl.cpu_stat_s(daemon) if daemon else 0.0
            t_start = time.perf_counter()
        after = hub.max_conn()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = dev.spawn()
        hub.watch_pid(p.pid)
        conn, rec = hub.wait_event("up", after, 30, proc=None)
        if i == 0:
            check_get_config(hub, rec["fp"], dev.label)
        env.stop(p)
        hub.wait_closed(conn, 15)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if i < warmup:
            continue
        res["lat_arrival"].append((rec["up"][0] - rec["called"][0]) * 1e3)
        res["lat_log"].append(rec["up"][1] - rec["called"][1])
        res["spawn_up"].append((rec["up"][0] - t0) * 1e3)
        res["dev_cpu"].append((ru1.ru_utime - ru0.ru_utime) +
                              (ru1.ru_stime - ru0.ru_stime))
        if "cpu_called" in rec and "cpu_up" in rec:
            res["dev_cpu_start"].append(rec["cpu_called"])
            res["dev_cpu_hs"].append(rec["cpu_up"] - rec["cpu_called"])
    res["wall_s"] = time.perf_counter() - t_start
    res["hub_cpu_stat"] = (bl.cpu_stat_s(hub.pid) - hub0[0]) / n
    res["hub_cpu_sched"] = (bl.cpu_sched_s(hub.pid) - hub0[1]) / n
    res["hub_wakeups"] = (bl.ctx_switches(hub.pid) - hub0[2]) / n
    res["daemon_cpu"] = ((bl.cpu_sched_s(daemon) - d0) / n) if daemon \
        else 0.0
    res["daemon_cpu_stat"] = ((bl.cpu_stat_s(daemon) - d0s) / n) \
        if daemon else 0.0
    say(f"  median accept->up {statistics.median(res['lat_arrival']):.2f} "
        f"ms, device CPU {statistics.median(res['dev_cpu']) * 1e3:.2f} ms, "
        f"hub CPU {res['hub_cpu_sched'] * 1e3:.3f} ms per session")
    return res


def run_recalls(env, hub, dev, port, n, warmup):
    """A persistent callhomed (how the agent is meant to run): its TCP
    connection is cut with `ss -K` (the kernel resets it), the agent
    calls again at once. Its CPU per re-call has no process start in it.
    None if this kernel cannot destroy sockets."""
    say(f"{dev.label}: persistent agent, {warmup} + {n} re-calls (ss -K)")
    res = {"lat_arrival": [], "n": n}
    after = hub.max_conn()
    p = dev.spawn()
    try:
        conn, _ = hub.wait_event("up", after, 30)
        for i in range(warmup + n):
            if i == warmup:
                a0 = bl.cpu_sched_s(p.pid)
                h0 = bl.cpu_sched_s(hub.pid)
            after = hub.max_conn()
            r = subprocess.run(["ss", "-K", "-t", "state", "established",
                                f"( dport = :{port} )"],
                               capture_output=True, text=True, timeout=10)
            if r.returncode != 0:
                say(f"  ss -K failed ({r.stderr.strip()}): skipped")
                return None
            hub.wait_closed(conn, 10)
            conn, rec = hub.wait_event("up", after, 30)
            if i >= warmup:
                res["lat_arrival"].append(
                    (rec["up"][0] - rec["called"][0]) * 1e3)
        res["dev_cpu"] = (bl.cpu_sched_s(p.pid) - a0) / n
        res["hub_cpu"] = (bl.cpu_sched_s(hub.pid) - h0) / n
    finally:
        env.stop(p)
    hub.wait_closed(conn, 15)
    say(f"  median accept->up {statistics.median(res['lat_arrival']):.2f} "
        f"ms, agent CPU {res['dev_cpu'] * 1e3:.2f} ms per re-call")
    return res


def check_get_config(hub, fp, label):
    """The session is a real NETCONF session: get-config through the
    control socket answers with an rpc-reply."""
    r = hub.control({"cmd": "get-config", "device": fp})
    if not r.get("ok") or "rpc-reply" not in r.get("reply", ""):
        raise bl.BenchError(f"{label}: get-config through the hub failed: "
                            f"{r}")


def idle_device_memory(env, hub, dev, settle=1.0):
    """Memory of the device process(es) holding one idle session."""
    say(f"{dev.label}: memory of one idle session")
    daemon = dev.daemon_pid()
    dmem0 = bl.mem_kb(daemon) if daemon else None
    after = hub.max_conn()
    p = dev.spawn()
    conn, _ = hub.wait_event("up", after, 30)
    time.sleep(settle)
    procs = []
    for pid in [p.pid] + bl.descendants(p.pid):
        try:
            procs.append((pid, bl.comm(pid), bl.mem_kb(pid)))
        except OSError:
            pass
    dmem1 = bl.mem_kb(daemon) if daemon else None
    env.stop(p)
    hub.wait_closed(conn, 15)
    out = {"procs": procs,
           "rss": sum(m["rss"] for _, _, m in procs),
           "pss": sum(m["pss"] for _, _, m in procs),
           "anon": sum(m["anon"] for _, _, m in procs)}
    if daemon:
        out["daemon"] = (bl.comm(daemon), dmem0, dmem1)
    return out


class LineCounter:
    """Reads a child's stdout lines on a thread (the ncclient manager)."""

    def __init__(self, stream):
        self.cv = threading.Condition()
        self.lines = []
        self.t = threading.Thread(target=self._run, args=(stream,),
                                  daemon=True)
        self.t.start()

    def _run(self, stream):
        for raw in stream:
            with self.cv:
                self.lines.append(raw.decode(errors="replace").strip())
                self.cv.notify_all()

    def count(self, prefix):
        with self.cv:
            return sum(1 for x in self.lines if x.startswith(prefix))

    def live(self):
        """Sessions open now: the number on the last UP/DOWN line."""
        with self.cv:
            for x in reversed(self.lines):
                if x.startswith(("UP ", "DOWN ")):
                    return int(x.split()[1])
        return 0

    def wait(self, prefix, n, timeout, what):
        with self.cv:
            if not self.cv.wait_for(lambda: sum(
                    1 for x in self.lines if x.startswith(prefix)) >= n,
                    timeout):
                fails = [x for x in self.lines if x.startswith("FAIL")]
                raise bl.BenchError(f"{what}: timed out after {timeout}s "
                                    f"{fails[:3]}")


def agent_fleet(env, build, port, hub_pub, n, tag):
    """n callhomed agents, each with its own host key (its own identity).
    The keys are made beforehand, so the burst measures handshakes, not
    key generation."""
    keys = [env.dir / "fleet-keys" / f"agent-{i:03d}" for i in range(n)]
    for k in keys:
        if not k.exists():
            bl.ssh_keygen(k, k.name)
    devs = [OursDevice(env, build, port, hub_pub, name=f"{tag}-{i:03d}",
                       key=k) for i, k in enumerate(keys)]
    for d in devs:
        d.log = env.dir / f"{tag}-agents.log"   # one shared log file
    return devs


def manager_scale(env, build, key, n, idle_s, which, use_gdb):
    """A fresh manager (our hub, or the ncclient peer); its memory with
    0 devices (after one warm-up session) and with n idle callhomed
    agents; its CPU for the burst of n handshakes and while idle."""
    port = bl.free_port()
    pub = f"{key}.pub"
    res = {"n": n, "which": which}
    lc = hub = None
    if which == "hub":
        state = env.dir / "hub-scale-state"
        hub = bl.Hub(env, build, port, key, state, USER, name="hub-scale")
        pid = hub.pid
    else:
        mp = env.spawn([PY, "-B", HERE / "ncclient_manager.py", port, key,
                        USER],
                       stdout=subprocess.PIPE,
                       stderr=open(env.dir / "ncclient.log", "ab"))
        lc = LineCounter(mp.stdout)
        lc.wait("READY", 1, 30, "ncclient manager start")
        pid = mp.pid
    label = "callhome-hub" if which == "hub" else "ncclient manager"
    say(f"{label}: {n} idle agents")

    def ups():
        return hub.count("up") if hub else lc.count("UP")

    def all_closed():
        if hub:
            return hub.count("closed") >= hub.count("called")
        return lc.live() == 0

    # Warm-up: one session opened and closed, so lazily allocated
    # libraries (crypto, SQLite, ncclient's imports) are in the baseline.
    warm = OursDevice(env, build, port, pub, name=f"{which}-warm")
    p = warm.spawn()
    bl.wait_until(lambda: ups() >= 1, 30, f"{label} warm-up session")
    env.stop(p)
    bl.wait_until(all_closed, 30, f"{label} warm-up close")
    time.sleep(0.5)
    res["mem0"] = bl.mem_kb(pid)
    res["heap0"] = hub.malloc_in_use() if hub and use_gdb else None

    fleet = agent_fleet(env, build, port, pub, n, which)
    c0 = bl.cpu_sched_s(pid)
    t0 = time.perf_counter()
    procs = [d.spawn() for d in fleet]
    try:
        bl.wait_until(lambda: ups() >= n + 1, 120,
                      f"{n} sessions up at {label}", interval=0.01)
        res["burst_s"] = time.perf_counter() - t0
        res["cpu_per_session"] = (bl.cpu_sched_s(pid) - c0) / n
        if hub:
            devs = hub.control({"cmd": "devices"})["devices"]
            res["connected"] = sum(1 for d in devs
                                   if d["state"] == "connected")
            if res["connected"] != n:
                raise bl.BenchError(f"hub lists {res['connected']} "
                                    f"connected devices, expected {n}")
        time.sleep(1.0)
        res["mem1"] = bl.mem_kb(pid)
        # Idle: nothing happens on the sessions for idle_s seconds.
        a0 = sum(bl.cpu_sched_s(q.pid) for q in procs)
        c1 = bl.cpu_sched_s(pid)
        time.sleep(idle_s)
        res["idle_cpu"] = (bl.cpu_sched_s(pid) - c1) / idle_s
        res["agents_idle_cpu"] = (sum(bl.cpu_sched_s(q.pid) for q in procs)
                                  - a0) / idle_s
        res["mem1b"] = bl.mem_kb(pid)
        agent_mem = [bl.mem_kb(q.pid) for q in procs]
        res["agent_rss"] = statistics.median(m["rss"] for m in agent_mem)
        res["agent_pss"] = statistics.median(m["pss"] for m in agent_mem)
        res["heap1"] = hub.malloc_in_use() if hub and use_gdb else None
    finally:
        env.stop_many(procs)
    bl.wait_until(all_closed, 60, f"{label}: sessions closed",
                  interval=0.01)
    time.sleep(0.5)
    res["mem2"] = bl.mem_kb(pid)
    res["heap2"] = hub.malloc_in_use() if hub and use_gdb else None
    if hub:
        hub.stop()
    else:
        env.stop(mp)
    return res


# ---------------------------------------------------------------- report

def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} vCPU, {model}, {mem_gib:.0f} GiB RAM, "
            f"Linux {platform.release()}")


def versions():
    """Debian package versions of what the numbers depend on."""
    pkgs = ["openssh-server", "netconfd", "socat", "libssh-4", "libssl3",
            "libuv1", "libsqlite3-0", "python3-ncclient"]
    try:
        r = subprocess.run(["dpkg-query", "-W", "-f", "${Package} "
                            "${Version}\n"] + pkgs, capture_output=True,
                           text=True, timeout=10)
        return ", ".join(x for x in r.stdout.strip().splitlines() if x)
    except (OSError, subprocess.SubprocessError):
        return "?"


def build_type(build):
    try:
        for line in (build / "CMakeCache.txt").read_text().splitlines():
            if line.startswith("CMAKE_BUILD_TYPE:"):
                return "CMAKE_BUILD_TYPE=" + (line.split("=", 1)[1] or
                                              "(default: RelWithDebInfo)")
    except OSError:
        pass
    return "?"


def ratio(a, b):
    return f"{a / b:.2f}x" if b else "-"


def report(args, crypto, ours, ossh, recall, mem_ours, mem_ossh, scale,
           peer):
    ms = 1e3
    L = []
    w = L.append
    w("callhome benchmarks (bench/run.sh)")
    w(f"date     {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    w(f"machine  {machine()}")
    w(f"packages {versions()}")
    w(f"build    {build_type(args.build)}")
    w(f"command  bench/run.sh {args.build}  (sessions: {ours['n']} ours, "
      f"{ossh['n']} OpenSSH; {args.agents} idle agents)")
    w("")
    def hdr(a="callhome", b="peer"):
        return f"  {'':44s}{a:>14s}{b:>14s}{'ours/peer':>11s}"
    w("1. Call-home handshake, device side (same hub; peer = OpenSSH "
      "sshd -i via socat + netconfd)")
    w(hdr("callhomed", "OpenSSH"))

    def row(name, a, b, unit, fmt="{:.2f}"):
        w(f"  {name:44s}{(fmt.format(a) + ' ' + unit):>14s}"
          f"{(fmt.format(b) + ' ' + unit):>14s}{ratio(a, b):>11s}")
    row("accept -> session up, median", statistics.median(
        ours["lat_arrival"]), statistics.median(ossh["lat_arrival"]), "ms")
    row("accept -> session up, p90", p90(ours["lat_arrival"]),
        p90(ossh["lat_arrival"]), "ms")
    row("  same from hub log stamps (1 ms), median",
        statistics.median(ours["lat_log"]),
        statistics.median(ossh["lat_log"]), "ms", "{:.1f}")
    row("process spawn -> session up, median",
        statistics.median(ours["spawn_up"]),
        statistics.median(ossh["spawn_up"]), "ms")
    oc = statistics.median(ours["dev_cpu"]) * ms
    pc = statistics.median(ossh["dev_cpu"]) * ms
    pd = ossh["daemon_cpu"] * ms
    row("device CPU/session, session processes", oc, pc, "ms")
    w(f"  {'  + netconfd daemon share (mean)':44s}{'-':>14s}"
      f"{pd:>11.2f} ms")
    row("device CPU/session, total", oc, pc + pd, "ms")
    if ours["dev_cpu_start"] and ossh["dev_cpu_start"]:
        def mean(xs):
            return statistics.fmean(xs) * ms
        oa, pa = mean(ours["dev_cpu_start"]), mean(ossh["dev_cpu_start"])
        ob, pb = mean(ours["dev_cpu_hs"]), mean(ossh["dev_cpu_hs"])
        ot = statistics.fmean(ours["dev_cpu"]) * ms
        pt = statistics.fmean(ossh["dev_cpu"]) * ms
        w("    split (means):")
        row("    process start, until the TCP connect", oa, pa, "ms")
        row("    connect -> session up", ob, pb, "ms")
        row("    after session up: teardown, exit", ot - oa - ob,
            pt - pa - pb, "ms")
    row("device CPU/session, p90 (session processes)",
        p90(ours["dev_cpu"]) * ms, p90(ossh["dev_cpu"]) * ms, "ms")
    if recall:
        w(f"  persistent agent, re-call after its TCP connection is reset "
          f"(ss -K), {recall['n']} times:")
        row("  accept -> session up, median",
            statistics.median(recall["lat_arrival"]),
            statistics.median(ossh["lat_arrival"]), "ms")
        row("  device CPU per re-call vs OpenSSH session",
            recall["dev_cpu"] * ms, pc + pd, "ms")
        w(f"  {'  hub CPU per re-call':44s}{recall['hub_cpu'] * ms:>11.3f} ms")
    w(f"  {'sessions/s, one at a time (incl. teardown)':44s}"
      f"{ours['n'] / ours['wall_s']:>11.1f} /s{ossh['n'] / ossh['wall_s']:>11.1f} /s"
      f"{ratio(ours['n'] / ours['wall_s'], ossh['n'] / ossh['wall_s']):>11s}")
    w("")
    fl = crypto["floor_s"] * ms
    w("2. Hub CPU per session (accept, handshake, hello, teardown, registry "
      "writes)")
    w(hdr("callhomed dev", "OpenSSH dev"))
    row("hub CPU/session (schedstat)", ours["hub_cpu_sched"] * ms,
        ossh["hub_cpu_sched"] * ms, "ms", "{:.3f}")
    row("hub CPU/session (/proc stat, 10 ms ticks)",
        ours["hub_cpu_stat"] * ms, ossh["hub_cpu_stat"] * ms, "ms", "{:.3f}")
    row("hub wake-ups/session (voluntary ctx switches)",
        ours["hub_wakeups"], ossh["hub_wakeups"], "", "{:.1f}")
    w(f"  crypto floor per side: 2 X25519 + 1 Ed25519 sign + 1 verify = "
      f"{fl:.3f} ms")
    w(f"    (openssl speed, one core: Ed25519 sign {crypto['sign_per_s']:.0f}"
      f"/s, verify {crypto['verify_per_s']:.0f}/s, X25519 "
      f"{crypto['x25519_per_s']:.0f}/s)")
    w(f"  hub / floor: {ours['hub_cpu_sched'] * ms / fl:.1f}x (callhomed "
      f"devices), {ossh['hub_cpu_sched'] * ms / fl:.1f}x (OpenSSH devices)")
    w(f"  device / floor: {oc / fl:.1f}x (callhomed, incl. process start), "
      f"{(pc + pd) / fl:.1f}x (OpenSSH)")
    w("")
    w("3a. Device memory, one idle session (kB)")
    w(f"  {'':44s}{'RSS':>10s}{'PSS':>10s}{'anon':>10s}{'threads':>9s}")
    for label, m in (("callhomed", mem_ours), ("OpenSSH", mem_ossh)):
        w(f"  {label + ' total':44s}{m['rss']:>10d}{m['pss']:>10d}"
          f"{m['anon']:>10d}")
        for pid, name, mm in m["procs"]:
            w(f"    {name[:42]:42s}{mm['rss']:>10d}{mm['pss']:>10d}"
              f"{mm['anon']:>10d}{mm['threads']:>9d}")
        if "daemon" in m:
            name, a, b = m["daemon"]
            w(f"    {'(not summed) netconfd daemon, RSS before -> idle':42s}"
              f"{a['rss']:>10d} -> {b['rss']} (+{b['rss'] - a['rss']})")
    w(f"  ratio ours/OpenSSH: RSS {ratio(mem_ours['rss'], mem_ossh['rss'])}"
      f", PSS {ratio(mem_ours['pss'], mem_ossh['pss'])}")
    w("")
    w(f"3b. Manager memory per idle device ({scale['n']} callhomed agents, "
      "each its own identity)")
    cols = [("callhome-hub", scale)] + ([("ncclient (peer)", peer)] if peer
                                         else [])
    w(f"  {'':44s}" + "".join(f"{c:>18s}" for c, _ in cols))

    def mrow(name, f):
        w(f"  {name:44s}" + "".join(f"{f(r):>18s}" for _, r in cols))
    n = scale["n"]
    mrow("RSS with 0 devices (after 1 warm-up)", lambda r:
         f"{r['mem0']['rss']} kB")
    mrow(f"RSS with {n} idle devices", lambda r: f"{r['mem1']['rss']} kB")
    mrow(f"  same after {args.idle_seconds:g} s more idle",
         lambda r: f"{r['mem1b']['rss']} kB")
    mrow("RSS growth per device", lambda r:
         f"{(r['mem1']['rss'] - r['mem0']['rss']) / n:.1f} kB")
    mrow("anon growth per device", lambda r:
         f"{(r['mem1']['anon'] - r['mem0']['anon']) / n:.1f} kB")
    if scale.get("heap1") is not None:
        mrow("malloc in-use growth per device (gdb)", lambda r:
             f"{(r['heap1'] - r['heap0']) / n / 1024:.1f} kB"
             if r.get("heap1") is not None else "-")
    mrow("RSS after every device left", lambda r: f"{r['mem2']['rss']} kB")
    if scale.get("heap2") is not None:
        mrow("malloc in use: 0 devs / after all left", lambda r:
             f"{r['heap0'] // 1024}/{r['heap2'] // 1024} kB"
             if r.get("heap2") is not None else "-")
    mrow(f"burst: {n} devices calling at once, all up", lambda r:
         f"{r['burst_s']:.2f} s")
    mrow("manager CPU per session in the burst", lambda r:
         f"{r['cpu_per_session'] * ms:.2f} ms")
    mrow(f"manager CPU while {n} sessions idle", lambda r:
         f"{r['idle_cpu'] * 100:.2f} %")
    mrow(f"all {n} agents' CPU while idle", lambda r:
         f"{r['agents_idle_cpu'] * 100:.2f} %")
    mrow("agent RSS / PSS, median", lambda r:
         f"{r['agent_rss']:.0f}/{r['agent_pss']:.0f} kB")
    mrow("manager threads with all devices up", lambda r:
         f"{r['mem1']['threads']}")
    if peer:
        g_h = (scale["mem1"]["rss"] - scale["mem0"]["rss"]) / n
        g_p = (peer["mem1"]["rss"] - peer["mem0"]["rss"]) / n
        w(f"  ratio hub/ncclient: RSS per device {ratio(g_h, g_p)}, CPU per "
          f"session {ratio(scale['cpu_per_session'], peer['cpu_per_session'])}")
    w("  peer-notes (other runs, same machine): minimal libssh manager "
      "~23 kB and 0.85 ms; libnetconf2 24-177 kB and 1.3-4.7 ms")
    return "\n".join(L) + "\n"


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", type=Path)
    ap.add_argument("--out", default=bl.RESULTS)
    ap.add_argument("--ours", type=int, default=200)
    ap.add_argument("--openssh", type=int, default=50)
    ap.add_argument("--recalls", type=int, default=100)
    ap.add_argument("--agents", type=int, default=200)
    ap.add_argument("--idle-seconds", type=float, default=5.0)
    ap.add_argument("--no-ncclient", action="store_true")
    ap.add_argument("--no-gdb", action="store_true")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temp dir (logs) for a look")
    args = ap.parse_args()
    args.build = args.build.resolve()
    for b in ("callhomed", "callhome-hub"):
        if not os.access(args.build / b, os.X_OK):
            sys.exit(f"bench: {args.build / b} missing: build it first")
    if os.geteuid() != 0:
        sys.exit("bench: run as root (sshd -i logs the hub in as a real "
                 "user and needs /run/sshd)")
    for tool in (SSHD, SOCAT, NETCONFD, OPENSSL):
        if not os.access(tool, os.X_OK):
            sys.exit(f"bench: {tool} missing (make deps installs the peers)")

    def on_term(signum, frame):
        raise KeyboardInterrupt
    # SIGINT too: a shell without job control starts background commands
    # with SIGINT ignored, and Python then installs no handler of its own.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_term)

    env = bl.Env(keep=args.keep)
    t_all = time.monotonic()
    try:
        say(f"work dir {env.dir}")
        crypto = crypto_floor()
        key = bl.ssh_keygen(env.dir / "hub_key", "bench-hub")
        pub = Path(f"{key}.pub")
        (env.dir / "fleet-keys").mkdir()
        port = bl.free_port()
        hub = bl.Hub(env, args.build, port, key, env.dir / "hub-state",
                     USER)
        ours_dev = OursDevice(env, args.build, port, pub)
        ossh_dev = OpenSSHDevice(env, port, pub)
        ours = run_sessions(env, hub, ours_dev, args.ours, 5)
        ossh = run_sessions(env, hub, ossh_dev, args.openssh, 3)
        recall = run_recalls(env, hub, ours_dev, port, args.recalls, 5)
        mem_ours = idle_device_memory(env, hub, ours_dev)
        mem_ossh = idle_device_memory(env, hub, ossh_dev)
        hub.stop()
        env.stop(ossh_dev.netconfd)
        scale = manager_scale(env, args.build, key, args.agents,
                              args.idle_seconds, "hub", not args.no_gdb)
        peer = None
        if not args.no_ncclient:
            peer = manager_scale(env, args.build, key, args.agents,
                                 args.idle_seconds, "ncclient", False)
        text = report(args, crypto, ours, ossh, recall, mem_ours, mem_ossh,
                      scale, peer)
        text += f"(whole run {time.monotonic() - t_all:.0f} s)\n"
        print()
        print(text, end="")
        Path(args.out).write_text(text)
        say(f"results also in {args.out}")
    except KeyboardInterrupt:
        say("interrupted: cleaning up")
        return 130
    except bl.BenchError as e:
        say(f"FAILED: {e}")
        if not args.keep:
            say("(rerun with --keep to keep the logs)")
        return 1
    finally:
        env.cleanup()
        if args.keep:
            say(f"logs kept in {env.dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
