"""The hub as the place a fleet is managed: enrollment and identity,
changes queued for offline devices and applied when they call, crash
semantics of the queue, protection of the pre-authentication phase, and
the JSON control API. Real hub, real agents, real sockets."""

import json
import re
import socket
import threading
import time

import pytest


from helpers import (current_user, fingerprint_of_pub, ssh_keygen,
                     wait_for)

FAST = ["--backoff-base", "100", "--backoff-max", "400"]


def dev(h, fp):
    return {d["fingerprint"]: d for d in h.devices()}.get(fp)


def wait_state(h, fp, state, timeout=15):
    wait_for(lambda: (dev(h, fp) or {}).get("state") == state, timeout,
             f"{fp} {state}", interval=0.1, proc=h.proc)


def ok(resp):
    assert resp.get("ok") is True, resp
    return resp



def pregenerated_agent(agent, h, workdir, name="agent", extra=()):
    """An agent whose host key exists before it runs, so the operator can
    pre-provision its fingerprint."""
    key = ssh_keygen(workdir / f"{name}_hostkey")
    fp = fingerprint_of_pub(f"{key}.pub")
    return fp, lambda: agent(hub=h, name=name,
                             extra=["--host-key", key] + FAST + list(extra))


# ------------------------------------------------------------ enrollment

def test_pending_then_approved_by_name(hub, agent):
    h = hub(admission="approve")
    a = agent(hub=h, extra=FAST)
    h.proc.wait_log(r"recorded as pending")
    assert dev(h, a.fingerprint)["admission"] == "pending"
    ok(h.ctl({"cmd": "approve", "device": a.fingerprint[7:20],
              "name": "branch-7"}))
    wait_state(h, a.fingerprint, "connected")
    d = dev(h, a.fingerprint)
    assert d["name"] == "branch-7" and d["admission"] == "admitted"
    rc, out, err = h.cli("get-config", "branch-7")
    assert rc == 0 and "<name>eth0</name>" in out, err
    kinds = [e["kind"] for e in ok(h.ctl({"cmd": "events",
                                           "device": "branch-7"}))["events"]]
    assert "refused" in kinds and "approved" in kinds
    assert kinds.index("approved") < len(kinds) - 1 - kinds[::-1].index(
        "connected")


def test_known_only_refuses_and_records_only_an_event(hub, agent):
    h = hub(admission="known-only")
    a = agent(hub=h, extra=FAST)
    h.proc.wait_log(r"unknown device \(--admission known-only\)")
    assert dev(h, a.fingerprint) is None           # no registry entry
    evs = ok(h.ctl({"cmd": "events"}))["events"]
    assert any(e["device"] == a.fingerprint and e["kind"] == "refused"
               for e in evs)


def test_preprovisioned_device_is_admitted_at_first_call(hub, agent,
                                                         workdir):
    h = hub(admission="known-only")
    fp, start = pregenerated_agent(agent, h, workdir)
    ok(h.ctl({"cmd": "add", "name": "cpe-42", "fingerprint": fp}))
    start()
    wait_state(h, fp, "connected")
    assert dev(h, fp)["name"] == "cpe-42"
    r = h.ctl({"cmd": "add", "name": "cpe-43", "fingerprint": fp})
    assert r["ok"] is False and r["code"] == "exists"
    r = h.ctl({"cmd": "add", "name": "x", "fingerprint": "SHA256:short"})
    assert r["ok"] is False and r["code"] == "bad-request"
    # the name with a different key: refused, and the device's log says so
    other = "SHA256:" + "B" * 43
    r = h.ctl({"cmd": "add", "name": "cpe-42", "fingerprint": other})
    assert r["ok"] is False and r["code"] == "exists"
    assert "identity add" in r["error"]
    evs = ok(h.ctl({"cmd": "events", "device": "cpe-42"}))["events"]
    assert any(e["kind"] == "identity-mismatch" for e in evs)


def test_a_refused_agent_logs_the_hubs_reason_not_connection_lost(
        hub, agent):
    """The hub says why it refuses a device (SSH_MSG_DISCONNECT with the
    reason, not libssh's "Bye Bye"), and the agent logs it, on every call
    (a known pending device is refused faster than a new one)."""
    h = hub(admission="approve")
    a = agent(hub=h, extra=FAST)
    h.proc.wait_log(r"recorded as pending")
    for _ in range(3):
        mark = a.proc.mark()
        a.proc.wait_log(r"connection closed: the manager refused us: "
                        r"unknown device: recorded as pending", since=mark)
        a.proc.wait_log(r"call home to \S+ failed: the manager refused us: "
                        r".*pending", since=mark)
    assert "connection lost" not in a.proc.log()
    # revoked: the live session ends with the reason, later calls too
    ok(h.ctl({"cmd": "approve", "device": a.fingerprint}))
    wait_state(h, a.fingerprint, "connected")
    mark = a.proc.mark()
    ok(h.ctl({"cmd": "revoke", "device": a.fingerprint}))
    # The live session's end carries the reason too, but libssh 0.10 keeps
    # a received SSH_MSG_DISCONNECT only in its error text, which a socket
    # error right after it may overwrite: then it reads "manager
    # disconnected" alone. The next call's refusal always says why.
    a.proc.wait_log(r"manager disconnected", since=mark)
    a.proc.wait_log(r"the manager refused us: device identity revoked",
                    since=mark)


