#!/usr/bin/python3
"""sandbox_exec.py POLICY.json -- PROGRAM [ARG]...: run PROGRAM under the
seccomp filter a systemd unit's sandbox would give it (see sandbox.py,
which writes POLICY from the unit file), then exec it.

What is emulated, as systemd does it: SystemCallFilter= (an allow list of
syscalls, everything else answered with SystemCallErrorNumber=, plus the
calls systemd always permits), RestrictAddressFamilies= (socket() of any
other family fails with EAFNOSUPPORT), MemoryDenyWriteExecute= (no mapping
both writable and executable, no mprotect to executable), NoNewPrivileges=.
"""
import errno
import json
import mmap
import os
import sys

import seccomp


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit("usage: sandbox_exec.py POLICY.json -- PROGRAM [ARG]...")
    policy = json.load(open(sys.argv[1]))
    deny = seccomp.ERRNO(policy["errno"])
    f = seccomp.SyscallFilter(defaction=deny)
    special = {"socket", "mmap", "mprotect", "pkey_mprotect", "shmat"}
    for name in policy["allow"]:
        if name in special:
            continue
        try:
            f.add_rule(seccomp.ALLOW, name)
        except (RuntimeError, ValueError):
            pass                        # not a syscall on this architecture
    if "socket" in policy["allow"]:
        for family in policy["families"]:
            f.add_rule(seccomp.ALLOW, "socket", seccomp.Arg(0, seccomp.EQ, family))
        # Any other family: EAFNOSUPPORT, as RestrictAddressFamilies= answers
        for family in range(0, 46):
            if family not in policy["families"]:
                f.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket",
                           seccomp.Arg(0, seccomp.EQ, family))
    wx = mmap.PROT_WRITE | mmap.PROT_EXEC
    if policy["mdwe"]:
        if "mmap" in policy["allow"]:
            f.add_rule(seccomp.ALLOW, "mmap", seccomp.Arg(2, seccomp.MASKED_EQ, wx, 0))
            f.add_rule(seccomp.ALLOW, "mmap",
                       seccomp.Arg(2, seccomp.MASKED_EQ, wx, mmap.PROT_WRITE))
            f.add_rule(seccomp.ALLOW, "mmap",
                       seccomp.Arg(2, seccomp.MASKED_EQ, wx, mmap.PROT_EXEC))
        for name in ("mprotect", "pkey_mprotect"):
            if name in policy["allow"]:
                f.add_rule(seccomp.ALLOW, name,
                           seccomp.Arg(2, seccomp.MASKED_EQ, mmap.PROT_EXEC, 0))
        if "shmat" in policy["allow"]:
            f.add_rule(seccomp.ALLOW, "shmat", seccomp.Arg(2, seccomp.MASKED_EQ, 0o100000, 0))
    else:
        for name in ("mmap", "mprotect", "pkey_mprotect", "shmat"):
            if name in policy["allow"]:
                f.add_rule(seccomp.ALLOW, name)
    f.load()                            # sets NO_NEW_PRIVS first
    os.execv(sys.argv[3], sys.argv[3:])


if __name__ == "__main__":
    main()
