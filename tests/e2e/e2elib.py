"""e2elib - drive the real chat binaries from end-to-end tests.

Processes are started with pipes; a reader thread per stream keeps every line,
so a test waits for an expected line with a deadline (never a fixed sleep).
Servers bind tcp://HOST:* and report their ports (key server: first stdout
line; main server: its log), and are restarted on the same ports so that
running clients reconnect by themselves.

Network namespaces (discovery, capture) are made here too, named uniquely
per run and always deleted, also when a test fails or is interrupted.
"""
import base64
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77           # ctest SKIP_RETURN_CODE
TIMEOUT = float(os.environ.get("E2E_TIMEOUT", "30"))   # one expected line


class TestFailure(Exception):
    pass


def fail(message):
    raise TestFailure(message)


def log(message):
    print("[%7.2f] %s" % (time.monotonic() - _T0, message), flush=True)


_T0 = time.monotonic()


def binaries():
    """The programs, given on the command line as NAME=PATH (CMake passes
    keyserver=, mainserver=, client= and probe=)."""
    paths = {}
    for arg in sys.argv[1:]:
        name, sep, path = arg.partition("=")
        if sep:
            paths[name] = path
    for name in ("keyserver", "mainserver", "client"):
        if name not in paths:
            fail("usage: %s keyserver=PATH mainserver=PATH client=PATH [probe=PATH]" % sys.argv[0])
    for name, path in paths.items():
        if not os.access(path, os.X_OK):
            fail("%s not found at %s" % (name, path))
    return paths


# ------------------------------------------------------------------ processes

class Proc:
    """A child process whose stdout and stderr lines are kept as they come."""

    _all = []

    def __init__(self, name, argv, env=None, netns=None, logdir=None, stdin=True):
        self.name = name
        self.argv = list(argv)
        if netns:
            argv = ["ip", "netns", "exec", netns] + list(argv)
        self.out = []
        self.err = []
        self.cv = threading.Condition()
        self.cursor = 0
        self.logdir = logdir
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self.p = subprocess.Popen(
            argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env,
            start_new_session=True)
        self.pid = self.p.pid
        self.threads = [
            threading.Thread(target=self._reader, args=(self.p.stdout, self.out), daemon=True),
            threading.Thread(target=self._reader, args=(self.p.stderr, self.err), daemon=True),
        ]
        for t in self.threads:
            t.start()
        Proc._all.append(self)

    def _reader(self, stream, lines):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cv:
                lines.append(line)
                self.cv.notify_all()
        with self.cv:
            self.cv.notify_all()

    # -- input
    def send(self, line):
        """Write one line to stdin; returns the stdout mark before it."""
        mark = self.mark()
        try:
            self.p.stdin.write((line + "\n").encode())
            self.p.stdin.flush()
        except (BrokenPipeError, ValueError):
            fail("%s: stdin closed (exited %s)\n%s" % (self.name, self.p.poll(), self.tail()))
        return mark

    def close_stdin(self):
        try:
            self.p.stdin.close()
        except Exception:
            pass

    # -- output
    def mark(self, stream="out"):
        with self.cv:
            return len(self.out if stream == "out" else self.err)

    def find(self, regex, since=0, stream="out"):
        """First line at or after since matching regex: (index, match) or None."""
        pattern = re.compile(regex)
        lines = self.out if stream == "out" else self.err
        with self.cv:
            for i in range(since, len(lines)):
                m = pattern.search(lines[i])
                if m:
                    return i, m
        return None

    def wait(self, regex, since=None, timeout=None, stream="out", what=None):
        """Wait for a line matching regex at or after since (default: the
        cursor, which then moves past the match). Fails at the deadline or
        when the process exits without printing it."""
        move = since is None
        if since is None:
            since = self.cursor
        deadline = time.monotonic() + (timeout or TIMEOUT)
        pattern = re.compile(regex)
        lines = self.out if stream == "out" else self.err
        with self.cv:
            i = since
            while True:
                while i < len(lines):
                    m = pattern.search(lines[i])
                    if m:
                        if move:
                            self.cursor = i + 1
                        return m
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or (self.p.poll() is not None
                                 and not any(t.is_alive() for t in self.threads)):
                    break
                self.cv.wait(min(left, 0.2))
        fail("%s: no line matching %r (%s) within %.0f s; exit %s\n%s"
             % (self.name, regex, what or "", timeout or TIMEOUT, self.p.poll(), self.tail()))

    def lines_since(self, mark, stream="out"):
        with self.cv:
            return list((self.out if stream == "out" else self.err)[mark:])

    def tail(self, n=25):
        with self.cv:
            out = self.out[-n:]
            err = self.err[-n:]
        return ("  --- %s stdout (last %d) ---\n  %s\n  --- %s stderr (last %d) ---\n  %s"
                % (self.name, len(out), "\n  ".join(out), self.name, len(err), "\n  ".join(err)))

    # -- life
    def alive(self):
        return self.p.poll() is None

    def signal(self, sig):
        if self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def wait_exit(self, timeout=None):
        try:
            return self.p.wait(timeout or TIMEOUT)
        except subprocess.TimeoutExpired:
            fail("%s did not exit within %.0f s\n%s" % (self.name, timeout or TIMEOUT, self.tail()))

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """Signal and wait; returns the exit status."""
        self.signal(sig)
        rc = self.wait_exit(timeout)
        for t in self.threads:
            t.join(5)
        self.save_log()
        return rc

    def kill9(self):
        self.signal(signal.SIGKILL)
        self.p.wait(TIMEOUT)
        for t in self.threads:
            t.join(5)
        self.save_log()

    def save_log(self):
        if not self.logdir:
            return
        with self.cv:
            text = ("$ %s\n--- stdout ---\n%s\n--- stderr ---\n%s\n"
                    % (" ".join(self.argv), "\n".join(self.out), "\n".join(self.err)))
        with open(os.path.join(self.logdir, "%s.%d.log" % (self.name, self.pid)), "w") as f:
            f.write(text)

    @classmethod
    def kill_all(cls):
        for proc in cls._all:
            if proc.alive():
                proc.signal(signal.SIGKILL)
                try:
                    proc.p.wait(5)
                except subprocess.TimeoutExpired:
                    pass
            proc.save_log()


