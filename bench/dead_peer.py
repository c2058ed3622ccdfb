"""How long a device takes to find that its manager is gone without a
FIN or RST (frozen with SIGSTOP: nothing answers, nothing is closed),
under default keep-alive settings, next to OpenSSH's sshd configured the
same way (ClientAliveInterval 30, ClientAliveCountMax 3), measured in
the same run. Both devices hold a NETCONF session with their own hub;
both hubs are frozen at the same instant.

usage: dead_peer.py BUILD_DIR [--interval S] [--count N]
The defaults are callhomed's defaults (ssh-server-parameters keepalives
max-wait 30, max-attempts 3): one run takes about two minutes.
"""

import argparse
import os
import signal
import time
from pathlib import Path

import benchlib as bl
from callhome_bench import USER, OpenSSHDevice, OursDevice, say


def wait_exit(p, timeout):
    deadline = time.monotonic() + timeout
    while p.poll() is None:
        if time.monotonic() > deadline:
            raise bl.BenchError("the OpenSSH device never gave up")
        time.sleep(0.05)
    return time.monotonic()


def wait_log(path, text, timeout):
    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        if time.monotonic() > deadline:
            raise bl.BenchError(f"no '{text}' in {path}")
        time.sleep(0.05)
    return time.monotonic()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", type=Path)
    ap.add_argument("--interval", type=int, default=30)
    ap.add_argument("--count", type=int, default=3)
    args = ap.parse_args()
    build = args.build.resolve()
    env = bl.Env()
    try:
        hubs, devs = [], []
        for name in ("ours", "openssh"):
            port = bl.free_port()
            key = bl.ssh_keygen(env.dir / f"{name}_hub_key", "bench-hub")
            hubs.append(bl.Hub(env, build, port, key,
                               env.dir / f"{name}-state", USER,
                               name=f"hub-{name}"))
            pub = Path(f"{key}.pub")
            if name == "ours":
                d = OursDevice(env, build, port, pub)
                d.argv += ["--keepalive", str(args.interval),
                           "--keepalive-count", str(args.count)]
            else:
                d = OpenSSHDevice(env, port, pub)
                with open(d.dir / "sshd_config", "a") as f:
                    f.write(f"ClientAliveInterval {args.interval}\n"
                            f"ClientAliveCountMax {args.count}\n")
            devs.append((d, d.spawn()))
        for h, (d, p) in zip(hubs, devs):
            h.wait_event("up", 0, 30, proc=p)
        # let both sides go quiet, as an idle session does
        time.sleep(2)
        say(f"freezing both hubs; keep-alives every {args.interval} s, "
            f"{args.count} unanswered allowed")
        t0 = time.monotonic()
        for h in hubs:
            os.kill(h.pid, signal.SIGSTOP)
        bound = args.interval * (args.count + 2)
        t_ours = wait_log(devs[0][0].log, "no answer to keep-alives", bound)
        t_ossh = wait_exit(devs[1][1], bound)
        for h in hubs:
            os.kill(h.pid, signal.SIGCONT)
        ours, ossh = t_ours - t0, t_ossh - t0
        lines = [
            "dead manager (frozen, no FIN) found by keep-alives "
            f"(interval {args.interval} s, count {args.count})",
            f"  callhomed                      {ours:7.1f} s",
            f"  OpenSSH sshd (ClientAlive*)    {ossh:7.1f} s",
            f"  ratio ours/peer                {ours / ossh:7.2f}x",
        ]
        bl.report(lines)
    finally:
        env.cleanup()


if __name__ == "__main__":
    main()
