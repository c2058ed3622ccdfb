"""The agent's schema-aware datastore over a real call-home SSH session:
edit-config semantics and their rpc-errors, locks between two NETCONF
sessions, candidate and commit, a confirmed commit rolled back by its
timer, and the hub's safe apply (lock, edit, confirmed commit, confirm)
on our own agent. The test module is tests/yang/callhome-test."""

import os
import re
import time

import pytest

from fakes import recv_until
from helpers import SAMPLE_RUNNING_XML, wait_for

ncclient = pytest.importorskip(
    "ncclient", reason="python3-ncclient (Debian) is not installed")
from ncclient.operations.rpc import RPCError        # noqa: E402

from ncsession import (BASE, CAP, EXAMPLE_HOOK, MODULE,  # noqa: E402
                       SYSTEM_FILTER, YANG_DIR, T, RawSession, config,
                       connect, hook_script, hostname, start, system,
                       take, wait_file)


def test_hello_advertises_modules_and_writable_datastores(agent, workdir):
    a, m, lsock = start(agent, workdir)
    try:
        caps = set(m.server_capabilities)
        assert f"{T}?module=callhome-test&revision=2024-05-01" in caps
        for c in ("writable-running:1.0", "candidate:1.0",
                  "confirmed-commit:1.1", "validate:1.1", "startup:1.0",
                  "rollback-on-error:1.0"):
            assert CAP + c in caps
        assert not any("callhome-nc-edit" in c for c in caps)
        assert CAP + "xpath:1.0" in caps
        assert not any(":url" in c for c in caps)
    finally:
        m.close_session()
        lsock.close()


def test_edit_config_operations_and_their_errors(agent, workdir):
    a, m, lsock = start(agent, workdir)
    try:
        m.edit_config(target="running", config=config(system(
            "<hostname>dev1</hostname><dns-server>a</dns-server>")))
        assert hostname(m) == "dev1"
        # create over existing data: data-exists, nothing changes
        with pytest.raises(RPCError) as ei:
            m.edit_config(target="running", config=config(system(
                '<mtu>9000</mtu>'
                '<hostname nc:operation="create">x</hostname>')))
        assert ei.value.tag == "data-exists"
        assert ei.value.path.strip() == "/callhome-test:system/hostname"
        reply = m.get_config(source="running", filter=SYSTEM_FILTER)
        assert "9000" not in reply.data_xml and hostname(m) == "dev1"
        # delete of what is absent: data-missing; remove: silent
        with pytest.raises(RPCError) as ei:
            m.edit_config(target="running", config=config(system(
                '<dns-server nc:operation="delete">zz</dns-server>')))
        assert ei.value.tag == "data-missing"
        m.edit_config(target="running", config=config(system(
            '<dns-server nc:operation="remove">zz</dns-server>')))
        m.edit_config(target="running", config=config(system(
            '<dns-server nc:operation="delete">a</dns-server>'
            '<hostname nc:operation="delete"/>')))
        assert hostname(m) is None
        # test-only validates without changing anything
        m.edit_config(target="running", test_option="test-only",
                      config=config(system("<hostname>t</hostname>")))
        assert hostname(m) is None
        # a value outside its type, an unknown element, a foreign namespace
        with pytest.raises(RPCError) as ei:
            m.edit_config(target="running", config=config(system(
                "<mtu>10</mtu>")))
        assert ei.value.tag == "invalid-value"
        with pytest.raises(RPCError) as ei:
            m.edit_config(target="running", config=config(system(
                "<nope>1</nope>")))
        assert ei.value.tag == "unknown-element"
        assert "<bad-element>nope</bad-element>" in ei.value.info
        with pytest.raises(RPCError) as ei:
            m.edit_config(target="running",
                          config=config('<x xmlns="urn:t">1</x>'))
        assert ei.value.tag == "unknown-namespace"
        # and the file on disk is what running holds
        m.edit_config(target="running", config=config(system(
            "<hostname>saved</hostname>")))
        stored = (a.datastore / "running.xml").read_text()
        assert "<hostname>saved</hostname>" in stored
    finally:
        m.close_session()
        lsock.close()


def test_lock_contention_between_two_sessions(agent, workdir):
    a, m, lsock = start(agent, workdir)
    try:
        assert m.session_id == "1"
        m.lock(target="running")
        s2 = RawSession(m)
        assert s2.session_id == 2
        reply = s2.rpc("<lock><target><running/></target></lock>")
        assert "<error-tag>lock-denied</error-tag>" in reply
        assert "<session-id>1</session-id>" in reply
        reply = s2.rpc("<edit-config><target><running/></target>"
                       + config(system("<hostname>s2</hostname>"))
                       + "</edit-config>")
        assert "<error-tag>in-use</error-tag>" in reply
        reply = s2.rpc("<unlock><target><running/></target></unlock>")
        assert "<error-tag>operation-failed</error-tag>" in reply
        m.unlock(target="running")
        reply = s2.rpc("<lock><target><running/></target></lock>")
        assert "<ok/>" in reply, reply
        with pytest.raises(RPCError) as ei:
            m.edit_config(target="running", config=config(system(
                "<hostname>s1</hostname>")))
        assert ei.value.tag == "in-use"
        # the holder's session ends: its lock goes with it
        s2.close()
        a.proc.wait_log(r"session-id=2 ended: running lock released")
        m.lock(target="running")
        m.edit_config(target="running", config=config(system(
            "<hostname>s1</hostname>")))
        assert hostname(m) == "s1"
        m.unlock(target="running")
    finally:
        m.close_session()
        lsock.close()


