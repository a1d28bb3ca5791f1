#!/usr/bin/env python3
"""client.endpoints - a client given a list of main server endpoints,
without PostgreSQL: one live SQLite main server and endpoints where nothing
listens (two SQLite main servers are not one cluster, so no test uses two
as one). The list is taken from repeated --mainserver, from A,B and from
the config file; wherever the client starts in it (at random), it skips the
dead endpoint and connects to the live one, with no `failover` line (it
was never connected elsewhere); the cluster's key is pinned under every
endpoint at once; a key on file for one endpoint of the list is the pin of
the others; an endpoint offering another key is refused alone
(`pin-mismatch`) and never connected to; --push with several main servers
is a usage error."""
import os
import re
import socket
import subprocess

from plainlib import TIMEOUT, check, log, run


def dead_endpoint():
    """A port where nothing listens: bound, then let go."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "tcp://127.0.0.1:%d" % port


def pins(home):
    path = os.path.join(home, "chat", "known_servers")
    found = {}
    if os.path.exists(path):
        for line in open(path):
            parts = line.split()
            if len(parts) == 2 and not line.startswith("#"):
                found[parts[0]] = parts[1]
    return found


def connects_to_live(w, name, home, mainserver_args, live, dead):
    """A client with these --mainserver arguments: connected to the live
    one, never to a dead one, no failover; logs in and lists."""
    c = w.client(name, push=False, home=home, mainserver=mainserver_args[0],
                 extra=mainserver_args[1:])
    c.wait_line(r"^event connected mainserver %s " % re.escape(live), timeout=TIMEOUT)
    c.ok("login alice apw")
    c.ok("list")
    out = c.lines()
    for d in dead:
        check(not any(l.startswith("event connected mainserver %s " % d) for l in out),
              "%s: connected to the dead endpoint %s:\n%s" % (name, d, "\n".join(out)))
    check(not any(l.startswith("event failover ") for l in out),
          "%s: a failover line without a connection before it:\n%s" % (name, "\n".join(out)))
    skipped = [l for l in out if l.startswith("event reconnecting mainserver ")]
    for l in skipped:
        check(any(l.startswith("event reconnecting mainserver %s " % d) for d in dead),
              "%s: a reconnecting line about the live server: %s" % (name, l))
    check(c.quit() == 0, "%s did not exit 0" % name)
    return len(skipped)


def endpoints(w):
    w.start_keyserver()
    w.start_mainserver()
    live = w.ms_endpoint
    dead = dead_endpoint()
    dead2 = dead_endpoint()
    first = w.client("first")
    first.ok("register alice apw apw apw")
    check(first.quit() == 0, "first client did not exit 0")

    # -- repeated --mainserver: first use pins the key under every endpoint
    home = os.path.join(w.dir, "home-list")
    skips = 0
    skips += connects_to_live(w, "repeated", home,
                              [dead, "--mainserver", live, "--mainserver", dead2],
                              live, [dead, dead2])
    p = pins(home)
    for e in (dead, live, dead2):
        check(p.get(e) == w.ms_fingerprint,
              "the cluster's key is not pinned under %s: %r" % (e, p))
    # -- A,B (and HOST:PORT) in one option; the pins on file are used
    hostport = dead.replace("tcp://", "")
    for i in range(3):
        skips += connects_to_live(w, "comma%d" % i, home, ["%s,%s" % (hostport, live)],
                                  live, [dead])
    # -- the config file: one key with a list, and the key repeated
    conf = os.path.join(w.dir, "client.cfg")
    with open(conf, "w") as f:
        f.write("client\n    keyserver = \"%s\"\n    mainserver = \"%s, %s\"\n"
                "    mainserver = \"%s\"\n" % (w.ks_endpoint, dead, live, dead2))
    # (--keyserver/--mainserver on the command line would win: the file alone)
    r = subprocess.Popen([w.bins["client"], "--plain", "--config", conf,
                          "--refresh-interval", "3600"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=dict(os.environ, XDG_CONFIG_HOME=home))
    out, err = r.communicate(b"login alice apw\nlist\n", timeout=TIMEOUT * 2)
    out = out.decode()
    check(r.returncode == 0, "config client failed (%d):\n%s\n%s" % (r.returncode, out, err.decode()))
    check(re.search(r"^event connected mainserver %s " % re.escape(live), out, re.M),
          "config client not connected to %s:\n%s" % (live, out))
    for d in (dead, dead2):
        check(not re.search(r"^event connected mainserver %s " % re.escape(d), out, re.M),
              "config client connected to the dead endpoint %s:\n%s" % (d, out))
    log("dead endpoints skipped %d times in 5 clients (random start)" % skips)

    # -- one endpoint of the list offers another key than the cluster's
    # pin (on file for the other endpoint): refused alone, never used
    home2 = os.path.join(w.dir, "home-wrong")
    os.makedirs(os.path.join(home2, "chat"), mode=0o700)
    wrong = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    path = os.path.join(home2, "chat", "known_servers")
    with open(path, "w") as f:
        f.write("%s %s\n" % (dead, wrong))
    os.chmod(path, 0o600)
    c = w.client("mismatch", push=False, home=home2, mainserver=dead,
                 extra=["--mainserver", live])
    c.wait_line(r"^event pin-mismatch mainserver %s offered=%s pinned=%s$"
                % (re.escape(live), re.escape(w.ms_fingerprint), re.escape(wrong)),
                timeout=TIMEOUT)
    c.wait_line(r"WARNING: the mainserver at %s offers key" % re.escape(live),
                stream="err", timeout=TIMEOUT)
    c.cmd("wait 2")
    check(not any(l.startswith("event connected mainserver") for l in c.lines()),
          "connected despite the pin mismatch:\n%s" % "\n".join(c.lines()))
    mains = {k: v for k, v in pins(home2).items() if k != w.ks_endpoint}
    check(mains == {dead: wrong}, "the main servers' pins changed: %r" % mains)
    c.quit()

    # -- --push names one server's push endpoint: not with a list
    r = subprocess.run([w.bins["client"], "--plain", "--keyserver", w.ks_endpoint,
                        "--mainserver", "%s,%s" % (dead, live), "--push", w.push_endpoint],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT)
    check(r.returncode == 2 and "with several main servers leave it out" in r.stderr,
          "--push with a list: %d %r" % (r.returncode, r.stderr))
    r = subprocess.run([w.bins["client"], "--help"], capture_output=True, text=True)
    check(r.returncode == 0 and "repeat it or give A,B" in r.stdout, "--help says nothing of lists")


run(endpoints)
