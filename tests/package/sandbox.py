#!/usr/bin/python3
"""package.sandbox: both servers serve a whole story inside the seccomp part
of their units' sandbox.

This machine runs no systemd, so the units cannot be started for real. What
would break a server at run time is the system call filter: this test reads
SystemCallFilter=, SystemCallErrorNumber=, RestrictAddressFamilies= and
MemoryDenyWriteExecute= from each shipped unit, expands the syscall groups
with `systemd-analyze syscall-filter`, and runs the server under that very
filter (sandbox_exec.py, libseccomp). Then: registration, login, a group
conversation with live pushes, history, the metrics endpoint (libmicrohttpd's
thread), chat-admin metrics and backup (the admin socket), SIGHUP and SIGTERM
with exit status 0. The file system side (ProtectSystem=strict, PrivateTmp=,
StateDirectory=) is not emulated: the servers write only their data
directory, which StateDirectory= makes writable.

Arguments: NAME=PATH for keyserver, mainserver, client, admin; units=DIR.
"""
import errno
import json
import os
import re
import signal
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import e2elib as L                                             # noqa: E402

# What systemd permits whatever the filter says (systemd.exec(5))
ALWAYS = ["execve", "exit", "exit_group", "getrlimit", "rt_sigreturn", "sigreturn",
          "clock_getres", "clock_gettime", "clock_nanosleep", "gettimeofday",
          "nanosleep", "time"]
FAMILIES = {"AF_UNIX": socket.AF_UNIX, "AF_INET": socket.AF_INET,
            "AF_INET6": socket.AF_INET6, "AF_NETLINK": socket.AF_NETLINK,
            "AF_PACKET": socket.AF_PACKET}
_groups = {}


def expand(name):
    """Syscall names of a group (@...) or a single name."""
    if not name.startswith("@"):
        return {name}
    if name not in _groups:
        r = subprocess.run(["systemd-analyze", "syscall-filter", name],
                           capture_output=True, text=True)
        if r.returncode != 0:
            L.fail("systemd-analyze syscall-filter %s: %s" % (name, r.stderr))
        names = set()
        for line in r.stdout.splitlines()[1:]:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            names |= expand(line)
        _groups[name] = names
    return _groups[name]


def policy_of(unit_path):
    """The seccomp policy a unit file asks for."""
    allow = None
    deny = set()
    errno_value = None
    families = []
    mdwe = False
    for line in open(unit_path):
        key, sep, value = line.strip().partition("=")
        if not sep:
            continue
        if key == "SystemCallFilter":
            items = value.split()
            if items and items[0].startswith("~"):
                items[0] = items[0][1:]
                for item in items:
                    deny |= expand(item)
            else:
                names = set()
                for item in items:
                    names |= expand(item)
                allow = names if allow is None else allow | names
        elif key == "SystemCallErrorNumber":
            errno_value = getattr(errno, value)
        elif key == "RestrictAddressFamilies":
            families = [FAMILIES[f] for f in value.split()]
        elif key == "MemoryDenyWriteExecute":
            mdwe = value in ("yes", "true", "1")
    if allow is None or not families or errno_value is None:
        L.fail("%s: no SystemCallFilter=, RestrictAddressFamilies= or "
               "SystemCallErrorNumber= to emulate" % unit_path)
    allowed = (allow - deny) | set(ALWAYS)
    return {"allow": sorted(allowed), "errno": errno_value, "families": families,
            "mdwe": mdwe, "denied": sorted(deny & allow)}