def test_candidate_commit_discard_and_startup(agent, workdir, procs):
    a, m, lsock = start(agent, workdir,
                        running_xml=system("<hostname>old</hostname>"))
    try:
        assert hostname(m) == "old"
        assert hostname(m, "candidate") == "old"
        m.edit_config(target="candidate", config=config(system(
            "<hostname>new</hostname>")))
        assert hostname(m) == "old"
        assert hostname(m, "candidate") == "new"
        m.discard_changes()
        assert hostname(m, "candidate") == "old"
        with m.locked("candidate"):
            m.edit_config(target="candidate", config=config(system(
                "<hostname>new</hostname>")))
            m.validate(source="candidate")
            m.commit()
        assert hostname(m) == "new"
        # copy-config to startup: the next start boots from it
        m.copy_config(source="running", target="startup")
        assert "<hostname>new</hostname>" in \
            (a.datastore / "startup.xml").read_text()
        with pytest.raises(RPCError) as ei:
            m.copy_config(source="running", target="running")
        assert ei.value.tag == "invalid-value"
        with pytest.raises(RPCError) as ei:
            m.delete_config(target="running")
        assert ei.value.tag == "operation-failed"
        m.edit_config(target="running", config=config(system(
            "<hostname>not-saved</hostname>")))
        assert hostname(m, "startup") == "new"
    finally:
        a.proc.stop()      # session still up: the agent does not call back
    again = procs.spawn("agent-again", a.proc.argv)
    m = connect(lsock, a, workdir / "mgr_key")
    try:
        assert hostname(m) == "new"
        again.wait_log(r"running configuration loaded from startup.xml")
    finally:
        m.close_session()
        lsock.close()


@pytest.mark.ch_timeout(60)
def test_confirmed_commit_rolled_back_on_timeout(agent, workdir):
    a, m, lsock = start(agent, workdir,
                        running_xml=system("<hostname>old</hostname>"))
    try:
        m.edit_config(target="candidate", config=config(system(
            "<hostname>trial</hostname>")))
        m.commit(confirmed=True, timeout="2")
        assert hostname(m) == "trial"
        assert (a.datastore / "rollback.xml").exists()
        a.proc.wait_log(r"confirmed commit rolled back: the "
                        r"confirm-timeout expired", timeout=15)
        assert hostname(m) == "old"
        assert hostname(m, "candidate") == "old"
        assert not (a.datastore / "rollback.xml").exists()
        # a confirmed commit that is confirmed stays
        m.edit_config(target="candidate", config=config(system(
            "<hostname>kept</hostname>")))
        m.commit(confirmed=True, timeout="2")
        m.commit()
        time.sleep(3)       # past the first timeout: nothing rolls back
        assert hostname(m) == "kept"
    finally:
        m.close_session()
        lsock.close()


@pytest.mark.ch_timeout(60)
def test_hub_applies_a_change_with_a_confirmed_commit(hub, agent):
    """The hub's safe apply on our agent: lock candidate, edit, confirmed
    commit, confirming commit, unlock."""
    h = hub(extra=["--confirm-timeout", "20", "--confirm-after", "1"])
    a = agent(hub=h, running_xml=None, extra=MODULE)
    h.wait_device_connected(1)
    r = h.ctl({"cmd": "edit-config", "device": a.fingerprint,
               "config": system("<hostname>from-the-hub</hostname>"),
               "wait": True}, timeout=40)
    assert r.get("ok") is True, r
    assert r["job"]["state"] == "done", r
    assert r["job"]["method"] == \
        "candidate+confirmed-commit+startup"
    a.proc.wait_log(r"confirmed the pending confirmed commit")
    rc, out, err = h.cli("get-config", a.fingerprint)
    assert rc == 0, err
    assert "<hostname>from-the-hub</hostname>" in out
    wait_for(lambda: "from-the-hub" in
             (a.datastore / "running.xml").read_text(), 5, "running.xml")
    # a change the device refuses fails cleanly and leaves nothing behind
    r = h.ctl({"cmd": "edit-config", "device": a.fingerprint,
               "config": system("<mtu>1</mtu>"), "wait": True}, timeout=40)
    assert r["job"]["state"] == "failed", r
    rc, out, err = h.cli("get-config", a.fingerprint)
    assert "<mtu>" not in out and "from-the-hub" in out


def restart_agent(procs, a, name):
    """Stops agent a and starts it again on the same files: it loads
    startup.xml (when there is one) into running, and calls back."""
    a.proc.stop()
    a.proc = procs.spawn(name, a.proc.argv)
    return a


def hub_hostname(h, a):
    """The device's running hostname, read through the hub once it called
    back (the job waits for it)."""
    rc, out, err = h.cli("--timeout", "30", "get-config", a.fingerprint,
                         "--wait", timeout=40)
    assert rc == 0, err
    found = re.search(r"<hostname>([^<]*)</hostname>", out)
    return found.group(1) if found else None


