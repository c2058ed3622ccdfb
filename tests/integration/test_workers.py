"""A hub of several workers (--workers): devices spread over worker
processes that share the call-home port, one control socket in front of
them, commands reaching the worker that holds the device, queued jobs
run once on whichever worker the device lands on, a worker killed and
started again while the others keep their devices, and a stop that ends
every worker."""

import json
import os
import re
import signal
import subprocess
import time

from helpers import binary, wait_for
from ncsession import MODULE, system

FAST = ["--backoff-base", "100", "--backoff-max", "500"]
AGENTS = 30
WORKERS = 3


def status(h):
    rc, out, err = h.cli("--json", "status")
    assert rc == 0, err
    return json.loads(out)


def worker_sessions(st):
    return {w["worker"]: w["sessions"]["netconf_ssh"]
            for w in st.get("worker_list", [])}


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:        # a zombie is not alive for us
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def connected_since(h):
    return {d["fingerprint"]: d.get("connected_since")
            for d in h.devices() if d.get("state") == "connected"}


def start_fleet(hub, agent, n=AGENTS, modules=False):
    """A hub of WORKERS workers and n agents connected to it; with
    modules, the agents serve the test YANG module (edits validated)."""
    h = hub(extra=["--workers", str(WORKERS)])
    h.proc.wait_log(r"hub ready .*%d workers" % WORKERS, timeout=20)
    kw = {"extra": FAST + MODULE, "running_xml": None} if modules else \
        {"extra": FAST}
    agents = [agent(hub=h, name=f"a{i}", **kw) for i in range(n)]
    h.wait_device_connected(n, timeout=60)
    return h, agents


def test_workers_share_devices_and_commands_reach_each(hub, agent):
    h, agents = start_fleet(hub, agent)
    st = status(h)
    assert st["workers"] == WORKERS
    per = wait_for(lambda: (lambda p: p if sum(p.values()) == AGENTS
                            else None)(worker_sessions(status(h))),
                   15, "every session counted by a worker", proc=h.proc)
    assert len(per) == WORKERS
    # the kernel spread them (all on one worker: 3 * (1/3)^30)
    assert sum(1 for n in per.values() if n > 0) >= 2, per
    assert st["sessions"]["netconf_ssh"] == AGENTS
    pids = {w["pid"] for w in st["worker_list"]}
    assert len(pids) == WORKERS and h.proc.pid not in pids

    for a in agents:
        # live state only the worker holding the session knows
        rc, out, err = h.cli("--json", "device", a.fingerprint)
        assert rc == 0, err
        assert json.loads(out)["device"].get("capability_list"), out
        # an rpc runs on that worker, now
        rc, out, err = h.cli("get-config", a.fingerprint, "--now")
        assert rc == 0, err
        assert "<name>eth0</name>" in out
    # the fleet's view is one, whichever worker answers
    rc, out, err = h.cli("--json", "devices")
    assert rc == 0 and len(json.loads(out)["devices"]) == AGENTS


def test_job_queued_offline_runs_once_where_the_device_lands(hub, agent,
                                                            workdir):
    h, agents = start_fleet(hub, agent, n=6, modules=True)
    a = agents[0]
    name = a.fingerprint
    a.proc.stop()
    wait_for(lambda: all(d.get("state") != "connected"
                         for d in h.devices()
                         if d["fingerprint"] == name), 15,
             "the device disconnected", proc=h.proc)
    edit = workdir / "change.xml"
    edit.write_text(system("<hostname>queued</hostname>"))
    rc, out, err = h.cli("edit-config", name, edit)
    assert rc == 0, err
    m = re.search(r"queued as job (\d+)", out)
    assert m, out
    job = m.group(1)
    # back (the same host key), on whichever worker the kernel gives it
    agent(hub=h, name="a0-again", running_xml=None, extra=FAST + MODULE + [
        "--host-key", str(a.host_key)])
    wait_for(lambda: '"state":"done"' in
             h.cli("--json", "job", job)[1].replace(" ", ""), 30,
             "the queued job done", proc=h.proc)
    rc, out, _ = h.cli("--json", "events", "--limit", "1000")
    started = [e for e in json.loads(out)["events"]
               if e["kind"] == "job-started" and
               re.search(rf"\bjob {job}\b", e.get("detail") or "")]
    assert len(started) == 1, started
    time.sleep(1)        # a second run would show by now
    rc, out, _ = h.cli("--json", "events", "--limit", "1000")
    again = [e for e in json.loads(out)["events"]
             if e["kind"] == "job-started" and
             re.search(rf"\bjob {job}\b", e.get("detail") or "")]
    assert len(again) == 1, again


def events_since(h, since):
    r = h.ctl({"cmd": "events", "since": since, "limit": 10000})
    assert r["ok"], r
    return r["events"]


def test_killed_worker_devices_come_back_others_never_drop(hub, agent):
    h, agents = start_fleet(hub, agent)
    st = status(h)
    victim = max(st["worker_list"],
                 key=lambda w: w["sessions"]["netconf_ssh"])
    held = victim["sessions"]["netconf_ssh"]
    assert held > 0
    mark = max(e["id"] for e in events_since(h, 0))
    os.kill(victim["pid"], signal.SIGKILL)
    h.proc.wait_log(r"worker %d killed by signal 9" % victim["worker"],
                    timeout=10)
    # every device is back (the agent's back-off is at most 0.5 s here),
    # on the others or on the worker started again
    wait_for(lambda: len(connected_since(h)) == AGENTS and
             sum(worker_sessions(status(h)).values()) == AGENTS, 30,
             "every device back", proc=h.proc)
    evs = events_since(h, mark)
    dropped = {e["device"] for e in evs if e["kind"] == "disconnected"}
    back = {e["device"] for e in evs if e["kind"] == "connected"}
    # the victim's devices called again, nobody else's; each recorded
    # disconnected for the worker's end, unless its new session on
    # another worker was recorded first (that one is left alone)
    assert len(back) == held, (back, victim)
    assert dropped <= back, (dropped, back)
    assert all("worker %d ended" % victim["worker"] in e["detail"]
               for e in evs if e["kind"] == "disconnected"), evs
    h.proc.wait_log(r"worker %d ready" % victim["worker"], timeout=20)


def test_supervisor_stop_ends_every_worker(hub, agent):
    h, agents = start_fleet(hub, agent, n=4)
    pids = [w["pid"] for w in status(h)["worker_list"]]
    assert len(pids) == WORKERS and all(alive(p) for p in pids)
    h.proc.signal(signal.SIGTERM)
    assert h.proc.wait_exit(timeout=20) == 0
    wait_for(lambda: not any(alive(p) for p in pids), 10,
             "every worker gone")
    log = h.proc.log()
    for i in range(WORKERS):
        assert re.search(r"worker %d stopped" % i, log), log[-2000:]
    assert not h.sock.exists()


def test_workers_refused_with_what_one_process_serves(workdir):
    """The front door is served by one process: asked for with several
    workers, the hub says so and does not start; without --workers it
    runs as one process."""
    argv = [binary("callhome-hub"), "--front-door", "127.0.0.1:1",
            "--operator-keys", str(workdir / "ops"),
            "--state", str(workdir / "s")]
    r = subprocess.run(argv + ["--workers", "2"], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode != 0
    assert "--front-door needs --workers 1" in r.stderr, r.stderr
    assert r.stderr.startswith("callhome-hub: --front-door needs")
