#!/usr/bin/env python3
"""tui_driver - drive the real `chat` full-screen client in tmux against the
real servers, and assert on what is on the screen.

    tui_driver.py CASE --chat PATH --keyserver PATH --mainserver PATH

Both servers start on 127.0.0.1 with random free ports (tcp://127.0.0.1:!) and
temporary data directories; every client runs in its own tmux session of a
private tmux server (-L, so nothing touches the user's tmux), 160x45, with a
temporary XDG_CONFIG_HOME and --known-servers. Keys go in with send-keys,
the screen comes back with capture-pane; every wait polls with a deadline,
never a fixed sleep. Exit 0 pass, 1 fail, 77 skip (no tmux; a failure
instead under CHAT_TEST_STRICT=1). Clients re-list their conversations only
after the test (--refresh-interval), so what a case waits for as live
(within LIVE seconds) can only have come by push.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from chatproc import LIVE_TIMEOUT, REFRESH_ARGS, skip_status, store_args   # noqa: E402

WAIT = float(os.environ.get("TUI_WAIT", "20"))     # one expected screen
LIVE = LIVE_TIMEOUT                                 # a pushed message on screen
# the title bar with both servers connected, wide ("key server: ok") or not
CONNECTED = r"key( server)?: ?ok\s+main( server)?: ?ok"


class Failure(Exception):
    pass


def log(text):
    print("[%6.2f] %s" % (time.monotonic() - T0, text), flush=True)


T0 = time.monotonic()


class Server:
    def __init__(self, argv, workdir, name):
        self.name = name
        self.out_path = os.path.join(workdir, name + ".log")
        self.out = open(self.out_path, "w+")
        # CZMQ logs on stdout unless told otherwise: keep both in one file
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def wait_for(self, regex, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.out_path) as f:
                m = re.search(regex, f.read(), re.M)
            if m:
                return m
            if self.proc.poll() is not None:
                raise Failure("%s exited (%s):\n%s" % (self.name, self.proc.returncode,
                                                       open(self.out_path).read()))
            time.sleep(0.05)
        raise Failure("%s: no %r in its log:\n%s" % (self.name, regex,
                                                     open(self.out_path).read()))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()


class Tmux:
    """A private tmux server; one session per client."""

    def __init__(self, workdir):
        self.socket = "chat-tui-test-%d" % os.getpid()
        self.workdir = workdir

    def run(self, *args, check=True):
        result = subprocess.run(["tmux", "-L", self.socket, "-f", "/dev/null"] + list(args),
                                capture_output=True, text=True, timeout=20)
        if check and result.returncode != 0:
            raise Failure("tmux %s: %s" % (" ".join(args), result.stderr.strip()))
        return result.stdout

    def kill(self):
        subprocess.run(["tmux", "-L", self.socket, "kill-server"],
                       capture_output=True, timeout=20)


class Pane:
    def __init__(self, tmux, name, command, width=160, height=45):
        self.tmux = tmux
        self.name = name
        # remain-on-exit keeps a crashed client's last screen for the report
        tmux.run("new-session", "-d", "-s", name, "-x", str(width), "-y", str(height),
                 command)
        tmux.run("set-option", "-t", name, "remain-on-exit", "on")

    def keys(self, *keys):
        self.tmux.run("send-keys", "-t", self.name, *keys)

    def type(self, text):
        self.tmux.run("send-keys", "-t", self.name, "-l", text)

    def screen(self):
        return self.tmux.run("capture-pane", "-p", "-t", self.name)

    def paste(self, text):
        """As a terminal pastes: bracketed when the program asked for it
        (newlines arrive as carriage returns)."""
        self.tmux.run("set-buffer", "-b", "paste-" + self.name, text)
        self.tmux.run("paste-buffer", "-p", "-d", "-b", "paste-" + self.name, "-t", self.name)

    def record(self, path):
        """Everything the program writes to the terminal, raw, into path."""
        self.tmux.run("pipe-pane", "-O", "-t", self.name, "cat >> '%s'" % path)

    def exit_status(self, timeout=WAIT):
        """The client's exit status once it ended, or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(self.status_path):
                time.sleep(0.2)     # the shell writes it right after chat exits
                with open(self.status_path) as f:
                    text = f.read().strip()
                if text:
                    return int(text)
            time.sleep(0.1)
        return None

    def lines(self):
        """The screen's rows, all of them (capture-pane ends with a newline)."""
        screen = self.screen()
        return (screen[:-1] if screen.endswith("\n") else screen).split("\n")

    def dead(self):
        out = self.tmux.run("list-panes", "-t", self.name, "-F", "#{pane_dead}", check=False)
        return out.strip() == "1"

    def wait(self, pattern, timeout=WAIT, what=None, absent=False):
        """Until the screen matches (or, absent, stops matching) a regex."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            found = re.search(pattern, screen, re.M)
            if (found and not absent) or (absent and not found):
                return found
            if self.dead():
                break
            time.sleep(0.1)
        raise Failure("%s: %s %r within %.0f s; the screen:\n%s" % (
            self.name, "still shows" if absent else "never showed",
            what or pattern, timeout, screen))

    def expect_not(self, pattern, what=None):
        screen = self.screen()
        if re.search(pattern, screen, re.M):
            raise Failure("%s: unexpected %r on the screen:\n%s" % (self.name, what or pattern,
                                                                   screen))

    # -------------------------------------------------- the login screen

    # Editing a section clears its last answer: waiting for that before
    # Enter makes sure the answer seen next is the new one.
    REGISTER_ANSWERS = r"^\s+(Success!|Username already in use|Passwords don't match)\s*$"
    LOGIN_ANSWERS = r"^\s+(Wrong username or password|Logged out)\s*$"

    def register(self, user, password, confirm=None, confirm2=None):
        self.keys("M-r", "C-e", "C-u")      # the register section's username
        self.type(user)
        for text in (password, confirm or password, confirm2 or password):
            self.keys("Tab")
            self.keys("C-e", "C-u")
            self.type(text)
        self.wait(self.REGISTER_ANSWERS, absent=True, what="the previous answer")
        self.keys("Enter")

    def login(self, user, password):
        self.keys("M-l", "C-e", "C-u")
        self.type(user)
        self.keys("Tab", "C-e", "C-u")
        self.type(password)
        self.wait(self.LOGIN_ANSWERS, absent=True, what="the previous answer")
        self.keys("Enter")

    def message_line(self, text):
        """The register/login answer is the only thing on its line."""
        return r"^\s+%s\s*$" % re.escape(text)

    # -------------------------------------------------- the main screen

    def command(self, line):
        self.keys("C-e", "C-u")
        self.type(line)
        self.keys("Enter")


def free_port():
    """A port nothing listens on now (bound, then let go)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PlainClient:
    """`chat --plain` beside the panes: a second user that types fast."""

    def __init__(self, argv, name, workdir):
        self.name = name
        self.lines = []
        self.cv = threading.Condition()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=open(os.path.join(workdir, name + ".stderr"), "w"),
                                     text=True, encoding="utf-8", errors="replace")
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.cv:
                self.lines.append(line.rstrip("\n"))
                self.cv.notify_all()
        with self.cv:
            self.cv.notify_all()

    def mark(self):
        with self.cv:
            return len(self.lines)

    def wait(self, regex, since=0, timeout=WAIT * 2):
        deadline = time.monotonic() + timeout
        pattern = re.compile(regex)
        with self.cv:
            while True:
                for line in self.lines[since:]:
                    m = pattern.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise Failure("%s: no line %r; its output:\n%s"
                                  % (self.name, regex, "\n".join(self.lines[-30:])))
                self.cv.wait(min(left, 0.2))

    def cmd(self, line, timeout=WAIT * 2):
        """One command; its answer line (ok or error)."""
        mark = self.mark()
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.wait(r"^(ok|error) ", since=mark, timeout=timeout).string

    def ok(self, line, timeout=WAIT * 2):
        answer = self.cmd(line, timeout)
        if not answer.startswith("ok "):
            raise Failure("%s: %r answered %r" % (self.name, line, answer))
        return answer

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
            except (BrokenPipeError, ValueError):
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class World:
    def __init__(self, args):
        self.args = args
        self.workdir = tempfile.mkdtemp(prefix="chat-tui-")
        self.servers = []
        self.tmux = Tmux(self.workdir)
        self.panes = []
        self.plains = []
        self.keyserver = self.mainserver = None
        self.ks_dir = os.path.join(self.workdir, "keyserver")
        self.ms_dir = os.path.join(self.workdir, "mainserver")

    def start(self):
        # Each server starts with the other's public key file, as an
        # operator copies them
        subprocess.run([self.args.keyserver, "--init", "--data", self.ks_dir], check=True,
                       capture_output=True, timeout=60)
        subprocess.run([self.args.mainserver, "--init", "--data", self.ms_dir], check=True,
                       capture_output=True, timeout=60)
        # random ports ('!'): with '*' every test on the machine takes the
        # lowest free one, and a port a restarting server gives up goes to
        # another test's server before it is back
        self.start_keyserver("tcp://127.0.0.1:!")
        self.start_mainserver("tcp://127.0.0.1:!", "tcp://127.0.0.1:!")
        log("servers: key %s, main %s, push %s" % (self.ks_endpoint, self.ms_endpoint,
                                                   self.push_endpoint))

    def _start(self, argv, name, ready, timeout=60):
        """A server; on a fixed port again after a stop, tried until the
        port is free (libzmq lets it go in the background)."""
        deadline = time.monotonic() + timeout
        while True:
            server = Server(argv, self.workdir, name)
            self.servers.append(server)
            try:
                server.wait_for(ready, timeout=max(1, deadline - time.monotonic()))
                return server
            except Failure:
                with open(server.out_path) as f:
                    in_use = "Address already in use" in f.read()
                server.stop()
                if not in_use or time.monotonic() > deadline:
                    raise
                time.sleep(0.3)

    def start_keyserver(self, bind=None):
        bind = bind or self.ks_endpoint
        self.keyserver = self._start([self.args.keyserver, "--data", self.ks_dir, "--bind", bind,
                                      "--iterations", "4096", "--mainserver-key",
                                      os.path.join(self.ms_dir, "mainserver.pub")]
                                     + store_args(self.ks_dir), "keyserver",
                                     r"^(tcp://127\.0\.0\.1:\d+)$")
        self.ks_endpoint = self.keyserver.wait_for(r"^(tcp://127\.0\.0\.1:\d+)$").group(1)

    def start_mainserver(self, bind=None, push=None):
        bind = bind or self.ms_endpoint
        push = push or self.push_endpoint
        self.mainserver = self._start(
            [self.args.mainserver, "--data", self.ms_dir, "--bind", bind, "--push-bind", push,
             "--keyserver-key", os.path.join(self.ks_dir, "keyserver.pub")]
            + store_args(self.ms_dir),
            "mainserver", r"ready, key (SHA256:\S+)")
        self.ms_endpoint = self.mainserver.wait_for(r"requests on (tcp://\S+)").group(1)
        self.push_endpoint = self.mainserver.wait_for(r"pushes on (tcp://\S+)").group(1)
        self.ms_fingerprint = self.mainserver.wait_for(r"ready, key (SHA256:\S+)").group(1)

    def stop_keyserver(self, sig=signal.SIGTERM):
        self._stop(self.keyserver, sig)

    def stop_mainserver(self, sig=signal.SIGTERM):
        self._stop(self.mainserver, sig)

    def _stop(self, server, sig):
        if sig == signal.SIGTERM:
            server.stop()
        else:
            server.proc.send_signal(sig)
            if sig == signal.SIGKILL:
                server.proc.wait()

    def endpoints(self, swapped=False):
        """The client's endpoint options (swapped: the servers' the wrong
        way round)."""
        return ["--keyserver", self.ms_endpoint if swapped else self.ks_endpoint,
                "--mainserver", self.ks_endpoint if swapped else self.ms_endpoint,
                "--push", self.push_endpoint]

    def client(self, name, width=160, height=45, known=None, connected=True, endpoints=None,
               env=None, swapped=False):
        config = os.path.join(self.workdir, "config-" + name)
        os.makedirs(config, exist_ok=True)
        if known:
            with open(os.path.join(config, "known_servers"), "w") as f:
                f.write(known)
        environment = {"XDG_CONFIG_HOME": config, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
                       "TERM": "tmux-256color"}
        environment.update(env or {})
        argv = (["env"] + ["%s=%s" % kv for kv in sorted(environment.items())]
                + [self.args.chat] + (endpoints or self.endpoints(swapped))
                + ["--known-servers", os.path.join(config, "known_servers")] + REFRESH_ARGS)
        quoted = " ".join("'%s'" % a.replace("'", "'\\''") for a in argv)
        # stderr (a sanitizer's report) and the exit code land in files
        stderr = os.path.join(self.workdir, name + ".stderr")
        status = os.path.join(self.workdir, name + ".status")
        command = "%s 2>'%s'; echo $? >'%s'" % (quoted, stderr, status)
        pane = Pane(self.tmux, name, command, width, height)
        pane.stderr_path = stderr
        pane.status_path = status
        self.panes.append(pane)
        if connected:
            pane.wait(CONNECTED, what="both servers connected")
        return pane

    def plain(self, name):
        """A plain-mode client of its own (pins in its own config)."""
        config = os.path.join(self.workdir, "config-" + name)
        os.makedirs(config, exist_ok=True)
        argv = [self.args.chat, "--plain"] + self.endpoints() + [
            "--known-servers", os.path.join(config, "known_servers")] + REFRESH_ARGS
        client = PlainClient(argv, name, self.workdir)
        self.plains.append(client)
        return client

    def register(self, *names):
        """Accounts made quickly, through plain mode: each NAME with password pw-NAME."""
        p = self.plain("registrar")
        for name in names:
            p.ok("register %s pw-%s pw-%s pw-%s" % (name, name, name, name))
        p.close()

    def admin_sessions(self, role="main"):
        """The usernames of a server's logged-in sessions, as chat-admin
        shows them (role: main or key)."""
        if not getattr(self.args, "admin", None):
            raise Failure("no --admin given")
        r = subprocess.run([self.args.admin, role, "--data",
                            self.ms_dir if role == "main" else self.ks_dir, "--json"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise Failure("chat-admin main: %s" % r.stderr)
        overview = json.loads(r.stdout)
        return sorted(s["username"] for s in overview.get("sessions", []) if s.get("username"))

    def close(self):
        self.tmux.kill()
        for p in self.plains:
            p.close()
        for server in reversed(self.servers):
            server.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


# ------------------------------------------------------------------ cases

def case_register(w):
    a = w.client("reg")
    a.wait(r"^\s+Login:", what="the login section")
    a.wait(r"Or make a new account:")
    for label in ("Username:", "Password:", "Confirm Password:", "Confirm Password again:"):
        a.wait(r"^\s+%s" % re.escape(label), what=label)
    a.register("joseph", "hunter22")
    a.wait(a.message_line("Success!"))
    # Passwords are never on screen, not even masked ones left behind
    a.expect_not(r"hunter22")
    a.register("joseph", "other-pass")
    a.wait(a.message_line("Username already in use"))
    a.register("jonathan", "pw-one", "pw-one", "pw-two")
    a.wait(a.message_line("Passwords don't match"))
    # (each answer differs from the one before, so no stale screen passes)
    a.register("joseph", "x")
    a.wait(a.message_line("Username already in use"))
    a.register("jonathan", "pw-one", "pw-two", "pw-one")
    a.wait(a.message_line("Passwords don't match"))
    a.register("jonathan", "pw-one")
    a.wait(a.message_line("Success!"))
    a.expect_not(r"pw-one")
    # Masked while typed
    a.keys("M-l", "Tab")
    a.type("visible?")
    a.wait(r"Password:\s+\*{8}\s*$", what="eight stars")
    a.expect_not(r"visible\?")


def case_login(w):
    a = w.client("login")
    a.register("wannes", "s3cret-pw")
    a.wait(a.message_line("Success!"))
    a.login("wannes", "not-it")
    a.wait(a.message_line("Wrong username or password"))
    a.login("nobody", "s3cret-pw")
    a.wait(a.message_line("Wrong username or password"))
    a.login("wannes", "s3cret-pw")
    a.wait(r"^ User: wannes\b", what="the title 'User: wannes'")
    a.wait(r"Conversations \(0\)")
    a.wait(r"No conversations yet")
    # Logout brings the login screen back, and login works again
    a.command("/logout")
    a.wait(r"^\s+Login:", what="the login screen after /logout")
    a.wait(a.message_line("Logged out"))
    a.login("wannes", "s3cret-pw")
    a.wait(r"^ User: wannes\b")
    a.command("/help")
    a.wait(r"/refresh, F5\s+list the conversations again")
    a.keys("Escape")
    a.wait(r"/refresh, F5\s+list the conversations again", absent=True)
    a.wait(r"^ User: wannes\b")
    a.command("/quit")
    deadline = time.monotonic() + WAIT
    while not os.path.exists(a.status_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    if not os.path.exists(a.status_path):
        raise Failure("/quit did not end the client:\n" + a.screen())
    time.sleep(0.2)     # the shell writes the status right after chat exits
    with open(a.status_path) as f:
        status = f.read().strip()
    with open(a.stderr_path) as f:
        stderr = f.read()
    if status != "0":
        raise Failure("chat exited %s after /quit; stderr:\n%s" % (status, stderr))
    if "Sanitizer" in stderr:
        raise Failure("sanitizer report from chat:\n" + stderr)


def accept_request(pane, index, name, timeout=WAIT):
    """A stranger's conversation is a message request (issue 15): listed
    under Requests, never opened by itself; the user opens and accepts it."""
    pane.wait(r"^\s*Requests \(\d+\)", timeout=timeout, what="the Requests heading")
    pane.wait(r"^[ >]*%d\s+%s" % (index, re.escape(name)), timeout=timeout,
              what="the request from " + name)
    pane.command("/open %d" % index)
    pane.wait(r"Message request: /accept", what="the request's line")
    pane.command("/accept")
    pane.wait(r"Accepted", what="the request accepted")


def _users(w, pane, names):
    for name in names:
        pane.register(name, "pw-" + name)
        pane.wait(pane.message_line("Success!"))
        pane.keys("M-r")        # next register starts from the username again


def case_conversations(w):
    a = w.client("conv")
    _users(w, a, ["alice", "bob", "carol"])
    a.login("alice", "pw-alice")
    a.wait(r"^ User: alice\b")
    # 1:1 with bob through the picker (Enter on the highlighted user)
    a.command("/new")
    a.wait(r"Create new conversation")
    a.wait(r"\[ \] bob")
    a.expect_not(r"\[ \] alice", "myself in the picker")
    a.keys("Enter")
    a.wait(r"^[ >]*1\s+bob", what="'1 bob' in the conversation list")
    a.wait(r"Conversations \(1\)")
    a.command("hello bob")
    a.wait(r"\d\d:\d\d alice: hello bob", what="own message with time and sender")
    # Another one with carol: F2 is the same as /new
    a.keys("F2")
    a.wait(r"\[ \] carol")
    a.keys("Down", "Enter")
    a.wait(r"^[ >]*2\s+carol")
    a.wait(r"Conversations \(2\)")
    a.command("hi carol")
    a.wait(r"alice: hi carol")
    # Switching: Ctrl-P back to bob, Alt-2 to carol
    a.keys("C-p")
    a.wait(r"alice: hello bob")
    a.expect_not(r"alice: hi carol")
    a.keys("M-2")
    a.wait(r"alice: hi carol")
    a.command("/refresh")
    a.wait(r"2 conversations")
    # Tab completes commands and usernames
    a.keys("C-e", "C-u")
    a.type("/ref")
    a.keys("Tab")
    a.wait(r"^> /refresh\s*$", what="completed /refresh")
    a.keys("C-e", "C-u")
    a.type("hey ca")
    a.keys("Tab")
    a.wait(r"^> hey carol\s*$", what="completed carol")
    a.keys("C-u")


def case_picker(w):
    a = w.client("pick")
    _users(w, a, ["joseph", "jonathan", "wannes", "louis"])
    a.login("joseph", "pw-joseph")
    a.wait(r"^ User: joseph\b")
    a.command("/new")
    a.wait(r"\[ \] jonathan")
    # Esc goes back without creating anything
    a.keys("Escape")
    a.wait(r"Conversations \(0\)")
    a.command("/new")
    a.wait(r"\[ \] wannes")
    # sorted: jonathan, louis, wannes; select jonathan and wannes (Space
    # selects and does not move)
    a.keys("Space")
    a.wait(r"\[x\] jonathan")
    a.wait(r"1 selected")
    a.keys("Down", "Down")
    a.keys("Space")
    a.wait(r"\[x\] wannes")
    a.wait(r"2 selected: Enter creates a group of 3")
    a.expect_not(r"\[x\] louis")
    a.keys("Up", "Up", "Space")         # unselect jonathan, select again
    a.wait(r"\[ \] jonathan")
    a.keys("Space")
    a.wait(r"\[x\] jonathan")
    a.keys("Enter")
    a.wait(r"^[ >]*1\s+jonathan, wannes", what="the group in the list")
    a.wait(r"jonathan, wannes\s+\(group of 3\)")
    a.command("hello group")
    a.wait(r"joseph: hello group")
    # Wannes sees the group and can answer
    b = w.client("pick-b")
    b.login("wannes", "pw-wannes")
    b.wait(r"^ User: wannes\b")
    accept_request(b, 1, "jonathan, joseph")
    b.wait(r"joseph: hello group")
    b.command("hi all")
    a.wait(r"wannes: hi all", timeout=LIVE, what="wannes' answer, pushed")


def case_live(w):
    a = w.client("live-a")
    _users(w, a, ["joseph", "jonathan", "wannes"])
    b = w.client("live-b")
    a.login("joseph", "pw-joseph")
    b.login("jonathan", "pw-jonathan")
    a.wait(r"^ User: joseph\b")
    b.wait(r"^ User: jonathan\b")
    a.command("/new")
    a.wait(r"\[ \] jonathan")
    a.keys("Enter")
    a.wait(r"^[ >]*1\s+jonathan")
    a.command("Hi Jonathan, caf\u00e9 \u2615 \u4e2d\u6587")
    a.wait(r"joseph: Hi Jonathan")
    # Appears in the other pane without any refresh: pushed, within LIVE s
    # (a stranger's: a request, opened and accepted by hand)
    b.wait(r"^[ >]*1\s+joseph", timeout=LIVE, what="the new conversation pushed to jonathan")
    accept_request(b, 1, "joseph")
    b.wait("joseph: Hi Jonathan, caf\u00e9 \u2615 \u4e2d\u6587", timeout=LIVE,
           what="the live message")
    b.command("Hello Joseph!")
    a.wait(r"jonathan: Hello Joseph!", timeout=LIVE, what="the answer, pushed")
    # A second conversation: jonathan's unread count, then it is read
    c = w.client("live-c")
    c.login("wannes", "pw-wannes")
    c.wait(r"^ User: wannes\b")
    c.command("/new")
    c.wait(r"\[ \] jonathan")
    c.keys("Enter")                  # jonathan is first: a 1:1
    c.wait(r"^[ >]*1\s+jonathan")
    # a stranger's conversation: a message request (no unread) until accepted
    b.wait(r"^[ >]*2\s+wannes", timeout=LIVE, what="wannes' conversation, pushed")
    b.command("/accept 2")
    b.wait(r"Accepted", what="the request accepted")
    c.command("one")
    c.wait(r"wannes: one")
    c.command("two")
    c.wait(r"wannes: two")
    b.wait(r"^[ >]*2\s+wannes\s+2\s*[\u2502|x]", timeout=LIVE,
           what="wannes with 2 unread (pushed)")
    b.keys("M-2")
    b.wait(r"wannes: two")
    b.wait(r"^[ >]*2\s+wannes\s+[\u2502|x]", what="unread cleared")
    # Scrollback: enough lines to need PgUp
    for i in range(45):
        c.command("line %02d" % i)
    c.wait(r"wannes: line 44")
    b.wait(r"wannes: line 44")
    b.expect_not(r"wannes: one$")
    b.keys("PPage", "PPage")
    b.wait(r"wannes: one", what="the first message after PgUp")
    b.wait(r"more lines? below: PgDn")
    b.keys("NPage", "NPage", "NPage")
    b.wait(r"wannes: line 44")
    b.wait(r"more lines? below", absent=True)


def case_resize(w):
    a = w.client("resize")
    _users(w, a, ["ann", "ben"])
    a.login("ann", "pw-ann")
    a.wait(r"^ User: ann\b")
    a.command("/new")
    a.wait(r"\[ \] ben")
    a.keys("Enter")
    a.wait(r"^[ >]*1\s+ben")
    a.command("before the resize " + "word " * 30)
    a.wait(r"ann: before the resize")

    def check_layout(width):
        screen = a.screen()
        lines = screen.split("\n")
        title = lines[0]
        if not title.rstrip().endswith("main server: ok") and \
           not title.rstrip().endswith("main:ok"):
            raise Failure("title not redrawn at width %d: %r\n%s" % (width, title, screen))
        if len(title.rstrip()) > width:
            raise Failure("title wider than %d" % width)
        # the rule under the headers spans the new width
        rules = [l for l in lines if re.match(r"^[\u2500\u253c\u2534]+$", l.rstrip())]
        if not rules or max(len(r.rstrip()) for r in rules) != width:
            raise Failure("no full-width rule at width %d:\n%s" % (width, screen))

    w.tmux.run("resize-window", "-t", "resize", "-x", "100", "-y", "30")
    a.wait(r"main server: ok\s*$")
    deadline = time.monotonic() + WAIT
    while True:
        try:
            check_layout(100)
            break
        except Failure:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    a.wait(r"ann: before the resize")
    a.command("after the resize")
    a.wait(r"ann: after the resize")
    # Too small: says so; back to big: the whole screen again
    w.tmux.run("resize-window", "-t", "resize", "-x", "30", "-y", "8")
    a.wait(r"Terminal too small")
    w.tmux.run("resize-window", "-t", "resize", "-x", "140", "-y", "40")
    a.wait(r"^ User: ann\b")
    a.wait(r"ann: after the resize")
    check_layout(140)
    a.command("still working")
    a.wait(r"ann: still working")


def case_pin(w):
    # A main server key that is not the pinned one: refused, named, both
    # fingerprints on the screen, and the client does not use that server
    wrong = "SHA256:" + "A" * 43
    a = w.client("pin", known="%s %s\n" % (w.ms_endpoint, wrong), connected=False)
    a.wait(r"WARNING: the main server's key has CHANGED")
    a.wait(r"pinned:\s+%s" % re.escape(wrong))
    a.wait(r"offered:\s+%s" % re.escape(w.ms_fingerprint))
    a.wait(r"main server: REFUSED")
    a.wait(r"key server: ok")
    a.register("mallory", "pw-mallory")
    # Registration needs both servers: it must not succeed
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        a.expect_not(r"^\s+Success!\s*$", "a registration through a refused server")
        time.sleep(0.2)
    a.expect_not(r"main server: ok")


def _safety_number(pane):
    """The two rows of six groups the /verify panel shows, as one line."""
    screen = pane.wait(r"Do the numbers match\?", what="the /verify question") and pane.screen()
    rows = re.findall(r"^.*\u2502\s+((?:\d{5} ){5}\d{5})\s*$", screen, re.M)
    if len(rows) != 2:
        raise Failure("%s: the safety number is not two rows of six groups:\n%s"
                      % (pane.name, screen))
    return " ".join(rows)


def _replace_identity(w, user):
    """What a lying key server does: another identity key for user."""
    import ksstore
    import spec2
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ksstore.set_identity_key(w.ks_dir, user, spec2.der(key))
    return spec2.fingerprint(spec2.der(key))


def case_identity(w):
    a = w.client("id-a")
    _users(w, a, ["alice", "bob", "carol"])
    b = w.client("id-b")
    a.login("alice", "pw-alice")
    b.login("bob", "pw-bob")
    a.wait(r"^ User: alice\b")
    b.wait(r"^ User: bob\b")
    a.command("/new")
    a.wait(r"\[ \] bob")
    a.keys("Enter")
    a.wait(r"^[ >]*1\s+bob")
    a.command("hello bob")
    accept_request(b, 1, "alice")
    b.wait(r"alice: hello bob")
    # the safety number: the same on both sides
    a.command("/verify bob")
    b.command("/verify alice")
    number_a = _safety_number(a)
    number_b = _safety_number(b)
    if number_a != number_b:
        raise Failure("safety numbers differ: %s / %s" % (number_a, number_b))
    log("/verify: the same safety number on both sides: %s" % number_a)
    b.keys("y")
    b.wait(r"alice is verified")
    a.keys("n")
    a.wait(r"bob is not marked verified")
    b.command("/members")
    b.wait(r"\u2713 alice\s+verified", what="alice marked verified")
    b.wait(r"bob\s+you")
    b.keys("Escape")
    a.command("/members")
    a.wait(r"bob\s+not verified")
    a.keys("Escape")
    # carol's key replaced at the key server: alice's next session warns
    a.command("/new")
    a.wait(r"\[ \] carol")
    a.keys("Down", "Enter")
    a.wait(r"^[ >]*2\s+carol")
    a.command("hi carol")
    a.wait(r"alice: hi carol")
    _replace_identity(w, "carol")
    a.command("/logout")
    a.wait(r"^\s+Login:")
    a.login("alice", "pw-alice")
    a.wait(r"^ User: alice\b")
    a.wait(r"WARNING: carol's identity key changed", what="the status line's warning")
    marked = a.wait(r"^ *!(\d)\s+carol", what="'!' beside the conversation with carol")
    a.command("/open %s" % marked.group(1))
    a.wait(r"! Identity key CHANGED: carol\. What they sign now may not be from them",
           what="the warning line above the conversation")
    a.command("/members")
    a.wait(r"! carol\s+identity key CHANGED")
    a.keys("Escape")
    a.command("/verify carol")
    a.wait(r"carol's identity key CHANGED: the pin is SHA256:")
    a.keys("y")
    a.wait(r"carol is verified")
    a.wait(r"! Identity key CHANGED", absent=True, what="the warning, once accepted")
    log("a changed key: status warning, '!' in the list, a warning line, /members marks it; "
        "/verify and y accept it")


def case_password(w):
    a = w.client("pw")
    _users(w, a, ["pam", "tom"])
    a.login("pam", "pw-pam")
    a.wait(r"^ User: pam\b")
    a.command("/new")
    a.wait(r"\[ \] tom")
    a.keys("Enter")
    a.wait(r"^[ >]*1\s+tom")
    a.command("before the change")
    a.wait(r"pam: before the change")
    # a wrong current password changes nothing
    a.command("/password")
    a.wait(r"^Current password:")
    a.type("not-pw-pam")
    a.wait(r"^Current password: \*{10}\s*$", what="the password masked")
    a.keys("Enter")
    a.wait(r"^New password:")
    a.type("fresh-pw")
    a.keys("Enter")
    a.wait(r"^New password again:")
    a.type("fresh-pw")
    a.keys("Enter")
    a.wait(r"The current password is wrong; nothing was changed")
    # Esc cancels
    a.command("/password")
    a.wait(r"^Current password:")
    a.keys("Escape")
    a.wait(r"Password not changed")
    # the real change
    a.command("/password")
    a.wait(r"^Current password:")
    a.type("pw-pam")
    a.keys("Enter")
    a.type("fresh-pw")
    a.keys("Enter")
    a.type("fresh-pw")
    a.keys("Enter")
    a.wait(r"Password changed: use the new one from now on")
    a.expect_not(r"fresh-pw|pw-pam")
    a.command("/logout")
    a.wait(r"^\s+Login:")
    a.login("pam", "pw-pam")
    a.wait(a.message_line("Wrong username or password"))
    a.login("pam", "fresh-pw")
    a.wait(r"^ User: pam\b")
    a.wait(r"pam: before the change", what="the old message, opened with the same identity")
    log("/password: masked prompts, a wrong current one refused, the new one works, "
        "old messages still open")


def case_wrongrole(w):
    a = w.client("role", connected=False, swapped=True)
    a.wait(r"ERROR: the endpoint given for the key server is not a key server - refused")
    a.wait(r"Are the key server and main server endpoints the wrong way round\?")
    a.wait(r"key server: REFUSED\s+main server: REFUSED")
    a.expect_not(r": ok")


CASES = {
    "identity": case_identity,
    "password": case_password,
    "wrongrole": case_wrongrole,
    "pin": case_pin,
    "register": case_register,
    "login": case_login,
    "conversations": case_conversations,
    "picker": case_picker,
    "live": case_live,
    "resize": case_resize,
}


def main(cases=None):
    cases = cases or CASES
    parser = argparse.ArgumentParser()
    parser.add_argument("case", choices=sorted(cases))
    parser.add_argument("--chat", required=True)
    parser.add_argument("--keyserver", required=True)
    parser.add_argument("--mainserver", required=True)
    parser.add_argument("--admin")
    args = parser.parse_args()
    if not shutil.which("tmux"):
        return skip_status("tmux is not installed (tools/setup installs it)")
    w = World(args)
    status = 1
    try:
        w.start()
        cases[args.case](w)
        log("PASS %s" % args.case)
        status = 0
    except Failure as e:
        log("FAIL %s: %s" % (args.case, e))
        for server in w.servers:
            try:
                with open(server.out_path) as f:
                    tail = f.read().splitlines()[-15:]
                print("--- %s log (last lines)\n%s" % (server.name, "\n".join(tail)))
            except OSError:
                pass
    finally:
        w.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
