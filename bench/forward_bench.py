"""Forwarding through the hub next to OpenSSH's ssh -L, in the same run,
to the same destination (an iperf3 server and a one-line greeter on
127.0.0.1): `callhome forward` through the hub and callhomed --forward
(an allow rule names the destinations on loopback), against `ssh -N -L`
to OpenSSH's sshd on loopback.

* throughput: iperf3 -c through each local port (-t SECONDS, the
  receiver's rate), and the ratio;
* set-up latency of a forwarded stream: TCP connect to the local port ->
  the greeter's first byte (median of N), and the ratio;
* CPU per MiB forwarded: the agent's (callhomed) next to sshd's (its
  session processes), from /proc, over the iperf3 run.

usage: forward_bench.py BUILD_DIR [--seconds S] [--n N]
"""

import argparse
import json
import re
import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path

import benchlib as bl
from callhome_bench import PEERS, SSHD, USER

SSH = "/usr/bin/ssh"
IPERF3 = "/usr/bin/iperf3"


def greeter():
    """A TCP server on 127.0.0.1 that says one line to each connection;
    returns its port."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(64)

    def serve():
        while True:
            c, _ = ls.accept()
            c.sendall(b"hi\n")
            c.close()
    threading.Thread(target=serve, daemon=True).start()
    return ls.getsockname()[1]


def setup_ms(port, n):
    """Median ms from connect() to the local port to the first byte."""
    out = []
    for _ in range(n):
        t = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port), 10) as s:
            if not s.recv(16):
                raise bl.BenchError(f"nothing through port {port}")
        out.append((time.perf_counter() - t) * 1e3)
    return statistics.median(out)


def wait_port(port, timeout=10):
    bl.wait_until(lambda: subprocess.run(
        ["ss", "-Htln", f"sport = :{port}"], capture_output=True,
        text=True).stdout.strip(), timeout, f"port {port}")


def iperf(port, seconds):
    r = subprocess.run([IPERF3, "-c", "127.0.0.1", "-p", str(port), "-t",
                        str(seconds), "-J"], capture_output=True, text=True,
                       timeout=seconds + 30)
    j = json.loads(r.stdout)
    if "error" in j:
        raise bl.BenchError(f"iperf3 through {port}: {j['error']}")
    end = j["end"]["sum_received"]
    return end["bits_per_second"] / 1e6, end["bytes"] / 2**20


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", type=Path)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--n", type=int, default=100)
    args = ap.parse_args()
    build = args.build.resolve()
    env = bl.Env()
    try:
        d = env.dir
        iport, gport = bl.free_port(), greeter()
        env.spawn([IPERF3, "-s", "-B", "127.0.0.1", "-p", iport],
                  log=d / "iperf3.log")
        wait_port(iport)

        # the hub and the agent
        hport = bl.free_port()
        key = bl.ssh_keygen(d / "hub_key", "bench-hub")
        hub = bl.Hub(env, build, hport, key, d / "hub-state", USER)
        (d / "agent").mkdir()
        agent = env.spawn([build / "callhomed", "--call-home",
                           f"127.0.0.1:{hport}", "--host-key",
                           d / "agent" / "host_key", "--authorized-keys",
                           f"{key}.pub", "--datastore", d / "agent",
                           "--log-level", "warn", "--forward",
                           "--forward-allow", f"127.0.0.1:{iport}",
                           "--forward-allow", f"127.0.0.1:{gport}"],
                          log=d / "agent.log")
        fp = hub.wait_connected(15, "the agent connected")
        cli = [build / "callhome", "--hub", hub.sock_path]
        ch_i, ch_g = bl.free_port(), bl.free_port()
        for lp, dp in ((ch_i, iport), (ch_g, gport)):
            env.spawn([*cli, "forward", fp, f"{lp}:127.0.0.1:{dp}"],
                      log=d / f"forward-{lp}.log")
            wait_port(lp)

        # OpenSSH: sshd on loopback, ssh -L to the same destinations
        sdir = d / "sshd"
        sdir.mkdir()
        hostkey = bl.ssh_keygen(sdir / "hostkey", "bench-sshd")
        ckey = bl.ssh_keygen(sdir / "id", "bench-client")
        (sdir / "authorized_keys").write_text(
            Path(f"{ckey}.pub").read_text())
        (sdir / "sshd_config").write_text(
            (PEERS / "sshd_config.in").read_text().format(
                hostkey=hostkey, authorized_keys=sdir / "authorized_keys",
                subsystem="/bin/false"))
        sport = bl.free_port()
        sshd = env.spawn([SSHD, "-D", "-e", "-f", sdir / "sshd_config",
                          "-o", f"ListenAddress=127.0.0.1:{sport}",
                          "-o", "AllowTcpForwarding=yes"],
                         log=d / "sshd.log")
        wait_port(sport)
        ssh_i, ssh_g = bl.free_port(), bl.free_port()
        env.spawn([SSH, "-F", "/dev/null", "-N", "-p", sport,
                   "-o", "StrictHostKeyChecking=no",
                   "-o", "UserKnownHostsFile=/dev/null", "-o",
                   "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", ckey,
                   "-L", f"{ssh_i}:127.0.0.1:{iport}",
                   "-L", f"{ssh_g}:127.0.0.1:{gport}",
                   f"{USER}@127.0.0.1"], log=d / "ssh.log")
        wait_port(ssh_i)
        wait_port(ssh_g)

        # set-up latency first (warms both paths up)
        lat_ch = setup_ms(ch_g, args.n)
        lat_ssh = setup_ms(ssh_g, args.n)

        def measured(port, pid):
            before = bl.cpu_tree_s(pid)
            mbps, mib = iperf(port, args.seconds)
            return mbps, mib, (bl.cpu_tree_s(pid) - before) / mib
        ch_mbps, ch_mib, ch_cpu = measured(ch_i, agent.pid)
        ssh_mbps, ssh_mib, ssh_cpu = measured(ssh_i, sshd.pid)
        bl.report([
            f"forwarding: callhome forward (hub + callhomed --forward) vs "
            f"ssh -L (OpenSSH sshd), same run, loopback",
            f"  throughput (iperf3 -t {args.seconds}, received)",
            f"    callhome {ch_mbps:9.1f} Mbit/s   ssh -L {ssh_mbps:9.1f} "
            f"Mbit/s   ratio {ch_mbps / ssh_mbps:5.2f}x",
            f"  stream set-up, connect -> first byte (median of {args.n})",
            f"    callhome {lat_ch:7.2f} ms       ssh -L {lat_ssh:7.2f} ms"
            f"       ratio {lat_ch / lat_ssh:5.2f}x",
            f"  device CPU per MiB forwarded",
            f"    callhomed {ch_cpu * 1e3:6.2f} ms      sshd "
            f"{ssh_cpu * 1e3:6.2f} ms       ratio "
            f"{ch_cpu / ssh_cpu:5.2f}x",
        ])
    finally:
        env.cleanup()


if __name__ == "__main__":
    main()
