#!/usr/bin/env bash
# Wall time of N isolated stacks of one profile started at once: from `clocal up --isolated`
# to every service healthy, then through `clocal down -v`. Images are prebuilt first (one
# warm-up stack), so the figures measure orchestration, not compilation.
#
# Usage: scripts/bench/stacks/run.sh            # N = 1 5 10, 3 rounds each, repo-manager
#   NS="1 5" ROUNDS=1 TARGET=blog scripts/bench/stacks/run.sh
# Output: one line per round, then the median per N (seconds).
set -euo pipefail
cd "$(dirname "$0")/../../.."
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi

NS="${NS:-1 5 10}"
ROUNDS="${ROUNDS:-3}"
TARGET="${TARGET:-repo-manager}"
tmp=$(mktemp -d)
bin="$tmp/clocal"
names=()
cleanup() {
	for n in "${names[@]}"; do "$bin" -p "$n" down -v -t 2s >/dev/null 2>&1 || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$bin" ./cmd/clocal
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# Warm-up: builds the images when their content hash is new, starts and removes one stack.
warm="clocalbench-warm-$$"
names+=("$warm")
"$bin" -p "$warm" up "$TARGET" --isolated --timeout 10m >"$tmp/warm.log" 2>&1 || { cat "$tmp/warm.log"; exit 1; }
"$bin" -p "$warm" down -v -t 2s >/dev/null 2>&1

echo "target=$TARGET rounds=$ROUNDS host=$(hostname) cpus=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-4s %-6s %10s %10s\n" N round up_s down_s
declare -A ups downs
for n in $NS; do
	for r in $(seq 1 "$ROUNDS"); do
		round=()
		for i in $(seq 1 "$n"); do
			name="clocalbench-$$-$n-$r-$i"
			round+=("$name")
			names+=("$name")
		done
		t0=$(now)
		pids=()
		for name in "${round[@]}"; do
			"$bin" -p "$name" up "$TARGET" --isolated --json --timeout 10m >"$tmp/$name.json" 2>"$tmp/$name.log" &
			pids+=($!)
		done
		fail=0
		for i in "${!pids[@]}"; do
			if ! wait "${pids[$i]}"; then
				echo "up ${round[$i]} failed:" >&2; tail -20 "$tmp/${round[$i]}.log" >&2; fail=1
			fi
		done
		t1=$(now)
		[ "$fail" -eq 0 ] || exit 1
		# Every service answers on its own published port.
		for name in "${round[@]}"; do
			for url in $(grep -o '"url": "[^"]*"' "$tmp/$name.json" | cut -d'"' -f4); do
				curl -fsS -o /dev/null "$url/healthz" || { echo "$name: $url/healthz does not answer" >&2; exit 1; }
			done
		done
		t2=$(now)
		pids=()
		for name in "${round[@]}"; do
			"$bin" -p "$name" down -v -t 2s >/dev/null 2>>"$tmp/$name.log" &
			pids+=($!)
		done
		for p in "${pids[@]}"; do wait "$p" || exit 1; done
		t3=$(now)
		up=$(secs "$t0" "$t1"); down=$(secs "$t2" "$t3")
		printf "%-4s %-6s %10s %10s\n" "$n" "$r" "$up" "$down"
		ups[$n]+="$up "; downs[$n]+="$down "
	done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END { if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
echo
printf "%-4s %12s %12s %14s\n" N up_median_s down_median_s up_per_stack_s
for n in $NS; do
	u=$(echo "${ups[$n]}" | median); d=$(echo "${downs[$n]}" | median)
	printf "%-4s %12s %12s %14s\n" "$n" "$u" "$d" "$(awk -v u="$u" -v n="$n" 'BEGIN { printf "%.2f", u / n }')"
done
