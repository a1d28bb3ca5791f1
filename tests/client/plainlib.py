"""plainlib - drive `chat --plain` and the real servers from the client tests.

Every process is started with pipes and a reader thread per stream; a test
waits for an expected line with a deadline, never a fixed sleep. Servers
bind tcp://127.0.0.1:! (a random free port: CZMQ's "*" hands out ports in
order, so another test would soon take a port a restarting server gives
up) and can be restarted on the same port (a test that restarts one binds
it to restartable_endpoint() instead). Everything lives in one temporary directory, removed at the end.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from chatproc import (LIVE_TIMEOUT, REFRESH_ARGS, plain_text, plain_word, store_args,  # noqa: E402
                      printable, read_lines, search_lines)

TIMEOUT = 30.0
LIVE = LIVE_TIMEOUT     # a live message: by push, or not at all (see chatproc)


class Failure(Exception):
    pass


def restartable_endpoint():
    """An endpoint for a server the test will restart on the same port.

    Between the stop and the restart the port is free, and a port from
    CZMQ's "!" range (49152-65535) may be taken meanwhile by a server of a
    test running in parallel; one from the kernel's range for outgoing
    connections may be a retrying client's own source port.  Below both,
    only another test asking for the same kind of port could take it."""
    import random
    import socket
    low = 32768
    try:
        low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    top = min(low, 49152)
    for _ in range(100):
        port = random.randrange(20000, top)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return "tcp://127.0.0.1:%d" % port
        except OSError:
            continue
        finally:
            s.close()
    fail("no free port below %d for a restartable server" % top)


def fail(message):
    raise Failure(message)


def check(condition, message):
    if not condition:
        fail(message)


def log(message):
    print("[%6.2f] %s" % (time.monotonic() - T0, message), flush=True)


T0 = time.monotonic()


# A plain-mode command word, and the text of `send` (spaces kept).
word = plain_word
text_arg = plain_text


def unescape(text):
    """Undo the client's output escaping (PLAIN.md)."""
    out = bytearray()
    i = 0
    raw = text.encode("utf-8")
    while i < len(raw):
        c = raw[i]
        if c == 0x5c and i + 1 < len(raw):
            n = chr(raw[i + 1])
            if n == "\\":
                out += b"\\"
            elif n == "n":
                out += b"\n"
            elif n == "r":
                out += b"\r"
            elif n == "t":
                out += b"\t"
            elif n == "x":
                out.append(int(raw[i + 2:i + 4], 16))
                i += 2
            else:
                fail("bad escape in %r" % text)
            i += 2
        else:
            out.append(c)
            i += 1
    return out.decode("utf-8", "replace")


def squeeze(lines):
    """Lines with runs that differ only in their first 30 characters (a
    timestamp, a pid) said once with a count, so that a burst of one
    message cannot push the line that matters out of a tail."""
    out, last, count = [], None, 0
    for line in lines:
        key = line[30:]
        if key == last:
            count += 1
            continue
        if count:
            out.append("    (the line above %d more times)" % count)
        out.append(line)
        last, count = key, 0
    if count:
        out.append("    (the line above %d more times)" % count)
    return out