# ------------------------------------------------------------------ servers

class Cluster:
    """A key server and a main server on their own data directories."""

    def __init__(self, bins, workdir, host="127.0.0.1", netns=None, wrapper=None,
                 iterations=4096, announce=None, name=""):
        self.bins = bins
        self.workdir = workdir
        self.host = host
        self.netns = netns
        self.wrapper = wrapper or []    # e.g. valgrind and its options
        self.iterations = iterations
        self.announce = announce
        self.name = name
        self.ks_dir = os.path.join(workdir, "keyserver" + name)
        self.ms_dir = os.path.join(workdir, "mainserver" + name)
        self.ks = None
        self.ms = None
        self.ks_endpoint = None
        self.ms_endpoint = None
        self.push_endpoint = None
        self.ks_fingerprint = None
        self.ms_fingerprint = None

    def init(self):
        result = subprocess.run([self.bins["keyserver"], "--init", "--data", self.ks_dir],
                                capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            fail("chat-keyserver --init failed: %s%s" % (result.stdout, result.stderr))
        m = re.search(r"(SHA256:[A-Za-z0-9+/]{43})", result.stdout)
        if not m:
            fail("chat-keyserver --init printed no fingerprint: %r" % result.stdout)
        self.ks_fingerprint = m.group(1)
        return self

    def _port(self, endpoint):
        return endpoint.rsplit(":", 1)[1] if endpoint else "*"

    def start_keyserver(self, same_port=True, extra=()):
        port = self._port(self.ks_endpoint) if same_port else "*"
        argv = self.wrapper + [self.bins["keyserver"], "--data", self.ks_dir,
                               "--bind", "tcp://%s:%s" % (self.host, port),
                               "--iterations", str(self.iterations)]
        if self.announce:
            argv += ["--announce", self.announce]
        argv += list(extra)
        self.ks = Proc("keyserver" + self.name, argv, netns=self.netns,
                       logdir=self.workdir, stdin=False)
        m = self.ks.wait(r"^(tcp://\S+)$", timeout=max(TIMEOUT, 60), what="bound endpoint")
        self.ks_endpoint = m.group(1)
        m = self.ks.wait(r"key (SHA256:[A-Za-z0-9+/]{43})", since=0, stream="err",
                         timeout=10, what="key fingerprint")
        self.ks_fingerprint = m.group(1)
        log("keyserver%s on %s (pid %d)" % (self.name, self.ks_endpoint, self.ks.pid))
        return self.ks

    def start_mainserver(self, same_port=True, extra=()):
        port = self._port(self.ms_endpoint) if same_port else "*"
        push = self._port(self.push_endpoint) if same_port else "*"
        argv = self.wrapper + [self.bins["mainserver"], "--data", self.ms_dir,
                               "--bind", "tcp://%s:%s" % (self.host, port),
                               "--push-bind", "tcp://%s:%s" % (self.host, push),
                               "--shared-secret", os.path.join(self.ks_dir, "shared.secret")]
        if self.announce:
            argv += ["--announce", self.announce]
        argv += list(extra)
        self.ms = Proc("mainserver" + self.name, argv, netns=self.netns,
                       logdir=self.workdir, stdin=False)
        wait = max(TIMEOUT, 60)
        self.ms_endpoint = self.ms.wait(r"requests on (tcp://\S+)", stream="err", since=0,
                                        timeout=wait, what="request endpoint").group(1)
        self.push_endpoint = self.ms.wait(r"pushes on (tcp://\S+)", stream="err", since=0,
                                          timeout=wait, what="push endpoint").group(1)
        self.ms_fingerprint = self.ms.wait(r"ready, key (SHA256:[A-Za-z0-9+/]{43})",
                                           stream="err", since=0, timeout=wait,
                                           what="ready").group(1)
        log("mainserver%s on %s, push %s (pid %d)"
            % (self.name, self.ms_endpoint, self.push_endpoint, self.ms.pid))
        return self.ms

    def start(self):
        self.start_keyserver()
        self.start_mainserver()
        return self

    def stop_keyserver(self, timeout=None):
        rc = self.ks.stop(signal.SIGTERM, timeout)
        if rc != 0:
            fail("key server exited %s on SIGTERM\n%s" % (rc, self.ks.tail()))

    def stop_mainserver(self, timeout=None):
        rc = self.ms.stop(signal.SIGTERM, timeout)
        if rc != 0:
            fail("main server exited %s on SIGTERM\n%s" % (rc, self.ms.tail()))

    def stop(self, timeout=None):
        self.stop_mainserver(timeout)
        self.stop_keyserver(timeout)

    def client_args(self):
        return ["--keyserver", self.ks_endpoint, "--mainserver", self.ms_endpoint,
                "--push", self.push_endpoint]


# ------------------------------------------------------------------ namespaces

def namespaces_possible():
    """None when ip netns can be used, else the reason it cannot."""
    if os.geteuid() != 0:
        return "not root: network namespaces need CAP_SYS_ADMIN"
    if not shutil.which("ip"):
        return "no 'ip' command (iproute2)"
    probe = "chate2e-probe-%d" % os.getpid()
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if r.returncode != 0:
        return "ip netns add failed: %s" % r.stderr.strip()
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


class Netns:
    """Named namespaces for this run; every one is deleted at close()."""

    def __init__(self, tag):
        self.prefix = "chate2e-%s-%d" % (tag, os.getpid())
        self.names = []

    def add(self, suffix):
        name = "%s-%s" % (self.prefix, suffix)
        run(["ip", "netns", "add", name])
        self.names.append(name)
        run(["ip", "-n", name, "link", "set", "lo", "up"])
        return name

    def veth(self, ns_a, addr_a, ns_b, addr_b, prefix_len=24):
        """A veth pair made inside ns_a with its peer moved straight into ns_b:
        neither end ever exists in the machine's own namespace."""
        run(["ip", "-n", ns_a, "link", "add", "e2ea", "type", "veth",
             "peer", "name", "e2eb", "netns", ns_b])
        run(["ip", "-n", ns_a, "addr", "add", "%s/%d" % (addr_a, prefix_len), "dev", "e2ea"])
        run(["ip", "-n", ns_b, "addr", "add", "%s/%d" % (addr_b, prefix_len), "dev", "e2eb"])
        run(["ip", "-n", ns_a, "link", "set", "e2ea", "up"])
        run(["ip", "-n", ns_b, "link", "set", "e2eb", "up"])
        return "e2ea", "e2eb"

    def close(self):
        for name in reversed(self.names):
            # Processes still inside would keep it alive: kill them first
            pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True,
                                  text=True).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self.names = []


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        fail("%s failed (%d): %s%s" % (" ".join(argv), r.returncode, r.stdout, r.stderr))
    return r


