"""Scale: N simulated call-home devices (callhome-loadgen) against our hub
and, in the same run with the same load, against peers:

  minhub      callhome-minhub, the least a libssh client hub can do
              (handshake, public-key authentication, the netconf
              subsystem, the hello: the floor of the library itself)
  nc2-shared  callhome-nc2hub: libnetconf2's nc_accept_callhome() loop,
              one libyang context for all sessions
  nc2-perctx  the same with a libyang context per session
  ncclient    bench/ncclient_hub.py (Debian's /usr/bin/python3 and
              python3-ncclient): ncclient's call home, thread per session

A peer that is not installed is skipped with a line saying so. A run
that stops making progress (no new device up for --stall-seconds) or
outlasts its time bound is reported as "stalled at M" / "timed out at
M" with the figures of the M that came up, rather than waiting on it.

For each N and each hub: a fresh hub; callhome-loadgen processes (as
many as the open-file limit needs) start N devices, --in-flight at once,
spread over --sources; then

  time to N      loadgen start of calling -> the last device's hello
                 from the hub (the slowest process)
  handshakes/s   N / time to N
  best 1 s       the most devices up in one 1-s window (the loadgen's
                 progress lines): the rate a hub reaches before any
                 tail (a listen backlog that overflows leaves devices
                 in TCP's SYN back-off, up to 32 s per retry)
  latency        connect() -> the hub's hello, p50 / p99 over N devices
  CPU/handshake  the hub's utime+stime (/proc/PID/stat, its workers
                 included) from before the
                 first call to all N up, divided by N (includes the
                 accept, the registry's first sight of each device and
                 our log lines; minhub logs nothing)
  RSS/session    VmRSS with N idle sessions minus VmRSS before, over N
  idle CPU       the hub's CPU while N sessions sit idle for
                 --idle-seconds, as a percentage of one core
  loadgen CPU    the devices' side (all loadgen processes, getrusage)
                 per handshake: with the hub on the same cores, it
                 bounds handshakes/s

Our hub runs with --accept-new and its defaults, except
--no-config-archive and --no-device-notifications unless --hub-full: the
minimal hub does no rpc after the hello either.

usage: scale_bench.py BUILD_DIR [--n 1000,5000] [--in-flight K]
       [--sources A-B] [--idle-seconds S] [--keys DIR] [--hub-full]
       [--hubs ours,minhub,nc2-shared,nc2-perctx,ncclient]
       [--stall-seconds S] [--bound-base S]
"""

import argparse
import os
import re
import resource
import signal
import subprocess
import time
from pathlib import Path

import benchlib as bl

USER = "netconf"
LOADGEN_FDS_PER_DEVICE = 2      # as LG_FDS_PER_DEVICE in loadgen.c
LOADGEN_FDS_SPARE = 64
KINDS = ("ours", "minhub", "nc2-shared", "nc2-perctx", "ncclient")
PEERS = KINDS[1:]
PYTHON = "/usr/bin/python3"     # Debian's, with python3-ncclient
HERE = Path(__file__).resolve().parent
POLL_S = 0.05                   # progress polling while devices come up
UP_RE = re.compile(r"^t=[0-9.]+ up=([0-9]+)", re.M)
TICK_RE = re.compile(r"^t=([0-9.]+) up=([0-9]+)", re.M)


