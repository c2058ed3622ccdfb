"""Fleet operations: tags and groups on devices, selectors on devices,
jobs and events, and bulk jobs tracked as batches (one job per selected
device, queued for the offline ones, started at a bounded rate). Real
hub, real agents, the real CLI."""

import json
import re

import pytest

from helpers import (current_user, fingerprint_of_pub, ssh_keygen,
                     wait_for)
from ncsession import MODULE, system

FAST = ["--backoff-base", "100", "--backoff-max", "400"]


def ok(resp):
    assert resp.get("ok") is True, resp
    return resp


def cli_json(h, *args):
    rc, out, err = h.cli(*args, "--json")
    assert rc == 0, f"callhome {' '.join(map(str, args))}: rc={rc}\n{err}"
    return json.loads(out)


def names(h, *args):
    return [d["name"] for d in cli_json(h, "devices", *args)["devices"]]


def provision(agent, h, workdir, name, extra=()):
    """A device added by its key before it ever runs; returns (fp, start)
    where start(run_name) runs its agent (a new process each time)."""
    key = ssh_keygen(workdir / f"{name}_hostkey")
    fp = fingerprint_of_pub(f"{key}.pub")
    ok(h.ctl({"cmd": "add", "name": name, "fingerprint": fp}))

    def start(run_name=name):
        return agent(hub=h, name=run_name, running_xml=None,
                     extra=["--host-key", key] + FAST + MODULE +
                     list(extra))
    return fp, start


def batch(h, bid):
    return ok(h.ctl({"cmd": "batch", "id": bid}))


# ------------------------------------------------------- tags, selectors

@pytest.mark.ch_timeout(90)
def test_tags_groups_and_selectors(hub, agent, workdir):
    h = hub(admission="known-only")
    starts = {}
    for n in ("lyon-1", "lyon-2", "paris-1"):
        starts[n] = provision(agent, h, workdir, n)[1]
    for n in ("lyon-1", "lyon-2"):
        starts[n]()
    h.wait_device_connected(2)

    rc, out, err = h.cli("tag", "lyon-1", "site=lyon", "role=cpe",
                         "group=core", "group=edge")
    assert rc == 0, err
    assert "lyon-1" in out and "group=core,group=edge" in out, out
    assert h.cli("tag", "lyon-2", "site=lyon", "role=pe")[0] == 0
    assert h.cli("tag", "paris-1", "site=paris", "role=cpe",
                 "group=core")[0] == 0
    # a key has one value: site=PARIS replaces site=paris; groups add up
    assert h.cli("tag", "paris-1", "site=PARIS")[0] == 0
    dev = cli_json(h, "device", "paris-1")["device"]
    assert dev["tags"] == {"site": "PARIS", "role": "cpe"}, dev
    assert dev["groups"] == ["core"], dev
    dev = cli_json(h, "device", "lyon-1")["device"]
    assert dev["groups"] == ["core", "edge"], dev
    # untag one group, then a key whatever its value
    assert h.cli("untag", "lyon-1", "group=edge")[0] == 0
    assert h.cli("untag", "paris-1", "site")[0] == 0
    assert cli_json(h, "device", "paris-1")["device"]["tags"] == \
        {"role": "cpe"}
    rc, out, _ = h.cli("devices")
    assert re.search(r"^lyon-1 .*role=cpe,site=lyon,group=core$", out,
                     re.M), out

    # selectors: tags and groups AND, globs (option or operand), state
    assert names(h, "--tag", "role=cpe") == ["lyon-1", "paris-1"]
    assert names(h, "--tag", "role=cpe", "--tag", "site=lyon") == \
        ["lyon-1"]
    assert names(h, "--group", "core") == ["lyon-1", "paris-1"]
    assert names(h, "--group", "core", "--group", "edge") == []
    assert names(h, "--name", "lyon-*") == ["lyon-1", "lyon-2"]
    assert names(h, "lyon-[!1]") == ["lyon-2"]
    assert names(h, "*-1", "--state", "connected") == ["lyon-1"]
    assert names(h, "--state", "offline") == ["paris-1"]
    assert names(h, "--tag", "role=cpe", "--state", "disconnected") == \
        ["paris-1"]

    # the same selectors on jobs and events
    for n in ("lyon-1", "lyon-2", "paris-1"):
        ok(h.ctl({"cmd": "get-config", "device": n, "mode": "queue"}))
    jobs = cli_json(h, "jobs", "--tag", "site=lyon")["jobs"]
    assert sorted(j["name"] for j in jobs) == ["lyon-1", "lyon-2"], jobs
    jobs = cli_json(h, "jobs", "paris-*")["jobs"]
    assert [j["name"] for j in jobs] == ["paris-1"], jobs
    jobs = cli_json(h, "jobs", "--group", "core", "--device-state",
                    "connected")["jobs"]
    assert [j["name"] for j in jobs] == ["lyon-1"], jobs
    evs = cli_json(h, "events", "--group", "core", "-n", "100")["events"]
    assert {e["name"] for e in evs} == {"lyon-1", "paris-1"}, evs
    evs = cli_json(h, "events", "lyon-?", "-n", "100")["events"]
    assert {e["name"] for e in evs} == {"lyon-1", "lyon-2"}, evs

    # who changed the tags is in the device's events
    user = current_user()
    evs = cli_json(h, "events", "lyon-1", "-n", "100")["events"]
    tagged = [e["detail"] for e in evs if e["kind"] in ("tagged",
                                                        "untagged")]
    assert tagged[0].startswith("site=lyon role=cpe group=core group=edge"
                                f" by {user}(uid="), tagged
    assert tagged[1].startswith(f"group=edge by {user}(uid="), tagged

    # what is not a tag or a selector is said so
    rc, _, err = h.cli("tag", "lyon-1", "Role=x")
    assert rc == 4 and "'Role=x' is not a tag" in err, err
    rc, _, err = h.cli("devices", "--name", "[ab")
    assert rc == 4 and "'[ab' is not a name glob" in err, err
    r = h.ctl({"cmd": "devices", "select": {"colour": "red"}})
    assert r["ok"] is False and "colour" in r["error"], r
    rc, _, err = h.cli("jobs", "lyon-1", "--tag", "site=lyon")
    assert rc == 1 and "not both" in err, err


