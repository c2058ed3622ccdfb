"""The agent's call-home behaviour as configuration (the
callhome-netconf-server module in running): several managers at once,
endpoint order per reconnect-strategy, periodic connections with
idle-timeout, live reconfiguration over NETCONF (ncclient and our hub)
without a duplicate session, and dead-peer detection after a network cut
in namespaces."""

import datetime
import re
import socket
import subprocess
import time

import pytest

from helpers import Nat, free_port, listener, wait_for

ncclient = pytest.importorskip(
    "ncclient", reason="python3-ncclient (Debian) is not installed")

from ncsession import MODULE, config, connect, drain  # noqa: E402
from helpers import ssh_keygen  # noqa: E402

CHNS = "urn:callhome:yang:callhome-netconf-server"
CH_FILTER = ("subtree", f'<netconf-server xmlns="{CHNS}"/>')
FAST = ["--backoff-base", "100", "--backoff-max", "500"]


def endpoint(name, port, host="127.0.0.1", transport="ssh", extra=""):
    return (f"<endpoint><name>{name}</name><{transport}>"
            f"<tcp-client-parameters><remote-address>{host}"
            f"</remote-address><remote-port>{port}</remote-port>"
            f"{extra}</tcp-client-parameters></{transport}></endpoint>")


def client(name, endpoints, connection="<persistent/>", strategy=""):
    return (f"<netconf-client><name>{name}</name><endpoints>"
            f"{''.join(endpoints)}</endpoints><connection-type>{connection}"
            f"</connection-type><reconnect-strategy>{strategy}"
            f"</reconnect-strategy></netconf-client>")


def callhome(*clients):
    return (f'<netconf-server xmlns="{CHNS}" xmlns:chns="{CHNS}"><call-home>'
            f"{''.join(clients)}</call-home></netconf-server>")


def established(port):
    """TCP connections established to local port (the manager side)."""
    out = subprocess.run(
        ["ss", "-Htn", "state", "established", f"( sport = :{port} )"],
        capture_output=True, text=True, check=True).stdout
    return len([line for line in out.splitlines() if line.strip()])


def log_times(proc, regex):
    """Wall-clock times (epoch s) of the agent's log lines matching
    regex."""
    times = []
    for line in proc.log().splitlines():
        if re.search(regex, line):
            stamp = line.split(" ", 1)[0]
            t = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
            times.append(t.replace(tzinfo=datetime.timezone.utc)
                         .timestamp())
    return times


def test_two_managers_at_once_from_a_startup_file(hub, agent):
    """A factory-fresh device: startup.xml names two managers; the agent
    keeps a session with each, one connection each."""
    h1, h2 = hub(name="h1"), hub(name="h2")
    a = agent(call_home=[], authorized=[h1.pub, h2.pub], running_xml=None,
              startup_xml=callhome(client("noc", [endpoint("a", h1.port)]),
                                   client("audit", [endpoint("b", h2.port)])),
              extra=MODULE + FAST)
    h1.wait_device_connected(1)
    h2.wait_device_connected(1)
    assert established(h1.port) == 1 and established(h2.port) == 1
    assert h1.devices()[0]["fingerprint"] == a.fingerprint
    # the configuration is data like any other: the hub reads it back
    rc, out, err = h1.cli("get-config", a.fingerprint)
    assert rc == 0, err
    assert "<name>audit</name>" in out and "<name>noc</name>" in out
    # one manager going away does not disturb the other
    h1.proc.stop()
    a.proc.wait_log(r"client=noc .*call-home session ended")
    time.sleep(0.5)
    assert established(h2.port) == 1
    assert h2.devices()[0]["state"] == "connected"


