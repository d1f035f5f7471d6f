#!/usr/bin/env python3
"""Fill a man page template (scdoc) with what the built qcontextd says about
itself, so that the page cannot fall behind the program:

  @VERSION@           qcontextd -version
  @OBJECT_TYPES@      qcontextd -object help, -object TYPE,help, -drive help
  @DEVICE_TYPES@      qcontextd -device help, -device TYPE,help
  @MONITOR_COMMANDS@  the monitor's own query-qmp-schema (commands, their
                      arguments and one-line docs), or query-commands
  @MONITOR_EVENTS@    the events of query-qmp-schema
  @COMMAND_LIST@      the command names with their one-line docs

Usage: gen-man.py QCONTEXTD TEMPLATE OUTPUT
"""
import json
import os
import subprocess
import sys


def env():
    e = dict(os.environ)
    # a sanitized build's daemon must not fail the build on its exit leaks
    e["ASAN_OPTIONS"] = "detect_leaks=0"
    e.pop("QCONTEXT_DOCS_CHECK", None)
    return e


def run(qcontextd, *args):
    p = subprocess.run([qcontextd] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, env=env(),
                       timeout=60, check=False)
    if p.returncode != 0:
        sys.exit("gen-man: %s %s failed: %s" % (qcontextd, " ".join(args), p.stderr))
    return p.stdout


def qmp(qcontextd, commands):
    """Run the commands on a `-monitor stdio` daemon; their replies, in order."""
    msgs = [{"execute": "qmp_capabilities"}] + [{"execute": c} for c in commands] + \
        [{"execute": "quit"}]
    text = "".join(json.dumps(m) + "\n" for m in msgs)
    p = subprocess.run([qcontextd, "-monitor", "stdio"], input=text,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, env=env(), timeout=60, check=False)
    replies = []
    for line in p.stdout.split("\n"):
        try:
            msg = json.loads(line)
        except ValueError:
            continue  # a progress line of an older daemon
        if isinstance(msg, dict) and ("return" in msg or "error" in msg):
            replies.append(msg)
    if len(replies) != len(msgs):
        sys.exit("gen-man: the monitor answered %d of %d messages:\n%s%s" %
                 (len(replies), len(msgs), p.stdout, p.stderr))
    return replies[1:-1]


def esc(text):
    """Text for scdoc: its markup characters escaped."""
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("_", "\\_")


def help_section(qcontextd, option, listing):
    out = []
    names = [l.strip() for l in listing.split("\n")[1:] if l.strip()]
    for name in names:
        text = run(qcontextd, option, name + ",help")
        out.append("*%s*" % esc(name))
        props = [l.strip() for l in text.split("\n")[1:] if l.strip()]
        for prop in props:
            out.append("\t- %s" % esc(prop))
        if not props:
            out.append("\t(no options)")
        out.append("")
    return out


def object_types(qcontextd):
    out = help_section(qcontextd, "-object", run(qcontextd, "-object", "help"))
    return "\n".join(out)


def device_types(qcontextd):
    return "\n".join(help_section(qcontextd, "-device", run(qcontextd, "-device", "help")))


class Monitor:
    def __init__(self, qcontextd):
        names, schema = qmp(qcontextd, ["query-commands", "query-qmp-schema"])
        self.names = [c["name"] for c in names.get("return", [])]
        self.entries = {}
        for e in schema.get("return", []) if "return" in schema else []:
            self.entries[e["name"]] = e

    def doc(self, name):
        return self.entries.get(name, {}).get("doc", "")

    def members(self, name):
        arg = self.entries.get(self.entries.get(name, {}).get("arg-type", ""), {})
        return arg.get("members", []), arg

    def type_text(self, t):
        """A member's type as a reader wants it: an enum as its values."""
        e = self.entries.get(t, {})
        if e.get("meta-type") == "enum":
            return "one of " + ", ".join(e.get("values", []))
        return t

    def describe(self, name):
        members, arg = self.members(name)
        line = "*%s*" % esc(name)
        if members:
            line += " " + " ".join(
                ("[%s]" if "default" in m else "%s") % ("_%s_" % esc(m["name"]))
                for m in members)
        if arg.get("tag"):
            line += " [_PROP_=_VALUE_...]"
        out = [line]
        if self.doc(name):
            out.append("\t" + esc(self.doc(name)) + ".")
            out.append("")
        for m in members:
            opt = ", optional" if "default" in m else ""
            text = "\t- *%s* (%s%s)" % (esc(m["name"]), esc(self.type_text(m["type"])), opt)
            if m.get("doc"):
                text += ": " + esc(m["doc"])
            out.append(text)
        if arg.get("tag"):
            out.append("\t- and the properties of the type named by *%s* (see OBJECT "
                       "AND DEVICE TYPES)" % esc(arg["tag"]))
        out.append("")
        return out

    def commands(self):
        out = []
        for name in self.names:
            out += self.describe(name)
        if not self.entries:
            out.append("(This daemon has no query-qmp-schema: the arguments are not "
                       "listed.)")
        return "\n".join(out)

    def events(self):
        out = []
        for name, e in sorted(self.entries.items()):
            if e.get("meta-type") == "event":
                out += self.describe(name)
        return "\n".join(out) if out else "(not listed by this daemon)"

    def command_list(self):
        out = []
        for name in self.names:
            doc = self.doc(name)
            out.append("- *%s*%s" % (esc(name), (": " + esc(doc)) if doc else ""))
        return "\n".join(out)


def main():
    qcontextd, template, output = sys.argv[1:4]
    with open(template) as f:
        text = f.read()
    monitor = None
    fill = {
        "@VERSION@": lambda: run(qcontextd, "-version").split()[-1],
        "@OBJECT_TYPES@": lambda: object_types(qcontextd),
        "@DEVICE_TYPES@": lambda: device_types(qcontextd),
        "@MONITOR_COMMANDS@": lambda: monitor.commands(),
        "@MONITOR_EVENTS@": lambda: monitor.events(),
        "@COMMAND_LIST@": lambda: monitor.command_list(),
    }
    for marker, make in fill.items():
        if marker in text:
            if monitor is None and marker.startswith(("@MONITOR", "@COMMAND")):
                monitor = Monitor(qcontextd)
            text = text.replace(marker, make())
    with open(output, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