@pytest.mark.ch_timeout(120)
def test_hub_change_survives_the_devices_restart(hub, agent, procs,
                                                 workdir):
    """The agent boots from startup.xml: the hub copies running to startup
    (the agent has :startup) before the job is done; --no-startup leaves
    startup alone and the change is gone after a restart."""
    h = hub(extra=["--confirm-timeout", "20"])
    a = agent(hub=h, running_xml=None, extra=MODULE,
              startup_xml=system("<hostname>boot</hostname>"))
    h.wait_device_connected(1)
    f = workdir / "change.xml"
    f.write_text(system("<hostname>kept</hostname>"))
    rc, out, err = h.cli("edit-config", a.fingerprint, f, "--wait",
                         timeout=40)
    assert rc == 0, err
    jobs = h.ctl({"cmd": "jobs"})["jobs"]
    assert jobs[0]["state"] == "done", jobs[0]
    assert jobs[0]["method"] == "candidate+confirmed-commit+startup"
    assert "<hostname>kept</hostname>" in \
        (a.datastore / "startup.xml").read_text()
    restart_agent(procs, a, "agent-2")
    assert hub_hostname(h, a) == "kept"
    # opted out: running only, and the restart brings startup's back
    f.write_text(system("<hostname>volatile</hostname>"))
    rc, out, err = h.cli("edit-config", a.fingerprint, f, "--wait",
                         "--no-startup", timeout=40)
    assert rc == 0, err
    j = h.ctl({"cmd": "jobs"})["jobs"][0]
    assert j["state"] == "done" and j["method"] == \
        "candidate+confirmed-commit", j
    assert hub_hostname(h, a) == "volatile"
    restart_agent(procs, a, "agent-3")
    assert hub_hostname(h, a) == "kept"


def test_hub_unwraps_a_config_element(hub, agent):
    """A file that is one <config> element (ncclient's habit), in the
    NETCONF namespace or in none, is taken as its content."""
    h = hub()
    a = agent(hub=h, running_xml=None, extra=MODULE)
    h.wait_device_connected(1)
    for name, cfg in (("a", config(system("<hostname>a</hostname>"))),
                      ("b", "<?xml version=\"1.0\"?>\n<config>"
                       + system("<hostname>b</hostname>") + "</config>\n")):
        r = h.ctl({"cmd": "edit-config", "device": a.fingerprint,
                   "config": cfg, "wait": True}, timeout=40)
        assert r.get("ok") is True, r
        assert r["job"]["state"] == "done", r
        assert hub_hostname(h, a) == name
    r = h.ctl({"cmd": "edit-config", "device": a.fingerprint,
               "config": "<config></config>"})
    assert r["ok"] is False and r["code"] == "bad-xml", r
    assert "expected" in r["error"]
    r = h.ctl({"cmd": "edit-config", "device": a.fingerprint,
               "config": "<system><unclosed></system>"})
    assert r["ok"] is False and r["code"] == "bad-xml", r
    assert "expected the configuration's elements" in r["error"]


def test_hub_get_config_with_subtree_and_xpath_filters(hub, agent,
                                                        workdir):
    """callhome get-config --filter / --xpath --ns: only what the filter
    selects comes back; a filter the hub cannot send is refused before
    anything is queued, naming what is wrong."""
    running = (system("<hostname>r9</hostname><mtu>1400</mtu>")
               + f'<interfaces xmlns="{T}"><interface><name>eth0</name>'
               "</interface></interfaces>")
    h = hub()
    a = agent(hub=h, running_xml=running, extra=MODULE)
    h.wait_device_connected(1)
    rc, out, err = h.cli("get-config", a.fingerprint)
    assert rc == 0 and "<mtu>1400</mtu>" in out and "eth0" in out, err
    rc, out, err = h.cli("get-config", a.fingerprint, "--filter",
                         system("<hostname/>"))
    assert rc == 0, err
    assert "<hostname>r9</hostname>" in out and "mtu" not in out and \
        "eth0" not in out, out
    f = workdir / "filter.xml"                      # a file, and stdin
    f.write_text(f'<interfaces xmlns="{T}"/>\n')
    rc, out, err = h.cli("get-config", a.fingerprint, "--filter", f)
    assert rc == 0 and "eth0" in out and "hostname" not in out, out
    rc, out, err = h.cli("get-config", a.fingerprint, "--filter", "-",
                         input_text=f.read_text())
    assert rc == 0 and "eth0" in out and "hostname" not in out, out
    rc, out, err = h.cli("get-config", a.fingerprint, "--xpath",
                         "/t:system/t:mtu", "--ns", f"t={T}")
    assert rc == 0, err
    assert "<mtu>1400</mtu>" in out and "hostname" not in out, out
    # an XPath with quotes and < reaches the device intact
    rc, out, err = h.cli("get-config", a.fingerprint, "--xpath",
                         "/t:system[t:hostname=\"r9\" and t:mtu < 2000]"
                         "/t:mtu", "--ns", f"t={T}")
    assert rc == 0 and "<mtu>1400</mtu>" in out, (out, err)
    # refused, nothing queued
    rc, out, err = h.cli("get-config", a.fingerprint, "--filter",
                         "<system><unclosed></system>")
    assert rc == 4 and "the filter is not well-formed XML" in err, err
    # content that closes <filter> to smuggle in another operation
    rc, out, err = h.cli(
        "get-config", a.fingerprint, "--filter",
        "<x/></filter></get-config><edit-config><target><running/>"
        "</target><config>" + system("<hostname>evil</hostname>")
        + "</config></edit-config><get-config><source><running/>"
        "</source><filter><y/>")
    assert rc == 4 and "the filter is not well-formed XML" in err, err
    rc, out, err = h.cli("get-config", a.fingerprint, "--filter", "<a/>",
                         "--xpath", "/a")
    assert rc == 1 and "exclude each other" in err, err
    rc, out, err = h.cli("get-config", a.fingerprint, "--ns", f"t={T}")
    assert rc == 1 and "give --xpath too" in err, err
    rc, out, err = h.cli("get-config", a.fingerprint, "--xpath", "/t:x",
                         "--ns", "1t=urn:x")
    assert rc == 4 and "prefix must be an XML name" in err, err
    jobs = h.ctl({"cmd": "jobs"})["jobs"]
    assert len(jobs) == 6 and all(j["state"] == "done" for j in jobs), jobs


