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
import glob
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
from chatproc import (LIVE_TIMEOUT, REFRESH_ARGS, SKIP, STRICT, plain_text,  # noqa: E402
                      plain_word, printable, read_lines, search_lines, skip_status, store_args)

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

def _die_with_parent():
    """In the child before exec: SIGKILL when the driver dies, even by a
    SIGKILL of its own (a ctest timeout), so no server outlives its test."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except Exception:
        pass


class Proc:
    """A child process whose stdout and stderr lines are kept as they come."""

    _all = []

    def __init__(self, name, argv, env=None, netns=None, logdir=None, stdin=True,
                 journal=False):
        """journal: stderr is a pipe named by JOURNAL_STREAM, as systemd
        names the journal's stream to a service (lines then carry <N>)."""
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
        full_env.pop("JOURNAL_STREAM", None)
        if env:
            full_env.update(env)
        stderr = subprocess.PIPE
        if journal:
            read_end, stderr = os.pipe()
            st = os.fstat(stderr)
            full_env["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
        self.p = subprocess.Popen(
            argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=stderr, env=full_env,
            start_new_session=True, preexec_fn=_die_with_parent)
        if journal:
            os.close(stderr)
            self.p.stderr = os.fdopen(read_end, "rb")
        self.pid = self.p.pid
        self.threads = [
            threading.Thread(target=read_lines, args=(self.p.stdout, self.out, self.cv),
                             daemon=True),
            threading.Thread(target=read_lines, args=(self.p.stderr, self.err, self.cv),
                             daemon=True),
        ]
        for t in self.threads:
            t.start()
        Proc._all.append(self)

    def _dead(self):
        """Exited, and every line it wrote read."""
        return self.p.poll() is not None and not any(t.is_alive() for t in self.threads)

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
        found = search_lines(self.cv, lines, pattern, since, deadline, self._dead)
        if found:
            if move:
                self.cursor = found[0] + 1
            return found[1]
        fail("%s: no line matching %r (%s) within %.0f s; exit %s\n%s"
             % (self.name, regex, what or "", timeout or TIMEOUT, self.p.poll(), self.tail()))

    def wait_log(self, regex, timeout=None, what=None):
        """A line in either stream, from the start (servers log with zsys,
        whose stream may be stdout or stderr)."""
        deadline = time.monotonic() + (timeout or TIMEOUT)
        with self.cv:
            while True:
                for stream in ("err", "out"):
                    hit = self.find(regex, 0, stream)
                    if hit:
                        return hit[1]
                left = deadline - time.monotonic()
                if left <= 0 or self._dead():
                    break
                self.cv.wait(min(left, 0.2))
        fail("%s: no log line matching %r (%s) within %.0f s; exit %s\n%s"
             % (self.name, regex, what or "", timeout or TIMEOUT, self.p.poll(), self.tail()))

    def lines_since(self, mark, stream="out"):
        with self.cv:
            return list((self.out if stream == "out" else self.err)[mark:])

    def tail(self, n=25):
        with self.cv:
            out = self.out[-n:]
            err = self.err[-n:]
        return printable("  --- %s stdout (last %d) ---\n  %s\n  --- %s stderr (last %d) ---\n  %s"
                         % (self.name, len(out), "\n  ".join(out), self.name, len(err),
                            "\n  ".join(err)))

    # -- life
    def alive(self):
        return self.p.poll() is None

    def send_signal(self, sig):
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
        self.send_signal(sig)
        rc = self.wait_exit(timeout)
        for t in self.threads:
            t.join(5)
        self.save_log()
        return rc

    def kill9(self):
        self.send_signal(signal.SIGKILL)
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
        """Every process this run started, whatever state the test left:
        all signalled first, so that one failing wait cannot spare another."""
        for proc in cls._all:
            try:
                if proc.alive():
                    os.kill(proc.pid, signal.SIGKILL)
            except Exception:
                pass
        for proc in cls._all:
            try:
                proc.p.wait(5)
            except Exception:
                pass
            try:
                proc.save_log()
            except Exception:
                pass


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
        # the other server's public key file each is started with (an
        # operator's copy may live elsewhere, e.g. /etc/chat)
        self.ks_pub = os.path.join(self.ks_dir, "keyserver.pub")
        self.ms_pub = os.path.join(self.ms_dir, "mainserver.pub")
        self.ks = None
        self.ms = None
        self.ks_endpoint = None
        self.ms_endpoint = None
        self.push_endpoint = None
        self.ks_fingerprint = None
        self.ms_fingerprint = None
        self.exit_codes = []

    def init(self):
        # Both servers make their keys; each is then started with the
        # other's public key file, as an operator copies it (protocol 2)
        for which, data in (("keyserver", self.ks_dir), ("mainserver", self.ms_dir)):
            result = subprocess.run([self.bins[which], "--init", "--data", data],
                                    capture_output=True, text=True, timeout=60)
            if result.returncode != 0:
                fail("chat-%s --init failed: %s%s" % (which, result.stdout, result.stderr))
            m = re.search(r"(SHA256:[A-Za-z0-9+/]{43})", result.stdout)
            if not m:
                fail("chat-%s --init printed no fingerprint: %r" % (which, result.stdout))
            if which == "keyserver":
                self.ks_fingerprint = m.group(1)
            else:
                self.ms_fingerprint = m.group(1)
        return self

    def _port(self, endpoint):
        return endpoint.rsplit(":", 1)[1] if endpoint else "*"

    def start_keyserver(self, same_port=True, extra=(), env=None, journal=False):
        port = self._port(self.ks_endpoint) if same_port else "*"
        argv = self.wrapper + [self.bins["keyserver"], "--data", self.ks_dir,
                               "--bind", "tcp://%s:%s" % (self.host, port),
                               "--iterations", str(self.iterations),
                               "--mainserver-key", self.ms_pub] + store_args(self.ks_dir)
        if self.announce:
            argv += ["--announce", self.announce]
        argv += list(extra)
        self.ks = Proc("keyserver" + self.name, argv, netns=self.netns,
                       logdir=self.workdir, stdin=False, env=env, journal=journal)
        m = self.ks.wait(r"^(tcp://\S+)$", timeout=max(TIMEOUT, 60), what="bound endpoint")
        self.ks_endpoint = m.group(1)
        # its own key (it also names the main server's key it checks tickets with)
        m = self.ks.wait_log(r"started, data .*, key (SHA256:[A-Za-z0-9+/]{43})", 10,
                             "key fingerprint")
        self.ks_fingerprint = m.group(1)
        log("keyserver%s on %s (pid %d)" % (self.name, self.ks_endpoint, self.ks.pid))
        return self.ks

    def start_mainserver(self, same_port=True, extra=(), env=None, journal=False):
        port = self._port(self.ms_endpoint) if same_port else "*"
        push = self._port(self.push_endpoint) if same_port else "*"
        argv = self.wrapper + [self.bins["mainserver"], "--data", self.ms_dir,
                               "--bind", "tcp://%s:%s" % (self.host, port),
                               "--push-bind", "tcp://%s:%s" % (self.host, push),
                               "--keyserver-key", self.ks_pub] + store_args(self.ms_dir)
        if self.announce:
            argv += ["--announce", self.announce]
        argv += list(extra)
        self.ms = Proc("mainserver" + self.name, argv, netns=self.netns,
                       logdir=self.workdir, stdin=False, env=env, journal=journal)
        wait = max(TIMEOUT, 60)
        self.ms_endpoint = self.ms.wait_log(r"requests on (tcp://\S+)", wait,
                                            "request endpoint").group(1)
        self.push_endpoint = self.ms.wait_log(r"pushes on (tcp://\S+)", wait,
                                              "push endpoint").group(1)
        self.ms_fingerprint = self.ms.wait_log(r"ready, key (SHA256:[A-Za-z0-9+/]{43})",
                                               wait, "ready").group(1)
        log("mainserver%s on %s, push %s (pid %d)"
            % (self.name, self.ms_endpoint, self.push_endpoint, self.ms.pid))
        return self.ms

    def start(self):
        self.start_keyserver()
        self.start_mainserver()
        return self

    def _stop(self, proc, what, timeout, check):
        rc = proc.stop(signal.SIGTERM, timeout)
        self.exit_codes.append((what, rc))
        if check and rc != 0:
            fail("%s exited %s on SIGTERM\n%s" % (what, rc, proc.tail()))
        return rc

    def stop_keyserver(self, timeout=None, check=True):
        return self._stop(self.ks, "key server", timeout, check)

    def stop_mainserver(self, timeout=None, check=True):
        return self._stop(self.ms, "main server", timeout, check)

    def stop(self, timeout=None, check=True):
        self.stop_mainserver(timeout, check)
        self.stop_keyserver(timeout, check)

    def client_args(self):
        return ["--keyserver", self.ks_endpoint, "--mainserver", self.ms_endpoint,
                "--push", self.push_endpoint]


# ------------------------------------------------------------------ valgrind

def valgrind_wrapper(workdir):
    """Run a server under valgrind, its log in workdir/valgrind.PID.log."""
    return ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite,indirect",
            "--error-exitcode=99", "--num-callers=30",
            "--log-file=%s/valgrind.%%p.log" % workdir]


