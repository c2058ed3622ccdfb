"""The hub as the place a fleet is managed: enrollment and identity,
changes queued for offline devices and applied when they call, crash
semantics of the queue, protection of the pre-authentication phase, and
the JSON control API. Real hub, real agents, real sockets."""

import re
import socket
import threading
import time


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
    a.proc.wait_log(r"manager disconnected: identity revoked", since=mark)
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
    h = hub(admission="known-only")
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