def test_revoke_closes_the_live_session_and_refuses_later(hub, agent):
    h = hub()
    a = agent(hub=h, extra=FAST)
    h.wait_device_connected(1)
    queued = ok(h.ctl({"cmd": "get-config", "device": a.fingerprint,
                       "mode": "queue"}))["job"]["id"]
    r = ok(h.ctl({"cmd": "revoke", "device": a.fingerprint}))
    assert r["closed_session"] is True
    assert r["device"]["admission"] == "revoked"
    wait_state(h, a.fingerprint, "disconnected")
    h.proc.wait_log(r"connection closed: identity revoked")
    h.proc.wait_log(r"refused|device identity revoked")
    mark = h.proc.mark()
    h.proc.wait_log(r"connection closed: device identity revoked",
                    since=mark)                   # it called, refused
    r = h.ctl({"cmd": "approve", "device": a.fingerprint})
    assert r["code"] == "invalid-state"
    # its queue can never run: nothing is left queued
    state = ok(h.ctl({"cmd": "job", "id": queued}))["job"]["state"]
    assert state in ("done", "cancelled"), state


def test_key_rotation_with_a_second_identity(hub, agent, workdir):
    h = hub(admission="known-only")
    fp1, start1 = pregenerated_agent(agent, h, workdir, "old")
    ok(h.ctl({"cmd": "add", "name": "r1", "fingerprint": fp1}))
    a1 = start1()
    wait_state(h, fp1, "connected")
    a1.proc.stop()
    # the device gets a new key; the operator adds it to the same device
    fp2, start2 = pregenerated_agent(agent, h, workdir, "new")
    ok(h.ctl({"cmd": "identity-add", "device": "r1", "fingerprint": fp2}))
    start2()
    wait_state(h, fp1, "connected")               # the record is r1's
    d = ok(h.ctl({"cmd": "device", "device": "r1"}))["device"]
    assert d["identities"] == [fp1, fp2]
    rc, out, _ = h.cli("get-config", "r1")
    assert rc == 0 and "<name>eth0</name>" in out
    # removing the key closes the session that uses it
    ok(h.ctl({"cmd": "identity-remove", "fingerprint": fp2}))
    h.proc.wait_log(r"connection closed: identity removed")


def test_same_identity_twice_newer_wins_and_says_so(hub, agent, workdir):
    h = hub()
    key = ssh_keygen(workdir / "shared_hostkey")
    fp = fingerprint_of_pub(f"{key}.pub")
    agent(hub=h, name="first", extra=["--host-key", key] + FAST)
    wait_state(h, fp, "connected")
    agent(hub=h, name="second", extra=["--host-key", key] + FAST)
    h.proc.wait_log(r"replaced by a newer connection of the same device")
    evs = ok(h.ctl({"cmd": "events", "device": fp}))["events"]
    assert any(e["kind"] == "replaced" for e in evs)


# ------------------------------------------------------------ the queue

def test_jobs_for_an_offline_device_run_in_order_once(hub, agent, workdir):
    # the archive's own get-config at each call is not a job's: off here,
    # so that each operation at the device is a job's (test_archive.py)
    h = hub(admission="known-only", extra=["--no-config-archive"])
    fp, start = pregenerated_agent(agent, h, workdir)
    ok(h.ctl({"cmd": "add", "name": "offline-1", "fingerprint": fp}))
    ids = []
    for req in ({"cmd": "get-config", "device": "offline-1"},
                {"cmd": "rpc", "device": "offline-1", "xml": "<get/>"},
                {"cmd": "rpc", "device": "offline-1",
                 "xml": "<lock><target><running/></target></lock>"}):
        r = ok(h.ctl(req))
        assert r["job"]["state"] == "queued" and "reply" not in r
        ids.append(r["job"]["id"])
    r = h.ctl({"cmd": "rpc", "device": "offline-1", "xml": "<get/>",
               "mode": "now"})
    assert r["ok"] is False and r["code"] == "not-connected"
    assert len(ok(h.ctl({"cmd": "jobs", "device": fp}))["jobs"]) == 3
    a = start()
    def all_done():
        js = {j["id"]: j for j in ok(h.ctl({"cmd": "jobs"}))["jobs"]}
        return js if all(js[i]["state"] == "done" for i in ids) else None
    js = wait_for(all_done, 20, "three jobs done", proc=h.proc)
    started = [js[i]["started"] for i in ids]
    assert started == sorted(started)
    kinds = [e["kind"] for e in ok(h.ctl({"cmd": "events", "device": fp,
                                           "limit": 100}))["events"]]
    assert kinds.count("job-started") == 3 and kinds.count("job-done") == 3
    caps = ok(h.ctl({"cmd": "device", "device": fp}))["device"]
    assert "urn:ietf:params:netconf:base:1.1" in caps["capability_list"]
    j0 = ok(h.ctl({"cmd": "job", "id": ids[0]}))["job"]
    assert "<name>eth0</name>" in j0["result"] and j0["method"] == "rpc"
    j2 = ok(h.ctl({"cmd": "job", "id": ids[2]}))["job"]
    assert j2["rpc_error"] is True          # the device's own answer
    assert "operation-not-supported" in j2["result"]
    # exactly once each at the device
    log = a.proc.log()
    for op in ("get-config", "get", "lock"):
        assert len(re.findall(rf"op={op}$", log, re.M)) == 1, op


