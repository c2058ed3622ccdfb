"""How long after a device calls home does its queued work finish?

For each session: queue a get-config job for the (offline) device through
the hub's control API, start the device, and measure from the hub's
`NETCONF session up` line to its `job=N get-config: done` line (both
stamped as they arrive on the hub's stderr). The same is measured with
OpenSSH sshd -i + yuma123 netconfd as the device, in the same run, and,
for reference, the round trip of the same get-config on a device that is
already connected (the operator's request to the hub's answer).

usage: queued_job.py BUILD_DIR [--ours N] [--openssh N]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import benchlib as bl
from callhome_bench import USER, OpenSSHDevice, OursDevice, p90, say


def fingerprint(hub, before):
    """The fingerprint of the first connection after `before`."""
    conn, rec = hub.wait_event("up", before, 20)
    return conn, rec["fp"]


def queued_sessions(env, hub, dev, n):
    """n sessions; returns hello -> queued job done times (s)."""
    # One session first, to learn the device's identity (it is the same
    # key every time) and warm caches.
    before = hub.max_conn()
    p = dev.spawn()
    conn, fp = fingerprint(hub, before)
    env.stop(p)
    hub.wait_closed(conn, 10)
    out = []
    for _ in range(n):
        r = hub.control({"cmd": "get-config", "device": fp,
                         "mode": "queue"})
        if not r.get("ok"):
            raise bl.BenchError(f"queueing failed: {r}")
        job = r["job"]["id"]
        before = hub.max_conn()
        p = dev.spawn()
        conn, rec = hub.wait_event("up", before, 20, proc=p)
        done = bl.wait_job_done(hub, job, 20)
        out.append(done - rec["up"][0])
        env.stop(p)
        hub.wait_closed(conn, 10)
    return fp, out


def live_round_trips(env, hub, dev, fp, n):
    """get-config on a connected device, operator request to answer (s)."""
    before = hub.max_conn()
    p = dev.spawn()
    conn, _ = hub.wait_event("up", before, 20, proc=p)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = hub.control({"cmd": "get-config", "device": fp})
        out.append(time.perf_counter() - t0)
        if not r.get("ok") or r["job"]["state"] != "done":
            raise bl.BenchError(f"live get-config failed: {r}")
    env.stop(p)
    hub.wait_closed(conn, 10)
    return out


def ms(xs):
    return f"{1000 * statistics.median(xs):7.2f} ms  p90 {1000 * p90(xs):7.2f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", type=Path)
    ap.add_argument("--ours", type=int, default=100)
    ap.add_argument("--openssh", type=int, default=30)
    args = ap.parse_args()
    env = bl.Env()
    try:
        port = bl.free_port()
        key = bl.ssh_keygen(env.dir / "hub_key", "bench-hub")
        pub = Path(f"{key}.pub")
        hub = bl.Hub(env, args.build.resolve(), port, key,
                     env.dir / "hub-state", USER)
        ours = OursDevice(env, args.build.resolve(), port, pub)
        ossh = OpenSSHDevice(env, port, pub)
        say(f"queued job after hello: {args.ours} sessions of callhomed")
        fp_o, q_ours = queued_sessions(env, hub, ours, args.ours)
        say(f"queued job after hello: {args.openssh} sessions of OpenSSH")
        fp_s, q_ossh = queued_sessions(env, hub, ossh, args.openssh)
        say("live get-config round trips")
        l_ours = live_round_trips(env, hub, ours, fp_o, 50)
        l_ossh = live_round_trips(env, hub, ossh, fp_s, 20)
        ratio = statistics.median(q_ours) / statistics.median(q_ossh)
        lines = [
            "queued jobs (get-config queued while the device was offline)",
            f"  hello -> queued job done, callhomed        {ms(q_ours)}"
            f"  (n={len(q_ours)})",
            f"  hello -> queued job done, OpenSSH+netconfd {ms(q_ossh)}"
            f"  (n={len(q_ossh)})",
            f"  ratio ours/peer (median)                   {ratio:7.2f}x",
            f"  live get-config round trip, callhomed      {ms(l_ours)}",
            f"  live get-config round trip, OpenSSH+netconfd {ms(l_ossh)}",
        ]
        bl.report(lines)
    finally:
        env.cleanup()


if __name__ == "__main__":
    sys.exit(main())
