"""SNMP through the hub next to snmpd straight, in the same run: net-snmp's
snmpd on 127.0.0.1; callhomed --snmp-agent relaying the `snmp`
subsystem to it; callhome-hub --snmp-map giving it a UDP endpoint.

* get round trip: one v2c get-request for sysDescr.0 from a UDP socket,
  datagram out -> reply in (median of N), through the hub's endpoint and
  straight to snmpd, and the ratio: the hub's and the agent's added
  latency (two SSH channel hops on loopback);
* snmpget: the tool's wall time, process start to exit (median of N/10),
  through the hub and straight;
* gets/s: one socket, one get at a time, for --seconds, both ways.

usage: snmp_bench.py BUILD_DIR [--seconds S] [--n N]
"""

import argparse
import shutil
import socket
import statistics
import subprocess
import time
from pathlib import Path

import benchlib as bl
from callhome_bench import USER

SNMPD = shutil.which("snmpd") or "/usr/sbin/snmpd"
SNMPGET = shutil.which("snmpget") or "/usr/bin/snmpget"
DESCR = b"callhome-snmp-bench"
QUIET = {"MIBS": "", "MIBDIRS": "/nonexistent"}


def get_request(reqid):
    """A v2c get-request (community public) for sysDescr.0."""
    def tlv(tag, body):
        return bytes([tag, len(body)]) + body
    oid = tlv(0x06, bytes([0x2b, 6, 1, 2, 1, 1, 1, 0]))
    vb = tlv(0x30, tlv(0x30, oid + b"\x05\x00"))
    pdu = tlv(0xa0, tlv(0x02, reqid.to_bytes(4, "big")) +
              tlv(0x02, b"\x00") + tlv(0x02, b"\x00") + vb)
    return tlv(0x30, tlv(0x02, b"\x01") + tlv(0x04, b"public") + pdu)


class Getter:
    def __init__(self, port):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.settimeout(1)     # then sent again, as an NMS does
        self.s.connect(("127.0.0.1", port))
        self.reqid = 1
        self.retries = 0

    def get(self):
        """One get, its round trip in seconds."""
        self.reqid += 1
        t = time.perf_counter()
        for _ in range(3):
            self.s.send(get_request(self.reqid))
            try:
                reply = self.s.recv(65536)
                break
            except TimeoutError:
                self.retries += 1
        else:
            raise bl.BenchError("no reply after 3 tries")
        dt = time.perf_counter() - t
        if DESCR not in reply:
            raise bl.BenchError("a reply without sysDescr")
        return dt


def rtt_ms(port, n):
    g = Getter(port)
    for _ in range(10):     # warm up (the hub opens the source's channel)
        g.get()
    return statistics.median(g.get() for _ in range(n)) * 1e3


def gets_per_s(port, seconds):
    g = Getter(port)
    g.get()
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        g.get()
        n += 1
    return n / seconds, g.retries


def snmpget_ms(port, n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = subprocess.run([SNMPGET, "-v2c", "-c", "public", "-On",
                            f"127.0.0.1:{port}", "1.3.6.1.2.1.1.1.0"],
                           capture_output=True,
                           env=dict(__import__("os").environ, **QUIET))
        out.append((time.perf_counter() - t) * 1e3)
        if r.returncode != 0 or DESCR not in r.stdout:
            raise bl.BenchError(f"snmpget via {port}: {r.stderr}")
    return statistics.median(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", type=Path)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--n", type=int, default=1000)
    args = ap.parse_args()
    build = args.build.resolve()
    env = bl.Env()
    try:
        d = env.dir
        sport = bl.free_port()
        (d / "snmpd.conf").write_text(
            f"agentAddress udp:127.0.0.1:{sport}\n"
            "rocommunity public 127.0.0.1\n"
            f"sysDescr {DESCR.decode()}\n")
        env.spawn([SNMPD, "-f", "-Lo", "-C", "-c", d / "snmpd.conf", "-p",
                   d / "snmpd.pid"], log=d / "snmpd.log",
                  env=dict(SNMP_PERSISTENT_DIR=str(d), **QUIET))
        bl.wait_until(lambda: subprocess.run(
            ["ss", "-Hlun", f"sport = :{sport}"], capture_output=True,
            text=True).stdout.strip(), 10, "snmpd listening")

        hport, mport = bl.free_port(), bl.free_port()
        key = bl.ssh_keygen(d / "hub_key", "bench-hub")
        hub = bl.Hub(env, build, hport, key, d / "hub-state", USER,
                     extra=["--snmp-map", f"r1=127.0.0.1:{mport}"])
        (d / "agent").mkdir()
        env.spawn([build / "callhomed", "--call-home", f"127.0.0.1:{hport}",
                   "--host-key", d / "agent" / "host_key",
                   "--authorized-keys", f"{key}.pub", "--datastore",
                   d / "agent", "--log-level", "warn",
                   "--snmp-agent", f"udp:127.0.0.1:{sport}"],
                  log=d / "agent.log")
        fp = None

        def connected():
            nonlocal fp
            devs = hub.control({"cmd": "devices"}).get("devices", [])
            fp = next((x["fingerprint"] for x in devs
                       if x.get("state") == "connected"), None)
            return fp
        bl.wait_until(connected, 15, "the agent connected")
        r = hub.control({"cmd": "rename", "device": fp, "name": "r1"})
        if not r.get("ok"):
            raise bl.BenchError(f"rename: {r}")

        rtt_hub, rtt_direct = rtt_ms(mport, args.n), rtt_ms(sport, args.n)
        tool_n = max(10, args.n // 10)
        tool_hub = snmpget_ms(mport, tool_n)
        tool_direct = snmpget_ms(sport, tool_n)
        rate_hub, re_hub = gets_per_s(mport, args.seconds)
        rate_direct, re_direct = gets_per_s(sport, args.seconds)
        bl.report([
            "snmp: through the hub (--snmp-map, callhomed --snmp-agent) vs "
            "straight to snmpd, same run, loopback",
            f"  get round trip, v2c sysDescr.0 (median of {args.n})",
            f"    hub {rtt_hub:7.3f} ms    snmpd {rtt_direct:7.3f} ms    "
            f"ratio {rtt_hub / rtt_direct:5.2f}x",
            f"  snmpget wall time, start to exit (median of {tool_n})",
            f"    hub {tool_hub:7.2f} ms    snmpd {tool_direct:7.2f} ms    "
            f"ratio {tool_hub / tool_direct:5.2f}x",
            f"  gets/s, one at a time ({args.seconds} s)",
            f"    hub {rate_hub:9.0f}    snmpd {rate_direct:9.0f}    "
            f"ratio {rate_hub / rate_direct:5.2f}x",
            f"    requests sent again after 1 s without a reply: hub "
            f"{re_hub}, snmpd {re_direct} (the hub and the agent drop "
            f"past CH_SNMP_RATE a second)",
        ])
    finally:
        env.cleanup()


if __name__ == "__main__":
    main()