# ------------------------------------------------------------------ forms of secrets

def encodings(raw):
    """Every form a secret might take in a byte stream: raw, hex (both cases),
    base64 and base64url, with and without padding, plus the middle of each
    (so a secret split across text boundaries is still found once whole)."""
    if isinstance(raw, str):
        raw = raw.encode()
    forms = {raw, raw.hex().encode(), raw.hex().upper().encode()}
    for enc in (base64.b64encode, base64.urlsafe_b64encode):
        text = enc(raw)
        forms.add(text)
        forms.add(text.rstrip(b"="))
        # base64 of the same bytes at another alignment still shares the
        # encoding of the middle: find it at any of the three offsets
        for skip in (1, 2):
            inner = enc(raw[skip:])
            cut = len(inner) - 4
            if cut > 8:
                forms.add(inner[4:cut])
    return {f for f in forms if len(f) >= 6}


def find_secret(blob, raw, label):
    """Names of the forms of raw found in blob (empty when clean)."""
    hits = []
    for form in encodings(raw):
        if form in blob:
            hits.append("%s as %r" % (label, form[:40]))
    return hits


# ------------------------------------------------------------------ main

def main(body):
    """Run body(workdir) with cleanup; exit 0 / 1 / SKIP."""
    keep = os.environ.get("E2E_KEEP")
    workdir = tempfile.mkdtemp(prefix="chat-e2e-")
    cleanups = []

    def on_signal(signum, frame):
        raise TestFailure("interrupted by signal %d" % signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    status = 1
    try:
        result = body(workdir, cleanups)
        status = SKIP if result == SKIP else 0
    except TestFailure as e:
        print("FAIL: %s" % e, flush=True)
    except Exception:
        import traceback
        traceback.print_exc()
    finally:
        Proc.kill_all()
        for cleanup in reversed(cleanups):
            try:
                cleanup()
            except Exception as e:
                print("cleanup: %s" % e)
        if status == 1:
            for proc in Proc._all:
                print(proc.tail(40))
            print("logs in %s" % workdir)
        elif not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if status == 0:
        log("PASS")
    sys.exit(status)