def test_expired_and_cancelled_jobs_never_run(hub, agent, workdir):
    h = hub(admission="known-only")
    fp, start = pregenerated_agent(agent, h, workdir)
    ok(h.ctl({"cmd": "add", "name": "d", "fingerprint": fp}))
    j1 = ok(h.ctl({"cmd": "rpc", "device": "d", "xml": "<get/>",
                   "expires": 1}))["job"]["id"]
    j2 = ok(h.ctl({"cmd": "get-config", "device": "d"}))["job"]["id"]
    j3 = ok(h.ctl({"cmd": "get-config", "device": "d"}))["job"]["id"]
    ok(h.ctl({"cmd": "cancel", "id": j2}))
    r = h.ctl({"cmd": "cancel", "id": j2})
    assert r["code"] == "invalid-state"
    time.sleep(1.2)     # let the expiry pass (wall clock, by design)
    start()
    wait_for(lambda: ok(h.ctl({"cmd": "job", "id": j3}))["job"]["state"]
             == "done", 20, "job 3 done", proc=h.proc)
    assert ok(h.ctl({"cmd": "job", "id": j1}))["job"]["state"] == "expired"
    assert ok(h.ctl({"cmd": "job", "id": j2}))["job"]["state"] == \
        "cancelled"


def test_jobs_expire_on_time_without_the_device(hub, agent, workdir):
    """A job's --expires passes with its device offline: it is expired
    then (not when the device next calls), with an event."""
    h = hub(admission="known-only")
    fp, _ = pregenerated_agent(agent, h, workdir)
    ok(h.ctl({"cmd": "add", "name": "gone", "fingerprint": fp}))
    rc, out, err = h.cli("rpc", "gone", "<get/>", "--expires", "2")
    assert rc == 0, err
    jid = int(re.search(r"job (\d+)", out).group(1))
    keep = ok(h.ctl({"cmd": "get-config", "device": "gone",
                     "expires": 3600}))["job"]["id"]
    wait_for(lambda: ok(h.ctl({"cmd": "job", "id": jid}))["job"]["state"]
             == "expired", 6, "job expired", interval=0.2, proc=h.proc)
    assert ok(h.ctl({"cmd": "job", "id": keep}))["job"]["state"] == \
        "queued"
    evs = ok(h.ctl({"cmd": "events", "device": fp}))["events"]
    assert any(e["kind"] == "job-expired" and f"job {jid} " in e["detail"]
               for e in evs), evs


def test_wait_that_runs_out_names_the_job(hub, agent, workdir):
    h = hub(admission="known-only")
    fp, _ = pregenerated_agent(agent, h, workdir)
    ok(h.ctl({"cmd": "add", "name": "r1", "fingerprint": fp}))
    t0 = time.monotonic()
    rc, out, err = h.cli("--timeout", "2", "get-config", "r1", "--wait")
    assert time.monotonic() - t0 < 10
    assert rc == 6, (rc, out, err)
    m = re.fullmatch(r"callhome: job (\d+) on r1 still queued after 2 s; "
                     r"it stays queued \(see: callhome job (\d+)\)\n", err)
    assert m and m.group(1) == m.group(2), err
    assert ok(h.ctl({"cmd": "job", "id": int(m.group(1))}))["job"][
        "state"] == "queued"
    # the hub is unreachable: still exit 2
    rc, out, err = h.cli("--hub", str(workdir / "nothing.sock"),
                         "get-config", "r1", "--wait")
    assert rc == 2, err


def test_wait_returns_the_outcome_when_the_device_calls(hub, agent,
                                                        workdir):
    h = hub(admission="known-only")
    fp, start = pregenerated_agent(agent, h, workdir)
    ok(h.ctl({"cmd": "add", "name": "w", "fingerprint": fp}))
    result = {}
    t = threading.Thread(target=lambda: result.update(h.ctl(
        {"cmd": "get-config", "device": "w", "wait": True}, timeout=30)))
    t.start()
    wait_for(lambda: ok(h.ctl({"cmd": "jobs"}))["jobs"], 10,
             "the job queued", proc=h.proc)
    t0 = time.monotonic()
    start()
    t.join(30)
    assert result.get("ok") is True, result
    assert result["job"]["state"] == "done"
    assert "<name>eth0</name>" in result["reply"]
    print(f"queued job answered {time.monotonic() - t0:.3f}s after the "
          "device was started")


