"""A ~1 MiB running configuration: the device's memory, and how long a
get-config of all of it takes over a real call-home SSH session (ncclient
as the manager, accepting the call), for our agent and, in the same run,
for a peer: yuma123 netconfd behind OpenSSH `sshd -i` (dialled out by
socat, as in queued_job.py) with the same YANG module
(tests/yang/callhome-test) and the same data as its startup
configuration. See docs/performance.md.

Two get-config times: ncclient's (the manager's view, with its parsing
of the reply in Python), and a raw one on a second netconf channel of the
same SSH connection (base:1.0 framing, from sending the rpc to the reply's
last byte, nothing parsed): the device's own share.

ncclient 0.6.13 sends a queued rpc only when its reader thread wakes up,
at most every ncclient.transport.ssh.TICK (0.1 s) when nothing arrives:
every rpc then costs up to 100 ms of ncclient's own. TICK is lowered to
1 ms here (--tick) so that the time measured is the device's.

usage: big_config.py BUILD_DIR [--interfaces N] [--runs N]
"""

import argparse
import socket
import statistics
import sys
import time
from pathlib import Path

import ncclient.transport.ssh
from ncclient import manager

import benchlib as bl
from callhome_bench import NETCONFD, SOCAT, SSHD, USER, say, sshd_config

REPO = Path(__file__).resolve().parent.parent
T = "urn:callhome:params:xml:ns:yang:callhome-test"
MODULE_FILE = REPO / "tests" / "yang" / "callhome-test@2024-05-01.yang"
BASE = "urn:ietf:params:xml:ns:netconf:base:1.0"


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


def listen():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    s.settimeout(120)
    return s, s.getsockname()[1]


def accept(lsock, username, key):
    conn, peer = lsock.accept()
    return manager.connect(host=peer[0], port=peer[1], sock=conn,
                           username=username, key_filename=str(key),
                           hostkey_verify=False, allow_agent=False,
                           look_for_keys=False, timeout=300)


def measure(m, runs, entries):
    """runs get-config of running: (times in s, reply bytes). Every reply
    must hold all the entries: the device has the same data."""
    times, size = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        reply = m.get_config(source="running")
        times.append(time.perf_counter() - t0)
        size = len(reply.xml)
        got = reply.xml.count("<interface>") + \
            reply.xml.count(":interface>") // 2
        if got != entries:
            raise bl.BenchError(f"the reply holds {got} interfaces, not "
                                f"{entries}")
    return times, size


HELLO10 = (f'<?xml version="1.0" encoding="UTF-8"?><hello xmlns="{BASE}">'
           "<capabilities><capability>urn:ietf:params:netconf:base:1.0"
           "</capability></capabilities></hello>]]>]]>").encode()
EOM = b"]]>]]>"


def read_message(chan):
    """Bytes up to and including the next ]]>]]>."""
    buf = b""
    while True:
        data = chan.recv(1 << 20)
        if not data:
            raise bl.BenchError("the channel closed")
        tail = buf[-len(EOM):]
        buf += data
        if EOM in tail + data:
            return buf


def measure_raw(m, runs, size):
    """get-config on a second netconf channel: times (s) from sending the
    rpc to the end of its reply, which must be about size bytes."""
    chan = m._session._transport.open_session(timeout=30)
    chan.invoke_subsystem("netconf")
    chan.settimeout(120)
    read_message(chan)                  # its hello
    chan.sendall(HELLO10)
    time.sleep(0.3)     # netconfd drops an rpc read with the hello
    times = []
    for i in range(runs):
        rpc = (f'<rpc message-id="{i}" xmlns="{BASE}"><get-config><source>'
               f"<running/></source></get-config></rpc>]]>]]>").encode()
        t0 = time.perf_counter()
        chan.sendall(rpc)
        reply = read_message(chan)
        times.append(time.perf_counter() - t0)
        if len(reply) < size // 2:
            raise bl.BenchError(f"short raw reply: {reply[:300]!r}")
    chan.close()
    return times


def tree_kb(pids):
    """RSS and anonymous memory of pids, summed (kB)."""
    rss = anon = 0
    for pid in pids:
        try:
            mk = bl.mem_kb(pid)
        except OSError:
            continue
        rss += mk["rss"]
        anon += mk["anon"]
    return rss, anon


def run_ours(env, build, data, key, runs, entries):
    ds = env.dir / "ours-ds"
    ds.mkdir()
    (ds / "startup.xml").write_text(data)
    lsock, port = listen()
    agent = env.spawn(
        [build / "callhomed", "--call-home", f"127.0.0.1:{port}",
         "--host-key", env.dir / "hk", "--authorized-keys", f"{key}.pub",
         "--datastore", ds, "--yang-dir", REPO / "tests" / "yang",
         "--module", "callhome-test"], log=env.dir / "agent.log")
    m = accept(lsock, "bench", key)
    times, size = measure(m, runs, entries)
    raw = measure_raw(m, runs, size)
    mem = bl.mem_kb(agent.pid)
    m.close_session()
    lsock.close()
    env.stop(agent)
    return times, raw, size, mem


