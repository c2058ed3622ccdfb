"""The hub's audit log (docs/terminal.md, "Audit"): every operator action
that changes a device or the fleet is recorded with who did it (the
control socket's peer, from SO_PEERCRED), refused ones too; `callhome
audit` reads it back, filtered by device, time and actor."""

import json
import os
import re
import pwd
import shutil
import subprocess

import pytest

from helpers import binary, wait_for
from test_shell_hub import device, run  # noqa: F401
from test_shell_agent import shell_user  # noqa: F401

FAST = ["--backoff-base", "100", "--backoff-max", "500"]
OTHER_FP = "SHA256:Zzzz0000CCCCddddEEEEffffGGGGhhhhIIIIjjjjKKK"
ME_UID = os.getuid()
ME = pwd.getpwuid(ME_UID).pw_name


def audit(h, *args):
    """`callhome audit --json ARGS...`: the records."""
    rc, out, err = h.cli("audit", "--json", *args)
    assert rc == 0, err
    resp = json.loads(out)
    assert resp["ok"] is True
    return resp["audit"]


def actions(recs):
    return [(r["action"], r["outcome"]) for r in recs]


def test_device_commands_and_jobs_are_audited(hub, agent):
    h = hub(admission="approve")
    a = agent(hub=h, extra=FAST)
    fp = a.fingerprint
    h.proc.wait_log(r"unknown device: recorded as pending")

    assert h.cli("approve", fp, "--name", "r1")[0] == 0
    assert h.cli("rename", "r1", "r2")[0] == 0
    rc, out, err = h.cli("get-config", "r2", "--queue")
    assert rc == 0, err
    assert h.cli("add", "other", "--fingerprint", OTHER_FP)[0] == 0
    assert h.cli("revoke", "r2")[0] == 0
    # refused attempts are audited too, with the reason
    assert h.cli("approve", "r2")[0] == 4
    assert h.cli("rename", "nosuch", "x")[0] == 4

    recs = audit(h)
    assert actions(recs) == [
        ("approve", "ok"), ("rename", "ok"), ("job-submit", "ok"),
        ("add", "ok"), ("revoke", "ok"), ("approve", "refused"),
        ("rename", "refused")]
    for r in recs:
        assert (r["actor"], r["uid"], r["via"]) == (ME, ME_UID, "local")
        assert set(r) == {
            "id", "time", "actor", "uid", "via", "device", "name",
            "action", "outcome", "detail", "recording", "exit_status",
            "bytes_in", "bytes_out", "duration_ms"}
        assert r["time"].endswith("Z")
    assert [r["device"] for r in recs] == [fp] * 3 + [OTHER_FP] + \
        [fp] * 2 + [None]
    assert recs[0]["detail"] == "admitted, named r1"
    assert recs[1]["detail"] == "'r1' -> 'r2'"
    assert recs[2]["detail"].startswith("job ") and \
        "get-config" in recs[2]["detail"]
    assert recs[5]["detail"].startswith("invalid-state: ")
    assert "revoked" in recs[5]["detail"]
    assert recs[6]["detail"].startswith("not-found: ")
    assert recs[1]["name"] == "r2"      # the device's name now
    assert recs[0]["exit_status"] is None
    # the log says it as well
    h.proc.wait_log(rf"audit: {ME}\(uid={ME_UID}\) revoke device={re.escape(fp)}: ok")

    # filters: device (by name or fingerprint), time, actor, limit
    assert actions(audit(h, "--device", "other")) == [("add", "ok")]
    assert len(audit(h, "--device", fp[:20])) == 5
    assert len(audit(h, "--since", "1h")) == 7
    assert len(audit(h, "--since", "2020-01-01")) == 7
    assert audit(h, "--since", "@" + str(2**33)) == []
    assert audit(h, "--until", "2020-01-01T00:00:00Z") == []
    last = recs[-1]["time"]
    assert len(audit(h, "--since", last, "--until", last)) >= 1
    assert len(audit(h, "--actor", ME)) == 7
    assert len(audit(h, "--actor", str(ME_UID))) == 7
    assert audit(h, "--actor", "nobody-at-all") == []
    assert actions(audit(h, "--limit", "2")) == [
        ("approve", "refused"), ("rename", "refused")]
    assert actions(audit(h, "--device", "r2", "--actor", ME,
                         "--since", "1d", "-n", "1")) == [
        ("approve", "refused")]

    # reading is not audited
    assert len(audit(h)) == 7

    # the table
    rc, out, err = h.cli("audit", "--device", "r2")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["TIME", "ACTOR", "DEVICE", "ACTION",
                                "OUTCOME", "DETAIL"]
    assert len(lines) == 6
    assert f"{ME}(uid={ME_UID})" in lines[1] and "r2" in lines[1]
    assert "approve" in lines[1] and "ok" in lines[1]

    # the CLI's own checks
    rc, _, err = h.cli("audit", "--since", "yesterday")
    assert rc == 1 and "--since wants a time" in err
    rc, _, err = h.cli("audit", "r2")
    assert rc == 1 and "--device" in err
    # and the hub's, for a client that is not the CLI
    resp = h.ctl({"cmd": "audit", "since": "1h"})
    assert resp["ok"] is False and resp["code"] == "bad-request"
    resp = h.ctl({"cmd": "audit", "device": "nosuch"})
    assert resp["ok"] is False and resp["code"] == "not-found"