def check_valgrind_logs(workdir, expected, what):
    """Every server's valgrind log: no error, no definite or indirect leak;
    expected logs at least (what says which)."""
    logs = sorted(glob.glob(os.path.join(workdir, "valgrind.*.log")))
    if len(logs) < expected:
        fail("expected %d valgrind logs (%s), found %d" % (expected, what, len(logs)))
    problems = []
    for path in logs:
        text = open(path, errors="replace").read()
        command = re.search(r"Command: (\S+)", text)
        who = os.path.basename(command.group(1)) if command else path
        summary = re.search(r"ERROR SUMMARY: (\d+) errors", text)
        if not summary:
            problems.append("%s: no ERROR SUMMARY (did it exit cleanly?)" % who)
            continue
        for kind in ("definitely", "indirectly"):
            m = re.search(kind + r" lost: ([\d,]+) bytes", text)
            if m and m.group(1) != "0":
                problems.append("%s: %s lost %s bytes" % (who, kind, m.group(1)))
        if summary.group(1) != "0":
            problems.append("%s: %s errors" % (who, summary.group(1)))
        if problems:
            print("--- %s ---\n%s" % (path, text[-6000:]))
        log("valgrind %s: %s errors (%s)" % (who, summary.group(1), os.path.basename(path)))
    if problems:
        fail("valgrind: " + "; ".join(problems))


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
    try:
        r = subprocess.run(["ip", "netns", "exec", probe, "ip", "link", "set", "lo", "up"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            return "ip netns exec failed: %s" % r.stderr.strip()
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


class Netns:
    """Named namespaces for this run; every one is deleted at close()."""

    def __init__(self, tag):
        self.prefix = "chate2e-%s-%d" % (tag, os.getpid())
        self.names = []
        self.sweep()

    @staticmethod
    def sweep():
        """Delete namespaces left by e2e drivers that were killed outright
        (their pid, in the name, is gone)."""
        listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        for line in listing.splitlines():
            m = re.match(r"(chate2e-[a-z]+-(\d+)-[a-z]+)\b", line)
            if m and not os.path.exists("/proc/%s" % m.group(2)):
                subprocess.run(["ip", "netns", "del", m.group(1)], capture_output=True)

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


def private_net(tag, cleanups):
    """A namespace with only lo for this run, when one can be made: its
    ports are private, so a server restarted on its old port always gets it
    back (on the shared host another test's tcp://127.0.0.1:* bind would take
    the freed port, as ZMQ hands out the lowest free one). None, with the
    reason logged, when namespaces cannot be made: the test then runs on the
    host's loopback."""
    reason = namespaces_possible()
    if reason:
        log("no private namespace (%s): on the host's loopback; a restart may "
            "lose its port to another process" % reason)
        return None
    ns = Netns(tag)
    cleanups.append(ns.close)
    return ns.add("net")


def started_cluster(tag, workdir, cleanups):
    """The usual start of a test: the binaries, a private namespace when one
    can be made (private_net), both servers initialised and started in it,
    and a function client(name) making a plain JSON client of both servers
    (one home for all). Returns (bins, net, cluster, client)."""
    bins = binaries()
    net = private_net(tag, cleanups)
    cluster = Cluster(bins, workdir, netns=net).init().start()
    home = os.path.join(workdir, "client")

    def client(name):
        return Client(bins, name, cluster.client_args(), home, netns=net, logdir=workdir)
    return bins, net, cluster, client


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


# ------------------------------------------------------------------ captures

def pcap_streams(path):
    """The TCP payload of a pcap file, one bytes object per direction of
    each connection, segments put in sequence order (a secret split across
    two segments is whole again). Ethernet (lo), Linux cooked v1/v2 links."""
    import struct
    data = open(path, "rb").read()
    if len(data) < 24:
        fail("%s: not a pcap file" % path)
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        fail("%s: not a pcap file (magic %r)" % (path, magic))
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    link_len = {1: 14, 113: 16, 276: 20}.get(linktype)
    if link_len is None:
        fail("%s: link type %d not understood" % (path, linktype))
    flows = {}
    pos = 24
    while pos + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[pos + 8:pos + 12])[0]
        frame = data[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        ip = frame[link_len:]
        if len(ip) < 20:
            continue
        version = ip[0] >> 4
        if version == 4:
            ihl = (ip[0] & 15) * 4
            total = struct.unpack(">H", ip[2:4])[0]
            if ip[9] != 6:
                continue
            src, dst = ip[12:16], ip[16:20]
            tcp = ip[ihl:total]
        elif version == 6:
            if len(ip) < 40 or ip[6] != 6:
                continue
            plen = struct.unpack(">H", ip[4:6])[0]
            src, dst = ip[8:24], ip[24:40]
            tcp = ip[40:40 + plen]
        else:
            continue
        if len(tcp) < 20:
            continue
        sport, dport, seq = struct.unpack(">HHI", tcp[:8])
        payload = tcp[(tcp[12] >> 4) * 4:]
        if payload:
            flows.setdefault((src, sport, dst, dport), {})[seq] = payload
    streams = []
    for segments in flows.values():
        streams.append(b"".join(segments[seq] for seq in sorted(segments)))
    return streams


# ------------------------------------------------------------------ main

def skip(reason):
    """What body returns when the test cannot run here: SKIP, saying why
    (or a failure under CHAT_TEST_STRICT=1)."""
    return skip_status(reason)


def main(body):
    """Run body(workdir) with cleanup; exit 0 / 1 / SKIP (body returns
    skip(reason) for that; or 1 itself for a failure it already said)."""
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
        status = result if result in (SKIP, 1) else 0
        if status == SKIP and STRICT:
            # a test that returned SKIP without skip(): strict all the same
            print("FAIL: CHAT_TEST_STRICT=1, and the test skipped (why is above)", flush=True)
            status = 1
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
    elif status == SKIP:
        log("SKIPPED")
    sys.exit(status)


# ------------------------------------------------------------------ the client

class Result:
    def __init__(self, client, command, line, extra):
        self.client = client
        self.command = command
        self.line = line            # the ok/error object
        self.extra = extra          # the lines before it (conv, hist, user ...)
        self.ok = line.get("type") == "ok"

    def expect_ok(self, message=None):
        if not self.ok:
            fail("%s: %s failed: %r\n%s" % (self.client.name, self.command, self.line,
                                           self.client.tail()))
        if message is not None and self.line.get("message") != message:
            fail("%s: %s answered %r, expected message %r"
                 % (self.client.name, self.command, self.line, message))
        return self

    def expect_fail(self, code=None, message=None):
        """code: the error code name, or None for any; message: a prefix the
        message must start with, or None for any."""
        if self.ok:
            fail("%s: %s succeeded, expected %s %r: %r"
                 % (self.client.name, self.command, code or "an error", message, self.line))
        if code and self.line.get("code") != code:
            fail("%s: %s failed with %s, expected %s: %r"
                 % (self.client.name, self.command, self.line.get("code"), code, self.line))
        if message and not str(self.line.get("message", "")).startswith(message):
            fail("%s: %s failed with message %r, expected %r"
                 % (self.client.name, self.command, self.line.get("message"), message))
        return self


class Client(Proc):
    """chat --plain --json: one command at a time, each answered by one
    {"type":"ok"} or {"type":"error"} line (PLAIN.md); events in between."""

    def __init__(self, bins, name, args, home, netns=None, logdir=None, isolate_home=False,
                 env=None):
        os.makedirs(home, exist_ok=True)
        full_env = {"XDG_CONFIG_HOME": home}
        if isolate_home:
            full_env = {"HOME": home}
            for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                             ("XDG_CACHE_HOME", "cache"), ("XDG_STATE_HOME", "state"),
                             ("TMPDIR", "tmp")):
                full_env[var] = os.path.join(home, sub)
            os.makedirs(full_env["TMPDIR"], exist_ok=True)
        if env:
            full_env.update(env)
        self.home = home
        self.pending = 0            # commands written, answers not yet read
        self.answered = 0           # answers read by command()
        # re-listing (which fetches what a push missed) only after the test:
        # a live message must come by push
        if "--refresh-interval" not in args:
            args = list(args) + REFRESH_ARGS
        Proc.__init__(self, "chat-" + name,
                      [bins["client"], "--plain", "--json"] + list(args),
                      env=full_env, netns=netns, logdir=logdir)

    # -- parsing
    def objects(self, since=0):
        """(index, object) of every JSON line at or after since."""
        import json
        result = []
        for i, line in enumerate(self.lines_since(since)):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                result.append((since + i, obj))
        return result

    def answers(self, since=0):
        return [(i, o) for i, o in self.objects(since) if o.get("type") in ("ok", "error")]

    # -- commands
    def command(self, line, timeout=None, what=None):
        """Write a command line and wait for its answer: a Result."""
        mark = Proc.send(self, line)
        self.wait(r'^\{"type":"(ok|error)"', since=mark, timeout=timeout,
                  what=what or line.split(" ", 1)[0])
        answer = self.answers(mark)[0]
        extra = [o for i, o in self.objects(mark) if i < answer[0]]
        return Result(self, line.split(" ", 1)[0], answer[1], extra)

    def register(self, user, password, confirm=None, confirm2=None, timeout=None):
        confirm = password if confirm is None else confirm
        confirm2 = confirm if confirm2 is None else confirm2
        return self.command("register %s" % " ".join(
            plain_word(w) for w in (user, password, confirm, confirm2)), timeout)

    def login_line(self, user, password):
        return "login %s %s" % (plain_word(user), plain_word(password))

    def login(self, user, password, timeout=None):
        return self.command(self.login_line(user, password), timeout)

    def logout(self):
        return self.command("logout").expect_ok()

    def users(self):
        r = self.command("users").expect_ok()
        return [o["name"] for o in r.extra if o.get("type") == "user"]

    def conversations(self):
        r = self.command("list").expect_ok()
        return [o["conversation"] for o in r.extra if o.get("type") == "conv"]

    def new(self, *users):
        r = self.command("new %s" % " ".join(plain_word(u) for u in users)).expect_ok()
        return r.line["conversation"]

    def send_line(self, line):
        return Proc.send(self, line)

    def send(self, conv, text=None, timeout=None):
        """send(conv, text): send a message and return its seq. send(line)
        with one argument is Proc.send: write a raw line."""
        if text is None:
            return Proc.send(self, conv)
        r = self.command("send %s %s" % (conv, plain_text(text)), timeout)
        r.expect_ok()
        return int(r.line["seq"])

    def history(self, conv, after=0, timeout=None):
        r = self.command("history %s %d" % (conv, after), timeout).expect_ok()
        return [(int(o["seq"]), o["sender"], o["text"]) for o in r.extra
                if o.get("type") == "hist"]

    def history_refused(self, conv):
        """A conversation the user is not in: refused, nothing shown."""
        r = self.command("history %s 0" % conv)
        if r.ok or any(o.get("type") == "hist" for o in r.extra):
            fail("%s: history of %s was not refused: %r %r" % (self.name, conv, r.line, r.extra))
        return r

    def quit(self, allow_failure=False):
        if self.alive():
            try:
                Proc.send(self, "quit")
            except TestFailure:
                pass
            self.close_stdin()
        rc = self.wait_exit()
        for t in self.threads:
            t.join(5)
        self.save_log()
        # plain mode exits 1 when any command failed, 0 when none did
        failed = any(o.get("type") == "error" for _, o in self.answers(0))
        if rc != (1 if failed else 0) and not allow_failure:
            fail("%s exited %d after %s\n%s" % (self.name, rc,
                 "a failed command" if failed else "no failed command", self.tail()))
        return rc

    def kill9(self):
        Proc.kill9(self)

    # -- events
    def wait_message(self, conv, sender, text, timeout=None):
        """A live message (type msg) from anywhere in the output so far,
        within LIVE_TIMEOUT unless told otherwise: only a push is that fast
        (the clients' re-list is set far beyond the test)."""
        timeout = timeout or LIVE_TIMEOUT
        deadline = time.monotonic() + timeout
        while True:
            for _, o in self.objects(0):
                if (o.get("type") == "msg" and o.get("conversation") == conv
                        and o.get("sender") == sender and o.get("text") == text):
                    return o
            if time.monotonic() > deadline or not self.alive():
                fail("%s: no live message %r from %s in %s within %.0f s (no push?)\n%s"
                     % (self.name, text, sender, conv, timeout, self.tail()))
            with self.cv:
                self.cv.wait(0.2)

    def wait_event(self, event, timeout=None, since=0, **fields):
        deadline = time.monotonic() + (timeout or TIMEOUT)
        while True:
            for _, o in self.objects(since):
                if o.get("type") == "event" and o.get("event") == event and all(
                        o.get(k) == v for k, v in fields.items()):
                    return o
            if time.monotonic() > deadline or not self.alive():
                fail("%s: no %s event %r\n%s" % (self.name, event, fields, self.tail()))
            with self.cv:
                self.cv.wait(0.2)

    def wait_connected(self, timeout=None):
        self.wait_event("connected", timeout, server="keyserver")
        self.wait_event("connected", timeout, server="mainserver")

    def wait_conversation(self, conv, timeout=None):
        deadline = time.monotonic() + (timeout or TIMEOUT)
        while True:
            for _, o in self.objects(0):
                if o.get("conversation") == conv and o.get("type") in ("event", "conv"):
                    return o
            if time.monotonic() > deadline or not self.alive():
                fail("%s: never heard of conversation %s\n%s" % (self.name, conv, self.tail()))
            with self.cv:
                self.cv.wait(0.2)

    def wait_pin_mismatch(self, server, pinned, offered, timeout=None):
        """The refusal names both fingerprints, on stdout and in the warning."""
        o = self.wait_event("pin-mismatch", timeout, server=server)
        if o.get("pinned") != pinned or o.get("offered") != offered:
            fail("%s: pin-mismatch names %r / %r, expected pinned %s offered %s"
                 % (self.name, o.get("pinned"), o.get("offered"), pinned, offered))
        warning = self.wait(r"WARNING", since=0, stream="err", timeout=5, what="warning").string
        if pinned not in warning or offered not in warning:
            fail("%s: the warning does not name both fingerprints: %r" % (self.name, warning))
        if any(o.get("type") == "event" and o.get("event") == "connected"
               and o.get("server") == server for _, o in self.objects(0)):
            fail("%s: connected to the %s despite the pin mismatch" % (self.name, server))
        return o

    # -- bursts (commands run in order, so the n-th answer is the n-th line)
    def send_burst(self, conv, texts):
        self.burst = getattr(self, "burst", {})
        mark = self.mark()
        self.burst[mark] = list(texts)
        data = "".join("send %s %s\n" % (conv, plain_text(t)) for t in texts)
        try:
            self.p.stdin.write(data.encode())
            self.p.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass
        return mark

    def _burst_answers(self, mark):
        return [o for _, o in self.answers(mark) if o.get("command") == "send"]

    def acks(self, mark):
        """(seq, text) of the burst's sends answered ok so far."""
        texts = self.burst[mark]
        return [(int(o["seq"]), texts[i]) for i, o in enumerate(self._burst_answers(mark)[:len(texts)])
                if o.get("type") == "ok"]

    def burst_failures(self, mark):
        texts = self.burst[mark]
        return [(texts[i], o) for i, o in enumerate(self._burst_answers(mark)[:len(texts)])
                if o.get("type") != "ok"]

    def wait_burst_done(self, mark, count, timeout=None):
        deadline = time.monotonic() + (timeout or TIMEOUT)
        while len(self._burst_answers(mark)) < count:
            if time.monotonic() > deadline or not self.alive():
                fail("%s: only %d of %d sends answered\n%s"
                     % (self.name, len(self._burst_answers(mark)), count, self.tail()))
            with self.cv:
                self.cv.wait(0.2)
        # commands after the burst must match the next answers
        self.cursor = max(self.cursor, self.mark())

    def login_loop(self, user, password, rounds):
        data = "".join("logout\n%s\n" % self.login_line(user, password) for _ in range(rounds))
        self.p.stdin.write(data.encode())
        self.p.stdin.flush()

    def count_logins(self, mark):
        return sum(1 for _, o in self.answers(mark)
                   if o.get("command") == "login" and o.get("type") == "ok")

    def wait_login_loop_done(self, mark, rounds, timeout=None):
        deadline = time.monotonic() + (timeout or TIMEOUT)
        while len(self.answers(mark)) < 2 * rounds:
            if time.monotonic() > deadline or not self.alive():
                fail("%s: only %d of %d logout/login answered\n%s"
                     % (self.name, len(self.answers(mark)), 2 * rounds, self.tail()))
            with self.cv:
                self.cv.wait(0.2)
        return self.answers(mark)
