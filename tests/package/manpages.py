#!/usr/bin/env python3
"""package.manpages: each program's --help and its man page list the same
options, and the program takes every one of them.

Arguments: PROGRAM=SCDOC pairs (the built program, its man page source).
For each: the options of --help (lines "  -b, --bind ENDPOINT   ...") and of
the page's OPTIONS section ("*-b*, *--bind* _ENDPOINT_") must be the same
set of (short, long, argument name); any difference fails, named. Then
`PROGRAM --OPTION [VALUE] --help` must exit 0 for each (getopt knows it).
For the servers, every file the help names under "Files in DIR:" is
described in the page's FILES section.
"""
import re
import subprocess
import sys

HELP_OPTION = re.compile(
    r"^ {1,8}(?:(-[A-Za-z0-9]), )?(--[a-z][a-z0-9-]*)(?:[ =]([A-Z][A-Z0-9_:.]*))?(?=\s|$)")
MAN_OPTION = re.compile(
    r"^\*(?:(-[A-Za-z0-9])\*, \*)?(--[a-z][a-z0-9-]*)\*(?: _([^_]+)_)?\s*$")


def help_options(program):
    r = subprocess.run([program, "--help"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise SystemExit("FAIL: %s --help exited %d" % (program, r.returncode))
    options = set()
    for line in r.stdout.splitlines():
        m = HELP_OPTION.match(line)
        if m:
            options.add(m.groups())
    return options, r.stdout


def sections(source):
    """{section title: [lines]} of an scdoc page."""
    result = {}
    current = None
    for line in open(source, encoding="utf-8").read().splitlines():
        if line.startswith("# "):
            current = line[2:].strip()
            result[current] = []
        elif current:
            result[current].append(line)
    return result


def man_options(source):
    options = set()
    for line in sections(source).get("OPTIONS", []):
        if line.startswith("*-"):
            m = MAN_OPTION.match(line)
            if not m:
                raise SystemExit("FAIL: %s: an option line scdoc-style but not understood: %r"
                                 % (source, line))
            options.add(m.groups())
    return options


def show(option):
    short, long_, arg = option
    return "%s%s%s" % (short + ", " if short else "", long_, " " + arg if arg else "")


def sample(arg):
    return "1" if arg in ("N", "MS", "SECS", "SECONDS") else "x"


def check(program, source):
    problems = []
    name = program.rsplit("/", 1)[-1]
    in_help, text = help_options(program)
    in_man = man_options(source)
    if not in_help:
        problems.append("%s --help lists no option at all (format changed?)" % name)
    for option in sorted(in_help - in_man, key=str):
        problems.append("%s: --help has %s, the man page does not" % (name, show(option)))
    for option in sorted(in_man - in_help, key=str):
        problems.append("%s: the man page has %s, --help does not" % (name, show(option)))
    for short, long_, arg in sorted(in_help & in_man, key=str):
        if long_ in ("--help", "--version"):
            continue
        argv = [program, long_] + ([sample(arg)] if arg else []) + ["--help"]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            problems.append("%s does not take %s: %s exited %d %s"
                            % (name, long_, " ".join(argv[1:]), r.returncode, r.stderr.strip()))
    m = re.search(r"Files in DIR: (.*?)\.(?:\s|$)", text, re.S)
    if m:
        files_text = "\n".join(sections(source).get("FILES", []))
        for file_name in re.findall(r"([a-z][a-z-]*\.[a-z]+)", re.sub(r"\(.*?\)", "", m.group(1))):
            if "_DIR_/" + file_name not in files_text:
                problems.append("%s: --help names %s in DIR, the man page's FILES does not"
                                % (name, file_name))
    print("%s: %d options in --help, %d in %s%s"
          % (name, len(in_help), len(in_man), source.rsplit("/", 1)[-1],
             "" if problems else ": the same"))
    return problems


def main():
    pairs = [arg.split("=", 1) for arg in sys.argv[1:]]
    if not pairs:
        raise SystemExit("usage: manpages.py PROGRAM=SOURCE.scd ...")
    problems = []
    for program, source in pairs:
        problems += check(program, source)
    for problem in problems:
        print("FAIL: " + problem)
    print("%d pages checked, %d differences" % (len(pairs), len(problems)))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
