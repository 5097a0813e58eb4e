# Sourced by the benchmark scripts that compare clocal with the compose CLI: sets root
# (and cds there), out (scripts/bench/out), compose (the v2.40.3 CLI, built once) and
# clocal (built from this tree), and installs hyperfine when it is missing.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
out="$root/scripts/bench/out"
mkdir -p "$out"
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
compose=$(bash scripts/bench/compose-cli.sh)
go build -o "$out/clocal" ./cmd/clocal
clocal="$out/clocal"
