#!/bin/sh
# Run `chat-bench all --quick`; fail unless it exits 0 and every scenario
# printed at least one row that is not a failure.
bench="$1"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$bench" all --quick > "$out"
status=$?
cat "$out"
if [ "$status" -ne 0 ]; then
    echo "bench.smoke: chat-bench exited $status" >&2
    exit 1
fi
for scenario in ceiling handshake login create messages fanout history sessions shutdown; do
    if ! grep -E "^$scenario " "$out" | grep -qv FAILED; then
        echo "bench.smoke: no row for $scenario" >&2
        exit 1
    fi
done
# JSON too: it must name every scenario
"$bench" ceiling --quick --json > "$out" || { echo "bench.smoke: --json failed" >&2; exit 1; }
grep -q '"scenario": "ceiling"' "$out" || { echo "bench.smoke: no JSON rows" >&2; exit 1; }
exit 0