@pytest.mark.ch_timeout(60)
def test_a_batchs_rate_spaces_its_starts(hub, agent, workdir):
    h = hub(admission="known-only")
    for i in range(3):
        provision(agent, h, workdir, f"r{i}")[1]()
        h.ctl({"cmd": "tag", "device": f"r{i}", "tags": ["role=cpe"]})
    h.wait_device_connected(3)
    rc, out, err = h.cli("get-config", "--tag", "role=cpe", "--rate", "1",
                         "--wait")
    assert rc == 0, err
    bid = int(re.search(r"^batch (\d+):", out, re.M).group(1))
    starts = sorted(j["started"] for j in batch(h, bid)["jobs"])
    # one start a second: three different seconds
    assert len(set(starts)) == 3, starts
    assert re.search(r"^done 3  failed 0  queued 0", out, re.M), out


# ------------------------------------------------------------ bulk jobs

@pytest.mark.ch_timeout(240)
def test_bulk_edit_over_50_agents_10_offline(hub, agent, workdir):
    h = hub(admission="known-only")
    devs = {}
    for i in range(50):
        devs[f"cpe-{i:02d}"] = provision(agent, h, workdir, f"cpe-{i:02d}")
    ok(h.ctl({"cmd": "add", "name": "pe-0", "fingerprint":
              fingerprint_of_pub(f"{ssh_keygen(workdir / 'pe0')}.pub")}))
    for n in devs:
        ok(h.ctl({"cmd": "tag", "device": n, "tags": ["role=cpe"]}))
    ok(h.ctl({"cmd": "tag", "device": "pe-0", "tags": ["role=pe"]}))
    names_ = sorted(devs)
    never, stopped = names_[:5], names_[5:10]
    # 45 agents at once; 5 of them are stopped again before the change
    procs = {n: devs[n][1]() for n in names_[5:]}
    h.wait_device_connected(45, timeout=90)
    for n in stopped:
        procs[n].proc.stop()
    wait_for(lambda: len([d for d in h.devices()
                          if d["state"] == "connected"]) == 40, 30,
             "40 connected", interval=0.2, proc=h.proc)

    change = workdir / "change.xml"
    change.write_text(system("<hostname>fleet</hostname>"))
    rc, out, err = h.cli("edit-config", "--tag", "role=cpe", change)
    assert rc == 0, err
    m = re.search(r"^batch (\d+): edit-config on 50 devices "
                  r"\(--tag role=cpe\)", out, re.M)
    assert m, out
    bid = int(m.group(1))

    def settled(want_done):
        b = batch(h, bid)["batch"]["counts"]
        return b if b["done"] == want_done else None
    counts = wait_for(lambda: settled(40), 60, "40 jobs done",
                      interval=0.3, proc=h.proc)
    assert counts["queued"] == 10 and counts["failed"] == 0, counts
    rc, out, err = h.cli("batch", bid)
    assert rc == 0, err
    assert re.search(r"^done 40  failed 0  queued 10  running 0  "
                     r"in-doubt 0  cancelled 0", out, re.M), out
    queued = {j["name"] for j in batch(h, bid)["jobs"]
              if j["state"] == "queued"}
    assert queued == set(never + stopped), queued
    # pe-0 was not selected
    assert all(j["name"] != "pe-0" for j in batch(h, bid)["jobs"])

    # the 10 call: their jobs run, and the batch is done
    for n in never + stopped:
        devs[n][1](f"{n}-later")
    rc, out, err = h.cli("--timeout", "120", "batch", bid, "--wait")
    assert rc == 0, err
    assert re.search(r"^done 50  failed 0  queued 0", out, re.M), out

    # every device has the change: a batch of get-config says so
    rc, out, err = h.cli("get-config", "--tag", "role=cpe", "--wait",
                         "--rate", "100")
    assert rc == 0, err
    gid = int(re.search(r"^batch (\d+):", out, re.M).group(1))
    jobs = batch(h, gid)["jobs"]
    assert len(jobs) == 50
    for j in jobs:
        full = ok(h.ctl({"cmd": "job", "id": j["id"]}))["job"]
        assert "<hostname>fleet</hostname>" in full["result"], full["name"]
    # one batch line in the hub's log, with who made it
    h.proc.wait_log(rf"batch={bid} edit-config: 50 jobs for --tag role=cpe")


