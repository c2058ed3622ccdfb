"""The hub's configuration archive and device notifications, with real
peers: our agent calls the hub and, as a second manager, an ncclient
listener; a change made by ncclient behind the hub's back reaches the
hub as netconf-config-change (RFC 6470), is an event `callhome events
--follow` prints with who made it, and the hub fetches and archives the
new running configuration: `history`, `diff`, `config --at`; a call
with no change adds no version."""

import json
import re
import subprocess
import time
from datetime import datetime, timezone

import pytest

from helpers import binary, listener, ssh_keygen, wait_for

ncclient = pytest.importorskip(
    "ncclient", reason="python3-ncclient (Debian) is not installed")

from ncsession import MODULE, config, connect, system   # noqa: E402
from test_callhome_config import callhome, client, endpoint  # noqa: E402

FAST = ["--backoff-base", "100", "--backoff-max", "400"]


def history(h, dev):
    rc, out, err = h.cli("--json", "history", dev)
    assert rc == 0, err
    return json.loads(out)["versions"]


def unix(iso):
    return int(datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")
               .replace(tzinfo=timezone.utc).timestamp())


def read_until(proc, regex, timeout):
    """Lines of a follower until one matches regex; returns it."""
    pat = re.compile(regex)
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if pat.search(line):
            return line
    raise AssertionError(f"/{regex}/ not printed by events --follow:\n"
                         + "".join(seen))


def two_managers(hub, agent, workdir):
    """A hub and our agent calling it and, as its second manager, an
    ncclient listener; the device is named r1 and subscribed. Returns
    (hub, agent, connect): connect() is ncclient on the agent's call to
    the listener (user ops)."""
    h = hub()
    mgr_key = ssh_keygen(workdir / "mgr_key", comment="mgr")
    lsock, port = listener()
    a = agent(call_home=[], authorized=[h.pub, f"{mgr_key}.pub"],
              running_xml=None,
              startup_xml=callhome(client("hub", [endpoint("h", h.port)]),
                                   client("mgr", [endpoint("m", port)])),
              extra=MODULE + FAST)
    h.wait_device_connected()
    rc, out, err = h.cli("rename", a.fingerprint, "r1")
    assert rc == 0, err
    h.proc.wait_log(r"subscribed to its NETCONF notification stream")
    return h, a, lambda: connect(lsock, a, mgr_key)


