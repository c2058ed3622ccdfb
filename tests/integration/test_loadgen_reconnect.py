"""callhome-loadgen's --reconnect (callhomed's back-off), --give-up,
--timeline and --writable-running, against the real hub: the pieces
bench/storm_bench.py measures with (no timing is asserted here)."""

import signal

import pytest

from conftest import _require_binary
from helpers import free_port, loadgen_report

N = 30


def loadgen(procs, workdir, hub_addr, pub, name, *extra):
    return procs.spawn(name, [
        _require_binary("callhome-loadgen"), "--hub", hub_addr,
        "--devices", N, "--keys", workdir / "lg-keys",
        "--authorized-keys", pub, "--reconnect", *extra])


@pytest.mark.ch_timeout(120)
def test_fleet_back_after_hub_restart_and_fan_out(hub, procs, workdir):
    h = hub(extra=["--no-config-archive", "--no-device-notifications"])
    tl = workdir / "timeline"
    lg = loadgen(procs, workdir, h.address, h.pub, "loadgen",
                 "--give-up", 4, "--timeline", tl, "--writable-running")
    lg.wait_log(rf"all {N} devices up after", timeout=60)
    h.wait_device_connected(N)

    # one edit-config to every connected device, one batch: the devices
    # offer :writable-running and answer lock, edit-config, unlock
    edit = workdir / "edit.xml"
    edit.write_text('<interfaces xmlns="urn:ietf:params:xml:ns:yang:'
                    'ietf-interfaces"><interface><name>eth0</name>'
                    '</interface></interfaces>\n')
    rc, out, err = h.cli("edit-config", "--device-state", "connected",
                         "--rate", 1000, edit, "--wait", timeout=60)
    assert rc == 0, out + err

    # the hub restarts on its state: every device calls back, none gives
    # up
    mark = lg.mark()
    h.proc.stop()
    lg.wait_log(r"^t=\S+ up=0 ", timeout=10, since=mark)
    h.restart("hub-again", ["--accept-new", "--no-config-archive",
                            "--no-device-notifications"])
    lg.wait_log(rf"all {N} devices up again .* at epoch", timeout=60,
                since=mark)
    h.wait_device_connected(N)
    lg.signal(signal.SIGTERM)
    lg.wait_exit(10)
    r = loadgen_report(lg)
    assert r["up"] == str(N)
    assert r["gave_up"] == "0"
    assert int(r["rpcs"]) >= 3 * N        # lock, edit-config, unlock

    rows = [[int(x) for x in line.split()]
            for line in tl.read_text().splitlines()]
    assert all(len(x) == 6 for x in rows)
    assert [x[0] for x in rows] == list(range(rows[0][0],
                                              rows[0][0] + len(rows)))
    assert sum(x[1] for x in rows) == 2 * N       # hellos: twice each
    assert sum(x[4] for x in rows) == N           # drops: once each
    assert rows[-1][5] == N                       # all up at the end


@pytest.mark.ch_timeout(60)
def test_devices_give_up_after_failed_rounds(procs, workdir):
    """Nobody listens: three refused connects make a failed round; with
    --give-up 1 every device stops after its first round."""
    from helpers import ssh_keygen
    key = workdir / "k"
    ssh_keygen(key)
    lg = loadgen(procs, workdir, f"127.0.0.1:{free_port()}",
                 f"{key}.pub", "loadgen", "--give-up", 1)
    lg.wait_log(rf"gave_up={N}$", timeout=20)
    lg.signal(signal.SIGTERM)
    lg.wait_exit(10)
    r = loadgen_report(lg)
    assert r["gave_up"] == str(N)
    assert r["up"] == "0"
    assert r["attempts"] == str(3 * N)    # CH_CHC_RS_MAX_ATTEMPTS tries
    assert "Connection refused" in lg.log()
