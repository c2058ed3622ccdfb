"""The border, for real: the agent runs in a device namespace with an
exterior interface (the default route, towards the manager) and an
interior one (a LAN, with a downstream router on it), reads the kernel's
view over rtnetlink and serves its classification as callhome-border
state data, read with ncclient <get>. A default route through the LAN
makes the LAN mixed at once (logged, notified); removing it makes it
interior again only after the hold-down."""

import time
import xml.etree.ElementTree as ET

import pytest

import ncsession
from helpers import Netns, listener, ssh_keygen, wait_for

B = "urn:callhome:border"
BORDER_FILTER = ("subtree", f'<border xmlns="{B}"/>')
HOLDDOWN_S = 3


class BorderNet(Netns):
    """mgr -- dev -- lan, addresses in 198.18.0.0/15 only:

        mgr 198.18.3.1/24 [dev0] == [ext0] 198.18.3.2/24 dev
                                   (default via 198.18.3.1)
        dev 198.18.4.1/24 [lan0] == [dev0] 198.18.4.2/24 lan
                                   (198.18.5.0/24 via 198.18.4.3: a
                                    downstream router on the LAN)
    """

    ROLES = ("mgr", "dev", "lan")
    MGR = "198.18.3.1"
    LAN_GW = "198.18.4.2"

    def _build(self):
        self.veth("mgr", "dev0", f"{self.MGR}/24",
                  "dev", "ext0", "198.18.3.2/24")
        self.veth("dev", "lan0", "198.18.4.1/24",
                  "lan", "dev0", f"{self.LAN_GW}/24")
        self.ip("dev", "route", "add", "default", "via", self.MGR)
        self.ip("dev", "route", "add", "198.18.5.0/24", "via",
                "198.18.4.3")


def border_state(m):
    """{"interfaces": {name: {leaf: text}}, "prefixes": [...],
    "no-exterior": "true"/"false"} from a <get> of the border."""
    root = ET.fromstring(m.get(filter=BORDER_FILTER).data_xml)
    border = root.find(f"{{{B}}}border")
    assert border is not None, "no border state in <get>"
    ifs = {}
    for i in border.findall(f"{{{B}}}interface"):
        leaves = {c.tag.split("}")[1]: c.text for c in i}
        ifs[leaves["name"]] = leaves
    return {"interfaces": ifs,
            "prefixes": [p.text for p in
                         border.findall(f"{{{B}}}interior-prefix")],
            "no-exterior": border.findtext(f"{{{B}}}no-exterior")}


def wait_category(m, name, category, timeout):
    def check():
        st = border_state(m)
        i = st["interfaces"].get(name)
        return st if i and i["category"] == category else None
    return wait_for(check, timeout, f"{name} {category}", interval=0.2)