def test_hub_killed_with_jobs_queued_and_one_in_flight(hub, workdir,
                                                       procs):
    """A device that takes an rpc and never answers holds a job in flight;
    kill -9 the hub: the queued job survives and runs later, the one in
    flight is in doubt (not re-run) until the operator retries it, and a
    read-only one in flight is simply queued again."""
    from fakes import fake_device_calls, hello, recv_until
    h = hub(admission="known-only")
    key = ssh_keygen(workdir / "slow_key")
    fp = fingerprint_of_pub(f"{key}.pub")
    ok(h.ctl({"cmd": "add", "name": "slow", "fingerprint": fp}))
    j_edit = ok(h.ctl({"cmd": "rpc", "device": "slow", "xml":
                       "<edit-config><target><running/></target><config/>"
                       "</edit-config>"}))["job"]["id"]
    j_later = ok(h.ctl({"cmd": "get-config", "device": "slow"}))["job"]["id"]
    t, chan = fake_device_calls(h, workdir, "slow", key_path=key)
    chan.sendall(hello(session_id=3))
    got = recv_until(chan, b"edit-config")          # in flight, unanswered
    assert b"edit-config" in got
    wait_for(lambda: ok(h.ctl({"cmd": "job", "id": j_edit}))["job"]["state"]
             == "running", 10, "job running", proc=h.proc)
    h.proc.kill9()
    t.close()
    h.restart("hub-after-crash",
                ["--admission", "known-only"])
    h.proc.wait_log(r"1 job\(s\) were running when the hub stopped")
    assert ok(h.ctl({"cmd": "job", "id": j_edit}))["job"]["state"] == \
        "in-doubt"
    assert ok(h.ctl({"cmd": "job", "id": j_later}))["job"]["state"] == \
        "queued"
    # the device calls again: only the queued job runs
    t, chan = fake_device_calls(h, workdir, "slow", key_path=key)
    chan.sendall(hello(session_id=4))
    got = recv_until(chan, b"get-config")
    assert b"get-config" in got and b"edit-config" not in got
    t.close()
    # the operator decides to run it again
    r = ok(h.ctl({"cmd": "retry", "id": j_edit}))
    assert r["job"]["state"] == "queued"


def file_events(h, fp):
    """The event kinds of fp as another process reads the registry file."""
    import sqlite3
    db = sqlite3.connect(f"file:{h.state / 'registry.db'}?mode=ro",
                         uri=True, timeout=5)
    try:
        return [k for (k,) in db.execute(
            "SELECT kind FROM events WHERE fingerprint = ? ORDER BY id",
            (fp,))]
    finally:
        db.close()


def test_a_devices_records_reach_the_file_soon_and_at_stop(hub, agent):
    """A device's call and session are grouped into one registry commit
    (a storm of calls is not a commit each), but the group is committed
    within its short delay, before an operator's change, and at stop."""
    h = hub()
    a = agent(hub=h, extra=FAST)
    wait_state(h, a.fingerprint, "connected")
    # another process sees them once the group's delay (ms) has passed
    wait_for(lambda: "connected" in file_events(h, a.fingerprint), 5,
             "connected event in the file", interval=0.05, proc=h.proc)
    assert {"enrolled", "called"} <= set(file_events(h, a.fingerprint))
    # the operator's change is in the file when the answer comes
    assert h.cli("rename", a.fingerprint, "r-9")[0] == 0
    import sqlite3
    db = sqlite3.connect(f"file:{h.state / 'registry.db'}?mode=ro",
                         uri=True, timeout=5)
    assert db.execute("SELECT name FROM devices WHERE fingerprint = ?",
                      (a.fingerprint,)).fetchone() == ("r-9",)
    db.close()
    # the session's end, written while the hub stops, is committed too
    a.proc.stop()
    h.proc.stop()
    assert file_events(h, a.fingerprint)[-1] == "disconnected"


# ------------------------------------------------------------ protection

def test_blocklist_engages_for_a_failing_source_good_device_served(
        hub, agent):
    h = hub(extra=["--block-after", "3", "--block-for", "60"])
    a = agent(hub=h, extra=FAST)
    h.wait_device_connected(1)
    # a source that keeps failing the handshake (127.0.0.2 is loopback)
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", h.port),
                                     source_address=("127.0.0.2", 0))
        s.sendall(b"SSH-2.0-x\r\n" + b"\xff" * 64)
        s.settimeout(10)
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
        s.close()
    h.proc.wait_log(r"blocking 127\.0\.0\.2:\d+ for 60 s")
    s = socket.create_connection(("127.0.0.1", h.port),
                                 source_address=("127.0.0.2", 0))
    s.settimeout(5)
    assert s.recv(100) == b""             # closed at accept, no banner
    s.close()
    # garbage from the good device's own address never blocks it
    for _ in range(6):
        s = socket.create_connection(("127.0.0.1", h.port))
        s.sendall(b"SSH-2.0-x\r\n" + b"\xff" * 64)
        s.close()
    rc, out, _ = h.cli("get-config", a.fingerprint)
    assert rc == 0 and "<name>eth0</name>" in out
    assert "blocking 127.0.0.1:" not in h.proc.log()