YUMA_IETF = "/usr/share/yuma/modules/ietf"
IF_NS = "urn:ietf:params:xml:ns:yang:ietf-interfaces"


def test_ietf_interfaces_with_the_sample_configuration(agent, workdir):
    """A real IETF module (yuma123's copy of ietf-interfaces) over the
    fixture's sample running.xml, identityref values included."""
    if not os.path.isdir(YUMA_IETF):
        pytest.skip(f"{YUMA_IETF} not installed (netconfd package)")
    a, m, lsock = start(agent, workdir, running_xml=SAMPLE_RUNNING_XML,
                        modules=["--yang-dir", YUMA_IETF,
                                 "--module", "ietf-interfaces",
                                 "--module", "iana-if-type"])
    try:
        assert any(c.startswith(f"{IF_NS}?module=ietf-interfaces&revision=")
                   for c in m.server_capabilities)
        assert "<name>eth0</name>" in m.get_config(source="running").data_xml
        m.edit_config(target="running", config=config(
            f'<interfaces xmlns="{IF_NS}" '
            'xmlns:ift="urn:ietf:params:xml:ns:yang:iana-if-type">'
            "<interface><name>lo9</name><type>ift:softwareLoopback</type>"
            "</interface></interfaces>"))
        xml = m.get_config(source="running").data_xml
        assert "<name>lo9</name>" in xml and "softwareLoopback" in xml
        with pytest.raises(RPCError) as ei:      # type is mandatory
            m.edit_config(target="running", config=config(
                f'<interfaces xmlns="{IF_NS}"><interface><name>x</name>'
                "</interface></interfaces>"))
        assert ei.value.tag == "missing-element"
    finally:
        m.close_session()
        lsock.close()


def test_kill_session_releases_locks_and_closes_the_channel(agent, workdir):
    a, m, lsock = start(agent, workdir,
                        running_xml=system("<hostname>old</hostname>"))
    try:
        victim = RawSession(m)
        assert victim.session_id == 2
        reply = victim.rpc("<edit-config><target><candidate/></target>"
                           + config(system("<hostname>new</hostname>"))
                           + "</edit-config>")
        assert "<ok/>" in reply, reply
        reply = victim.rpc("<commit><confirmed/><confirm-timeout>600"
                           "</confirm-timeout></commit>")
        assert "<ok/>" in reply, reply
        reply = victim.rpc("<lock><target><running/></target></lock>")
        assert "<ok/>" in reply, reply
        assert hostname(m) == "new"
        with pytest.raises(RPCError) as ei:
            m.lock(target="running")
        assert ei.value.tag == "lock-denied"

        m.kill_session(session_id="2")
        # the victim's channel is closed: EOF, then nothing more
        victim.chan.settimeout(10)
        got = b""
        while True:
            chunk = victim.chan.recv(65536)
            if not chunk:
                break
            got += chunk
        assert got == b""
        a.proc.wait_log(r"session-id=2 ended")
        # its confirmed commit was rolled back, its lock released
        assert hostname(m) == "old"
        m.lock(target="running")
        m.unlock(target="running")

        other = RawSession(m)
        assert other.session_id == 3
        reply = other.rpc("<kill-session><session-id>3</session-id>"
                          "</kill-session>")
        assert "<error-tag>invalid-value</error-tag>" in reply, reply
        reply = other.rpc("<kill-session><session-id>2</session-id>"
                          "</kill-session>")
        assert "<error-tag>invalid-value</error-tag>" in reply, reply
        reply = other.rpc("<kill-session><session-id>77</session-id>"
                          "</kill-session>")
        assert "<error-tag>invalid-value</error-tag>" in reply, reply
        reply = other.rpc("<kill-session/>")
        assert "<error-tag>missing-element</error-tag>" in reply, reply
        assert "<bad-element>session-id</bad-element>" in reply, reply
        other.close()
    finally:
        m.close_session()
        lsock.close()


MON = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
MON_YANG = ("/usr/share/yuma/modules/ietf/"
            "ietf-netconf-monitoring@2010-10-04.yang")
needs_monitoring = pytest.mark.skipif(
    not os.path.exists(MON_YANG),
    reason="ietf-netconf-monitoring.yang (Debian netconfd) is not installed")


def leaf(xml, name):
    found = re.search(rf"<{name}>([^<]*)</{name}>", xml)
    return found.group(1) if found else None


