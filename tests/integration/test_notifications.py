"""RFC 5277 notifications on the agent's schema-aware datastore: the
NETCONF stream with netconf-config-change (RFC 6470) for every change of
running, replay from the persisted log, subtree filters, :interleave and
the create-subscription errors. The test module is tests/yang/callhome-test."""

import re
import time

import pytest

ncclient = pytest.importorskip(
    "ncclient", reason="python3-ncclient (Debian) is not installed")
from ncclient.operations.rpc import RPCError        # noqa: E402

from ncsession import (CAP, MODULE, NCN, NOTIF, PAST, T,  # noqa: E402
                       RawSession, config, connect, drain, no_notification,
                       own, start, system, take)


def test_config_change_notification_and_interleave(agent, workdir):
    a, m, lsock = start(agent, workdir)
    try:
        caps = set(m.server_capabilities)
        assert CAP + "notification:1.0" in caps
        assert CAP + "interleave:1.0" in caps
        m.create_subscription()
        raw = RawSession(m)
        raw.edit("<hostname>dev7</hostname>")
        xml = take(m)
        assert f'<notification xmlns="{NOTIF}">' in xml
        assert re.search(r"<eventTime>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
                         r"</eventTime>", xml)
        assert f'<netconf-config-change xmlns="{NCN}">' in xml
        assert "<username>ops</username>" in xml
        assert f"<session-id>{raw.session_id}</session-id>" in xml
        assert "<source-host>127.0.0.1</source-host>" in xml
        assert "<datastore>running</datastore>" in xml
        # the container did not exist: its creation is the edit
        assert re.search(r"<edit><target[^>]*>/callhome-test:system"
                         r"</target><operation>create</operation></edit>",
                         xml), xml
        assert f'<target xmlns:callhome-test="{T}">' in xml
        assert xml.count("<edit>") == 1
        raw.edit("<dns-server>10.0.0.1</dns-server>")
        xml = take(m)
        assert re.search(r"<target[^>]*>/callhome-test:system/"
                         r"callhome-test:dns-server\[\.='10\.0\.0\.1'\]"
                         r"</target><operation>create</operation>", xml), xml
        # :interleave: rpcs keep working on the subscribed session
        reply = m.get_config(source="running",
                             filter=("subtree", f'<system xmlns="{T}"/>'))
        assert "<hostname>dev7</hostname>" in reply.data_xml
        # its own change: replace of the value
        m.edit_config(target="running", config=config(system(
            "<hostname>dev8</hostname>")))
        xml = take(m)
        assert re.search(r"<target[^>]*>/callhome-test:system/"
                         r"callhome-test:hostname</target>"
                         r"<operation>replace</operation>", xml), xml
        assert f"<session-id>{m.session_id}</session-id>" in xml
        # commit of the candidate
        raw.rpc(f"<edit-config><target><candidate/></target>"
                f"{config(system('<hostname>dev9</hostname>'))}"
                f"</edit-config>")
        assert "<ok/>" in raw.rpc("<commit/>")
        xml = take(m)
        assert "<operation>replace</operation>" in xml
        assert f"<session-id>{raw.session_id}</session-id>" in xml
        # a second subscription on the same session
        with pytest.raises(RPCError) as ei:
            m.create_subscription()
        assert ei.value.tag == "operation-failed"
        # the replay log is persisted in the datastore directory
        log = (a.datastore / "notifications.log").read_text()
        ours = [r for r in log.split("<netconf-config-change")[1:]
                if not own(r)]
        assert len(ours) == 4, log
        assert (a.datastore / "notifications.log").stat().st_mode \
            & 0o777 == 0o600
        raw.close()
    finally:
        m.close_session()
        lsock.close()


def test_confirmed_commit_rollback_is_notified(agent, workdir):
    a, m, lsock = start(agent, workdir)
    try:
        m.create_subscription()
        raw = RawSession(m)
        raw.rpc(f"<edit-config><target><candidate/></target>"
                f"{config(system('<hostname>tmp</hostname>'))}"
                f"</edit-config>")
        assert "<ok/>" in raw.rpc(
            "<commit><confirmed/><confirm-timeout>1</confirm-timeout>"
            "</commit>")
        xml = take(m)
        assert "<operation>create</operation>" in xml
        xml = take(m, timeout=15)	# the rollback, by the agent
        assert "<server/>" in xml
        assert "<operation>delete</operation>" in xml
        raw.close()
    finally:
        m.close_session()
        lsock.close()