def rates_1s(errs):
    """The devices that came up in each 1-s window (the loadgen's
    progress lines, all its processes together): (the median of the
    windows in which any came up, the most in one)."""
    per_s = {}
    for text in errs:
        last = 0
        for t, up in TICK_RE.findall(text):
            k = round(float(t))
            per_s[k] = per_s.get(k, 0) + max(int(up) - last, 0)
            last = int(up)
    busy = sorted(v for v in per_s.values() if v > 0) or [0]
    return busy[len(busy) // 2], busy[-1]


def missing(build, kind):
    """Why kind cannot run here, or None."""
    if kind.startswith("nc2") and not (build / "callhome-nc2hub").exists():
        return ("callhome-nc2hub not built (libnetconf2-dev not "
                "installed: scripts/install-deps.sh --bench, then cmake)")
    if kind == "ncclient":
        r = subprocess.run([PYTHON, "-c", "import ncclient"],
                           capture_output=True)
        if r.returncode != 0:
            return f"{PYTHON} has no ncclient (python3-ncclient)"
    return None


def hub_cpu_s(pid):
    """utime + stime (/proc/PID/stat: every thread) of pid and its
    descendants (a hub's workers) together."""
    total = 0.0
    for p in [pid] + bl.descendants(pid):
        try:
            total += bl.cpu_stat_s(p)
        except (OSError, IndexError, ValueError):
            pass        # gone meanwhile
    return total


def rss_kb(pid):
    """VmRSS of pid and its descendants (a hub's workers) together."""
    total, found = 0, False
    for p in [pid] + bl.descendants(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        found = True
        except OSError:
            pass
    if not found:
        raise bl.BenchError(f"no VmRSS for pid {pid}")
    return total


def wait_file_has(path, text, timeout, proc=None):
    def has():
        try:
            return text in Path(path).read_text(errors="replace")
        except FileNotFoundError:
            return False
    bl.wait_until(has, timeout, f"'{text}' in {path}", proc=proc,
                  interval=0.05)


def per_process_max():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lim = hard if hard != resource.RLIM_INFINITY else 1 << 20
    return (lim - LOADGEN_FDS_SPARE) // LOADGEN_FDS_PER_DEVICE


def parse_report(text):
    r = {}
    for line in text.splitlines():
        if ": " in line and not line.startswith(" "):
            k, v = line.split(": ", 1)
            r[k.strip()] = v.strip()
    return r


def start_hub(env, build, kind, port, key, name, args, n):
    log = env.dir / f"{name}.log"
    full = args.hub_full
    if kind.startswith("nc2"):
        per = ["--ctx-per-session"] if kind == "nc2-perctx" else []
        # its own stall line a little before ours, to be quoted
        stall = max(1, int(args.stall_seconds) - 5)
        p = env.spawn([build / "callhome-nc2hub", *per, "--expect", n,
                       "--stall-seconds", stall, f"127.0.0.1:{port}", key,
                       USER], log=log)
        wait_file_has(log, "ready", 15, proc=p)
    elif kind == "ncclient":
        p = env.spawn([PYTHON, "-B", HERE / "ncclient_hub.py",
                       f"127.0.0.1:{port}", key, USER], log=log)
        wait_file_has(log, "ready", 30, proc=p)
    elif kind == "ours":
        state = env.dir / f"{name}-state"
        extra = [] if full else ["--no-config-archive",
                                 "--no-device-notifications"]
        # every core, and enough workers that none needs more
        # descriptors than a process may have (one per session)
        workers = args.workers or max(os.cpu_count() or 1,
                                      -(-n // per_process_max()))
        p = env.spawn([build / "callhome-hub", "--listen",
                       f"127.0.0.1:{port}", "--key", key, "--user", USER,
                       "--state", state, "--accept-new",
                       "--workers", workers,
                       "--max-handshakes", "4096",
                       "--max-handshakes-per-prefix", "0", *extra],
                      log=log)
        wait_file_has(log, "hub ready", 15, proc=p)
    else:
        p = env.spawn([build / "callhome-minhub", f"127.0.0.1:{port}", key,
                       USER], log=log)
        wait_file_has(log, "ready", 15, proc=p)
    return p


def run_one(env, build, kind, n, args, key, keys_dir):
    name = f"{kind}-{n}"
    port = bl.free_port()
    hub = start_hub(env, build, kind, port, key, name, args, n)
    time.sleep(0.5)
    cpu0, rss0 = hub_cpu_s(hub.pid), rss_kb(hub.pid)
    per = per_process_max()
    nproc = -(-n // per)
    gens = []
    first = 0
    for i in range(nproc):
        k = min(per, n - first)
        out = env.dir / f"{name}-lg{i}.out"
        err = env.dir / f"{name}-lg{i}.err"
        lat = env.dir / f"{name}-lg{i}.lat"
        inflight = max(1, args.in_flight // nproc)
        with open(out, "wb") as fo, open(err, "wb") as fe:
            p = env.spawn([build / "callhome-loadgen", "--hub",
                           f"127.0.0.1:{port}", "--devices", k,
                           "--first", first, "--in-flight", inflight,
                           "--source", args.sources, "--keys", keys_dir,
                           "--authorized-keys", f"{key}.pub",
                           "--latency-file", lat, "--retry-ms", 1000],
                          stdout=fo, stderr=fe)
        gens.append((p, out, err, lat, k))
        first += k
    # until all are up, or no progress for --stall-seconds, or the time
    # bound: then the figures are those of the devices that came up
    t0 = time.monotonic()
    bound = args.bound_base + n / 20
    status, reached, t_last, cpu1 = "", 0, 0.0, hub_cpu_s(hub.pid)
    lg_cpu_last = 0.0
    hub_log = env.dir / f"{name}.log"
    while True:
        errs = [Path(e).read_text(errors="replace") for _, _, e, _, _ in gens]
        if all(f"all {k} devices up" in t
               for t, (_, _, _, _, k) in zip(errs, gens)):
            cpu1 = hub_cpu_s(hub.pid)
            reached = n
            break
        now = time.monotonic()
        if hub.poll() is not None:
            status = f"exited at {reached}"
            break
        for p, *_ in gens:
            if p.poll() is not None:
                raise bl.BenchError(f"callhome-loadgen exited "
                                    f"({p.returncode}), see {env.dir}")
        up = sum(int(m[-1]) if (m := UP_RE.findall(t)) else 0
                 for t in errs)
        if up > reached:
            reached, t_last = up, now - t0
            cpu1 = hub_cpu_s(hub.pid)
            lg_cpu_last = sum(bl.cpu_stat_s(p.pid) for p, *_ in gens)
        elif now - t0 - t_last >= args.stall_seconds:
            status = f"stalled at {reached}"
            break
        if now - t0 >= bound:
            status = f"timed out at {reached}"
            break
        time.sleep(POLL_S)
    if status:
        said = re.search(r"^stalled at .*$", hub_log.read_text(
            errors="replace"), re.M)
        print(f"{kind:10} N={n:<6} {status} of {n} after "
              f"{time.monotonic() - t0:.0f} s"
              f"{' (' + kind + ': ' + said.group(0) + ')' if said else ''}",
              flush=True)
        reached = max(reached, 1)
    time.sleep(1.0)
    rss1 = rss_kb(hub.pid) if hub.poll() is None else rss0
    i0 = i1 = 0.0
    if hub.poll() is None:
        i0 = hub_cpu_s(hub.pid)
        time.sleep(args.idle_seconds)
        i1 = hub_cpu_s(hub.pid)
    reports, lats = [], []
    for p, out, _, lat, _ in gens:
        p.send_signal(signal.SIGTERM)
    for p, out, _, lat, _ in gens:
        p.wait(30)
        env.procs.remove(p)
        reports.append(parse_report(out.read_text()))
        lats += [int(x) for x in lat.read_text().split()]
    env.stop(hub)
    lats.sort()
    lats = lats or [0]
    median, peak = rates_1s([Path(e).read_text(errors="replace")
                             for _, _, e, _, _ in gens])
    fails = sum(int(r["failures"]) for r in reports)
    drops = sum(int(r["drops"]) for r in reports)
    if status:
        # to the last progress seen (the loadgen's CPU from its start,
        # its keys' loading included)
        t_up = max(t_last, POLL_S)
        lg_cpu = lg_cpu_last
    else:
        t_up = max(float(r["all_up_s"]) for r in reports)
        lg_cpu = sum(float(r["cpu_to_all_up_s"]) for r in reports)
    return {
        "n": n, "reached": reached, "status": status, "procs": nproc,
        "t_up": t_up, "rate": reached / t_up, "median": median,
        "peak": peak,
        "p50": lats[len(lats) // 2] / 1000,
        "p99": lats[int((len(lats) - 1) * 0.99)] / 1000,
        "cpu_ms": (cpu1 - cpu0) / reached * 1000,
        "rss_kb": (rss1 - rss0) / reached,
        "idle_pct": (i1 - i0) / args.idle_seconds * 100,
        "fails": fails, "drops": drops,
        "lg_cpu_ms": lg_cpu / reached * 1000,
    }


def fmt(r):
    return (f"{r['t_up']:8.2f} s {r['rate']:8.0f}/s {r['median']:6d}/s "
            f"{r['peak']:6d}/s "
            f"{r['p50']:7.1f} "
            f"{r['p99']:7.1f} ms {r['cpu_ms']:6.3f} ms {r['rss_kb']:6.1f} kB "
            f"{r['idle_pct']:5.1f} %  {r['fails']}/{r['drops']}  "
            f"{r['lg_cpu_ms']:5.3f} ms"
            f"{'  ' + r['status'] if r['status'] else ''}")


def main():
    ap = argparse.ArgumentParser(
        description="Scale: callhome-hub vs peers (a minimal libssh hub, "
                    "libnetconf2's call-home loop, ncclient) under N "
                    "simulated devices (bench/README.md)")
    ap.add_argument("build", type=Path)
    ap.add_argument("--n", default="1000,5000",
                    help="device counts, comma-separated [1000,5000]")
    ap.add_argument("--in-flight", type=int, default=64,
                    help="connections being set up at once [64]")
    ap.add_argument("--sources", default="127.0.0.2-127.0.0.201",
                    help="source addresses of the devices")
    ap.add_argument("--idle-seconds", type=float, default=5)
    ap.add_argument("--keys", type=Path,
                    default=Path("/tmp/callhome-bench-keys"),
                    help="device keys, created once and kept "
                         "[/tmp/callhome-bench-keys]")
    ap.add_argument("--hub-full", action="store_true",
                    help="keep our hub's config archive and notification "
                         "subscription (an rpc or two after each hello)")
    ap.add_argument("--hubs", default=",".join(KINDS),
                    help=f"hubs to run, comma-separated [{','.join(KINDS)}]")
    ap.add_argument("--stall-seconds", type=float, default=40,
                    help="no new device up for this long: the hub is "
                         "reported stalled at what it reached [40; more "
                         "than the 32 s of TCP's SYN back-off, which a "
                         "hub whose listen backlog overflows waits out]")
    ap.add_argument("--bound-base", type=float, default=120,
                    help="a hub gets BOUND_BASE + N/20 s to bring N "
                         "devices up, else it is reported timed out at "
                         "what it reached [120]")
    ap.add_argument("--workers", type=int, default=0,
                    help="our hub's --workers [the cores, or more when N "
                         "needs more descriptors than one process has]")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    build = args.build.resolve()
    ns = [int(x) for x in args.n.split(",")]
    kinds = [k for k in args.hubs.split(",") if k]
    for k in kinds:
        if k not in KINDS:
            ap.error(f"--hubs: '{k}' is none of {', '.join(KINDS)}")
    skipped = {k: why for k in kinds if (why := missing(build, k))}
    for k, why in skipped.items():
        print(f"{k:10} skipped: {why}", flush=True)
    env = bl.Env(keep=args.keep)
    try:
        key = bl.ssh_keygen(env.dir / "hub_key", "bench-hub")
        rows, failed = [], []
        for n in ns:
            for kind in kinds:
                if kind in skipped:
                    continue
                try:
                    r = run_one(env, build, kind, n, args, key, args.keys)
                except (bl.BenchError, OSError, ValueError, KeyError) as e:
                    # one N beyond a limit does not lose the others
                    print(f"{kind:10} N={n:<6} failed: {e}", flush=True)
                    failed.append(f"{kind} N={n}: {e}")
                    env.stop_many(list(env.procs))
                    continue
                rows.append((kind, r))
                print(f"{kind:10} N={n:<6} {fmt(r)}", flush=True)
        lines = [
            f"scale: N devices (callhome-loadgen, {args.in_flight} in "
            f"flight, sources {args.sources}) against our hub"
            f"{' (full)' if args.hub_full else ''} and peers, same run",
            "hub        N       time to N  handshakes median 1s best 1s  "
            "p50     "
            "p99 latency  "
            "CPU/hs     RSS/session  idle  fail/drop  loadgen CPU/hs",
        ]
        for kind, r in rows:
            lines.append(f"{kind:10} {r['n']:<7} {fmt(r)}")
        lines += [f"{k:10} skipped: {why}" for k, why in skipped.items()]
        lines.append("ratio ours/peer (CPU per handshake, RSS per "
                     "session, handshakes/s; < 1 is ours cheaper, "
                     "> 1 ours faster):")
        for n in ns:
            o = next((r for k, r in rows if k == "ours" and r["n"] == n),
                     None)
            if o is None:
                continue
            for peer in PEERS:
                m = next((r for k, r in rows if k == peer and r["n"] == n),
                         None)
                if m is None:
                    continue
                note = f"  ({peer} {m['status']})" if m["status"] else ""
                lines.append(
                    f"  N={n:<6} {peer:10} "
                    f"CPU {o['cpu_ms'] / m['cpu_ms']:5.3g}x  "
                    f"RSS {o['rss_kb'] / max(m['rss_kb'], 0.1):5.3g}x  "
                    f"rate {o['rate'] / m['rate']:5.3g}x{note}")
        lines.append(f"(load generator: {os.cpu_count()} cores shared with "
                     f"the hub; open-file limit {per_process_max()} devices "
                     f"per loadgen process)")
        lines += [f"failed: {f}" for f in failed]
        bl.report(lines)
    finally:
        env.cleanup()


if __name__ == "__main__":
    main()
