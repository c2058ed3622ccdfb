"""The agent with a ~1 MiB running configuration: its memory, and how
long a get-config of all of it takes over a real call-home session
(ncclient as the manager). Our side only for now; see docs/performance.md.

usage: big_config.py BUILD_DIR [--interfaces N]
"""

import argparse
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ncclient import manager

import benchlib as bl

REPO = Path(__file__).resolve().parent.parent
T = "urn:callhome:params:xml:ns:yang:callhome-test"


def config(n):
    out = [f'<interfaces xmlns="{T}">']
    for i in range(n):
        out.append(
            f"<interface><name>ge-0/0/{i}</name>"
            f"<description>uplink {i} to the aggregation switch</description>"
            f"<tag>site-a</tag><tag>rack-{i % 40}</tag>"
            f"<address><ip>10.{i // 250 % 250}.{i % 250}.1</ip>"
            f"<prefix-length>24</prefix-length></address></interface>")
    out.append("</interfaces>")
    return "".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", type=Path)
    ap.add_argument("--interfaces", type=int, default=4700)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="callhome-big-") as d:
        d = Path(d)
        ds = d / "ds"
        ds.mkdir()
        data = config(args.interfaces)
        (ds / "startup.xml").write_text(data)
        key = bl.ssh_keygen(d / "mgr", "mgr")
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        lsock.settimeout(30)
        port = lsock.getsockname()[1]
        agent = subprocess.Popen(
            [args.build / "callhomed", "--call-home", f"127.0.0.1:{port}",
             "--host-key", d / "hk", "--authorized-keys", f"{key}.pub",
             "--datastore", ds, "--yang-dir", REPO / "tests" / "yang",
             "--module", "callhome-test"],
            stderr=open(d / "agent.log", "w"))
        try:
            conn, peer = lsock.accept()
            m = manager.connect(host=peer[0], port=peer[1], sock=conn,
                                username="bench", key_filename=str(key),
                                hostkey_verify=False, allow_agent=False,
                                look_for_keys=False, timeout=120)
            times, size = [], 0
            for _ in range(11):
                t0 = time.perf_counter()
                reply = m.get_config(source="running")
                times.append(time.perf_counter() - t0)
                size = len(reply.xml)
            rss = bl.mem_kb(agent.pid)
            m.close_session()
        finally:
            agent.terminate()
            agent.wait(10)
        print(f"running configuration: {len(data) / 1048576:.2f} MiB "
              f"({args.interfaces} list entries), reply {size / 1048576:.2f} "
              f"MiB")
        print(f"agent memory after 11 get-config: {rss}")
        print(f"get-config of all of it, ncclient round trip: median "
              f"{1000 * statistics.median(times[1:]):.1f} ms, "
              f"max {1000 * max(times[1:]):.1f} ms (first {1000 * times[0]:.1f} ms)")


if __name__ == "__main__":
    sys.exit(main())
