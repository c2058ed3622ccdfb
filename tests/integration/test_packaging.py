"""What the packages install, checked on the build: `make install` into a
DESTDIR, the man pages (rendered with man -l, no groff warnings, every
option there), the systemd units (systemd-analyze verify), the bash
completion (commands, options, device names asked of a running hub).
The .deb in a fresh Debian root is ctest's packaging.deb
(packaging/test-deb.sh)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import _require_binary, _require_tools
from helpers import build_dir

ROOT = Path(__file__).resolve().parents[2]
PAGES = {"callhome-hub": "man8/callhome-hub.8",
         "callhomed": "man8/callhomed.8",
         "callhome": "man1/callhome.1"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """cmake --install of the build into a DESTDIR: (destdir, prefix)."""
    _require_binary("callhome-hub")
    dest = tmp_path_factory.mktemp("destdir")
    r = subprocess.run(["cmake", "--install", str(build_dir())],
                       env=dict(os.environ, DESTDIR=str(dest)),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    prefix = next(p for p in dest.rglob("bin") if (p / "callhomed").exists()
                  ).parent
    return dest, prefix


def test_install_tree(installed):
    dest, prefix = installed
    for f in ("bin/callhome", "bin/callhome-hub", "bin/callhomed",
              "share/man/man1/callhome.1", "share/man/man1/callhome-forward.1",
              "share/man/man8/callhome-hub.8", "share/man/man8/callhomed.8",
              "share/bash-completion/completions/callhome",
              "share/doc/callhome/configuration.md",
              "share/doc/callhome/README.md"):
        assert (prefix / f).is_file(), f
    assert list((prefix / "share/callhome/yang").glob("*.yang"))
    for conf in ("hub.conf", "callhomed.conf"):
        path = dest / "etc/callhome" / conf
        assert path.is_file()
        # the example the package installs is a valid file
        prog = "callhome-hub" if conf == "hub.conf" else "callhomed"
        r = subprocess.run([str(prefix / "bin" / prog), "--config",
                            str(path), "--log-level", "nonsense"],
                           capture_output=True, text=True, timeout=10)
        assert "--log-level: 'nonsense'" in r.stderr, r.stderr
    assert len(list(dest.rglob("*.service"))) == 2


@pytest.mark.parametrize("prog", sorted(PAGES))
def test_man_page_renders_every_option(installed, prog):
    _require_tools("/usr/bin/man", "/usr/bin/groff")
    _, prefix = installed
    page = prefix / "share/man" / PAGES[prog]
    r = subprocess.run(["groff", "-ww", "-z", "-man", str(page)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    r = subprocess.run(["man", "-l", str(page)], capture_output=True,
                       text=True, timeout=30,
                       env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="",
                                LC_ALL="C.UTF-8"))
    assert r.returncode == 0, r.stderr
    text = r.stdout.replace("\u2010", "-")
    helptext = subprocess.run([str(_require_binary(prog)), "--help"],
                              capture_output=True, text=True).stdout
    opts = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]+", helptext))
    assert len(opts) > 4
    missing = [o for o in sorted(opts) if o not in text]
    assert not missing, f"{page} lacks {missing}"


def test_units_verify(installed, tmp_path):
    """systemd-analyze verify on the installed units, their ExecStart
    pointing into the DESTDIR (verify wants the program to exist); not a
    line on stderr (an unknown key is only a warning there)."""
    _require_tools("/usr/bin/systemd-analyze")
    dest, prefix = installed
    units = list(dest.rglob("*.service"))
    for u in units:
        text = u.read_text()
        assert re.search(r"^ExecStart=%s/bin/" % re.escape(
            "/" + str(prefix.relative_to(dest))), text, re.M), text
        text = re.sub(r"^ExecStart=", "ExecStart=" + str(dest), text,
                      flags=re.M)
        (tmp_path / u.name).write_text(text)
    hub = (tmp_path / "callhome-hub.service").read_text()
    assert re.search(r"^ExecStart=\S+ --control-group callhome$", hub, re.M)
    for opt in ("ProtectSystem=strict", "PrivateTmp=yes",
                "NoNewPrivileges=yes", "StateDirectory=callhome",
                "CapabilityBoundingSet=CAP_NET_BIND_SERVICE"):
        assert opt in hub
    r = subprocess.run(["systemd-analyze", "verify"] +
                       [str(tmp_path / u.name) for u in units],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, MANPATH=str(prefix /
                                                        "share/man")))
    assert r.returncode == 0 and r.stderr == "", r.stderr


def complete(installed, words, env):
    """The completions bash offers for words (the last one being
    completed), with the installed script."""
    _, prefix = installed
    script = prefix / "share/bash-completion/completions/callhome"
    arr = " ".join("'%s'" % w for w in words)
    prog = f"""source {script}
COMP_WORDS=({arr}); COMP_CWORD={len(words) - 1}
COMP_LINE="${{COMP_WORDS[*]}}"; COMP_POINT=${{#COMP_LINE}}
_callhome callhome "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    r = subprocess.run(["bash", "--norc", "-c", prog], capture_output=True,
                       text=True, timeout=30, env=env)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


def test_bash_completion(installed, hub):
    h = hub()
    rc, _, err = h.cli("add", "lyon-cpe-1", "--fingerprint",
                       "SHA256:" + "A" * 43)
    assert rc == 0, err
    rc, _, err = h.cli("add", "lyon-cpe-2", "--fingerprint",
                       "SHA256:" + "B" * 43)
    assert rc == 0, err
    env = dict(os.environ, PATH=f"{build_dir()}:{os.environ['PATH']}")
    assert {"devices", "device", "edit-config", "approve"} <= complete(
        installed, ["callhome", ""], env)
    assert complete(installed, ["callhome", "app"], env) == {"approve"}
    assert {"--hub", "--json", "--timeout"} <= complete(
        installed, ["callhome", "--"], env)
    assert "--no-startup" in complete(
        installed, ["callhome", "edit-config", "--"], env)
    # device names from the running hub
    assert complete(installed, ["callhome", "--hub", str(h.sock), "device",
                                "lyon"], env) == {"lyon-cpe-1", "lyon-cpe-2"}
    env["CALLHOME_HUB"] = str(h.sock)
    assert complete(installed, ["callhome", "revoke", "lyon-cpe-"],
                    env) == {"lyon-cpe-1", "lyon-cpe-2"}
    # no hub: nothing, quickly, and no error
    env["CALLHOME_HUB"] = "/nonexistent/hub.sock"
    assert complete(installed, ["callhome", "revoke", ""], env) == set()