def test_replay_with_start_and_stop_time(agent, workdir):
    a, m, lsock = start(agent, workdir)
    try:
        m.edit_config(target="running", config=config(system(
            "<hostname>r1</hostname>")))
        m.edit_config(target="running", config=config(system(
            "<hostname>r2</hostname>")))
        time.sleep(1.1)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        m.create_subscription(start_time=PAST, stop_time=now)
        first, second = take(m), take(m)
        assert "<operation>create</operation>" in first
        assert "<operation>replace</operation>" in second
        assert "replayComplete" in take(m)
        assert "notificationComplete" in take(m)
        # the subscription ended: a new one is accepted, with replay
        # from now on only
        m.create_subscription(start_time=now)
        assert "replayComplete" in take(m)
        m.edit_config(target="running", config=config(system(
            "<hostname>r3</hostname>")))
        assert "<operation>replace</operation>" in take(m)
    finally:
        m.close_session()
        lsock.close()


def test_replay_log_survives_a_restart(agent, workdir):
    a, m, lsock = start(agent, workdir)
    m.edit_config(target="running", config=config(system(
        "<hostname>keep</hostname>")))
    m.create_subscription(start_time=PAST)	# freed at the stop too
    m.close_session()
    assert a.proc.stop() == 0		# clean exit (leaks under ASan)
    drain(lsock)
    # the same datastore directory, a new process; it calls the same
    # port (running holds the call-home configuration, which wins)
    port = lsock.getsockname()[1]
    key = workdir / "mgr_key"
    b = agent(name="agent2", call_home=[f"127.0.0.1:{port}"],
              authorized=[f"{key}.pub"], running_xml=None,
              extra=MODULE + ["--datastore", str(a.datastore)])
    b.fingerprint
    m = connect(lsock, b, key)
    try:
        m.create_subscription(start_time=PAST)
        xml = take(m)
        assert "<operation>create</operation>" in xml
        assert "replayComplete" in take(m)
    finally:
        m.close_session()
        lsock.close()


def test_subscription_filter(agent, workdir):
    a, m, lsock = start(agent, workdir)
    try:
        # matches only changes made by session 999
        m.create_subscription(filter=("subtree", (
            f'<netconf-config-change xmlns="{NCN}"><changed-by>'
            f'<session-id>999</session-id></changed-by>'
            f'</netconf-config-change>')))
        raw = RawSession(m)
        raw.edit("<hostname>f1</hostname>")
        assert no_notification(m, 2)
        raw.close()
        raw2 = RawSession(m)
        reply = raw2.rpc(
            f'<create-subscription xmlns="{NOTIF}"><filter type="subtree">'
            f'<netconf-config-change xmlns="{NCN}"><datastore/>'
            f'</netconf-config-change></filter></create-subscription>')
        assert "<ok/>" in reply, reply
        m.edit_config(target="running", config=config(system(
            "<hostname>f2</hostname>")))
        got = raw2.recv()
        assert "<datastore>running</datastore>" in got
        assert "<edit>" not in got and "changed-by" not in got
        raw2.close()
    finally:
        m.close_session()
        lsock.close()


@pytest.mark.parametrize("params,tag", [
    ("<stream>OTHER</stream>", "invalid-value"),
    (f"<stopTime>{PAST}</stopTime>", "missing-element"),
    ("<startTime>2999-01-01T00:00:00Z</startTime>", "bad-element"),
    ("<startTime>2001-01-01T00:00:00Z</startTime>"
     f"<stopTime>{PAST}</stopTime>", "bad-element"),
    ("<startTime>yesterday</startTime>", "invalid-value"),
    ('<filter type="xpath" select="/a"/>', "operation-not-supported"),
])
def test_create_subscription_errors(agent, workdir, params, tag):
    a, m, lsock = start(agent, workdir)
    try:
        raw = RawSession(m)
        reply = raw.rpc(f'<create-subscription xmlns="{NOTIF}">{params}'
                        f'</create-subscription>')
        assert f"<error-tag>{tag}</error-tag>" in reply, reply
        # not subscribed: a valid one still works
        reply = raw.rpc(f'<create-subscription xmlns="{NOTIF}">'
                        f'<stream>NETCONF</stream></create-subscription>')
        assert "<ok/>" in reply, reply
        raw.close()
    finally:
        m.close_session()
        lsock.close()


def test_schema_less_mode_has_no_notifications(agent, workdir):
    a, m, lsock = start(agent, workdir, running_xml="", modules=())
    try:
        assert CAP + "notification:1.0" not in set(m.server_capabilities)
    finally:
        m.close_session()
        lsock.close()


def test_stop_time_in_the_future_ends_the_subscription(agent, workdir):
    a, m, lsock = start(agent, workdir)
    try:
        now = time.time()
        stop = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 2))
        m.create_subscription(start_time=PAST, stop_time=stop)
        assert "replayComplete" in take(m)
        m.edit_config(target="running", config=config(system(
            "<hostname>live</hostname>")))
        assert "<operation>create</operation>" in take(m)
        assert "notificationComplete" in take(m, timeout=10)
        assert time.time() >= now + 1
        m.edit_config(target="running", config=config(system(
            "<hostname>after</hostname>")))
        assert no_notification(m, 1)
    finally:
        m.close_session()
        lsock.close()
