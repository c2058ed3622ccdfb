#!/usr/bin/env python3
"""The option reference of the three programs has one source, their
--help text: this script puts it into the man pages (man/NAME.SECTION
from man/NAME.SECTION.in, at the @HELP@ line, as roff) and into
docs/configuration.md (between the `<!-- help:NAME -->` and
`<!-- end help:NAME -->` markers, verbatim).

    scripts/gen-docs.py BUILD_DIR           rewrite them
    scripts/gen-docs.py BUILD_DIR --check   fail if one is out of date

After changing a --help text: rebuild, run it, commit what it changed
(unit.docs runs --check).
"""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = [("callhome-hub", "callhome-hub.8"), ("callhomed", "callhomed.8"),
         ("callhome", "callhome.1")]
CONFIG_DOC = ROOT / "docs" / "configuration.md"


def esc(s):
    """Text for roff: backslashes, option dashes, a leading . or '."""
    s = s.replace("\\", "\\e")
    # an option's dashes are minus signs: no line break after them
    s = re.sub(r"(?<![\w-])--?[a-z0-9][a-z0-9-]*",
               lambda m: m.group(0).replace("-", "\\-"), s)
    if s.startswith((".", "'")):
        s = "\\&" + s
    return s


def term(t):
    """An option or command: names bold, metavariables italic."""
    out = []
    for tok in re.split(r"(\s+|[|,\[\]=:])", t):
        if not tok:
            continue
        if re.fullmatch(r"--?[a-z0-9][a-z0-9-]*|[a-z][a-z-]*", tok):
            out.append("\\fB" + esc(tok) + "\\fR")
        elif re.fullmatch(r"[A-Z][A-Z0-9_.@-]*", tok):
            out.append("\\fI" + esc(tok) + "\\fR")
        else:
            out.append(esc(tok))
    return "".join(out)


def help_to_roff(text):
    """--help after its usage paragraph, as roff: `Heading:` lines are
    .SS, items (2 or 6 spaces in) .TP, deeper lines their description,
    other lines paragraphs."""
    lines = text.splitlines()
    i = lines.index("") + 1 if "" in lines else 0
    deep = [len(ln) - len(ln.lstrip(" ")) for ln in lines
            if ln.startswith("       ") and ln.strip()]
    col = max(set(deep), key=deep.count) if deep else 0
    out, in_item = [], False
    for line in lines[i:]:
        indent = len(line) - len(line.lstrip(" "))
        body = line.strip()
        if not body:
            out.append(".PP")
            in_item = False
        elif indent == 0 and body.endswith(":") and len(body) < 60:
            out.append(".SS " + esc(body[:-1]))
            in_item = False
        elif indent in (2, 6):
            # a description at the column, after one space only
            if (col and len(line) > col and line[col - 1] == " " and
                    line[col].islower()):
                t, d = line[:col].strip(), line[col:].strip()
            else:
                m = re.match(r"(\S.*?)(?:\s{2,}(\S.*))?$", body)
                t, d = m.group(1), m.group(2)
            out.append(".TP")
            out.append(term(t))
            if d:
                out.append(esc(d))
            in_item = True
        else:
            out.append(esc(body))
    while out and out[-1] == ".PP":
        out.pop()
    # no .PP right after a heading
    res = []
    for ln in out:
        if ln == ".PP" and res and (res[-1].startswith(".SS") or
                                    res[-1] == ".PP"):
            continue
        res.append(ln)
    return "\n".join(res) + "\n"


def help_text(build, prog):
    exe = Path(build) / prog
    return subprocess.run([str(exe), "--help"], capture_output=True,
                          text=True, check=True).stdout


def options_part(text):
    """The option lines of a daemon's --help (from the first option to
    the end of that block)."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines)
                 if re.match(r"  (-\w, )?--|      --", ln))
    end = start
    while end < len(lines) and lines[end].strip():
        end += 1
    return "\n".join(lines[start:end]) + "\n"


TABLES = {"callhome-hub": "src/hub/main.c", "callhomed": "src/agent/main.c"}


def undocumented(prog, text):
    """Long options of the daemon's getopt table that its --help never
    names (the table is the configuration file's keys too)."""
    src = (ROOT / TABLES[prog]).read_text()
    table = src[src.index("long_opts[] = {"):]
    table = table[:table.index("};")]
    names = re.findall(r'\{ "([a-z0-9-]+)",', table)
    return [n for n in names if not re.search(r"--%s\b" % n, text)]


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    build, check = sys.argv[1], "--check" in sys.argv[2:]
    stale = []
    helps = {prog: help_text(build, prog) for prog, _ in PAGES}
    for prog in TABLES:
        missing = undocumented(prog, helps[prog])
        if missing:
            sys.exit(f"{prog} --help does not name: --" +
                     ", --".join(missing))
    for prog, page in PAGES:
        src = (ROOT / "man" / (page + ".in")).read_text()
        want = src.replace("@HELP@\n", help_to_roff(helps[prog]))
        want = ('.\\" Generated by scripts/gen-docs.py from ' + page +
                ".in and " + prog + " --help: edit those.\n" + want)
        path = ROOT / "man" / page
        if not path.exists() or path.read_text() != want:
            stale.append(str(path.relative_to(ROOT)))
            if not check:
                path.write_text(want)
    doc = CONFIG_DOC.read_text()
    new = doc
    for prog in ("callhome-hub", "callhomed"):
        pat = re.compile(r"(<!-- help:%s -->\n).*?(<!-- end help:%s -->)"
                         % (prog, prog), re.S)
        if not pat.search(new):
            sys.exit(f"{CONFIG_DOC}: no <!-- help:{prog} --> markers")
        block = "```\n" + options_part(helps[prog]) + "```\n"
        new = pat.sub(lambda m: m.group(1) + block + m.group(2), new)
    if new != doc:
        stale.append(str(CONFIG_DOC.relative_to(ROOT)))
        if not check:
            CONFIG_DOC.write_text(new)
    if stale and check:
        sys.exit("out of date with --help: " + ", ".join(stale) +
                 " (run scripts/gen-docs.py BUILD_DIR)")
    for s in stale:
        print("rewrote " + s)


if __name__ == "__main__":
    main()
