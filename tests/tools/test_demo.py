#!/usr/bin/env python3
"""tools.demo - tools/demo as the README tells a new user to run it: the
servers start, the client panes run `chat` found on the PATH the demo sets,
the demo prints the line that puts `chat` on yours, and with that PATH
`chat` reaches the demo's servers; --add adds a client, --stop stops it all.

    test_demo.py SOURCE_DIR BUILD_DIR

On its own tmux server (CHAT_DEMO_TMUX_SOCKET), data directory and ports
(CHAT_DEMO_PORT, three free ones in a row), with the built programs as they
are (CHAT_DEMO_BUILT): nothing of a real demo on this machine is touched.
Exit 0 pass, 1 fail, 77 skip (no tmux).
"""
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def free_ports():
    """Three free ports in a row, below the ephemeral range."""
    for _ in range(200):
        base = random.randint(20000, 30000)
        try:
            socks = []
            for port in range(base, base + 3):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise Failure("no three free ports in a row")


def main():
    if len(sys.argv) != 3:
        print("usage: test_demo.py SOURCE_DIR BUILD_DIR", file=sys.stderr)
        return 2
    top, build = sys.argv[1], os.path.abspath(sys.argv[2])
    if not shutil.which("tmux"):
        print("SKIP: tmux is not installed (tools/setup installs it)")
        return SKIP
    data = tempfile.mkdtemp(prefix="chat-demo-test-")
    socket_name = "chat-demo-test-%d" % os.getpid()
    port = free_ports()
    env = dict(os.environ, CHAT_DEMO_TMUX_SOCKET=socket_name, CHAT_DEMO_PORT=str(port),
               CHAT_DEMO_BUILT=build)
    demo = os.path.join(top, "tools", "demo")

    def run_demo(*args):
        r = subprocess.run([demo] + list(args) + ["--data", data], env=env,
                           capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise Failure("tools/demo %s exited %d:\n%s%s" % (" ".join(args), r.returncode,
                                                            r.stdout, r.stderr))
        return r.stdout

    def tmux(*args):
        return subprocess.run(["tmux", "-L", socket_name] + list(args), capture_output=True,
                              text=True, timeout=20).stdout

    def panes():
        return tmux("list-panes", "-t", "=chat-demo:clients", "-F", "#{pane_id}").split()

    status = 1
    try:
        out = run_demo("--detach", "--clients", "2")
        print(out)
        # the line that puts chat on the PATH, as printed
        m = re.search(r'^demo:\s+(export PATH="(\S+):\$PATH")$', out, re.M)
        check(m, "the demo does not print the PATH line:\n" + out)
        bin_dir = m.group(2)
        check(bin_dir == os.path.join(data, "bin"), "PATH line names %s" % bin_dir)
        shell = subprocess.run(["bash", "-c", m.group(1) + "; command -v chat; chat --version"],
                               capture_output=True, text=True, timeout=30)
        check(shell.returncode == 0, "with that PATH: %s" % shell.stderr)
        found, version = shell.stdout.split("\n")[:2]
        check(found == os.path.join(bin_dir, "chat") and version.startswith("chat "),
              "with that PATH, chat is %r (%r)" % (found, version))
        for program in ("chat-admin", "chat-keyserver", "chat-mainserver"):
            check(os.access(os.path.join(bin_dir, program), os.X_OK), program + " not linked")
        # that chat reaches the demo's servers
        ks, ms = "tcp://127.0.0.1:%d" % port, "tcp://127.0.0.1:%d" % (port + 1)
        check("chat --keyserver %s --mainserver %s" % (ks, ms) in out,
              "the demo does not say how to reach its servers:\n" + out)
        plain = subprocess.run(
            ["bash", "-c", m.group(1) + '; chat --plain --keyserver %s --mainserver %s '
             '--known-servers "%s/pins-test"' % (ks, ms, data)],
            input="register newcomer pw pw pw\nlogin newcomer pw\nquit\n",
            capture_output=True, text=True, timeout=60)
        check("ok register newcomer Success!" in plain.stdout
              and "ok login newcomer" in plain.stdout,
              "chat from the PATH line could not use the demo:\n%s%s"
              % (plain.stdout, plain.stderr))
        # the panes run that chat: the login screen, not "command not found"
        check(len(panes()) == 2, "%d client panes, not 2" % len(panes()))
        deadline = time.monotonic() + 30
        while True:
            screens = [tmux("capture-pane", "-p", "-t", p) for p in panes()]
            if all("Login:" in s and re.search(r"key server: ok\s+main server: ok", s)
                   for s in screens):
                break
            if time.monotonic() > deadline:
                raise Failure("a client pane is not at its login screen:\n" +
                              "\n----\n".join(screens))
            time.sleep(0.2)
        # --add: one more
        run_demo("--add")
        check(len(panes()) == 3, "--add: %d panes, not 3" % len(panes()))
        # --stop: everything
        run_demo("--stop")
        check(not tmux("list-sessions").strip(), "the session is still there")
        for name in ("keyserver", "mainserver"):
            check(not os.path.exists(os.path.join(data, name + ".pid")),
                  name + " pid file left")
        with socket.socket() as s:
            check(s.connect_ex(("127.0.0.1", port)) != 0, "the key server still listens")
        print("PASS")
        status = 0
    except Failure as e:
        print("FAIL: %s" % e)
    finally:
        subprocess.run([demo, "--stop", "--data", data], env=env, capture_output=True,
                       timeout=120)
        tmux("kill-server")
        shutil.rmtree(data, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