def test_identity_and_cancel_are_audited(hub):
    h = hub()
    assert h.cli("add", "r1", "--fingerprint", OTHER_FP)[0] == 0
    alias = "serial:ABC123"
    assert h.cli("identity", "add", "r1", alias)[0] == 0
    assert h.cli("identity", "remove", alias)[0] == 0
    rc, out, err = h.cli("rpc", "r1", "<get/>", "--queue")
    assert rc == 0, err
    job = out.split("job ")[1].split()[0]
    assert h.cli("cancel", job)[0] == 0
    assert h.cli("cancel", job)[0] == 4     # not queued any more
    recs = audit(h, "--device", "r1")
    assert actions(recs) == [
        ("add", "ok"), ("identity-add", "ok"), ("identity-remove", "ok"),
        ("job-submit", "ok"), ("job-cancel", "ok"),
        ("job-cancel", "refused")]
    assert alias in recs[1]["detail"] and alias in recs[2]["detail"]
    assert recs[4]["detail"] == f"job {job}"


def test_the_actor_is_the_peer_not_the_client(hub):
    """Another local user who can reach the socket is recorded as that
    user, whatever the request says."""
    if os.geteuid() != 0:
        pytest.skip("needs root: runs the CLI as another user")
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) not installed")
    nobody = pwd.getpwnam("nobody")
    h = hub()
    assert h.cli("add", "r1", "--fingerprint", OTHER_FP)[0] == 0
    # let nobody reach the socket (the hub makes it 0600, root's)
    d = h.sock.parent
    while str(d) != "/tmp":
        os.chmod(d, os.stat(d).st_mode | 0o001)
        d = d.parent
    os.chmod(h.sock, 0o666)
    argv = [setpriv, f"--reuid={nobody.pw_uid}",
            f"--regid={nobody.pw_gid}", "--clear-groups",
            str(binary("callhome"))]
    r = subprocess.run(argv + ["--hub", str(h.sock), "rename", "r1", "r9"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    # a client that claims to be someone else is not believed
    resp = h.ctl({"cmd": "rename", "device": "r9", "name": "r1",
                  "actor": "mallory", "uid": 1234})
    assert resp["ok"] is True
    recs = audit(h, "--device", "r1")
    assert [(r["action"], r["actor"], r["uid"]) for r in recs] == [
        ("add", ME, ME_UID), ("rename", nobody.pw_name, nobody.pw_uid),
        ("rename", ME, ME_UID)]
    assert len(audit(h, "--actor", "nobody")) == 1


def test_shell_and_exec_sessions_are_audited(device):  # noqa: F811
    h, _ = device()
    rc, out, err = run(h, "exec", "r1", "--", "echo hello; exit 3",
                       data=b"abc")
    assert rc == 3, err
    rc, out, err = run(h, "shell", "r1", data=b"echo hi\nexit 5\n")
    assert rc == 5, err
    rc, _, err = run(h, "exec", "nosuch", "--", "true")
    assert rc == 4

    def ended():
        recs = audit(h, "--device", "r1")
        return recs if sum(r["action"].endswith("-end")
                           for r in recs) == 2 else None
    recs = wait_for(ended, 15, "both sessions ended", interval=0.1,
                    proc=h.proc)
    got = [(r["action"], r["outcome"]) for r in recs
           if r["action"] != "rename"]
    assert got == [("exec-start", "ok"), ("exec-end", "ok"),
                   ("shell-start", "ok"), ("shell-end", "ok")]
    start, end = [r for r in recs if r["action"].startswith("exec")]
    assert (start["actor"], start["uid"]) == (ME, ME_UID)
    assert "echo hello" in start["detail"]
    assert start["exit_status"] is None and start["bytes_out"] is None
    assert end["exit_status"] == 3
    assert end["bytes_out"] == len(b"hello\n")
    assert end["bytes_in"] >= 0
    assert end["duration_ms"] >= 0
    assert end["recording"] is None
    assert "exit 3" in end["detail"]
    sh_end = [r for r in recs if r["action"] == "shell-end"][0]
    assert sh_end["exit_status"] == 5
    assert sh_end["bytes_in"] == len(b"echo hi\nexit 5\n")
    # the refused one has no device; its reason is kept
    refused = [r for r in audit(h) if r["outcome"] != "ok"]
    assert [(r["action"], r["outcome"], r["device"]) for r in refused] == [
        ("exec-start", "refused", None)]
    assert "no device named 'nosuch'" in refused[0]["detail"]


def test_refused_shell_is_audited(device):  # noqa: F811
    h, _ = device(shell=False)
    rc, _, err = run(h, "exec", "r1", "--", "true")
    assert rc == 4, err
    rc, _, err = run(h, "shell", "r1", data=b"")
    assert rc == 4, err
    recs = [r for r in audit(h, "--device", "r1") if r["action"] !=
            "rename"]
    assert [(r["action"], r["outcome"]) for r in recs] == [
        ("exec-start", "refused"), ("shell-start", "refused")]
    assert "refused the exec" in recs[0]["detail"]