@pytest.mark.ch_timeout(60)
def test_batch_cancel_and_refusals(hub, agent, workdir):
    h = hub(admission="known-only")
    for i in range(3):
        provision(agent, h, workdir, f"off-{i}")
        ok(h.ctl({"cmd": "tag", "device": f"off-{i}",
                  "tags": ["site=lab", "group=spare"]}))
    change = workdir / "change.xml"
    change.write_text(system("<hostname>x</hostname>"))

    # nothing matches: refused, naming the selection
    rc, _, err = h.cli("edit-config", "--tag", "role=cpe", change)
    assert rc == 4 and "no device matches --tag role=cpe" in err, err
    # --now: none of them is connected, nothing is queued
    rc, _, err = h.cli("edit-config", "--group", "spare", "--now", change)
    assert rc == 4 and "none of the 3 devices that match --group spare" \
        in err and "not connected" in err, err
    assert ok(h.ctl({"cmd": "batches"}))["batches"] == []

    rc, out, err = h.cli("edit-config", "--tag", "site=lab", change)
    assert rc == 0, err
    bid = int(re.search(r"^batch (\d+):", out, re.M).group(1))
    assert batch(h, bid)["batch"]["counts"]["queued"] == 3
    rc, out, err = h.cli("batches")
    assert re.search(rf"^{bid}\s+edit-config\s+--tag site=lab\s+3\s+0\s+0"
                     r"\s+3 ", out, re.M), out
    rc, out, err = h.cli("batch-cancel", bid)
    assert rc == 0, err
    assert "cancelled 3 queued jobs" in out, out
    b = batch(h, bid)
    assert b["batch"]["counts"]["cancelled"] == 3, b
    evs = ok(h.ctl({"cmd": "events", "device": "off-0"}))["events"]
    assert any(e["kind"] == "job-cancelled" and f"with batch {bid} by "
               f"{current_user()}" in e["detail"] for e in evs), evs
    # waiting on it now: nothing is left, and it says which did not
    # succeed
    rc, out, err = h.cli("batch", bid, "--wait")
    assert rc == 5, (rc, out, err)
    assert f"batch {bid}: 3 of 3 jobs did not succeed" in err, err
    assert "off-0 (job" in err and "cancelled" in err, err
    # the cancel is in the audit log
    au = ok(h.ctl({"cmd": "audit"}))["audit"]
    assert any(a["action"] == "batch-cancel" and
               "3 queued jobs cancelled" in a["detail"] for a in au), au
