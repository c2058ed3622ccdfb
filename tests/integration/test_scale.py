"""A few thousand simulated devices (callhome-loadgen: each its own host
key, SSH and NETCONF server) calling a hub of two workers at once: every
one gets in, none is refused or dropped, both workers hold sessions,
memory per idle session stays within its bound. Kept short for CI; the
measured figures come from bench/scale_bench.py, never from here."""

import json
import signal

import pytest

from conftest import _require_binary
from helpers import loadgen_report, tree_rss_kb, wait_for

N = 2000
# VmRSS growth per idle session, the hub's processes together: measured
# about 30 kB (docs/performance.md, "Scale"); a leak or a buffer kept per
# session would pass this well before it matters to a fleet
RSS_BOUND_KB = 64


def sanitized(exe):
    with open(exe, "rb") as f:
        return b"__asan_init" in f.read()


@pytest.mark.ch_timeout(300)
def test_thousands_of_devices_none_refused_memory_bounded(hub, procs,
                                                          workdir):
    exe = _require_binary("callhome-hub")
    h = hub(log_level="info", extra=["--workers", "2",
                                     "--no-config-archive",
                                     "--no-device-notifications"])
    h.proc.wait_log(r"hub ready .*2 workers")
    rss0 = tree_rss_kb(h.proc.pid)
    lg = procs.spawn("loadgen", [
        _require_binary("callhome-loadgen"), "--hub", h.address,
        "--devices", N, "--in-flight", 64,
        "--source", "127.0.0.2-127.0.0.41",
        "--keys", workdir / "lg-keys", "--authorized-keys", h.pub])
    lg.wait_log(rf"all {N} devices up after", timeout=240)
    st = wait_for(lambda: (lambda s: s if s["sessions"]["netconf_ssh"] == N
                           else None)(json.loads(h.cli("--json",
                                                       "status")[1])),
                  30, f"{N} sessions in status", proc=h.proc)
    per = [w["sessions"]["netconf_ssh"] for w in st["worker_list"]]
    assert len(per) == 2 and all(n > 0 for n in per), per
    assert st["sessions"]["handshaking"] == 0
    rss = (tree_rss_kb(h.proc.pid) - rss0) / N
    lg.signal(signal.SIGTERM)
    lg.wait_exit(30)
    r = loadgen_report(lg)
    assert r["up"] == str(N)
    assert r["failures"] == "0" and r["drops"] == "0", lg.tail()
    log = h.proc.log()
    for refusal in ("refusing", "refused:", "blocking"):
        assert refusal not in log, refusal
    if not sanitized(exe):      # ASan's shadow and quarantine are not ours
        assert rss < RSS_BOUND_KB, f"{rss:.1f} kB per idle session"
    print(f"{N} devices: {per} per worker, {rss:.1f} kB per idle session")
