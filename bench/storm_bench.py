"""Storms and fan-out: what a fleet of N call-home devices does to our hub
when it restarts, when one job goes to all of them, and the rate of rpcs
over one device session against OpenSSH + netconfd as the device.

  fan-out     N devices connected (callhome-loadgen, --writable-running);
              `callhome edit-config --device-state connected --rate R`
              (one small edit to every connected device, one batch),
              then `callhome batch ID --wait`: the time from the command
              to the last job's end, its jobs done/not done. The batch
              starts at most --rate jobs per second: N / R is a floor
              of its own.
  storm       the same N devices, calling back as callhomed does
              (loadgen --reconnect: again at once after a session, three
              tries 0.5-1 s apart, then a full-jitter exponential
              back-off from 1 s to 5 min); the hub gets SIGTERM and is
              started again on the same state directory: the time from
              the SIGTERM to the last device's hello, hellos per second
              (the curve), the devices that gave up (--give-up rounds
              failed in a row) and the hub's CPU per reconnect; then
              the same against callhome-minhub (the libssh floor).
  rpc rate    one device session through the hub: --rpcs small
              get-config back to back on one control connection
              (each a job of the hub, as `callhome get-config` makes),
              the device being callhomed, OpenSSH `sshd -i` dialled out
              by socat with yuma123 netconfd behind the netconf
              subsystem (bench/callhome_bench.py's recipe), and one
              loadgen device (the hub's own ceiling: that device does
              next to nothing); rpcs/s and the ratios.

Our hub runs as in scale_bench.py (--accept-new --max-handshakes 4096
--max-handshakes-per-prefix 0 --no-config-archive
--no-device-notifications).

usage: storm_bench.py BUILD_DIR [--n 10000] [--in-flight K] [--rate R]
       [--give-up R] [--rpcs M] [--rounds K] [--only fanout,storm,rpc]
       [--keys DIR] [--keep]
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import benchlib as bl
import scale_bench as sb

EDIT = ('<interfaces xmlns="urn:ietf:params:xml:ns:yang:ietf-interfaces">'
        '<interface><name>eth0</name><description>storm</description>'
        '</interface></interfaces>\n')
UP_AGAIN = re.compile(r"all (\d+) devices up again .* at epoch ([0-9.]+)")
GAVE_UP = re.compile(r"gave_up=(\d+)")
UP = re.compile(r"^t=\S+ up=(\d+)", re.M)


def say(msg):
    print(f"[storm {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------- fleet

class Fleet:
    """N loadgen devices in as many processes as the open-file limit
    needs, each with --reconnect and a --timeline."""

    def __init__(self, env, build, port, key, n, args, name):
        self.env, self.n, self.gens = env, n, []
        per = sb.per_process_max()
        nproc = -(-n // per)
        first = 0
        for i in range(nproc):
            # evenly: 5,000 + 5,000 rather than 9,968 + 32
            k = -(-n // nproc) if i < nproc - 1 else n - first
            g = {"k": k, "out": env.dir / f"{name}-lg{i}.out",
                 "err": env.dir / f"{name}-lg{i}.err",
                 "tl": env.dir / f"{name}-lg{i}.timeline"}
            with open(g["out"], "wb") as fo, open(g["err"], "wb") as fe:
                g["p"] = env.spawn(
                    [build / "callhome-loadgen", "--hub",
                     f"127.0.0.1:{port}", "--devices", k, "--first", first,
                     "--in-flight", max(1, args.in_flight // nproc),
                     "--source", args.sources, "--keys", args.keys,
                     "--authorized-keys", f"{key}.pub", "--reconnect",
                     "--give-up", args.give_up, "--timeline", g["tl"],
                     "--writable-running"], stdout=fo, stderr=fe)
            self.gens.append(g)
            first += k

    def wait_up(self, timeout):
        for g in self.gens:
            sb.wait_file_has(g["err"], f"all {g['k']} devices up after",
                             timeout, proc=g["p"])

    def back(self, after):
        """(epoch of the last 'up again' after the epoch after, or None
        while one is missing; devices up and devices that gave up, from
        the last progress lines)."""
        last, gave, up = 0.0, 0, 0
        for g in self.gens:
            text = g["err"].read_text(errors="replace")
            m = [x for x in UP_AGAIN.findall(text) if float(x[1]) > after]
            p = GAVE_UP.findall(text)
            gave += int(p[-1]) if p else 0
            u = UP.findall(text)
            up += int(u[-1]) if u else 0
            if not m:
                last = None
            elif last is not None:
                last = max(last, float(m[-1][1]))
        return last, up, gave

    def cpu_s(self):
        return sum(bl.cpu_sched_s(g["p"].pid) for g in self.gens)

    def stop(self):
        reports = []
        for g in self.gens:
            g["p"].send_signal(signal.SIGTERM)
        for g in self.gens:
            g["p"].wait(60)
            self.env.procs.remove(g["p"])
            reports.append((sb.parse_report(g["out"].read_text()),
                            g["out"].read_text()))
        return reports

    def timeline(self):
        """{epoch second: [ups, connects, fails, drops, up]} over all."""
        tl = {}
        for g in self.gens:
            for line in g["tl"].read_text().split("\n"):
                if not line:
                    continue
                f = [int(x) for x in line.split()]
                row = tl.setdefault(f[0], [0] * 5)
                for i in range(5):
                    row[i] += f[1 + i]
        return tl


def cli(build, sock, *argv, timeout=900):
    r = subprocess.run([build / "callhome", "--hub", sock, "--json",
                        "--timeout", str(timeout), *map(str, argv)],
                       capture_output=True, text=True, timeout=timeout + 30)
    try:
        return r.returncode, json.loads(r.stdout)
    except ValueError:
        raise bl.BenchError(f"callhome {' '.join(map(str, argv))}: exit "
                            f"{r.returncode}: {r.stderr.strip()}")


def fan_out(env, build, sock, n, rate):
    f = env.dir / "edit.xml"
    f.write_text(EDIT)
    t0 = time.monotonic()
    rc, r = cli(build, sock, "edit-config", "--device-state", "connected",
                "--rate", rate, f)
    t_sub = time.monotonic() - t0
    if not r.get("ok"):
        raise bl.BenchError(f"edit-config batch refused: {r}")
    bid = r["batch"]["id"]
    rc, r = cli(build, sock, "batch", bid, "--wait")
    t_all = time.monotonic() - t0
    if not r.get("ok"):
        raise bl.BenchError(f"batch {bid} --wait: exit {rc}: {r}")
    b = r["batch"]
    return {"n": b["total"], "done": b["counts"].get("done", 0),
            "t_submit": t_sub, "t_all": t_all, "rate": rate, "batch": bid,
            "counts": b["counts"]}


def storm(env, build, args, port, key, fleet, hub, kind, name):
    """SIGTERM to the hub, the same hub started again at once (ours: on
    the same state directory), until every device is back."""
    t_kill = time.time()
    env.stop(hub, timeout=60)
    t_gone = time.time()
    # a fresh log: start_hub waits for "ready" in it
    log = env.dir / f"{name}.log"
    log.rename(env.dir / f"{name}-before-restart.log")
    hub = sb.start_hub(env, build, kind, port, key, name,
                       hub_args(args), args.n)
    t_ready = time.time()
    cpu0, lg0 = bl.cpu_tree_s(hub.pid), fleet.cpu_s()
    deadline = time.monotonic() + args.storm_timeout
    while True:
        last, up, gave = fleet.back(t_kill)
        # done when all are back, or when the rest gave up for good
        if last is not None or (gave and up + gave >= fleet.n):
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.25)
    t_end = time.time()
    cpu1, lg1 = bl.cpu_tree_s(hub.pid), fleet.cpu_s()
    wall = max(t_end - t_ready, 1e-3)
    return hub, {"t_kill": t_kill, "t_stop": t_gone - t_kill,
                 "t_ready": t_ready - t_kill,
                 "t_back": (last - t_kill) if last else None,
                 "t_end": t_end - t_kill,
                 "gave_up": gave, "cpu_ms": (cpu1 - cpu0) / fleet.n * 1000,
                 "hub_busy": (cpu1 - cpu0) / wall * 100,
                 "lg_busy": (lg1 - lg0) / wall * 100}


def curve(tl, t_kill, t_until):
    """Per wall-clock second, 0 being the one the SIGTERM fell in."""
    k0 = int(t_kill)
    end = int(t_kill + t_until) + 1
    rows, up = [], 0
    for s in range(k0, end + 1):
        ups, conns, fails, drops, u = tl.get(s, [0, 0, 0, 0, None])
        up = up if u is None else u     # past the timeline's end
        rows.append((s - k0, ups, conns, fails, drops, up))
    return rows


# ---------------------------------------------------------------- rpc rate

def control_loop(conn, fp, m):
    """m get-configs back to back on one control connection; seconds."""
    s, f = conn
    req = (json.dumps({"cmd": "get-config", "device": fp,
                       "mode": "now"}) + "\n").encode()
    t0 = time.perf_counter()
    for _ in range(m):
        s.sendall(req)
        r = json.loads(f.readline())
        if not r.get("ok") or "<data" not in (r.get("reply") or ""):
            raise bl.BenchError(f"get-config through the hub: {r}")
    return time.perf_counter() - t0


def connected_fps(hub):
    return {x["fingerprint"] for x in
            hub.control({"cmd": "devices"}).get("devices", [])
            if x.get("state") == "connected"}


def rpc_rate(env, build, args, key):
    """The three devices connected at once, --rounds rounds of rpcs/rounds
    each in turn: the machine's other load falls on all three alike."""
    import callhome_bench as cb
    pub = Path(f"{key}.pub")
    port = bl.free_port()
    hub = bl.Hub(env, build, port, key, env.dir / "rpc-state", cb.USER,
                 name="rpc-hub", extra=["--no-config-archive",
                                        "--no-device-notifications"])
    ossh = cb.OpenSSHDevice(env, port, pub)
    devs = []
    try:
        for label in ("callhomed", "OpenSSH+netconfd", "loadgen"):
            before = connected_fps(hub)
            if label == "callhomed":
                p = cb.OursDevice(env, build, port, pub).spawn()
                cpu = [p.pid]
            elif label == "loadgen":
                p = env.spawn([build / "callhome-loadgen", "--hub",
                               f"127.0.0.1:{port}", "--devices", 1,
                               "--first", 99999, "--keys", args.keys,
                               "--authorized-keys", pub, "--quiet"],
                              log=env.dir / "rpc-loadgen.log")
                cpu = [p.pid]
            else:
                p = ossh.spawn()
                cpu = [p.pid, ossh.netconfd.pid]  # socat->sshd->subsystem
            fp = bl.wait_until(lambda: next(iter(connected_fps(hub) -
                                                 before), None), 30,
                               f"{label} connected")
            devs.append({"label": label, "p": p, "fp": fp, "cpu": cpu,
                         "t": 0.0, "hub_cpu": 0.0, "dev_cpu": 0.0,
                         "rates": []})
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(hub.sock_path))
            conn = (s, s.makefile("rb"))
            for d in devs:
                control_loop(conn, d["fp"], args.warmup)
            per = max(1, args.rpcs // args.rounds)
            for _ in range(args.rounds):
                for d in devs:
                    h0 = bl.cpu_tree_s(hub.pid)
                    c0 = sum(bl.cpu_tree_s(x) for x in d["cpu"])
                    el = control_loop(conn, d["fp"], per)
                    d["hub_cpu"] += bl.cpu_tree_s(hub.pid) - h0
                    d["dev_cpu"] += sum(bl.cpu_tree_s(x)
                                        for x in d["cpu"]) - c0
                    d["t"] += el
                    d["rates"].append(per / el)
        rows = []
        for d in devs:
            n = per * args.rounds
            rows.append((d["label"], n / d["t"], d["t"] / n * 1000,
                         d["hub_cpu"] / n * 1000, d["dev_cpu"] / n * 1000,
                         min(d["rates"]), max(d["rates"])))
            say(f"rpc rate {d['label']}: {n / d['t']:.0f}/s")
        for d in devs:
            env.stop(d["p"])
        env.stop(ossh.netconfd)
    finally:
        hub.stop()
    return rows


# ---------------------------------------------------------------- main

def hub_args(args):
    """What scale_bench.start_hub reads of its options."""
    return argparse.Namespace(hub_full=False, workers=args.workers,
                              stall_seconds=40)


def main():
    ap = argparse.ArgumentParser(
        description="Storms and fan-out: hub restart under N devices, one "
                    "edit-config to all, rpc rate over one session "
                    "(bench/README.md)")
    ap.add_argument("build", type=Path)
    ap.add_argument("--n", type=int, default=10000,
                    help="devices for the storm and the fan-out [10000]")
    ap.add_argument("--in-flight", type=int, default=1024,
                    help="connections being set up at once, all loadgen "
                         "processes together [1024]")
    ap.add_argument("--sources", default="127.0.0.2-127.0.0.201")
    ap.add_argument("--rate", type=int, default=10000,
                    help="the fan-out batch's --rate [10000: a floor of "
                         "1 s at N = 10,000]")
    ap.add_argument("--workers", type=int, default=0,
                    help="our hub's --workers [as scale_bench.py: the "
                         "cores, or enough for N]")
    ap.add_argument("--give-up", type=int, default=6,
                    help="a device gives up after this many failed rounds "
                         "in a row (ceilings 1+2+..+32 s of back-off) [6]")
    ap.add_argument("--storm-timeout", type=float, default=300)
    ap.add_argument("--rpcs", type=int, default=2000,
                    help="get-configs over one session per device [2000]")
    ap.add_argument("--rounds", type=int, default=5,
                    help="the rpcs in this many rounds, the devices in "
                         "turn [5]")
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--only", default="fanout,storm,rpc",
                    help="which parts, comma-separated [fanout,storm,rpc]")
    ap.add_argument("--keys", type=Path,
                    default=Path("/tmp/callhome-bench-keys"))
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    build = args.build.resolve()
    only = set(args.only.split(","))
    if "rpc" in only and os.geteuid() != 0:
        sys.exit("storm_bench: the rpc part runs sshd -i (root); run as "
                 "root or with --only fanout,storm")

    def on_term(signum, frame):
        raise KeyboardInterrupt
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_term)

    env = bl.Env(keep=args.keep)
    lines = []
    try:
        key = bl.ssh_keygen(env.dir / "hub_key", "bench-hub")
        storms = []
        for kind in ("ours", "minhub"):
            if not (only & {"fanout", "storm"}) or \
                    (kind == "minhub" and "storm" not in only):
                continue
            name = f"storm-{kind}"
            port = bl.free_port()
            hub = sb.start_hub(env, build, kind, port, key, name,
                       hub_args(args), args.n)
            say(f"{kind}: {args.n} devices calling")
            t0 = time.monotonic()
            fleet = Fleet(env, build, port, key, args.n, args, name)
            fleet.wait_up(120 + args.n / 50)
            say(f"{kind}: all {args.n} up in {time.monotonic() - t0:.1f} s")
            time.sleep(1)
            if kind == "ours" and "fanout" in only:
                fo = fan_out(env, build, env.dir / f"{name}-state" /
                             "hub.sock", args.n, args.rate)
                say(f"fan-out: {fo['done']}/{fo['n']} done in "
                    f"{fo['t_all']:.2f} s")
                lines += [
                    f"fan-out: edit-config to every connected device, one "
                    f"batch, --rate {fo['rate']} (the floor N/rate is "
                    f"{args.n / fo['rate']:.1f} s)",
                    f"  devices {args.n}  jobs {fo['n']}  done "
                    f"{fo['done']}  not done {fo['n'] - fo['done']}  "
                    + " ".join(f"{k}={v}" for k, v in fo["counts"].items()
                               if v and k != "done"),
                    f"  submitted (batch answered) {fo['t_submit']:7.2f} s",
                    f"  all replied (batch --wait) {fo['t_all']:7.2f} s  "
                    f"({fo['n'] / fo['t_all']:.0f} jobs/s)",
                ]
            if "storm" in only:
                time.sleep(2)
                hub, st = storm(env, build, args, port, key, fleet, hub,
                                kind, name)
                say(f"{kind} storm: back {st['t_back']} s, gave up "
                    f"{st['gave_up']}")
                reports = fleet.stop()
                st["curve"] = curve(fleet.timeline(), st["t_kill"],
                                    st["t_back"] or st["t_end"])
                st["fails"] = sum(int(r["failures"]) for r, _ in reports)
                st["reasons"] = [
                    f"[{kind} loadgen {i}] {line.strip()}"
                    for i, (_, text) in enumerate(reports)
                    for line in text.splitlines() if line.startswith("  ")]
                storms.append((kind, st))
            else:
                fleet.stop()
            env.stop(hub)
        if storms:
            lines += [
                f"reconnect storm: {args.n} devices (loadgen --reconnect, "
                f"callhomed's back-off, {args.in_flight} in flight), "
                f"SIGTERM to the hub and the same hub started again at "
                f"once (ours on its state directory)",
                "  hub     stop   ready  all back  gave up  CPU/reconnect"
                "  hub busy  loadgen busy  failed attempts",
            ]
            for kind, st in storms:
                back = (f"{st['t_back']:7.2f} s" if st["t_back"] is not None
                        else "   none")
                lines.append(
                    f"  {kind:7s} {st['t_stop']:5.2f} s {st['t_ready']:5.2f} s"
                    f" {back}  {st['gave_up']:7d}  {st['cpu_ms']:9.3f} ms"
                    f"  {st['hub_busy']:6.0f} %  {st['lg_busy']:10.0f} %"
                    f"  {st['fails']:8d}")
            if len(storms) == 2 and all(st["t_back"] for _, st in storms):
                o, m = storms[0][1], storms[1][1]
                lines.append(
                    f"  ratio ours/minhub: all back "
                    f"{o['t_back'] / m['t_back']:.2f}x, CPU per reconnect "
                    f"{o['cpu_ms'] / m['cpu_ms']:.2f}x")
            lines.append("  (times from the SIGTERM; gave up: "
                         f"{args.give_up} failed rounds in a row; busy: CPU "
                         f"over the new hub's ready -> all back, % of one "
                         f"core)")
            for kind, st in storms:
                lines.append(f"  {kind}: per second from the SIGTERM")
                lines.append("  t(s) hellos connects failed drops     up")
                for row in st["curve"]:
                    lines.append("  %4d %6d %8d %6d %5d %6d" % row)
                lines += ["  " + x for x in st["reasons"]]
        if "rpc" in only:
            rows = rpc_rate(env, build, args, key)
            lines.append(f"rpc rate over one session: {args.rpcs} small "
                         f"get-config back to back through the hub (one "
                         f"control connection, each a job)")
            lines.append("  device             rpcs/s  (rounds min-max)  "
                         "ms/rpc  hub CPU/rpc  device CPU/rpc")
            for label, rate, ms, hc, dc, lo, hi in rows:
                lines.append(f"  {label:18s} {rate:6.0f}  ({lo:5.0f}-"
                             f"{hi:5.0f})     {ms:6.3f}  {hc:6.3f} ms    "
                             f"{dc:6.3f} ms")
            r = {x[0]: x for x in rows}
            a, b = r["callhomed"], r["OpenSSH+netconfd"]
            lines.append(f"  ratio callhomed / OpenSSH+netconfd: rate "
                         f"{a[1] / b[1]:.2f}x, device CPU per rpc "
                         f"{a[4] / b[4]:.2f}x")
        lines.append(f"({os.cpu_count()} cores shared by the hub, the "
                     f"devices and the CLI)")
        bl.report(lines)
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except bl.BenchError as e:
        say(f"FAILED: {e}")
        return 1
    finally:
        env.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
