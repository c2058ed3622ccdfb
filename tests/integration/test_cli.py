"""The operator's CLI against a real hub and agent: enrollment, queued
jobs, the event log; exit codes and one-line errors as documented."""

import grp
import json
import os
import pwd
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from helpers import (binary, fingerprint_of_pub, free_port, ssh_keygen,
                     wait_for)

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


PERMISSION_DENIED = ("permission denied (ask to be added to the hub's "
                     "--control-group, or run as root)")


def _unused_gid():
    used = {g.gr_gid for g in grp.getgrall()}
    return next(g for g in range(4711, 60000) if g not in used)


def test_control_group_members_use_the_socket_others_are_told_why(
        hub, workdir):
    """--control-group: the socket is 0660 of that group and STATE is 0710
    of it, nothing else in STATE is; a member who is not root uses the
    CLI, a non-member is told it is a permission matter (not that the hub
    is not running), with a non-zero exit."""
    if os.geteuid() != 0:
        pytest.skip("needs root: runs the CLI as other users")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) not installed")
    gid = _unused_gid()
    h = hub(extra=["--control-group", str(gid)])
    h.proc.wait_log(r"mode 0660, group", timeout=10)
    st = os.stat(h.sock)
    assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == gid
    st = os.stat(h.state)
    assert stat.S_IMODE(st.st_mode) == 0o710 and st.st_gid == gid
    private = [p.name for p in h.state.iterdir()
               if p.name != "hub.sock" and os.lstat(p).st_mode & 0o077]
    assert private == [], f"group/other may read {private}"
    assert "registry.db" in os.listdir(h.state)
    # the test's own directories above STATE: traversable by anyone
    for d in (workdir, h.state.parent):
        os.chmod(d, 0o711)
    nobody = pwd.getpwnam("nobody")
    base = [setpriv, f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}"]
    cli = [str(binary("callhome")), "--hub", str(h.sock), "devices",
           "--json"]
    member = subprocess.run(base + [f"--groups={gid}"] + cli,
                            capture_output=True, text=True, timeout=30)
    assert member.returncode == 0, member.stderr
    outsider = subprocess.run(base + ["--clear-groups"] + cli,
                              capture_output=True, text=True, timeout=30)
    assert outsider.returncode != 0
    assert outsider.stderr.strip() == f"callhome: {h.sock}: " \
        f"{PERMISSION_DENIED}", outsider.stderr
    assert "running" not in outsider.stderr