def test_tcp_keepalives_as_configured(hub, agent):
    """tcp-client-parameters/keepalives reach the socket: the kernel runs
    a keep-alive timer on the agent's connection, with the idle time."""
    h = hub()
    ka = ("<keepalives><idle-time>15</idle-time><max-probes>4</max-probes>"
          "<probe-interval>5</probe-interval></keepalives>")
    a = agent(call_home=[], authorized=[h.pub], running_xml=None,
              startup_xml=callhome(client("noc", [
                  endpoint("e", h.port, extra=ka)])),
              extra=MODULE + FAST)
    h.wait_device_connected(1)
    out = subprocess.run(["ss", "-Htno", "state", "established",
                          f"( dport = :{h.port} )"], capture_output=True,
                         text=True, check=True).stdout
    found = re.search(r"timer:\(keepalive,(\d+)(?:\.\d+)?sec", out)
    assert found, out
    assert 10 <= int(found.group(1)) <= 15, out
    assert a.proc.alive()


def test_flags_are_written_to_running_and_running_wins(agent, workdir):
    mgr_key = ssh_keygen(workdir / "mgr_key", comment="mgr")
    l1, p1 = listener()
    l2, p2 = listener()
    a = agent(call_home=[f"127.0.0.1:{p1}"], authorized=[f"{mgr_key}.pub"],
              running_xml=None, extra=MODULE)
    a.fingerprint
    m = connect(l1, a, mgr_key)
    try:
        xml = m.get_config(source="running", filter=CH_FILTER).data_xml
        assert "<name>manager</name>" in xml
        assert f"<remote-port>{p1}</remote-port>" in xml
        assert "<persistent/>" in xml or "<persistent></persistent>" in xml
    finally:
        m.close_session()
    a.proc.stop()
    drain(l1)
    # a restart with other flags: running's configuration is kept
    running = (a.datastore / "running.xml").read_text()
    assert f"<remote-port>{p1}</remote-port>" in running
    b = agent(name="again", call_home=[f"127.0.0.1:{p2}"],
              authorized=[f"{mgr_key}.pub"], running_xml=running,
              extra=MODULE)
    b.proc.wait_log(r"flags are ignored")
    b.fingerprint
    m = connect(l1, b, mgr_key)
    m.close_session()
    l1.close()
    l2.close()


@pytest.mark.parametrize("start_with", ["first-listed", "last-connected"])
def test_endpoint_order_and_attempts(hub, agent, start_with):
    """max-attempts tries on each endpoint, then the next one; with
    last-connected a new round starts where the last session was."""
    dead1, dead2 = free_port(), free_port()
    port = free_port()
    h = hub(port=port)
    strategy = (f"<start-with>{start_with}</start-with>"
                "<max-attempts>2</max-attempts><max-wait>2</max-wait>")
    a = agent(call_home=[], authorized=[h.pub], running_xml=None,
              startup_xml=callhome(client("noc", [
                  endpoint("d1", dead1), endpoint("d2", dead2),
                  endpoint("hub", port)], strategy=strategy)),
              extra=MODULE + FAST)
    h.wait_device_connected(1)
    calls = re.findall(r"calling home to 127\.0\.0\.1:(\d+)", a.proc.log())
    assert calls == [str(p) for p in (dead1, dead1, dead2, dead2, port)]
    # the manager goes away and comes back on the same port
    mark = a.proc.mark()
    h.proc.stop()
    a.proc.wait_log(r"call-home session ended", since=mark)
    h.restart("back")
    h.wait_device_connected(1, timeout=30)
    calls = re.findall(r"calling home to 127\.0\.0\.1:(\d+)",
                       a.proc.log()[mark:])
    if start_with == "first-listed":
        assert calls[:2] == [str(dead1)] * 2, calls
    else:
        assert calls[0] == str(port), calls


def test_last_connected_survives_a_restart(hub, agent):
    """A device that reboots calls first where it last got through."""
    dead = free_port()
    h = hub()
    cfg = callhome(client("noc", [endpoint("d", dead),
                                  endpoint("hub", h.port)],
                          strategy="<start-with>last-connected</start-with>"
                                   "<max-attempts>1</max-attempts>"))
    a = agent(call_home=[], authorized=[h.pub], running_xml=None,
              startup_xml=cfg, extra=MODULE + FAST)
    h.wait_device_connected(1)
    a.proc.stop()
    assert (a.datastore / "callhome-last-connected").read_text() == \
        "noc\thub\n"
    b = agent(name="rebooted", call_home=[], authorized=[h.pub],
              running_xml=None,
              extra=MODULE + FAST + ["--datastore", a.datastore])
    b.proc.wait_log(r"NETCONF hello done")
    calls = re.findall(r"calling home to 127\.0\.0\.1:(\d+)", b.proc.log())
    assert calls[0] == str(h.port), calls