@needs_monitoring
def test_netconf_monitoring_state(agent, workdir):
    a, m, lsock = start(agent, workdir,
                        running_xml=system("<hostname>dev</hostname>"))
    try:
        caps = set(m.server_capabilities)
        assert (f"{MON}?module=ietf-netconf-monitoring&revision=2010-10-04"
                in caps)
        m.lock(target="candidate")
        with pytest.raises(RPCError):
            m.lock(target="candidate")     # one rpc-error
        xml = m.get().data_xml
        assert "<hostname>dev</hostname>" in xml
        assert f'<netconf-state xmlns="{MON}">' in xml
        # (ietf-yang-library's state follows: not part of it)
        state = xml[xml.index("<netconf-state"):
                    xml.index("</netconf-state>")]
        assert "<capability>urn:ietf:params:netconf:base:1.1</capability>" \
            in state
        assert (f"<capability>{T}?module=callhome-test&amp;"
                f"revision=2024-05-01</capability>") in state
        # the candidate's lock, by us
        ds = re.findall(r"<datastore>(.*?)</datastore>", state)
        assert [leaf(d, "name") for d in ds] == ["running", "candidate",
                                                 "startup"]
        assert "<locks>" not in ds[0]
        assert leaf(ds[1], "locked-by-session") == "1"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
                            leaf(ds[1], "locked-time"))
        schemas = re.findall(r"<schema>(.*?)</schema>", state)
        names = sorted(leaf(x, "identifier") for x in schemas)
        # (and the agent's own modules, such as its call-home model's)
        assert {"callhome-test", "ietf-netconf-monitoring"} <= set(names)
        assert len(names) == len(set(names))
        ct = [x for x in schemas if "callhome-test" in x][0]
        assert leaf(ct, "version") == "2024-05-01"
        assert leaf(ct, "format") == "yang"
        assert leaf(ct, "namespace") == T
        assert leaf(ct, "location") == "NETCONF"
        sess = re.findall(r"<session>(.*?)</session>", state)
        assert len(sess) == 1
        assert leaf(sess[0], "session-id") == "1"
        assert leaf(sess[0], "transport") == "netconf-ssh"
        assert leaf(sess[0], "username") == "ops"
        assert leaf(sess[0], "source-host") == "127.0.0.1"
        # hello is no rpc; lock, lock, get so far (get counted as it runs)
        assert leaf(sess[0], "in-rpcs") == "2"
        assert leaf(sess[0], "in-bad-rpcs") == "0"
        assert leaf(sess[0], "out-rpc-errors") == "1"
        assert leaf(sess[0], "out-notifications") == "0"
        stats = state[state.index("<statistics>"):]
        assert leaf(stats, "in-sessions") == "1"
        assert leaf(stats, "dropped-sessions") == "0"
        assert leaf(stats, "in-rpcs") == "2"
        assert leaf(stats, "out-rpc-errors") == "1"
        assert leaf(stats, "in-bad-hellos") == "0"
        assert leaf(stats, "netconf-start-time") is not None
        m.unlock(target="candidate")

        # a second session shows up; a subtree filter selects sessions
        s2 = RawSession(m)
        flt = ("subtree", f'<netconf-state xmlns="{MON}"><sessions/>'
               "</netconf-state>")
        xml = m.get(filter=flt).data_xml
        assert "<hostname>" not in xml
        assert "<statistics>" not in xml and "<schemas>" not in xml
        assert sorted(leaf(x, "session-id") for x in re.findall(
            r"<session>(.*?)</session>", xml)) == ["1", "2"]
        # a session that goes without close-session is a dropped one
        s2.close()
        a.proc.wait_log(r"session-id=2 ended")
        flt = ("subtree", f'<netconf-state xmlns="{MON}"><statistics>'
               "<dropped-sessions/></statistics></netconf-state>")
        xml = m.get(filter=flt).data_xml
        assert leaf(xml, "dropped-sessions") == "1"
        assert "<in-sessions>" not in xml

        # get-config has no state data
        xml = m.get_config(source="running").data_xml
        assert "netconf-state" not in xml
        assert "<hostname>dev</hostname>" in xml
        # state data cannot be edited
        with pytest.raises(RPCError) as ei:
            m.edit_config(target="running", config=config(
                f'<netconf-state xmlns="{MON}"><sessions/></netconf-state>'))
        assert ei.value.tag == "invalid-value"
    finally:
        m.close_session()
        lsock.close()


def bad_hello(m, text):
    """A netconf channel on m's connection whose client hello is text."""
    chan = m._session._transport.open_session(timeout=10)
    chan.invoke_subsystem("netconf")
    recv_until(chan, b"]]>]]>")
    chan.sendall(text.encode() + b"]]>]]>")
    return chan


@needs_monitoring
def test_bad_hellos_are_counted(agent, workdir):
    a, m, lsock = start(agent, workdir)
    try:
        # no base capability in common; not a hello at all
        c2 = bad_hello(m, f'<hello xmlns="{BASE}"><capabilities><capability>'
                       'urn:example:none</capability></capabilities>'
                       '</hello>')
        a.proc.wait_log(r"session-id=2: ")
        c3 = bad_hello(m, f'<rpc xmlns="{BASE}" message-id="1"><get/></rpc>')
        a.proc.wait_log(r"session-id=3: ")
        flt = ("subtree", f'<netconf-state xmlns="{MON}"><statistics/>'
               "</netconf-state>")
        stats = m.get(filter=flt).data_xml
        assert leaf(stats, "in-bad-hellos") == "2"
        assert leaf(stats, "in-sessions") == "3"
        c2.close()
        c3.close()
    finally:
        m.close_session()
        lsock.close()