def silent_flood(port, sources, per_source):
    """per_source TCP connections from each source address that say
    nothing: the cheapest way to hold a hub's handshake slots."""
    socks = []
    for src in sources:
        for _ in range(per_source):
            socks.append(socket.create_connection(
                ("127.0.0.1", port), source_address=(src, 0)))
    return socks


@pytest.mark.ch_timeout(90)
def test_a_silent_flood_from_one_source_leaves_slots_for_others(hub, agent):
    """Silent connections, 300 from one address and 320 from one /24,
    would take all 400 of the hub's handshake slots, and a good device
    would wait out the 30 s handshake deadline; each source gets its
    share instead (refused at accept past it), the slots taken past 3/4
    get a short deadline, and the device gets in."""
    h = hub(extra=["--max-handshakes", "400", "--block-after", "0"])
    flood = silent_flood(h.port, ["127.0.0.2"], 300)
    h.proc.wait_log(r"127\.0\.0\.2:\d+ refused: its address has all the "
                    r"handshakes in progress it may have "
                    r"\(--max-handshakes-per-address\)")
    # one /24 of 8 addresses, 40 each: its prefix's 256 at most
    flood += silent_flood(h.port, [f"127.0.1.{i}" for i in range(2, 10)],
                          40)
    h.proc.wait_log(r"127\.0\.1\.\d+:\d+ refused: its prefix has all")
    a = agent(hub=h, extra=FAST)
    h.wait_device_connected(1, timeout=15)
    rc, out, err = h.cli("status", "--json")
    assert rc == 0, err
    hs = json.loads(out)["sessions"]["handshaking"]
    assert hs <= 64 + 256 + 1, hs
    h.proc.wait_log(r"connection closed: handshake did not finish in time "
                    r"\(the hub had most of its handshake slots taken\)")
    for s in flood:
        s.close()
    # slots given back: a second device from the flooded address gets in
    b = agent(hub=h, name="second", extra=FAST)
    wait_for(lambda: sum(d["state"] == "connected"
                         for d in h.devices()) == 2, 15,
             "second device connected", proc=h.proc)
    assert a.fingerprint != b.fingerprint


def test_json_api_rejects_malformed_requests(hub):
    h = hub()
    cases = [
        (b"this is not json", "bad-request"),
        (b"[1,2,3]", "bad-request"),
        (b'{"device": "x"}', "bad-request"),
        (b'{"cmd": "frobnicate"}', "unknown-command"),
        (b'{"cmd": "rpc", "device": "nope", "xml": "<get/>"}', "not-found"),
        (b'{"cmd": "rpc"}', "bad-request"),
        (b'{"cmd": "job", "id": "seven"}', "bad-request"),
        (b'{"cmd": "jobs", "state": "sleeping"}', "bad-request"),
        (b'{"cmd": "add", "name": "n", "fingerprint": "MD5:aa"}',
         "bad-request"),
    ]
    for line, code in cases:
        r = h.ctl(line)
        assert r["ok"] is False and r["code"] == code, (line, r)
        assert r["error"] and "\n" not in r["error"]


def test_bad_operation_xml_is_refused_at_submit(hub, agent):
    h = hub()
    a = agent(hub=h)
    h.wait_device_connected(1)
    r = h.ctl({"cmd": "rpc", "device": a.fingerprint,
               "xml": "<get><unclosed></get>"})
    assert r["ok"] is False and r["code"] == "bad-xml"
    r = h.ctl({"cmd": "edit-config", "device": a.fingerprint,
               "config": "</config><kill-session/>"})
    assert r["ok"] is False and r["code"] == "bad-xml"
    assert ok(h.ctl({"cmd": "jobs"}))["jobs"] == []


def test_edit_config_on_a_device_without_a_writable_datastore(hub, agent):
    """Our agent's datastore is read-only for now: the job fails with the
    reason and records that nothing could be applied."""
    h = hub()
    a = agent(hub=h)
    h.wait_device_connected(1)
    r = ok(h.ctl({"cmd": "edit-config", "device": a.fingerprint,
                  "config": '<x xmlns="urn:t">1</x>'}))
    assert r["job"]["state"] == "failed"
    assert "no writable datastore" in r["job"]["error"]