def test_random_selection_spreads_the_first_endpoint(agent, workdir):
    ports = [free_port() for _ in range(3)]
    key = ssh_keygen(workdir / "k")
    a = agent(call_home=[], authorized=[f"{key}.pub"], running_xml=None,
              startup_xml=callhome(client("noc", [
                  endpoint(f"e{i}", p) for i, p in enumerate(ports)],
                  strategy="<start-with>random-selection</start-with>"
                           "<max-attempts>1</max-attempts>")),
              extra=MODULE + FAST)
    a.proc.wait_log(r"round 8 failed", timeout=30)
    firsts = []
    for chunk in re.split(r"round \d+ failed", a.proc.log())[:8]:
        found = re.search(r"calling home to 127\.0\.0\.1:(\d+)", chunk)
        firsts.append(found.group(1))
    # 8 rounds from one endpoint each time: (1/3)^7 by chance
    assert len(set(firsts)) >= 2, firsts


def test_periodic_calls_on_the_anchor_and_honours_idle_timeout(hub, agent):
    """period 1 'minute' of 3 s from an anchor in the past: calls start at
    anchor + k * 3 s; a session with no NETCONF message for idle-timeout
    (1 s) is closed and the next call waits for the next period."""
    h = hub()
    anchor = "2026-01-01T00:00:00Z"
    a = agent(call_home=[], authorized=[h.pub], running_xml=None,
              startup_xml=callhome(client("noc", [endpoint("h", h.port)],
                  connection="<periodic><period>1</period><anchor-time>"
                             f"{anchor}</anchor-time><idle-timeout>1"
                             "</idle-timeout></periodic>")),
              extra=MODULE + FAST + ["--minute-ms", "3000"])
    a.proc.wait_log(r"(?s)(closing \(idle-timeout\).*){3}", timeout=20)
    starts = log_times(a.proc, r"connected to manager")
    closes = log_times(a.proc, r"closing \(idle-timeout\)")
    assert len(starts) >= 3 and len(closes) >= 3
    t0 = datetime.datetime(2026, 1, 1,
                           tzinfo=datetime.timezone.utc).timestamp()
    for t in starts:
        into = (t - t0 + 0.05) % 3.0            # 50 ms of clock slack
        assert into < 0.55, (t, into)         # just after a period start
    for s, c in zip(starts, closes):
        assert 0.9 < c - s < 1.8, (s, c)      # idle-timeout 1 s
    # never more than one connection
    assert established(h.port) <= 1


def test_periodic_graceful_close_waits_ungraceful_calls_at_once(agent,
                                                                workdir):
    key = ssh_keygen(workdir / "mgr_key", comment="mgr")
    lsock, port = listener()
    a = agent(call_home=[], authorized=[f"{key}.pub"], running_xml=None,
              startup_xml=callhome(client("noc", [endpoint("h", port)],
                  connection="<periodic><period>1</period><idle-timeout>0"
                             "</idle-timeout></periodic>")),
              extra=MODULE + FAST + ["--minute-ms", "8000"])
    a.fingerprint
    m = connect(lsock, a, key)
    t0 = time.monotonic()
    m.close_session()                          # graceful
    a.proc.wait_log(r"periodic: next call in [1-9]")
    lsock.settimeout(4)
    with pytest.raises(socket.timeout):
        lsock.accept()                         # not before the period
    lsock.settimeout(10)
    m = connect(lsock, a, key)
    assert time.monotonic() - t0 > 6
    # cut without <close-session>: the agent calls again at once
    mark = a.proc.mark()
    m._session._transport.close()
    t1 = time.monotonic()
    conn, _ = lsock.accept()
    assert time.monotonic() - t1 < 3
    conn.close()
    assert "periodic: next call" not in a.proc.log()[mark:].split(
        "calling home")[0]
    lsock.close()