def run_peer(env, data, key, runs, entries):
    """netconfd (one daemon, the datastore) and, per session, sshd and
    netconf-subsystem (the transport)."""
    d = env.dir / "peer"
    nd = d / "netconfd"
    nd.mkdir(parents=True)
    startup = nd / "startup.xml"
    startup.write_text(f'<config xmlns="{BASE}">{data}</config>')
    sock = nd / "ncxserver.sock"
    netconfd = env.spawn(
        [NETCONFD, f"--ncxserver-sockname={sock}", "--port=830",
         f"--superuser={USER}", f"--module={MODULE_FILE}",
         f"--startup={startup}", "--log-level=info",
         f"--log={nd / 'netconfd.log'}"],
        log=nd / "stdout.log", env={"HOME": str(nd)}, cwd=str(nd))
    bl.wait_until(sock.exists, 120, "netconfd's socket", proc=netconfd)
    log = (nd / "netconfd.log").read_text()
    if "Startup config loaded OK" not in log:
        raise bl.BenchError(f"netconfd did not load the data:\n{log}")
    hostkey = bl.ssh_keygen(d / "ssh_host_ed25519_key", "peer")
    ak = d / "authorized_keys"
    ak.write_text(Path(f"{key}.pub").read_text())
    cfg = sshd_config(d, hostkey, ak, sock)
    lsock, port = listen()
    dev = env.spawn(
        [SOCAT, f"TCP:127.0.0.1:{port},connect-timeout=5,nodelay",
         f"EXEC:{SSHD} -i -f {cfg} -E {d / 'sshd.log'},nofork"],
        log=d / "socat.log")
    m = accept(lsock, USER, key)
    times, size = measure(m, runs, entries)
    raw = measure_raw(m, runs, size)
    mem = bl.mem_kb(netconfd.pid)
    session = tree_kb([dev.pid] + bl.descendants(dev.pid))
    m.close_session()
    lsock.close()
    env.stop(dev)
    env.stop(netconfd)
    return times, raw, size, mem, session


def ms(times):
    rest = times[1:]
    return (f"median {1000 * statistics.median(rest):7.1f} ms, max "
            f"{1000 * max(rest):7.1f} ms (first {1000 * times[0]:.1f} ms)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", type=Path)
    ap.add_argument("--interfaces", type=int, default=4700)
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--tick", type=float, default=0.001,
                    help="ncclient's reader wake-up, s (its default: 0.1)")
    args = ap.parse_args()
    ncclient.transport.ssh.TICK = args.tick
    env = bl.Env()
    try:
        data = config(args.interfaces)
        key = bl.ssh_keygen(env.dir / "mgr", "mgr")
        say(f"callhomed with {args.interfaces} list entries")
        o_t, o_raw, o_size, o_mem = run_ours(env, args.build.resolve(), data, key,
                                      args.runs, args.interfaces)
        say("yuma123 netconfd behind OpenSSH sshd -i, the same data")
        p_t, p_raw, p_size, p_mem, p_sess = run_peer(env, data, key, args.runs,
                                              args.interfaces)
        o_med = statistics.median(o_t[1:])
        p_med = statistics.median(p_t[1:])
        o_rmed = statistics.median(o_raw[1:])
        p_rmed = statistics.median(p_raw[1:])
        lines = [
            f"running configuration: {len(data) / 1048576:.2f} MiB "
            f"({args.interfaces} list entries of callhome-test); "
            f"ncclient TICK {1000 * args.tick:g} ms",
            f"  callhomed        RSS {o_mem['rss'] / 1024:6.1f} MB "
            f"(anon {o_mem['anon'] / 1024:.1f} MB), reply "
            f"{o_size / 1048576:.2f} MiB",
            f"  netconfd         RSS {p_mem['rss'] / 1024:6.1f} MB "
            f"(anon {p_mem['anon'] / 1024:.1f} MB), reply "
            f"{p_size / 1048576:.2f} MiB; its session (sshd, "
            f"netconf-subsystem) {p_sess[0] / 1024:.1f} MB more",
            f"  RSS ratio ours/netconfd              "
            f"{o_mem['rss'] / p_mem['rss']:6.2f}x",
            f"  get-config (ncclient), callhomed  {ms(o_t)}",
            f"  get-config (ncclient), netconfd   {ms(p_t)}",
            f"  get-config ratio ours/netconfd (median) {o_med / p_med:6.2f}x",
            f"  raw get-config, callhomed  {ms(o_raw)}",
            f"  raw get-config, netconfd   {ms(p_raw)}",
            f"  raw get-config ratio ours/netconfd (median) "
            f"{o_rmed / p_rmed:6.2f}x",
        ]
        bl.report(lines)
    finally:
        env.cleanup()


if __name__ == "__main__":
    sys.exit(main())