def body(workdir, cleanups):
    bins = L.binaries()
    units = bins.get("units")
    for tool in ("systemd-analyze", "curl"):
        if not L.shutil.which(tool):
            return L.skip("%s is not installed (tools/setup installs it)" % tool)
    try:
        import seccomp                                         # noqa: F401
    except ImportError:
        return L.skip("python3-seccomp is not installed (tools/setup installs it)")
    wrappers = {}
    for role in ("keyserver", "mainserver"):
        policy = policy_of(os.path.join(units, "chat-%s.service" % role))
        path = os.path.join(workdir, "%s.policy.json" % role)
        json.dump(policy, open(path, "w"))
        wrappers[role] = ["/usr/bin/python3", os.path.join(HERE, "sandbox_exec.py"), path, "--"]
        L.log("%s: %d syscalls allowed, %d taken away by ~ lines (e.g. %s), errno %d, "
              "families %s, MemoryDenyWriteExecute=%s"
              % (role, len(policy["allow"]), len(policy["denied"]),
                 ", ".join(policy["denied"][:4]), policy["errno"], policy["families"],
                 policy["mdwe"]))

    # The filter is real: a family the unit leaves out is refused
    probe = subprocess.run(wrappers["keyserver"] + [
        "/usr/bin/python3", "-c",
        "import socket\ntry:\n socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n"
        "except OSError as e:\n print(e.errno)\n"], capture_output=True, text=True)
    if probe.stdout.strip() not in (str(errno.EAFNOSUPPORT), str(errno.EPERM)):
        L.fail("the emulated filter let an AF_PACKET socket through: %r %r"
               % (probe.stdout, probe.stderr))

    net = L.private_net("sandbox", cleanups)
    cluster = L.Cluster(bins, workdir, netns=net).init()
    cluster.wrapper = wrappers["keyserver"]
    ks = cluster.start_keyserver(extra=["--metrics-bind", cluster.host + ":0"])
    cluster.wrapper = wrappers["mainserver"]
    ms = cluster.start_mainserver(extra=["--metrics-bind", cluster.host + ":0"])
    L.log("both servers run under their units' syscall filters")

    home = os.path.join(workdir, "client")

    def client(name):
        return L.Client(bins, name, cluster.client_args(), home, netns=net, logdir=workdir)

    a, b, c = client("alice"), client("bob"), client("carol")
    for cl, user in ((a, "alice"), (b, "bob"), (c, "carol")):
        cl.register(user, user + " pw 1").expect_ok("Success!")
        cl.login(user, user + " pw 1").expect_ok()
    group = a.new("bob", "carol")
    for i in range(5):
        a.send(group, "sandboxed %d" % i)
        b.wait_message(group, "alice", "sandboxed %d" % i)
        c.wait_message(group, "alice", "sandboxed %d" % i)
    if len(b.history(group)) != 5:
        L.fail("history under the sandbox is not the 5 messages sent")

    for proc, role in ((ks, "keyserver"), (ms, "mainserver")):
        address = proc.wait_log(r"metrics on http://(\S+)/metrics", 10, "metrics").group(1)
        argv = ["curl", "-sS", "--max-time", "10", "http://%s/metrics" % address]
        if net:
            argv = ["ip", "netns", "exec", net] + argv
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode != 0 or not re.search(r'chat_requests_total\{[^}]*code="OK"\} [1-9]',
                                              r.stdout):
            L.fail("%s metrics under the sandbox: %s %s" % (role, r.stdout[-500:], r.stderr))
        data = cluster.ks_dir if role == "keyserver" else cluster.ms_dir
        r = subprocess.run([bins["admin"], "metrics", "--data", data],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0 or "chat_sessions" not in r.stdout:
            L.fail("chat-admin metrics against the sandboxed %s: %s" % (role, r.stderr))
        r = subprocess.run([bins["admin"], "backup", "--data", data,
                            os.path.join(workdir, role + ".backup.db")],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            L.fail("backup of the sandboxed %s: %s" % (role, r.stderr))
        proc.send_signal(signal.SIGHUP)
        proc.wait_log(r"configuration reloaded", 10, "reload")
        L.log("%s: metrics over HTTP, chat-admin metrics and backup, SIGHUP: fine" % role)
    a.send(group, "after the reloads")
    b.wait_message(group, "alice", "after the reloads")
    for cl in (a, b, c):
        cl.quit()
    cluster.stop()          # fails unless both exit 0 on SIGTERM
    for proc in (ks, ms):
        with proc.cv:
            text = "\n".join(proc.err + proc.out)
        bad = [line for line in text.splitlines()
               if re.search(r"Operation not permitted|not supported|^E: ", line)]
        if bad:
            L.fail("a sandboxed server complained: %r" % bad[:5])
    return 0


if __name__ == "__main__":
    L.main(body)
