"""RFC 5277 notifications on the agent's schema-aware datastore: the
NETCONF stream with netconf-config-change (RFC 6470) for every change of
running, replay from the persisted log, subtree filters, :interleave and
the create-subscription errors. The test module is tests/yang/callhome-test."""

import re
import time

import pytest

from fakes import recv_until
from helpers import listener, pub_blob_b64
from test_netconf_ops import MODULE, RawSession, config, start, system

ncclient = pytest.importorskip(
    "ncclient", reason="python3-ncclient (Debian) is not installed")
import ncclient.manager                             # noqa: E402
from ncclient.operations.rpc import RPCError        # noqa: E402

CAP = "urn:ietf:params:netconf:capability:"
NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
T = "urn:callhome:params:xml:ns:yang:callhome-test"
BASE = "urn:ietf:params:xml:ns:netconf:base:1.0"
PAST = "2000-01-01T00:00:00Z"


def edit_raw(raw, body, target="running"):
    reply = raw.rpc(f"<edit-config><target><{target}/></target>"
                    f"{config(system(body))}</edit-config>")
    assert "<ok/>" in reply, reply
    return reply


def recv(raw):
    """The next message on a RawSession (base:1.1 framing)."""
    got = recv_until(raw.chan, b"\n##\n")
    return re.sub(rb"\n#\d+\n|\n##\n", b"", got).decode()


def take(m, timeout=10):
    n = m.take_notification(timeout=timeout)
    assert n is not None, "no notification came"
    return n.notification_xml


def test_config_change_notification_and_interleave(agent, workdir):
    a, m, lsock = start(agent, workdir)
    try:
        caps = set(m.server_capabilities)
        assert CAP + "notification:1.0" in caps
        assert CAP + "interleave:1.0" in caps
        m.create_subscription()
        raw = RawSession(m)
        edit_raw(raw, "<hostname>dev7</hostname>")
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
        edit_raw(raw, "<dns-server>10.0.0.1</dns-server>")
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
        assert log.count("<netconf-config-change") == 4
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
    lsock.close()
    assert a.proc.stop() == 0		# clean exit (leaks under ASan)
    # the same datastore directory, a new process
    lsock, port = listener()
    key = workdir / "mgr_key"
    b = agent(name="agent2", call_home=[f"127.0.0.1:{port}"],
              authorized=[f"{key}.pub"], running_xml=None,
              extra=MODULE + ["--datastore", str(a.datastore)])
    b.fingerprint
    conn, peer = lsock.accept()
    m = ncclient.manager.connect(
        host=peer[0], port=peer[1], sock=conn, username="ops",
        key_filename=str(key), hostkey_b64=pub_blob_b64(b.pub),
        allow_agent=False, look_for_keys=False, timeout=20)
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
        edit_raw(raw, "<hostname>f1</hostname>")
        assert m.take_notification(timeout=2) is None
        raw.close()
        raw2 = RawSession(m)
        reply = raw2.rpc(
            f'<create-subscription xmlns="{NOTIF}"><filter type="subtree">'
            f'<netconf-config-change xmlns="{NCN}"><datastore/>'
            f'</netconf-config-change></filter></create-subscription>')
        assert "<ok/>" in reply, reply
        m.edit_config(target="running", config=config(system(
            "<hostname>f2</hostname>")))
        got = recv(raw2)
        assert "<datastore>running</datastore>" in got
        assert "<edit>" not in got and "changed-by" not in got
        raw2.close()
    finally:
        m.close_session()
        lsock.close()


@pytest.mark.parametrize("params,tag", [
    (f"<stream>OTHER</stream>", "invalid-value"),
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
        assert m.take_notification(timeout=1) is None
    finally:
        m.close_session()
        lsock.close()