@needs_monitoring
def test_get_schema(agent, workdir):
    a, m, lsock = start(agent, workdir)
    try:
        text = m.get_schema("callhome-test").data
        src = (YANG_DIR / "callhome-test@2024-05-01.yang").read_text()
        assert text == src
        text = m.get_schema("callhome-test", version="2024-05-01",
                            format="yang").data
        assert text == src
        # an imported module libyang has built in: printed by libyang
        text = m.get_schema("ietf-yang-types").data
        assert text.startswith("module ietf-yang-types {")
        for args, tag in ((("nosuch-module",), "invalid-value"),
                          (("callhome-test", "1999-01-01"), "invalid-value"),
                          (("callhome-test", None, "yin"), "invalid-value"),
                          (("callhome-nc-edit",), "invalid-value")):
            with pytest.raises(RPCError) as ei:
                m.get_schema(*args)
            assert ei.value.tag == tag, args
    finally:
        m.close_session()
        lsock.close()


def test_no_monitoring_without_modules(agent, workdir):
    a, m, lsock = start(agent, workdir, modules=(),
                        running_xml=system("<hostname>x</hostname>"))
    try:
        assert not any("ietf-netconf-monitoring" in c
                       for c in m.server_capabilities)
        assert "netconf-state" not in m.get().data_xml
        with pytest.raises(RPCError) as ei:
            m.get_schema("callhome-test")
        assert ei.value.tag == "operation-not-supported"
    finally:
        m.close_session()
        lsock.close()


@needs_monitoring
def test_monitoring_module_given_on_the_command_line(agent, workdir):
    a, m, lsock = start(agent, workdir, modules=MODULE + [
        "--yang-dir", os.path.dirname(MON_YANG),
        "--module", "ietf-netconf-monitoring"])
    try:
        caps = [c for c in m.server_capabilities
                if "module=ietf-netconf-monitoring" in c]
        assert len(caps) == 1
        assert "ietf-netconf-monitoring" in m.get_schema(
            "ietf-netconf-monitoring").data
        assert "<netconf-state" in m.get().data_xml
    finally:
        m.close_session()
        lsock.close()


# ---- --on-commit (docs/on-commit.md) ----

def test_on_commit_accepts_and_sees_both_files(agent, workdir):
    seen = workdir / "seen"
    seen.mkdir()
    hook = hook_script(workdir, "hook.sh", f"""
n=$(ls {seen} | wc -l)
cp "$1" {seen}/running.$n.xml
cp "$2" {seen}/diff.$n.xml
""")
    a, m, lsock = start(agent, workdir, extra=["--on-commit", str(hook)])
    try:
        m.edit_config(target="running", config=config(system(
            "<hostname>ok1</hostname>")))
        assert hostname(m) == "ok1"
        assert "<hostname>ok1</hostname>" in (
            seen / "running.0.xml").read_text()
        diff = (seen / "diff.0.xml").read_text()
        assert "<hostname>ok1</hostname>" in diff
        assert 'operation="create"' in diff
        # the candidate is not checked; its commit is
        m.edit_config(target="candidate", config=config(system(
            "<hostname>ok2</hostname>")))
        assert len(list(seen.iterdir())) == 2
        m.commit()
        assert hostname(m) == "ok2"
        assert 'operation="replace"' in (seen / "diff.2.xml").read_text()
        # nothing to change: no run
        m.edit_config(target="running", config=config(system(
            "<hostname>ok2</hostname>")))
        assert len(list(seen.iterdir())) == 4
        # the files are gone after the run
        assert not list(a.datastore.glob("on-commit-*"))
    finally:
        m.close_session()
        lsock.close()


def test_on_commit_rejects_with_its_message(agent, workdir):
    log = workdir / "changes.log"
    hook = hook_script(workdir, "hook.sh",
                       f'ON_COMMIT_LOG={log} exec {EXAMPLE_HOOK} "$@"\n')
    a, m, lsock = start(agent, workdir, extra=["--on-commit", str(hook)])
    try:
        m.edit_config(target="running", config=config(system(
            "<hostname>fine</hostname>")))
        assert "<hostname>fine</hostname>" in log.read_text()
        with pytest.raises(RPCError) as ei:
            m.edit_config(target="running", config=config(system(
                "<hostname>a-forbidden-name</hostname>")))
        assert ei.value.tag == "operation-failed"
        assert ei.value.message.strip() == \
            'hostname must not contain "forbidden"'
        assert hostname(m) == "fine"
        assert "forbidden" not in (a.datastore / "running.xml").read_text()
        # copy-config to running goes through it too
        m.edit_config(target="candidate", config=config(system(
            "<hostname>forbidden</hostname>")))
        with pytest.raises(RPCError) as ei:
            m.copy_config(source="candidate", target="running")
        assert ei.value.tag == "operation-failed"
        assert hostname(m) == "fine"
        m.discard_changes()
        # and the session goes on
        m.edit_config(target="running", config=config(system(
            "<hostname>fine2</hostname>")))
        assert hostname(m) == "fine2"
    finally:
        m.close_session()
        lsock.close()