def test_idle_close_for_periodic_devices(hub, agent):
    h = hub(extra=["--idle-close", "2"])
    a = agent(hub=h, extra=FAST)
    h.wait_device_connected(1)
    h.proc.wait_log(r"idle for 2 s with nothing queued: closing", timeout=10)
    h.proc.wait_log(r"connection closed: idle: closed with close-session")
    a.proc.wait_log(r"session-id=1 ended: closed by the manager")


def test_idle_close_per_device(hub, agent):
    """A device's own idle-close overrides the hub's default (none here),
    applies to its live session at once, and is kept in the registry."""
    h = hub()
    a = agent(hub=h, extra=FAST)
    h.wait_device_connected(1)
    rc, out, err = h.cli("set", a.fingerprint, "--idle-close", "2")
    assert rc == 0, err
    h.proc.wait_log(r"idle for 2 s with nothing queued: closing", timeout=10)
    d = ok(h.ctl({"cmd": "device", "device": a.fingerprint}))["device"]
    assert d["idle_close"] == 2
    rc, _, _ = h.cli("set", a.fingerprint, "--idle-close", "default")
    assert rc == 0
    assert ok(h.ctl({"cmd": "device", "device": a.fingerprint})
              )["device"]["idle_close"] is None
    rc, _, err = h.cli("set", a.fingerprint, "--idle-close", "soon")
    assert rc == 1 and "--idle-close" in err


# ------------------------------------------------------------ safe apply

NACM = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"


def group_config(name):
    return (f'<nacm xmlns="{NACM}"><groups><group><name>{name}</name>'
            "</group></groups></nacm>")


def test_safe_apply_on_netconfd_and_rollback_when_the_hub_dies(
        hub, openssh_device, netconfd, procs):
    """A third-party device with :candidate and :confirmed-commit (yuma123
    netconfd behind OpenSSH): a queued change is applied with lock, edit,
    confirmed commit, confirm; a change whose hub is killed before the
    confirm is rolled back by the device itself."""
    h = hub(user=current_user(), admission="trust-new",
            extra=["--confirm-timeout", "20", "--confirm-after", "8"])
    d = openssh_device([h.pub])
    d.dial(h.port)
    h.wait_device_connected(1)
    r = ok(h.ctl({"cmd": "edit-config", "device": d.fingerprint,
                  "config": group_config("applied-safely"), "wait": True},
                 timeout=60))
    assert r["job"]["state"] == "done", r
    assert r["job"]["method"] == "candidate+confirmed-commit"
    rc, out, _ = h.cli("get-config", d.fingerprint)
    assert "applied-safely" in out

    # now a change whose hub dies between the confirmed commit and the
    # confirming one
    ok(h.ctl({"cmd": "edit-config", "device": d.fingerprint, "mode":
              "queue", "config": group_config("never-confirmed")}))
    h.proc.wait_log(r"confirmed commit accepted; confirming in 8 s",
                    timeout=20)
    h.proc.kill9()
    # the session died with the hub: the device restores the old config
    # (RFC 6241 8.4: a confirmed commit is undone when its session ends)
    h.restart("hub2", ["--admission", "trust-new",
                                   "--confirm-timeout", "20"])
    d.dial(h.port)
    wait_for(lambda: any(x["state"] == "connected" for x in h.devices()),
             20, "device back", proc=h.proc)
    rc, out, _ = h.cli("get-config", d.fingerprint)
    assert rc == 0
    assert "applied-safely" in out and "never-confirmed" not in out
    jobs = ok(h.ctl({"cmd": "jobs", "state": "in-doubt"}))["jobs"]
    assert len(jobs) == 1 and jobs[0]["kind"] == "edit-config"


def test_revoking_an_offline_device_cancels_its_queue(hub):
    h = hub(admission="known-only")
    fp = "SHA256:" + "A" * 43
    ok(h.ctl({"cmd": "add", "name": "gone", "fingerprint": fp}))
    j = ok(h.ctl({"cmd": "get-config", "device": "gone"}))["job"]
    assert j["state"] == "queued"
    r = ok(h.ctl({"cmd": "revoke", "device": "gone"}))
    assert r["closed_session"] is False
    assert ok(h.ctl({"cmd": "job", "id": j["id"]}))["job"]["state"] == \
        "cancelled"


# ------------------------------------------- names, lifecycle, attribution

def fp_of(c, rest="A"):
    """A made-up SSH fingerprint starting with c."""
    return "SHA256:" + (c + rest * 43)[:43]


def refused(resp, code, *words):
    assert resp.get("ok") is False and resp.get("code") == code, resp
    for w in words:
        assert w in resp["error"], resp
    return resp["error"]