def test_change_by_second_manager_is_an_event_and_a_version(
        hub, agent, workdir):
    h, a, second = two_managers(hub, agent, workdir)
    wait_for(lambda: len(history(h, "r1")) == 1, 15,
             "the configuration archived at the call", proc=h.proc)
    v1 = history(h, "r1")[0]
    assert v1["version"] == 1 and v1["trigger"] == "call"
    assert v1["hash"].startswith("sha256:")
    rc, out, err = h.cli("config", "r1")
    assert rc == 0, err
    assert "hostname" not in out

    follow = subprocess.Popen(
        [binary("callhome"), "--hub", str(h.sock), "events", "r1",
         "--follow"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    m = None
    try:
        # a second manager, not through the hub: ncclient on the
        # agent's other call
        m = second()
        # the next version is stamped in a later second than v1
        wait_for(lambda: time.time() >= unix(v1["time"]) + 1, 3,
                 "the clock past the first version")
        m.edit_config(target="running", config=config(system(
            "<hostname>edge-7</hostname>")))
        line = read_until(follow, r"notification.*netconf-config-change",
                          20)
        assert "by ops" in line and "on running" in line, line
        assert "/callhome-test:system" in line, line
        line = read_until(follow, r"config-archived", 20)
        assert "config-change by ops@127.0.0.1" in line, line
    finally:
        follow.terminate()
        follow.communicate(timeout=10)
        if m is not None:
            m.close_session()

    vs = history(h, "r1")
    assert [v["version"] for v in vs] == [1, 2]
    assert vs[1]["trigger"] == "config-change by ops@127.0.0.1"
    rc, out, err = h.cli("history", "r1")
    assert rc == 0 and "config-change by ops@127.0.0.1" in out, out

    # the diff names the changed line; the old version is still there
    rc, out, err = h.cli("diff", "r1", "1", "2")
    assert rc == 0, err
    assert re.search(r"^\+\s+<hostname>edge-7</hostname>$", out, re.M), out
    assert out.startswith("--- r1 version 1 (")
    assert not re.search(r"^-\s", out, re.M), out
    rc, out, err = h.cli("--json", "diff", "r1", "1", "2")
    d = json.loads(out)
    assert d["from"]["version"] == 1 and d["to"]["version"] == 2
    assert "+    <hostname>edge-7</hostname>" in d["diff"] or \
        "<hostname>edge-7</hostname>" in d["diff"]
    rc, out, err = h.cli("config", "r1", "--at", f"@{unix(v1['time'])}")
    assert rc == 0, err
    assert "hostname" not in out and "<system" not in out
    rc, out, err = h.cli("config", "r1")
    assert "<hostname>edge-7</hostname>" in out
    rc, out, err = h.cli("config", "r1", "--at", "9")
    assert rc == 4 and "no archived configuration version 9" in err


def test_call_without_change_adds_no_version(hub, agent, workdir):
    h = hub()
    a = agent(hub=h, running_xml=None, extra=MODULE + FAST)
    h.wait_device_connected()
    fp = a.fingerprint
    wait_for(lambda: len(history(h, fp)) == 1, 15,
             "the configuration archived at the call", proc=h.proc)
    # the hub restarts: the device calls again, with the same running
    h.proc.stop()
    h.restart("hub-2", extra=["--accept-new"])
    h.wait_device_connected()
    h.proc.wait_log(r"running configuration unchanged \(version 1, call\)")
    assert len(history(h, fp)) == 1
    rc, out, err = h.cli("diff", fp, "1", "now")
    assert rc == 0 and out == "", out


def test_job_change_archived_and_archive_can_be_off(hub, agent, workdir):
    h = hub()
    a = agent(hub=h, running_xml=None, extra=MODULE + FAST)
    h.wait_device_connected()
    fp = a.fingerprint
    wait_for(lambda: len(history(h, fp)) == 1, 15, "version 1",
             proc=h.proc)
    change = workdir / "change.xml"
    change.write_text(system("<hostname>by-job</hostname>"))
    rc, out, err = h.cli("edit-config", fp, change)
    assert rc == 0, err + out
    wait_for(lambda: len(history(h, fp)) == 2, 15, "version 2",
             proc=h.proc)
    v2 = history(h, fp)[1]
    assert re.fullmatch(r"job \d+", v2["trigger"]), v2
    # the device's netconf-config-change of our own change fetches
    # nothing more: the job did
    h.proc.wait_log(r"a change made by the hub's session: archived after "
                    r"its job")
    assert "config-change by admin" not in h.proc.log()
    rc, out, err = h.cli("events", fp)
    assert re.search(r"notification .*netconf-config-change .* by admin "
                     r"\(session 1\)", out), out

    h.proc.stop()
    h.restart("hub-2", extra=["--accept-new", "--no-config-archive",
                              "--no-device-notifications"])
    h.wait_device_connected()
    change.write_text(system("<hostname>unseen</hostname>"))
    rc, out, err = h.cli("edit-config", fp, change)
    assert rc == 0, err + out
    assert "subscribed to its NETCONF" not in h.proc.log()
    assert len(history(h, fp)) == 2


def test_a_flood_of_notifications_is_bounded(hub, agent, workdir):
    """A device that sends notifications faster than 60 a minute
    (CH_NOTIF_EVENT_PER_MIN) past a burst of 60 gets no more events than
    that; one event says how many were not recorded; its last change is
    still archived."""
    h, a, second = two_managers(hub, agent, workdir)
    m = second()
    t0 = time.monotonic()
    try:
        for i in range(100):
            m.edit_config(target="running", config=config(system(
                f"<hostname>flood-{i}</hostname>")))
        elapsed = time.monotonic() - t0
        # a change after a token is back: the count is said first
        wait_for(lambda: time.monotonic() >= t0 + elapsed + 1.5, 5,
                 "a token refilled")
        m.edit_config(target="running", config=config(system(
            "<hostname>last</hostname>")))
    finally:
        m.close_session()
    h.proc.wait_log(r"notification\(s\) not recorded: more than 60 a "
                    r"minute")
    evs = h.ctl({"cmd": "events", "device": "r1", "limit": 1000})["events"]
    notes = [e for e in evs if e["kind"] == "notification"]
    changes = [e for e in notes if "netconf-config-change" in
               (e["detail"] or "")]
    said = [int(re.match(r"(\d+) notification\(s\) not recorded",
                         e["detail"]).group(1))
            for e in notes if "not recorded" in (e["detail"] or "")]
    # the bucket, counts included; every change recorded or counted
    # (the last one may still be counting)
    assert len(notes) <= 60 + int(time.monotonic() - t0) + 2, len(notes)
    assert said and len(changes) < 101
    assert len(changes) + sum(said) in (100, 101), (len(changes), said)
    wait_for(lambda: "<hostname>last</hostname>" in
             h.cli("config", "r1")[1], 15, "the last change archived",
             proc=h.proc)
