"""The NETCONF front door's added latency, in the same run, on the same
device: OpenSSH `sshd -i` + yuma123 netconfd dialled out by socat twice,
once to the hub (where ncclient reaches it through --front-door, the
device as user name) and once to ncclient itself listening as a
call-home manager (straight, no hub). Both sessions end on the same
netconfd.

* RPC round trip: median and p90 of N <get-config> of running (a small
  reply) on each path, the ratio and the hub's added milliseconds;
* the same for a <get> (netconfd's state: a larger reply, about 10 KiB).

ncclient's session thread polls every ncclient.transport.ssh.TICK (0.1 s
by default): both paths run with it at 0.5 ms, or the tick is all one
would measure.

usage: front_door_bench.py BUILD_DIR [--n N]
"""

import argparse
import os
import socket
import statistics
import sys
import time
from pathlib import Path

import benchlib as bl
from callhome_bench import NETCONFD, SOCAT, SSHD, USER, OpenSSHDevice

from ncclient import manager
import ncclient.transport.ssh as ncssh

# ncclient's session thread sends a queued rpc only when its select()
# wakes, every TICK (0.1 s): that would hide everything else. Both paths
# get the same, shorter tick.
ncssh.TICK = 0.0005


def p90(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]


def rtt_ms(m, op, n):
    out = []
    for _ in range(5):          # warm-up
        op(m)
    for _ in range(n):
        t = time.perf_counter()
        op(m)
        out.append((time.perf_counter() - t) * 1e3)
    return statistics.median(out), p90(out)


OPS = (("get-config running", lambda m: m.get_config(source="running")),
       ("get (state)", lambda m: m.get()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", type=Path)
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    build = args.build.resolve()
    if os.geteuid() != 0:
        sys.exit("front_door_bench: run as root (sshd -i)")
    for tool in (SSHD, SOCAT, NETCONFD):
        if not os.access(tool, os.X_OK):
            sys.exit(f"front_door_bench: {tool} missing")
    env = bl.Env()
    try:
        d = env.dir
        key = bl.ssh_keygen(d / "hub_key", "bench-hub")
        mgr = bl.ssh_keygen(d / "mgr_key", "bench-mgr")
        op = bl.ssh_keygen(d / "alice", "alice")
        (d / "operator_keys").write_text(
            'devices="*" ' + Path(f"{op}.pub").read_text())
        port, fport = bl.free_port(), bl.free_port()
        hub = bl.Hub(env, build, port, key, d / "hub-state", USER, extra=[
            "--front-door", f"127.0.0.1:{fport}",
            "--operator-keys", d / "operator_keys"])
        dev = OpenSSHDevice(env, port, f"{key}.pub")
        (dev.dir / "authorized_keys").write_text(
            Path(f"{key}.pub").read_text() + Path(f"{mgr}.pub").read_text())
        dev.spawn()
        fp = hub.wait_connected(20, "the device connected")
        hub.control({"cmd": "rename", "device": fp, "name": "r1"})

        # straight: ncclient takes the same device's second call
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", 0))
        ls.listen(1)
        dport = ls.getsockname()[1]
        env.spawn([a if not str(a).startswith("TCP:") else
                   f"TCP:127.0.0.1:{dport},connect-timeout=5,nodelay"
                   for a in dev.argv], log=dev.dir / "socat-direct.log")
        ls.settimeout(20)
        conn, peer = ls.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        direct = manager.connect(host=peer[0], port=peer[1], sock=conn,
                                 username=USER, key_filename=str(mgr),
                                 hostkey_verify=False, allow_agent=False,
                                 look_for_keys=False, timeout=30)
        # TCP_NODELAY on both clients' sockets: paramiko sets none
        fs = socket.create_connection(("127.0.0.1", fport), 10)
        fs.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        front = manager.connect(host="127.0.0.1", port=fport, sock=fs,
                                username="r1", key_filename=str(op),
                                hostkey_verify=False, allow_agent=False,
                                look_for_keys=False, timeout=30)
        lines = ["", "NETCONF front door: RPC round trip, ncclient through "
                 "the hub vs ncclient as the call-home manager, same "
                 f"device (sshd -i + netconfd), n={args.n}",
                 f"{'rpc':<20} {'straight ms':>12} {'front door ms':>14} "
                 f"{'ratio':>6} {'added ms':>9}   (median; p90)"]
        for name, fn in OPS:
            s_med, s_90 = rtt_ms(direct, fn, args.n)
            f_med, f_90 = rtt_ms(front, fn, args.n)
            lines.append(f"{name:<20} {s_med:>7.2f};{s_90:<5.2f}"
                         f"{f_med:>8.2f};{f_90:<6.2f}"
                         f"{f_med / s_med:>6.2f} {f_med - s_med:>9.2f}")
        front.close_session()
        direct.close_session()
        bl.report(lines)
    finally:
        env.cleanup()


if __name__ == "__main__":
    main()