def test_on_commit_that_hangs_is_killed_and_others_are_served(agent,
                                                             workdir):
    hook = hook_script(workdir, "hook.sh",
                       "echo checking >&2\nsleep 60\n")
    a, m, lsock = start(agent, workdir, extra=[
        "--on-commit", str(hook), "--on-commit-timeout", "3"])
    try:
        raw = RawSession(m)
        t0 = time.monotonic()
        raw.send("<edit-config><target><running/></target>"
                 + config(system("<hostname>hang</hostname>"))
                 + "</edit-config>")
        # queued behind the deferred reply, answered after it, in order
        raw.send("<get-config><source><running/></source>"
                 "</get-config>")
        # the other session is answered meanwhile
        time.sleep(0.5)
        assert hostname(m) is None
        assert time.monotonic() - t0 < 2.5
        first, second = raw.recv_many(2)
        assert time.monotonic() - t0 >= 2.5
        assert "<error-tag>operation-failed</error-tag>" in first
        assert "killed" in first and "checking" in first
        assert f'message-id="{raw.next_id - 1}"' in first
        assert f'message-id="{raw.next_id}"' in second
        assert "hang" not in second
        assert hostname(m) is None
        raw.close()
    finally:
        m.close_session()
        lsock.close()


# An --on-commit program that records each run: KIND.N.running and
# KIND.N.diff in SEEN (KIND: its CALLHOME_ON_COMMIT, check or rollback);
# with FLAG present it fails on rollbacks.
RECORD_HOOK = """
kind=$CALLHOME_ON_COMMIT
i=0
while [ -e {seen}/$kind.$i.running ]; do i=$((i+1)); done
cp "$2" {seen}/$kind.$i.diff
cp "$1" {seen}/tmp.$$ && mv {seen}/tmp.$$ {seen}/$kind.$i.running
if [ "$kind" = rollback ] && [ -e {flag} ]; then
    echo "cannot apply it" >&2
    exit 3
fi
"""


def recording_hook(workdir):
    seen = workdir / "seen"
    seen.mkdir()
    hook = hook_script(workdir, "hook.sh", RECORD_HOOK.format(
        seen=seen, flag=workdir / "fail"))
    return seen, hook


@pytest.mark.ch_timeout(60)
def test_on_commit_follows_a_rollback_on_timeout(agent, workdir):
    seen, hook = recording_hook(workdir)
    a, m, lsock = start(agent, workdir,
                        running_xml=system("<hostname>old</hostname>"),
                        extra=["--on-commit", str(hook)])
    try:
        m.create_subscription()
        m.edit_config(target="candidate", config=config(system(
            "<hostname>trial</hostname>")))
        m.commit(confirmed=True, timeout="1")
        assert "<hostname>trial</hostname>" in \
            (seen / "check.0.running").read_text()
        assert "<operation>replace</operation>" in take(m)
        # the timer rolls running back: the program is told, with
        # running as it is now and the change as RFC 6470 edits
        got = wait_file(seen / "rollback.0.running", timeout=15)
        assert "<hostname>old</hostname>" in got
        diff = (seen / "rollback.0.diff").read_text()
        assert diff.startswith('<edits xmlns="urn:ietf:params:xml:ns:yang:'
                               'ietf-netconf-notifications">'), diff
        assert re.search(r"<target[^>]*>/callhome-test:system/"
                         r"callhome-test:hostname</target>"
                         r"<operation>replace</operation>", diff), diff
        # the notification, as before
        xml = take(m, timeout=15)
        assert "<server/>" in xml and "<operation>replace</operation>" in xml
        a.proc.wait_log(r"the on-commit program applied the rolled-back "
                        r"configuration")
        assert hostname(m) == "old"
        assert not (seen / "check.1.running").exists()
        assert not list(a.datastore.glob("on-commit-*"))
    finally:
        m.close_session()
        lsock.close()


@pytest.mark.ch_timeout(60)
def test_on_commit_follows_a_rollback_on_session_loss_and_cancel(agent,
                                                                 workdir):
    seen, hook = recording_hook(workdir)
    a, m, lsock = start(agent, workdir,
                        running_xml=system("<hostname>old</hostname>"),
                        extra=["--on-commit", str(hook)])
    try:
        raw = RawSession(m)
        raw.edit("<hostname>s2</hostname>", target="candidate")
        assert "<ok/>" in raw.rpc("<commit><confirmed/></commit>")
        assert hostname(m) == "s2"
        raw.close()         # the session that made it ends
        got = wait_file(seen / "rollback.0.running")
        assert "<hostname>old</hostname>" in got
        assert hostname(m) == "old"
        # cancel-commit rolls back too; a program that fails on a
        # rollback cannot refuse it: an error in the log, running back
        (workdir / "fail").touch()
        m.edit_config(target="candidate", config=config(system(
            "<hostname>c</hostname>")))
        m.commit(confirmed=True)
        assert hostname(m) == "c"
        m.cancel_commit()
        assert hostname(m) == "old"
        assert "<hostname>old</hostname>" in \
            wait_file(seen / "rollback.1.running")
        a.proc.wait_log(r"error.*the on-commit program failed on the "
                        r"rolled-back configuration: cannot apply it")
        assert len(list(seen.glob("check.*.running"))) == 2
    finally:
        m.close_session()
        lsock.close()