def test_names_never_select_another_device(hub):
    h = hub(admission="known-only")
    ok(h.ctl({"cmd": "add", "name": "r1", "fingerprint": fp_of("zz")}))
    ok(h.ctl({"cmd": "add", "name": "r2", "fingerprint": fp_of("oA3Y")}))
    ok(h.ctl({"cmd": "add", "name": "d3", "serial": "SN123"}))
    # another device's fingerprint prefix, with or without SHA256:
    refused(h.ctl({"cmd": "rename", "device": "r1", "name": "oA3Y"}),
            "exists", "'oA3Y'", "prefix", fp_of("oA3Y"))
    # another device's bare serial number
    refused(h.ctl({"cmd": "rename", "device": "r1", "name": "SN123"}),
            "exists", "'SN123'", "serial number")
    # names differ by more than case
    refused(h.ctl({"cmd": "rename", "device": "r1", "name": "R2"}),
            "exists", "'R2'", fp_of("oA3Y"))
    refused(h.ctl({"cmd": "add", "name": "R2", "fingerprint": fp_of("q")}),
            "exists", "'R2'")
    refused(h.ctl({"cmd": "add", "name": "oA3Y", "fingerprint": fp_of("q")}),
            "exists", "'oA3Y' is a prefix")
    assert "identity-mismatch" not in [
        e["kind"] for e in ok(h.ctl({"cmd": "events", "device": "r2"}))[
            "events"]]
    for bad, why in (("-x", "'-'"), (".", "'.'"), ("..", "'..'"),
                     ("B" * 43, "fingerprint"), ("ab" * 32, "fingerprint")):
        refused(h.ctl({"cmd": "rename", "device": "r1", "name": bad}),
                "bad-request", f"'{bad}'", why)
    # a device may change the case of its own name
    ok(h.ctl({"cmd": "rename", "device": "r1", "name": "R1"}))
    rc, out, err = h.cli("device", "oA3Y")
    assert rc == 0 and "r2" in out, out + err
    # an exact name wins over a fingerprint prefix
    ok(h.ctl({"cmd": "add", "name": "Cafe", "fingerprint": fp_of("q")}))
    ok(h.ctl({"cmd": "add", "name": "r5", "fingerprint": fp_of("Cafe")}))
    assert ok(h.ctl({"cmd": "device", "device": "Cafe"}))["device"][
        "name"] == "Cafe"
    # an ambiguous prefix lists what it matched
    ok(h.ctl({"cmd": "add", "name": "b1", "fingerprint": fp_of("BBBB1")}))
    ok(h.ctl({"cmd": "add", "name": "b2", "fingerprint": fp_of("BBBB2")}))
    err = refused(h.ctl({"cmd": "device", "device": "BBBB"}), "ambiguous",
                  "2 devices", fp_of("BBBB1") + " (b1)",
                  fp_of("BBBB2") + " (b2)")
    rc, out, cerr = h.cli("device", "BBBB")
    assert rc != 0 and "(b1)" in cerr and "(b2)" in cerr, cerr


def test_unrevoke_and_delete(hub):
    h = hub(admission="known-only")
    me = current_user()
    fp = fp_of("gone")
    ok(h.ctl({"cmd": "add", "name": "gone", "fingerprint": fp}))
    refused(h.ctl({"cmd": "unrevoke", "device": "gone"}), "invalid-state",
            "gone is admitted, not revoked")
    ok(h.ctl({"cmd": "revoke", "device": "gone"}))
    refused(h.ctl({"cmd": "approve", "device": "gone"}), "invalid-state",
            "callhome unrevoke gone")
    rc, out, err = h.cli("unrevoke", "gone")
    assert rc == 0 and "unrevoked gone" in out and "admitted" in out, \
        out + err
    assert dev(h, fp)["admission"] == "admitted"
    j1 = ok(h.ctl({"cmd": "get-config", "device": "gone"}))["job"]["id"]
    j2 = ok(h.ctl({"cmd": "get-config", "device": "gone"}))["job"]["id"]
    rc, out, err = h.cli("delete", "gone")
    assert rc != 0 and re.search(rf"jobs ({j1}, {j2}|{j2}, {j1}) queued",
                                 err) and "--force" in err, err
    assert dev(h, fp) is not None
    rc, out, err = h.cli("delete", "gone", "--force")
    assert rc == 0 and f"deleted {fp}" in out, out + err
    assert dev(h, fp) is None
    # its jobs went with it (cancelled first, as events say)
    refused(h.ctl({"cmd": "job", "id": j1}), "not-found")
    refused(h.ctl({"cmd": "device", "device": "gone"}), "not-found")
    # the events stay with the fingerprint, each naming who acted
    evs = ok(h.ctl({"cmd": "events", "device": fp}))["events"]
    assert [e["kind"] for e in evs].count("job-cancelled") == 2, evs
    ev = {e["kind"]: e["detail"] for e in evs}
    for kind in ("added", "revoked", "unrevoked", "deleted"):
        assert f"by {me}(uid=" in ev[kind], ev
    assert "(was gone)" in ev["deleted"] and str(j2) in ev["deleted"]
    actions = [(a["action"], a["outcome"]) for a in
               ok(h.ctl({"cmd": "audit"}))["audit"]]
    assert ("unrevoke", "ok") in actions and ("delete", "ok") in actions \
        and ("delete", "refused") in actions, actions
    # the name is free again
    ok(h.ctl({"cmd": "add", "name": "gone", "fingerprint": fp_of("new")}))