def take_border_change(m, timeout):
    """The next border-change notification on m, as {leaf: text}."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "no border-change notification came"
        n = m.take_notification(timeout=left)
        assert n is not None, "no border-change notification came"
        root = ET.fromstring(n.notification_xml)
        change = root.find(f"{{{B}}}border-change")
        if change is not None:
            return {c.tag.split("}")[1]: c.text for c in change}


def start_agent(agent, workdir, net, extra=()):
    """Our agent in the device namespace, calling ncclient in mgr."""
    key = ssh_keygen(workdir / "mgr_key", comment="mgr")
    lsock, port = net.call("mgr", listener, BorderNet.MGR)
    a = agent(call_home=[f"{BorderNet.MGR}:{port}"],
              authorized=[f"{key}.pub"], running_xml=None,
              netns_argv=net.argv("dev", []),
              extra=list(ncsession.MODULE) + list(extra))
    a.fingerprint
    return a, ncsession.connect(lsock, a, key)


@pytest.mark.ch_timeout(90)
def test_border_follows_the_routes(netns, agent, workdir):
    net = netns(BorderNet)
    a, m = start_agent(agent, workdir, net,
                       ["--border-holddown", str(HOLDDOWN_S)])
    assert any(B in c for c in m.server_capabilities), \
        "callhome-border is not advertised"

    # the topology: lan0 interior after the hold-down, ext0 exterior
    st = wait_category(m, "lan0", "interior", 4 * HOLDDOWN_S + 10)
    ifs = st["interfaces"]
    assert ifs["ext0"]["category"] == "exterior"
    assert "default route" in ifs["ext0"]["reason"]
    assert ifs["lo"]["category"] == "loopback"
    assert "since" in ifs["lan0"] and "interior-at" not in ifs["lan0"]
    assert "198.18.4.0/24" in st["prefixes"]
    assert "198.18.3.0/24" not in st["prefixes"]
    assert st["no-exterior"] == "false"
    a.proc.wait_log(r"border: lan0 changed from exterior to interior",
                    timeout=5)

    # a default route through the LAN: mixed at once, notified
    m.create_subscription()
    net.ip("dev", "route", "add", "default", "via", BorderNet.LAN_GW,
           "dev", "lan0", "metric", "50")
    ch = take_border_change(m, 10)
    assert ch["interface"] == "lan0"
    assert (ch["old"], ch["new"]) == ("interior", "mixed")
    assert "interior next hop" in ch["reason"]
    st = border_state(m)
    assert st["interfaces"]["lan0"]["category"] == "mixed"
    assert "198.18.4.0/24" not in st["prefixes"]
    a.proc.wait_log(r"warn.*border: lan0 changed from interior to mixed",
                    timeout=5)

    # removed: still mixed while the hold-down runs, interior after it
    removed = time.monotonic()
    net.ip("dev", "route", "del", "default", "via", BorderNet.LAN_GW,
           "dev", "lan0", "metric", "50")
    lan0 = wait_for(lambda: border_state(m)["interfaces"]["lan0"].get(
        "interior-at") and border_state(m)["interfaces"]["lan0"], 5,
        "the hold-down of lan0")
    assert lan0["category"] == "mixed"
    assert "198.18.4.0/24" not in border_state(m)["prefixes"]
    ch = take_border_change(m, 4 * HOLDDOWN_S + 10)
    assert (ch["interface"], ch["old"], ch["new"]) == \
        ("lan0", "mixed", "interior")
    # a lower bound: the inside does not open before the hold-down
    assert time.monotonic() - removed >= HOLDDOWN_S - 0.5
    st = border_state(m)
    assert st["interfaces"]["lan0"]["category"] == "interior"
    assert "198.18.4.0/24" in st["prefixes"]
    m.close_session()


@pytest.mark.ch_timeout(60)
def test_border_fixed_categories(netns, agent, workdir):
    net = netns(BorderNet)
    a, m = start_agent(agent, workdir, net,
                       ["--border-holddown", "0", "--exterior", "lan*",
                        "--interior", "ext0"])
    st = wait_category(m, "lan0", "exterior", 10)
    assert "--exterior lan*" in st["interfaces"]["lan0"]["reason"]
    # configured interior, but it holds the default route
    ext0 = st["interfaces"]["ext0"]
    assert ext0["category"] == "mixed"
    assert "--interior ext0" in ext0["reason"]
    assert st["prefixes"] == []
    assert st["no-exterior"] == "false"
    # the state is valid against the module: an XPath filter reads it
    xp = m.get(filter=("xpath", ({"chb": B},
                                 "/chb:border/chb:interface"
                                 "[chb:name='lan0']/chb:category"))).data_xml
    assert "<category>exterior</category>" in xp.replace(
        f' xmlns="{B}"', ""), xp

    # no default route left: ext0 interior (lan0 stays exterior)
    net.ip("dev", "route", "del", "default")
    st = wait_category(m, "ext0", "interior", 10)
    assert "198.18.3.0/24" in st["prefixes"]
    assert st["no-exterior"] == "false"

    # lan0 down: no exterior next hop at all (section 5.2.2)
    net.ip("dev", "link", "set", "lan0", "down")
    st = wait_category(m, "lan0", "down", 10)
    assert st["interfaces"]["lan0"]["reason"] == "administratively down"
    assert st["no-exterior"] == "true"
    a.proc.wait_log(r"no exterior next hop at all", timeout=5)
    m.close_session()