def test_live_reconfiguration_from_ncclient_never_duplicates(agent,
                                                             workdir):
    """Moving the only client to another endpoint over NETCONF: the old
    session ends before the new one starts; unchanged clients stay."""
    key = ssh_keygen(workdir / "mgr_key", comment="mgr")
    l1, p1 = listener()
    l2, p2 = listener()
    l3, p3 = listener()
    a = agent(call_home=[], authorized=[f"{key}.pub"], running_xml=None,
              startup_xml=callhome(client("noc", [endpoint("e", p1)]),
                                   client("audit", [endpoint("e", p3)])),
              extra=MODULE + FAST)
    a.fingerprint
    m = connect(l1, a, key)
    audit = connect(l3, a, key)
    m.edit_config(target="running", config=config(
        f'<netconf-server xmlns="{CHNS}"><call-home><netconf-client>'
        "<name>noc</name><endpoints><endpoint><name>e</name><ssh>"
        f"<tcp-client-parameters><remote-port>{p2}</remote-port>"
        "</tcp-client-parameters></ssh></endpoint></endpoints>"
        "</netconf-client></call-home></netconf-server>"))
    # the old session is closed by the device, then it calls the new port
    wait_for(lambda: not m.connected, 5, "the old session to end")
    t_old = time.monotonic()
    m2 = connect(l2, a, key)
    assert time.monotonic() >= t_old
    assert established(p1) == 0 and established(p2) == 1
    a.proc.wait_log(r"client noc changed: reconnecting")
    # the untouched client kept its session throughout
    assert audit.connected and established(p3) == 1
    assert "<name>audit</name>" in audit.get_config(
        source="running", filter=CH_FILTER).data_xml
    # removing it disconnects it, and nothing calls it again
    m2.edit_config(target="running", config=config(
        f'<netconf-server xmlns="{CHNS}" '
        'xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0"><call-home>'
        '<netconf-client nc:operation="delete"><name>audit</name>'
        "</netconf-client></call-home></netconf-server>"))
    wait_for(lambda: not audit.connected, 5, "audit's session to end")
    a.proc.wait_log(r"client audit removed")
    l3.settimeout(2)
    with pytest.raises(socket.timeout):
        l3.accept()
    assert m2.connected
    m2.close_session()
    for s in (l1, l2, l3):
        s.close()


@pytest.mark.ch_timeout(90)
def test_operator_moves_a_device_to_another_hub(hub, agent):
    """The docs/callhome-config.md recipe: a queued edit-config on hub 1
    adds hub 2; a second one removes hub 1. Counted at each manager, the
    device never has two sessions with one hub."""
    h1 = hub(name="h1", extra=["--confirm-timeout", "30",
                               "--confirm-after", "1"])
    h2 = hub(name="h2")
    a = agent(hub=h1, authorized=[h1.pub, h2.pub], running_xml=None,
              extra=MODULE + FAST)
    h1.wait_device_connected(1)
    add = callhome(client("hub2", [endpoint("h2", h2.port)]))
    r = h1.ctl({"cmd": "edit-config", "device": a.fingerprint,
                "config": add, "wait": True}, timeout=40)
    assert r["job"]["state"] == "done", r
    h2.wait_device_connected(1)
    assert established(h1.port) == 1 and established(h2.port) == 1
    remove = (f'<netconf-server xmlns="{CHNS}" '
              'xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0">'
              '<call-home><netconf-client nc:operation="delete">'
              "<name>manager</name></netconf-client></call-home>"
              "</netconf-server>")
    r = h1.ctl({"cmd": "edit-config", "device": a.fingerprint,
                "config": remove, "wait": True}, timeout=40)
    assert r["job"]["state"] == "done", r
    # the call-home change applies once the commit is confirmed
    a.proc.wait_log(r"client manager removed")
    wait_for(lambda: established(h1.port) == 0, 5, "hub 1 to be left")
    assert established(h2.port) == 1
    rc, out, err = h2.cli("get-config", a.fingerprint)
    assert rc == 0 and "<name>manager</name>" not in out, out