def test_operator_changes_are_events_naming_who(hub):
    h = hub(admission="known-only")
    me = current_user()
    fp = fp_of("ev")
    ok(h.ctl({"cmd": "add", "name": "r1", "fingerprint": fp}))
    ok(h.ctl({"cmd": "rename", "device": "r1", "name": "r2"}))
    ev = ok(h.ctl({"cmd": "events", "device": "r2"}))["events"]
    details = {e["kind"]: e["detail"] for e in ev}
    assert re.fullmatch(rf"'r1' -> 'r2' by {me}\(uid=\d+\)",
                        details["renamed"]), details
    assert details["added"].startswith("pre-provisioned, admitted, named "
                                       "r1 by "), details


def test_removing_the_primary_identity_says_so(hub):
    h = hub(admission="known-only")
    fp = fp_of("prim")
    ok(h.ctl({"cmd": "add", "name": "r1", "fingerprint": fp}))
    err = refused(h.ctl({"cmd": "identity-remove", "fingerprint": fp}),
                  "invalid-state", "primary identity of device r1",
                  "callhome delete r1")
    assert "names are" not in err, err
    refused(h.ctl({"cmd": "identity-remove", "fingerprint": fp_of("no")}),
            "not-found", fp_of("no"))


def refused_calls(h, device):
    """The device's refused calls; 0 until its first call is recorded (a
    slow agent, as under ASan, may not have called yet)."""
    r = h.ctl({"cmd": "device", "device": device})
    if not r.get("ok") and r.get("code") == "not-found":
        return 0
    return ok(r)["device"].get("refused_calls") or 0


def test_repeated_refusals_are_counted_not_logged_each(hub, agent):
    h = hub(admission="approve")
    a = agent(hub=h, extra=FAST)
    wait_for(lambda: refused_calls(h, a.fingerprint) >= 5, 20,
             "5 refused calls", interval=0.1, proc=h.proc)
    kinds = [e["kind"] for e in ok(h.ctl({"cmd": "events", "device":
                                          a.fingerprint}))["events"]]
    assert kinds.count("refused") == 1 and kinds.count("called") == 1, kinds
    assert len(re.findall(r"\[info\].*recorded as pending",
                          h.proc.log())) == 1
    rc, out, err = h.cli("device", a.fingerprint)
    assert rc == 0 and re.search(r"refused calls:\s+\d+", out) and \
        re.search(r"last refused:\s+\d{4}-", out), out
    # admitted, then revoked: its first refusal is an event again
    ok(h.ctl({"cmd": "approve", "device": a.fingerprint, "name": "r7"}))
    wait_state(h, a.fingerprint, "connected")
    # the hub's log names a known device by its name too
    h.proc.wait_log(rf"device={re.escape(a.fingerprint)} name=r7 .*"
                    r"NETCONF session up")
    ok(h.ctl({"cmd": "revoke", "device": a.fingerprint}))
    wait_for(lambda: refused_calls(h, a.fingerprint) >= 3, 20,
             "3 refused calls", interval=0.1, proc=h.proc)
    kinds = [e["kind"] for e in ok(h.ctl({"cmd": "events", "device":
                                          a.fingerprint}))["events"]]
    assert kinds.count("refused") == 2, kinds


@pytest.mark.ch_timeout(60)
def test_delete_is_refused_while_a_job_runs(hub, agent):
    from ncsession import MODULE, system
    h = hub(extra=["--confirm-timeout", "20", "--confirm-after", "4"])
    a = agent(hub=h, running_xml=None, extra=MODULE)
    h.wait_device_connected(1)
    ok(h.ctl({"cmd": "rename", "device": a.fingerprint, "name": "busy"}))
    # the submit answers when the job is done: from another thread
    t = threading.Thread(target=h.ctl, args=({
        "cmd": "edit-config", "device": "busy",
        "config": system("<hostname>x</hostname>")},), daemon=True)
    t.start()
    wait_for(lambda: ok(h.ctl({"cmd": "jobs", "state": "running"}))["jobs"],
             15, "job running", interval=0.1, proc=h.proc)
    j = ok(h.ctl({"cmd": "jobs", "state": "running"}))["jobs"][0]["id"]
    refused(h.ctl({"cmd": "delete", "device": "busy", "force": True}),
            "invalid-state", f"device busy has job {j} running")
    wait_for(lambda: ok(h.ctl({"cmd": "job", "id": j}))["job"]["state"] ==
             "done", 30, "job done", interval=0.2, proc=h.proc)
    r = ok(h.ctl({"cmd": "delete", "device": "busy"}))
    assert r["closed_session"] is True, r
    # it calls again: a new device to the hub (trust-new admits it)
    kinds = [e["kind"] for e in ok(h.ctl({"cmd": "events", "device":
                                          a.fingerprint}))["events"]]
    assert "deleted" in kinds, kinds
