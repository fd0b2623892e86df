#!/usr/bin/env bash
# Runs the benchmarks the issues track on a base commit and on the working
# tree, one after the other in the same run, so that the ratio between the
# two is measured on the same (shared, noisy) machine.
#
#   scripts/bench-compare.sh BASE [ROUNDS]
#
# Needs OPSGUARD_TEST_POSTGRES for the PostgreSQL halves (see .ci/pg.sh).
# Prints each benchmark's lines for "base" and "head"; each round runs base
# then head, so a load that comes and goes hits both alike.
set -euo pipefail
base=${1:?usage: scripts/bench-compare.sh BASE [ROUNDS]}
rounds=${2:-1}
root=$(git rev-parse --show-toplevel)
# The base's tests look for the fixtures beside their own checkout.
export OPSGUARD_FIXTURES="${OPSGUARD_FIXTURES:-$(cd "$root/.." && pwd)/shared/fixtures}"
tmp=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$tmp/base" >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
git -C "$root" worktree add --quiet --detach "$tmp/base" "$base"

benches=(
	"./vuln/ BenchmarkImport\$|BenchmarkReimport"
	"./ledger/ BenchmarkAppend|BenchmarkVerify\$"
	"./change/ BenchmarkVerifyHistory|BenchmarkSync"
	"./web/ BenchmarkRegisterFirstPage"
)
for r in $(seq "$rounds"); do
	for b in "${benches[@]}"; do
		pkg=${b%% *}
		pat=${b#* }
		for side in base head; do
			dir=$root
			[ "$side" = base ] && dir=$tmp/base
			(cd "$dir" && go test -run '^$' -bench "$pat" -benchtime=1x "$pkg" 2>&1 || true) |
				grep -E '^(Benchmark|FAIL|---)' | sed "s/^/round $r $side /" || true
		done
	done
done