def test_no_hub_at_the_path_is_not_a_permission_matter(workdir):
    r = subprocess.run([str(binary("callhome")), "--hub",
                        str(workdir / "none.sock"), "devices"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "no hub is listening at" in r.stderr
    assert "is callhome-hub running?" in r.stderr
    assert "permission" not in r.stderr


def test_without_control_group_the_socket_is_private(hub):
    h = hub()
    assert stat.S_IMODE(os.stat(h.sock).st_mode) == 0o600


NEVER_CALLED_FP = "SHA256:Zzzz0000CCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK"


def _json(h, *args):
    rc, out, err = h.cli("--json", *args)
    assert rc == 0, err
    resp = json.loads(out)
    assert isinstance(resp, dict) and resp["ok"] is True, out
    return resp


def test_every_json_output_is_the_response_object_absent_is_null(hub):
    """--json: one shape, the hub's response object, for list commands
    too; values a device or job does not have yet are null, never ""."""
    h = hub()
    assert h.cli("add", "r1", "--fingerprint", NEVER_CALLED_FP)[0] == 0
    devs = _json(h, "devices")["devices"]
    assert len(devs) == 1
    dev = _json(h, "device", "r1")["device"]
    for d in (devs[0], dev):
        assert d["name"] == "r1"
        assert d["address"] is None and d["last_error"] is None, d
        assert d["connected_since"] is None
    rc, out, err = h.cli("get-config", "r1")
    assert rc == 0, err
    job = _json(h, "jobs")["jobs"][0]
    assert job["state"] == "queued"
    assert job["method"] is None and job["error"] is None, job
    assert _json(h, "sessions")["sessions"] == []
    assert _json(h, "recordings")["recordings"] == []
    assert isinstance(_json(h, "events")["events"], list)
    for rec in _json(h, "audit")["audit"]:
        assert rec["detail"] is None or rec["detail"] != "", rec
    assert '""' not in json.dumps(_json(h, "device", "r1"))


def test_readme_try_it_by_hand_pastes_and_works(workdir):
    """README "Try it by hand", run as written (its /tmp dirs, port and
    `make build` swapped for the test's own): loopback only, and every
    command succeeds."""
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    sec = text.split("## Try it by hand", 1)[1].split("\n## ", 1)[0]
    block = sec.split("```sh\n", 1)[1].split("```", 1)[0]
    hub_line = next(l for l in block.splitlines()
                    if l.startswith("build/callhome-hub"))
    assert "--listen 127.0.0.1 " in hub_line, hub_line
    assert "SHA256:…` is" in sec and "ssh-keygen -lf" in sec
    port = free_port()
    script = (block.replace("make build\n", "")
              .replace("/tmp/hub", str(workdir / "hub"))
              .replace("/tmp/dev", str(workdir / "dev"))
              .replace("--listen 127.0.0.1 ", f"--listen 127.0.0.1:{port} ")
              .replace("--call-home 127.0.0.1 ",
                       f"--call-home 127.0.0.1:{port} "))
    script = ("set -e\ntrap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n"
              + script)
    build = binary("callhome").parent
    bin_dir = workdir / "build"
    bin_dir.symlink_to(build)
    root = Path(__file__).resolve().parents[2]
    (workdir / "examples").symlink_to(root / "examples")
    r = subprocess.run(["bash", "-c", script], cwd=workdir,
                       capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stderr[-3000:]
    assert re.search(r"SHA256:\S+\s+connected", r.stdout), r.stdout
    assert "<hostname>r1</hostname>" in r.stdout


def test_xml_is_indented_on_a_terminal_and_raw_in_a_pipe(hub, agent):
    """get-config on a terminal: the reply indented, one element a line;
    into a pipe: the device's bytes as they came (for scripts)."""
    h = hub()
    a = agent(hub=h)
    fp = a.fingerprint
    wait_for(lambda: any(d["fingerprint"] == fp and d["state"] ==
                         "connected" for d in h.devices()), 15,
             "the device connects", proc=h.proc)
    rc, raw, err = h.cli("get-config", fp)
    assert rc == 0, err
    assert "<name>eth0</name>" in raw
    master, slave = os.openpty()
    try:
        p = subprocess.Popen([str(binary("callhome")), "--hub", str(h.sock),
                              "get-config", fp], stdout=slave,
                             stderr=subprocess.PIPE)
        os.close(slave)
        slave = None
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:         # EIO: the CLI closed the terminal
                break
            if not chunk:
                break
            out += chunk
        assert p.wait(30) == 0, p.stderr.read()
    finally:
        os.close(master)
        if slave is not None:
            os.close(slave)
    text = out.decode().replace("\r\n", "\n")
    lines = text.splitlines()
    # one element a line, each child two spaces below its parent (the
    # raw reply has <rpc-reply><data><interfaces> on one line)
    assert lines[0].startswith("<rpc-reply "), text
    assert "  <data>" in lines and "        <name>eth0</name>" in lines, text
    assert any(re.match(r"^    <interfaces xmlns=", ln) for ln in lines), text
    assert "  <data>" not in raw.splitlines()


def test_status_says_which_build_what_it_serves_and_counts(hub, agent,
                                                          workdir):
    h = hub(admission="approve")
    a = agent(hub=h, extra=FAST)
    h.proc.wait_log(r"recorded as pending")
    rc, out, err = h.cli("approve", a.fingerprint, "--name", "r1")
    assert rc == 0, err
    h.wait_device_connected(1)
    key = ssh_keygen(workdir / "other_hostkey")
    rc, out, err = h.cli("add", "r2", "--fingerprint",
                         fingerprint_of_pub(f"{key}.pub"))
    assert rc == 0, err
    rc, out, err = h.cli("get-config", "r2")          # queued: offline
    assert rc == 0, err
    version = subprocess.run([binary("callhome-hub"), "--version"],
                             capture_output=True, text=True).stdout
    commit = re.search(r"\(commit (\S+)\)", version).group(1)

    rc, out, err = h.cli("status", "--json")
    assert rc == 0, err
    s = json.loads(out)
    assert s["ok"] is True and s["commit"] == commit and s["pid"] == \
        h.proc.pid, s
    assert s["admission"] == "approve" and s["uptime_s"] >= 0
    assert s["uid"] == os.geteuid() and s["ssh_user"] == "admin", s
    assert {"address": f"127.0.0.1:{h.port}", "serves": "call-home-ssh"} \
        in s["listeners"], s["listeners"]
    assert s["sessions"]["netconf_ssh"] == 1 and \
        s["sessions"]["netconf_tls"] == 0, s["sessions"]
    assert s["devices"] == {"total": 2, "admitted": 2, "pending": 0,
                            "revoked": 0, "connected": 1}, s["devices"]
    assert s["jobs"]["queued"] == 1 and s["jobs"]["done"] >= 0, s["jobs"]
    assert s["blocked_sources"] == 0

    rc, out, err = h.cli("status")
    assert rc == 0, err
    assert re.search(rf"^hub: +callhome-hub \S+ \(commit {re.escape(commit)}"
                     r"\), pid \d+, up ", out, re.M), out
    assert re.search(r"^devices: +2 known: 2 admitted, 0 pending, 0 revoked;"
                     r" 1 connected$", out, re.M), out
    assert re.search(r"^jobs: +1 queued, 0 running", out, re.M), out
    assert f"127.0.0.1:{h.port} (call-home-ssh)" in out, out

    # no hub: the monitoring check's answer
    rc, out, err = subprocess.run(
        [binary("callhome"), "--hub", str(workdir / "nohub.sock"), "status"],
        capture_output=True, text=True).returncode, None, None
    assert rc == 2