def test_configuration_the_agent_cannot_use_is_refused(agent, workdir):
    """What the schema allows but the agent cannot use (a fingerprint too
    short for its hash) is refused at the edit, with the reason, and
    running is unchanged: it is not found at the next boot."""
    from ncclient.operations.rpc import RPCError
    key = ssh_keygen(workdir / "mgr_key", comment="mgr")
    lsock, port = listener()
    a = agent(call_home=[f"127.0.0.1:{port}"], authorized=[f"{key}.pub"],
              running_xml=None, extra=MODULE)
    a.fingerprint
    m = connect(lsock, a, key)
    tls = ("<tls-server-parameters><server-identity><certificate-file>/c"
           "</certificate-file><private-key-file>/k</private-key-file>"
           "</server-identity><client-authentication><ca-certs-file>/ca"
           "</ca-certs-file></client-authentication>"
           "</tls-server-parameters><netconf-server-parameters>"
           "<client-identity-mappings><cert-to-name><id>1</id>"
           "<fingerprint>04:aa:bb</fingerprint><map-type>chns:san-any"
           "</map-type></cert-to-name>"
           "</client-identity-mappings></netconf-server-parameters>")
    with pytest.raises(RPCError) as ei:
        m.edit_config(target="running", config=config(callhome(client(
            "other", [endpoint("t", 4335, transport="tls", extra="")
                      .replace("</tcp-client-parameters>",
                               "</tcp-client-parameters>" + tls)]))))
    assert ei.value.tag == "operation-failed", ei.value.message
    assert "call-home configuration refused" in ei.value.message
    xml = m.get_config(source="running", filter=CH_FILTER).data_xml
    assert "<name>other</name>" not in xml
    m.close_session()
    lsock.close()


def test_unreachable_client_is_a_notification(agent, workdir):
    key = ssh_keygen(workdir / "mgr_key", comment="mgr")
    lsock, port = listener()
    dead = free_port()
    a = agent(call_home=[], authorized=[f"{key}.pub"], running_xml=None,
              startup_xml=callhome(
                  client("noc", [endpoint("e", port)]),
                  client("lost", [endpoint("e", dead)],
                         strategy="<max-attempts>1</max-attempts>")),
              extra=MODULE + FAST)
    a.fingerprint
    m = connect(lsock, a, key)
    m.create_subscription()
    n = m.take_notification(timeout=15)
    assert n is not None
    xml = n.notification_xml
    assert "call-home-client-unreachable" in xml
    assert "<client>lost</client>" in xml
    assert "Connection refused" in xml
    m.close_session()
    lsock.close()


@pytest.mark.ch_timeout(120)
def test_network_cut_is_found_by_keepalives(nat, hub, agent):
    """The firewall's link towards the manager goes down (no FIN, no RST):
    SSH keep-alives (max-wait 1 s, max-attempts 2) find the dead
    connection within their bound, and the agent calls again when the
    link is back."""
    port = 4334
    h = hub(host=Nat.HUB, port=port, netns_argv=nat.argv("hub", []),
            extra=["--keepalive", "60"])
    a = agent(hub=h, netns_argv=nat.argv("dev", []),
              extra=FAST + ["--keepalive", "1", "--keepalive-count", "2"])
    h.wait_device_connected(1, timeout=20)
    mark = a.proc.mark()
    # the cut: the firewall's link towards the manager goes down
    nat.run("fw", ["ip", "link", "set", "hub0", "down"])
    t0 = time.monotonic()
    a.proc.wait_log(r"no answer to keep-alives", since=mark, timeout=15)
    detected = time.monotonic() - t0
    # bound: max-wait * (max-attempts + 1), plus scheduling slack
    assert detected < 3 + 1.5, detected
    nat.run("fw", ["ip", "link", "set", "hub0", "up"])
    a.proc.wait_log(r"NETCONF hello done", since=mark, timeout=20)
