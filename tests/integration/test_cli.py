"""The operator's CLI against a real hub and agent: enrollment, queued
jobs, the event log; exit codes and one-line errors as documented."""

import re
import subprocess
import time

from helpers import binary, fingerprint_of_pub, ssh_keygen, wait_for

FAST = ["--backoff-base", "100", "--backoff-max", "400"]


def test_enroll_queue_and_follow_events_from_the_cli(hub, agent, workdir):
    h = hub(admission="approve")
    key = ssh_keygen(workdir / "dev_hostkey")
    fp = fingerprint_of_pub(f"{key}.pub")

    # pre-provision, queue while offline: exit 0 and a pointer to the job
    rc, out, err = h.cli("add", "edge-1", "--fingerprint", fp)
    assert rc == 0, err
    rc, out, err = h.cli("get-config", "edge-1")
    assert rc == 0, err
    m = re.search(r"queued as job (\d+) for edge-1", out)
    assert m, out
    job = m.group(1)
    rc, out, err = h.cli("get-config", "edge-1", "--now")
    assert rc == 4 and "not connected" in err
    rc, out, _ = h.cli("jobs", "edge-1")
    assert rc == 0 and re.search(rf"^\s*{job}\s.*queued", out, re.M), out

    # follow the event log while the device calls
    follow = subprocess.Popen(
        [binary("callhome"), "--hub", str(h.sock), "events", "--follow"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        agent(hub=h, extra=["--host-key", key] + FAST)
        wait_for(lambda: h.cli("job", job)[1].count("done") > 0, 20,
                 "the queued job done", proc=h.proc)
        rc, out, _ = h.cli("job", job)
        assert "<name>eth0</name>" in out
        time.sleep(1.5)      # one poll period of --follow to print them
    finally:
        follow.terminate()
        out, _ = follow.communicate(timeout=10)
    assert follow.returncode in (0, -15)
    for kind in ("called", "connected", "job-done"):
        assert kind in out, out

    # the device's own error is exit 3; a refusal by the hub exit 4
    rc, out, err = h.cli("rpc", "edge-1",
                         "<lock><target><running/></target></lock>")
    assert rc == 3 and "operation-not-supported" in out
    rc, out, err = h.cli("cancel", job)
    assert rc == 4 and err.startswith("callhome: ")
    assert len(err.strip().splitlines()) == 1


def test_pending_device_approved_from_the_cli(hub, agent):
    h = hub(admission="approve")
    a = agent(hub=h, extra=FAST)
    h.proc.wait_log(r"recorded as pending")
    rc, out, _ = h.cli("devices")
    assert rc == 0 and "pending" in out
    rc, out, err = h.cli("approve", a.fingerprint[:20], "--name", "lab-3")
    assert rc == 0, err
    wait_for(lambda: '"state":"connected"' in
             h.cli("--json", "device", "lab-3")[1].replace(" ", ""), 15,
             "lab-3 connected", proc=h.proc)
    rc, out, _ = h.cli("--json", "device", "lab-3")
    assert rc == 0 and '"identities"' in out
