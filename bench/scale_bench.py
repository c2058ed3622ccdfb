"""Scale: N simulated call-home devices (callhome-loadgen) against our hub
and, in the same run with the same load, against callhome-minhub, the
least a libssh client hub can do (handshake, public-key authentication,
the netconf subsystem, the hello: the floor of the library itself).

For each N and each hub: a fresh hub; callhome-loadgen processes (as
many as the open-file limit needs) start N devices, --in-flight at once,
spread over --sources; then

  time to N      loadgen start of calling -> the last device's hello
                 from the hub (the slowest process)
  handshakes/s   N / time to N
  latency        connect() -> the hub's hello, p50 / p99 over N devices
  CPU/handshake  the hub's utime+stime (/proc/PID/stat) from before the
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
"""

import argparse
import os
import resource
import signal
import time
from pathlib import Path

import benchlib as bl

USER = "netconf"
LOADGEN_FDS_PER_DEVICE = 2      # as LG_FDS_PER_DEVICE in loadgen.c
LOADGEN_FDS_SPARE = 64


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise bl.BenchError(f"no VmRSS for pid {pid}")


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


def start_hub(env, build, kind, port, key, name, full):
    log = env.dir / f"{name}.log"
    if kind == "ours":
        state = env.dir / f"{name}-state"
        extra = [] if full else ["--no-config-archive",
                                 "--no-device-notifications"]
        p = env.spawn([build / "callhome-hub", "--listen",
                       f"127.0.0.1:{port}", "--key", key, "--user", USER,
                       "--state", state, "--accept-new",
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
    hub = start_hub(env, build, kind, port, key, name, args.hub_full)
    time.sleep(0.5)
    cpu0, rss0 = bl.cpu_stat_s(hub.pid), rss_kb(hub.pid)
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
    timeout = 60 + n / 50
    for p, _, err, _, k in gens:
        wait_file_has(err, f"all {k} devices up", timeout, proc=p)
    cpu1 = bl.cpu_stat_s(hub.pid)
    time.sleep(1.0)
    rss1 = rss_kb(hub.pid)
    i0 = bl.cpu_stat_s(hub.pid)
    time.sleep(args.idle_seconds)
    i1 = bl.cpu_stat_s(hub.pid)
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
    t_up = max(float(r["all_up_s"]) for r in reports)
    fails = sum(int(r["failures"]) for r in reports)
    drops = sum(int(r["drops"]) for r in reports)
    return {
        "n": n, "procs": nproc, "t_up": t_up, "rate": n / t_up,
        "p50": lats[len(lats) // 2] / 1000,
        "p99": lats[int((len(lats) - 1) * 0.99)] / 1000,
        "cpu_ms": (cpu1 - cpu0) / n * 1000,
        "rss_kb": (rss1 - rss0) / n,
        "idle_pct": (i1 - i0) / args.idle_seconds * 100,
        "fails": fails, "drops": drops,
        "lg_cpu_ms": sum(float(r["cpu_to_all_up_s"]) for r in reports)
        / n * 1000,
    }


def fmt(r):
    return (f"{r['t_up']:8.2f} s {r['rate']:8.0f}/s {r['p50']:7.1f} "
            f"{r['p99']:7.1f} ms {r['cpu_ms']:6.3f} ms {r['rss_kb']:6.1f} kB "
            f"{r['idle_pct']:5.1f} %  {r['fails']}/{r['drops']}  "
            f"{r['lg_cpu_ms']:5.3f} ms")


def main():
    ap = argparse.ArgumentParser(
        description="Scale: callhome-hub vs a minimal libssh hub under "
                    "N simulated devices (bench/README.md)")
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
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    build = args.build.resolve()
    ns = [int(x) for x in args.n.split(",")]
    env = bl.Env(keep=args.keep)
    try:
        key = bl.ssh_keygen(env.dir / "hub_key", "bench-hub")
        rows, failed = [], []
        for n in ns:
            for kind in ("ours", "minhub"):
                try:
                    r = run_one(env, build, kind, n, args, key, args.keys)
                except (bl.BenchError, OSError, ValueError, KeyError) as e:
                    # one N beyond a limit does not lose the others
                    print(f"{kind:7} N={n:<6} failed: {e}", flush=True)
                    failed.append(f"{kind} N={n}: {e}")
                    env.stop_many(list(env.procs))
                    continue
                rows.append((kind, r))
                print(f"{kind:7} N={n:<6} {fmt(r)}", flush=True)
        lines = [
            f"scale: N devices (callhome-loadgen, {args.in_flight} in "
            f"flight, sources {args.sources}) against our hub"
            f"{' (full)' if args.hub_full else ''} and callhome-minhub "
            f"(libssh floor), same run",
            "hub     N       time to N  handshakes  p50     p99 latency  "
            "CPU/hs     RSS/session  idle  fail/drop  loadgen CPU/hs",
        ]
        for kind, r in rows:
            lines.append(f"{kind:7} {r['n']:<7} {fmt(r)}")
        lines.append("ratio ours/minhub (CPU per handshake, RSS per "
                     "session, handshakes/s):")
        for n in ns:
            o = next((r for k, r in rows if k == "ours" and r["n"] == n),
                     None)
            m = next((r for k, r in rows if k == "minhub" and r["n"] == n),
                     None)
            if o is None or m is None:
                continue
            lines.append(
                f"  N={n:<6} CPU {o['cpu_ms'] / m['cpu_ms']:5.2f}x  "
                f"RSS {o['rss_kb'] / max(m['rss_kb'], 0.1):5.2f}x  "
                f"rate {o['rate'] / m['rate']:5.2f}x")
        lines.append(f"(load generator: {os.cpu_count()} cores shared with "
                     f"the hub; open-file limit {per_process_max()} devices "
                     f"per loadgen process)")
        lines += [f"failed: {f}" for f in failed]
        bl.report(lines)
    finally:
        env.cleanup()


if __name__ == "__main__":
    main()
