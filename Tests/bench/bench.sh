#!/usr/bin/env bash
# `make bench`: signed deliveries through ucpsim's engine vs unsigned POSTs by wrk, same sink, same connection count.
set -euo pipefail
cd "$(dirname "$0")/../.."
COUNT="${BENCH_COUNT:-100000}"
CONNECTIONS="${BENCH_CONNECTIONS:-8}"
PORT="${BENCH_PORT:-18089}"
work=$(mktemp -d)
trap 'kill "$nginx_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
sed -e "s#PREFIX#$work#g" -e "s#PORT#$PORT#g" Tests/bench/nginx.conf > "$work/nginx.conf"
nginx -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
url="http://127.0.0.1:$PORT/webhooks/ucp/orders"

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -m); ucpsim release build; $(date -u '+%Y-%m-%d %H:%M UTC')"
# Other work on this guest (builds, tests) competes for the same cores: the load average says how much.
echo "load average:      $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) before the run"
# CPU time the hypervisor gave to other guests during a run ("steal", from /proc/stat): on a shared VM a run with
# much steal measures the neighbours, not ucpsim.
cpu_times() { awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $9}' /proc/stat; }
steal_since() {
    read -r total0 steal0 <<<"$1"
    read -r total1 steal1 <<<"$(cpu_times)"
    python3 -c "import sys; t,s=float(sys.argv[1]),float(sys.argv[2]); print(f'{100*s/t:.0f} %' if t else 'n/a')" \
        "$((total1 - total0))" "$((steal1 - steal0))"
}

echo "== ucpsim: $COUNT signed deliveries, $CONNECTIONS in flight"
before=$(cpu_times)
.build/release/UCPSimBench "$url" "$COUNT" "$CONNECTIONS" | tee "$work/ucpsim.txt"
echo "cpu steal:         $(steal_since "$before") of the machine's CPU time went to other guests during the run"
signed=$(awk -F'deliveries_per_second=' '/^RESULT/{split($2,a," "); print a[1]}' "$work/ucpsim.txt")

# What a long `serve` keeps per call: the RSS of a real `ucpsim serve` (release build) after 10k, 50k and 100k
# control-API calls (it should stay flat). Bounded: it stops by itself when stuck or after BENCH_CONTROL_TIMEOUT s.
before=$(cpu_times)
started=$(date +%s)
control_status=0
.build/release/UCPSimBench --control-api "$url" "${BENCH_CONTROL_CALLS:-100000}" || control_status=$?
echo "cpu steal:         $(steal_since "$before") during the control-API phase ($(($(date +%s) - started)) s)"

# The same body ucpsim sends, for wrk.
.build/release/UCPSimBench --dump-body > "$work/body.json"
echo "== wrk: unsigned POSTs of the same body, $CONNECTIONS connections, 10 s"
before=$(cpu_times)
BENCH_BODY="$work/body.json" wrk -t2 -c"$CONNECTIONS" -d10s -s Tests/bench/post.lua "$url" | tee "$work/wrk.txt"
echo "cpu steal:         $(steal_since "$before")"
ceiling=$(awk '/Requests\/sec/{print $2}' "$work/wrk.txt")
echo "== the parts alone, same machine, same sink"
.build/release/UCPSimBench --sign-only
.build/release/UCPSimBench --raw-jobs "$url"
if command -v openssl >/dev/null; then
    openssl speed -seconds 3 ecdsap256 2>/dev/null | awk '/nistp256/{print "OpenSSL alone:     " $(NF-1) " ES256 signatures/s on one core (openssl speed ecdsap256)"}'
fi
python3 -c "import sys; s,c=float(sys.argv[1]),float(sys.argv[2]); print(f'== ratio: {s:.0f} signed/s vs {c:.0f} unsigned/s = {100*s/c:.1f} % of the ceiling')" "$signed" "$ceiling"
if [ "$control_status" != 0 ]; then echo "== the control-API phase failed (exit $control_status): see above" >&2; exit 1; fi
