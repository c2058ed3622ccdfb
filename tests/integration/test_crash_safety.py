"""Crash safety of the device's datastore: kill -9 the agent at random
points while a manager streams commits; after each restart the datastore
loads, validates (the agent refuses to start otherwise) and holds exactly
one of the versions that were being written: never a torn or mixed one.
Writes are atomic (temp file, fsync, rename, fsync of the directory)."""

import random
import re
import threading
import time

import pytest

from helpers import binary, pub_blob_b64, ssh_keygen, listener, wait_for
from test_netconf_ops import MODULE, T, config, system

ncclient = pytest.importorskip("ncclient")
from ncclient import manager                        # noqa: E402

ROUNDS = 8


def connect(lsock, a_pub, mgr_key):
    conn, peer = lsock.accept()
    return manager.connect(host=peer[0], port=peer[1], sock=conn,
                           username="ops", key_filename=str(mgr_key),
                           hostkey_b64=pub_blob_b64(a_pub),
                           allow_agent=False, look_for_keys=False,
                           timeout=20)


def running_hostname(m):
    xml = m.get_config(source="running",
                       filter=("subtree", f'<system xmlns="{T}"/>')).data_xml
    found = re.search(r"<hostname>([^<]*)</hostname>", xml)
    return found.group(1) if found else None


@pytest.mark.ch_timeout(240)
def test_kill9_during_commits_leaves_a_committed_version(agent, procs,
                                                         workdir):
    rng = random.Random(8071)
    mgr_key = ssh_keygen(workdir / "mgr_key")
    lsock, port = listener(timeout=30)
    a = agent(call_home=[f"127.0.0.1:{port}"],
              authorized=[f"{mgr_key}.pub"], running_xml=None,
              extra=list(MODULE) + ["--backoff-base", "50",
                                    "--backoff-max", "200"])
    a.fingerprint
    argv = [binary("callhomed"), "--call-home", f"127.0.0.1:{port}",
            "--host-key", a.host_key, "--authorized-keys",
            a.authorized_keys, "--datastore", a.datastore,
            "--backoff-base", "50", "--backoff-max", "200"] + list(MODULE)
    proc = a.proc
    m = connect(lsock, a.pub, mgr_key)
    previous = running_hostname(m)
    checked = 0
    for rnd in range(ROUNDS):
        sent, acked = [], []

        def stream():
            i = 0
            try:
                while True:
                    name = f"r{rnd}-v{i}"
                    sent.append(name)
                    m.edit_config(target="running", config=config(system(
                        f"<hostname>{name}</hostname>"
                        f"<dns-server>192.0.2.{i % 250}</dns-server>")))
                    acked.append(name)
                    i += 1
            except Exception:
                return                       # the agent died under us

        t = threading.Thread(target=stream, daemon=True)
        t.start()
        wait_for(lambda: len(acked) >= 2, 20, "commits flowing",
                 proc=proc)
        time.sleep(rng.uniform(0, 0.25))     # a random point in the stream
        proc.kill9()
        t.join(20)
        try:
            m.close_session()
        except Exception:
            pass
        # restart on the same datastore: it must load and validate
        proc = procs.spawn(f"agent-after-kill-{rnd}", argv)
        m = connect(lsock, a.pub, mgr_key)
        now = running_hostname(m)
        possible = set(acked) | ({sent[-1]} if sent else set()) | \
            {previous}
        assert now in possible, (now, acked[-3:], sent[-1:])
        # and it is at least the last acknowledged one (or the one after)
        if acked:
            assert now in (acked[-1], sent[-1]), (now, acked[-1], sent[-1])
        previous = now
        checked += 1
    m.close_session()
    assert checked == ROUNDS