class Proc:
    def __init__(self, name, argv, env=None, stdin=True):
        self.name = name
        self.out, self.err = [], []
        self.cv = threading.Condition()
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.p = subprocess.Popen(argv, env=full_env,
                                  stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.threads = [threading.Thread(target=read_lines, args=(s, l, self.cv), daemon=True)
                        for s, l in ((self.p.stdout, self.out), (self.p.stderr, self.err))]
        for t in self.threads:
            t.start()

    def dead(self):
        return self.p.poll() is not None and not any(t.is_alive() for t in self.threads)

    def wait_line(self, regex, since=0, stream="out", timeout=TIMEOUT, what=""):
        """Index and match of the first line at or after since matching regex."""
        pattern = re.compile(regex)
        lines = self.out if stream == "out" else self.err
        found = search_lines(self.cv, lines, pattern, since, time.monotonic() + timeout,
                             self.dead)
        if found:
            return found
        fail("%s: no line matching %r %s within %.0f s (exit %s)\n%s"
             % (self.name, regex, what, timeout, self.p.poll(), self.tail()))

    def tail(self, n=30):
        with self.cv:
            return printable("--- %s stdout ---\n%s\n--- %s stderr ---\n%s"
                             % (self.name, "\n".join(squeeze(self.out)[-n:]), self.name,
                                "\n".join(squeeze(self.err)[-n:])))

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        for t in self.threads:
            t.join(5)
        return self.p.returncode


class World:
    """Binaries, a temp dir, the servers and clients of one test."""

    def __init__(self):
        self.bins = {}
        for arg in sys.argv[1:]:
            name, _, path = arg.partition("=")
            self.bins[name] = path
        for name in ("keyserver", "mainserver", "client"):
            check(name in self.bins and os.access(self.bins[name], os.X_OK),
                  "usage: %s keyserver=PATH mainserver=PATH client=PATH" % sys.argv[0])
        self.dir = tempfile.mkdtemp(prefix="chat-client-test-")
        self.procs = []
        self.keyserver = self.mainserver = None
        self.ks_endpoint = self.ms_endpoint = self.push_endpoint = None
        self.home = os.path.join(self.dir, "config")

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def start_keyserver(self, data="ks", bind="tcp://127.0.0.1:!", extra=()):
        datadir = self.path(data)
        self.init_servers(datadir)
        deadline = time.monotonic() + TIMEOUT
        while True:
            proc = Proc("keyserver", [self.bins["keyserver"], "--bind", bind, "--data", datadir,
                                      "--iterations", "4096",
                                      "--mainserver-key", self.path("ms", "mainserver.pub")]
                        + store_args(datadir) + list(extra), stdin=False)
            self.procs.append(proc)
            if not self.bind_refused(proc, deadline):
                break
        _, m = proc.wait_line(r"^(tcp://\S+)$", what="(bound endpoint)")
        self.keyserver = proc
        self.ks_endpoint = m.group(1)
        self.ks_fingerprint = self.fingerprint(proc)
        return proc

    def init_servers(self, ks_dir):
        """Each server's key and public key file, made once; the key server
        of ks_dir and the main server of "ms" start with each other's."""
        for which, datadir in (("keyserver", ks_dir), ("mainserver", self.path("ms"))):
            if not os.path.exists(os.path.join(datadir, which + ".pub")):
                r = subprocess.run([self.bins[which], "--init", "--data", datadir],
                                   capture_output=True, text=True)
                check(r.returncode == 0, "%s --init failed: %s" % (which, r.stderr))

    def bind_refused(self, proc, deadline):
        """Restarting on a fixed port: a client retrying its connection may
        briefly hold the port (a loopback socket connected to itself);
        the client drops such a connection, so try again for a while."""
        while proc.p.poll() is None:
            if time.monotonic() > deadline:
                return False
            with proc.cv:
                if any("listening on" in l or "requests on" in l for l in proc.out + proc.err):
                    return False
                proc.cv.wait(0.1)
        proc.stop()
        with proc.cv:
            in_use = any("Address already in use" in l for l in proc.out + proc.err)
        if in_use and time.monotonic() < deadline:
            log("%s: port still in use, trying again" % proc.name)
            time.sleep(0.3)
            return True
        return False

    def fingerprint(self, proc):
        """The server's own key (each also names the other's key it checks
        credentials with: "main server key ...", "key server key ...")."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            with proc.cv:
                for line in proc.out + proc.err:
                    m = re.search(r"(?:started|ready)[^:]*,.* key (SHA256:[A-Za-z0-9+/]+)", line)
                    if m:
                        return m.group(1)
                proc.cv.wait(0.2)
        fail("%s never named its key\n%s" % (proc.name, proc.tail()))

    def start_mainserver(self, data="ms", bind="tcp://127.0.0.1:!", push="tcp://127.0.0.1:!",
                         extra=()):
        deadline = time.monotonic() + TIMEOUT
        while True:
            proc = Proc("mainserver", [self.bins["mainserver"], "--bind", bind, "--push-bind", push,
                                       "--data", self.path(data),
                                       "--keyserver-key", self.path("ks", "keyserver.pub")]
                        + store_args(self.path(data)) + list(extra), stdin=False)
            self.procs.append(proc)
            if not self.bind_refused(proc, deadline):
                break
        endpoints = {}
        for kind in ("requests", "pushes"):
            deadline = time.monotonic() + TIMEOUT
            while kind not in endpoints:
                with proc.cv:
                    for line in proc.out + proc.err:
                        m = re.search(kind + r" on (tcp://\S+)", line)
                        if m:
                            endpoints[kind] = m.group(1)
                    if kind in endpoints:
                        break
                    if time.monotonic() > deadline or proc.dead():
                        fail("mainserver did not say where its %s are\n%s" % (kind, proc.tail()))
                    proc.cv.wait(0.2)
        self.mainserver = proc
        self.ms_endpoint = endpoints["requests"]
        self.push_endpoint = endpoints["pushes"]
        self.ms_fingerprint = self.fingerprint(proc)
        return proc

    def client(self, name, json_mode=False, extra=None, home=None, push=True,
               keyserver=None, mainserver=None):
        """push False: no --push, the main server's Welcome names it.
        Re-listing only after the test: whatever arrives live came by push."""
        args = [self.bins["client"], "--plain",
                "--keyserver", keyserver or self.ks_endpoint,
                "--mainserver", mainserver or self.ms_endpoint]
        args += (["--push", self.push_endpoint] if push else [])
        args += (["--json"] if json_mode else []) + REFRESH_ARGS + (extra or [])
        c = Client(name, args, {"XDG_CONFIG_HOME": home or self.home}, json_mode)
        self.procs.append(c)
        return c

    def close(self, ok):
        for p in self.procs:
            p.stop(signal.SIGKILL if not ok else signal.SIGTERM)
        if ok:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            log("kept %s for a look" % self.dir)


class Client(Proc):
    """One `chat --plain` process: commands in order, each answered by one
    ok/error line."""

    def __init__(self, name, argv, env, json_mode):
        Proc.__init__(self, name, argv, env)
        self.json = json_mode

    def write(self, line):
        self.p.stdin.write((line + "\n").encode("utf-8"))
        self.p.stdin.flush()

    def mark(self):
        with self.cv:
            return len(self.out)

    def lines(self, since=0):
        with self.cv:
            return list(self.out[since:])

    def cmd(self, line, timeout=TIMEOUT):
        """Run one command: (ok?, answer line, lines before the answer)."""
        mark = self.mark()
        self.write(line)
        pattern = r'^\{"type":"(ok|error)"' if self.json else r"^(ok|error) "
        i, _ = self.wait_line(pattern, since=mark, timeout=timeout, what="(answer to %r)" % line)
        lines = self.lines(mark)
        answer = lines[i - mark]
        return answer.startswith('{"type":"ok"') or answer.startswith("ok "), answer, lines[:i - mark]

    def ok(self, line, timeout=TIMEOUT):
        good, answer, before = self.cmd(line, timeout)
        check(good, "%s: %r failed: %s\n%s" % (self.name, line, answer, self.tail()))
        return answer, before

    def error(self, line, code, message=None):
        good, answer, before = self.cmd(line)
        check(not good, "%s: %r succeeded, expected %s: %s" % (self.name, line, code, answer))
        parts = answer.split(" ", 3)
        check(parts[1] == code, "%s: %r failed with %s, expected %s" % (self.name, line, parts[1], code))
        if message is not None:
            check(len(parts) == 4 and parts[3] == message,
                  "%s: %r said %r, expected %r" % (self.name, line, answer, message))
        return answer

    def wait_msg(self, conv, sender, text, since=0, timeout=LIVE):
        """A `msg` line with these fields, by default within LIVE seconds:
        a push (pass timeout=TIMEOUT for one that may come by a catch-up
        fetch)."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines(since):
                parts = line.split(" ", 5)
                if (len(parts) == 6 and parts[0] == "msg" and parts[1] == conv
                        and parts[3] == sender and unescape(parts[5]) == text):
                    return parts
            if time.monotonic() > deadline or self.dead():
                fail("%s: no message %r from %s in %s within %.0f s\n%s"
                     % (self.name, text, sender, conv, timeout, self.tail()))
            with self.cv:
                self.cv.wait(0.2)

    def quit(self):
        if self.p.poll() is None:
            try:
                self.write("quit")
                self.p.stdin.close()
            except (BrokenPipeError, ValueError):
                pass
        try:
            rc = self.p.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            fail("%s did not exit after quit\n%s" % (self.name, self.tail()))
        for t in self.threads:
            t.join(5)
        self.check_sanitizers()
        return rc

    def check_sanitizers(self):
        """Under the ASan+UBSan build a report fails the test."""
        with self.cv:
            bad = [l for l in self.err if "Sanitizer" in l or "runtime error:" in l]
        check(not bad, "%s: sanitizer report:\n%s" % (self.name, self.tail(60)))


def run(test):
    world = World()
    ok = False
    try:
        test(world)
        ok = True
        log("PASS")
    except Failure as e:
        log("FAIL: %s" % e)
        for p in world.procs:
            log(p.tail(15))
    finally:
        world.close(ok)
    sys.exit(0 if ok else 1)
