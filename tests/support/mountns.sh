#!/usr/bin/env bash
# mountns.sh COMMAND [ARGS...]: run COMMAND in a mount namespace of its own
# (unshare -m, every mount private), with CHAT_TEST_MOUNTNS=1, so that what
# it mounts (a small tmpfs for a disk-full test) never reaches the host and
# goes away with it.
#
# Not root, or no unshare, or the kernel refuses a new mount namespace: the
# test is skipped, saying why (exit 77); under CHAT_TEST_STRICT=1 (CI) that
# is a failure instead (exit 1).
set -u

skip () {
  if [ "${CHAT_TEST_STRICT:-0}" = 1 ]; then
    echo "mountns: FAIL: $* (CHAT_TEST_STRICT=1: the disk-full test must run)" >&2
    exit 1
  fi
  echo "SKIP: $*"
  exit 77
}

[ $# -gt 0 ] || { echo "usage: mountns.sh COMMAND [ARGS...]" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || skip "not root: a tmpfs needs a mount namespace of our own"
command -v unshare >/dev/null 2>&1 || skip "no unshare (util-linux)"
unshare -m --propagation private true 2>/dev/null \
  || skip "unshare -m is refused here (no CAP_SYS_ADMIN, or a container forbids it)"
CHAT_TEST_MOUNTNS=1 exec unshare -m --propagation private -- "$@"