@pytest.mark.ch_timeout(60)
def test_agent_stops_while_on_commit_runs(agent, workdir):
    """The agent stops (SIGTERM) while a check runs: it exits cleanly
    (no leak under ASan), the program's group is killed and its files
    are gone."""
    hook = hook_script(workdir, "hook.sh",
                       f"touch {workdir}/started\nsleep 60\n")
    a, m, lsock = start(agent, workdir, extra=["--on-commit", str(hook)])
    raw = RawSession(m)
    raw.send("<edit-config><target><running/></target>"
             + config(system("<hostname>x</hostname>")) + "</edit-config>")
    wait_file(workdir / "started")
    assert list(a.datastore.glob("on-commit-*"))
    lsock.close()
    assert a.proc.stop() == 0
    assert not list(a.datastore.glob("on-commit-*"))
    running = a.datastore / "running.xml"
    assert not running.exists() or "x<" not in running.read_text()


@pytest.mark.ch_timeout(60)
def test_agent_stopping_waits_for_a_rollback_program(agent, workdir):
    """The agent stops with a confirmed commit pending: its session ends,
    running is rolled back and the agent waits for the program to apply
    that before it exits."""
    done = workdir / "applied"
    hook = hook_script(workdir, "hook.sh", f"""
[ "$CALLHOME_ON_COMMIT" = rollback ] || exit 0
sleep 1
cp "$1" {done}
""")
    a, m, lsock = start(agent, workdir,
                        running_xml=system("<hostname>old</hostname>"),
                        extra=["--on-commit", str(hook)])
    m.edit_config(target="candidate", config=config(system(
        "<hostname>new</hostname>")))
    m.commit(confirmed=True)
    lsock.close()
    assert a.proc.stop(timeout=15) == 0
    assert "<hostname>old</hostname>" in done.read_text()
    a.proc.wait_log(r"the on-commit program applied the rolled-back")
    assert not list(a.datastore.glob("on-commit-*"))


# ---- :xpath filters (RFC 6241 8.9) ----

def test_xpath_filters(agent, workdir):
    a, m, lsock = start(agent, workdir)
    ns = {"t": T}
    try:
        m.edit_config(target="running", config=config(
            system("<hostname>xp</hostname><mtu>9000</mtu>")
            + f'<interfaces xmlns="{T}"><interface><name>eth0</name>'
            '<description>up</description></interface><interface>'
            '<name>eth1</name><description>down</description>'
            '</interface></interfaces>'))
        xml = m.get_config(source="running", filter=(
            "xpath", (ns, "/t:system/t:hostname"))).data_xml
        assert "<hostname>xp</hostname>" in xml
        assert "<system" in xml and "<mtu>" not in xml
        assert "interfaces" not in xml
        # ancestors and keys come along
        xml = m.get_config(source="running", filter=(
            "xpath", (ns, "/t:interfaces/t:interface"
                          "[t:description='down']/t:description"))).data_xml
        assert re.search(r"<interface><name>eth1</name><description>down"
                         r"</description></interface>", xml), xml
        assert "eth0" not in xml
        # another prefix for the same namespace; nothing selected
        xml = m.get_config(source="running", filter=(
            "xpath", ({"x": T}, "/x:system/x:banner"))).data_xml
        assert "<system" not in xml and "hostname" not in xml
        # <get> too
        xml = m.get(filter=("xpath", (ns, "/t:system/t:mtu"))).data_xml
        assert "<mtu>9000</mtu>" in xml and "hostname" not in xml
        # not a node-set, not an expression, undeclared prefix
        for bad in ("count(/t:system)", "/t:system[", "/q:system"):
            with pytest.raises(RPCError) as ei:
                m.get_config(source="running",
                             filter=("xpath", (ns, bad)))
            assert ei.value.tag == "invalid-value", bad
    finally:
        m.close_session()
        lsock.close()


# ---- yang-library (RFC 7950 5.6.4, RFC 8525) ----

YANGLIB = "urn:ietf:params:xml:ns:yang:ietf-yang-library"


def test_yang_library(agent, workdir):
    a, m, lsock = start(agent, workdir)
    try:
        caps = [c for c in m.server_capabilities
                if c.startswith(CAP + "yang-library:1.0?")]
        assert len(caps) == 1
        found = re.fullmatch(re.escape(CAP) + r"yang-library:1\.0\?"
                             r"revision=2019-01-04&module-set-id=(\d+)",
                             caps[0])
        assert found, caps
        set_id = found.group(1)
        xml = m.get(filter=("subtree",
                            f'<yang-library xmlns="{YANGLIB}"/>')).data_xml
        assert f"<content-id>{set_id}</content-id>" in xml
        assert "<name>callhome-test</name>" in xml
        assert "<revision>2024-05-01</revision>" in xml
        assert "callhome-nc-edit" not in xml
        # state: not in get-config, and xpath reaches it
        assert "yang-library" not in m.get_config(source="running").data_xml
        xml = m.get(filter=("xpath", ({"yl": YANGLIB},
                                      "/yl:yang-library/yl:content-id"))
                    ).data_xml
        assert f"<content-id>{set_id}</content-id>" in xml
        assert "<module-set>" not in xml
    finally:
        m.close_session()
        lsock.close()
