#!/usr/bin/env python3
"""beacon_spoof - broadcast a forged CHAT/1 beacon, for e2e.discovery only.

Usage: beacon_spoof.py BROADCAST_ADDR PORT PAYLOAD

Run ONLY inside a network namespace the test made (e2e.discovery starts it
with `ip netns exec`); refuses to run where any interface but lo and the
test's veth ends exists, or in the driver's own namespace, so it can never
put a packet on a real network.
Sends PAYLOAD every 200 ms until killed, prints "spoofing" once started.
"""
import os
import socket
import sys
import time


def in_test_namespace():
    """Only lo and the test's veth ends (e2ea, e2eb) may exist here, and this
    must not be the namespace of the test driver that started us."""
    names = {name for _, name in socket.if_nameindex()}
    if not names <= {"lo", "e2ea", "e2eb"}:
        return False
    try:
        mine = os.readlink("/proc/self/ns/net")
    except OSError:
        return False
    return mine != os.environ.get("E2E_DRIVER_NETNS", "")


def main():
    if len(sys.argv) != 4:
        print("usage: beacon_spoof.py BROADCAST_ADDR PORT PAYLOAD", file=sys.stderr)
        return 2
    if not in_test_namespace():
        print("beacon_spoof: refusing to broadcast outside a test namespace", file=sys.stderr)
        return 1
    address, port, payload = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    print("spoofing", flush=True)
    while True:
        sock.sendto(payload, (address, port))
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
