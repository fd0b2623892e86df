#!/bin/sh
# import-memory.sh: the peak resident memory of `opsguard serve` while four
# 200 MB reports (a Trivy one with one 200 MB Description, a SARIF one with
# one 200 MB message) are uploaded at once. Not run in CI: it writes 400 MB
# and takes a minute. Usage: scripts/import-memory.sh [max_concurrent_imports]
set -eu
conc=${1:-2}
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
go build -o "$dir/opsguard" ./cmd/opsguard
python3 - "$dir" <<'PY'
import sys
d = sys.argv[1]
n = 200 << 20
with open(d + "/trivy.json", "w") as f:
    f.write('{"SchemaVersion":2,"ArtifactName":"img","Results":[{"Target":"t","Type":"debian","Vulnerabilities":[{"VulnerabilityID":"CVE-2024-0001","PkgName":"p","InstalledVersion":"1","Severity":"HIGH","Title":"t","Description":"')
    for _ in range(n >> 20): f.write("A" * (1 << 20))
    f.write('"}]}]}')
with open(d + "/sarif.json", "w") as f:
    f.write('{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"T"}},"results":[{"ruleId":"R1","level":"error","message":{"text":"')
    for _ in range(n >> 20): f.write("A" * (1 << 20))
    f.write('"}}]}]}')
PY
port=$((20000 + $$ % 10000))
printf 'server:\n  data_dir: %s/data\n  listen: 127.0.0.1:%s\nvuln:\n  max_concurrent_imports: %s\n' "$dir" "$port" "$conc" > "$dir/opsguard.yaml"
export OPSGUARD_CONFIG="$dir/opsguard.yaml" OPSGUARD_ADMIN_PASSWORD=measure-measure-measure
"$dir/opsguard" init >/dev/null
token=$("$dir/opsguard" token create --user admin --name measure | tail -1)
"$dir/opsguard" serve >"$dir/serve.log" 2>&1 &
pid=$!
until curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; do sleep 0.2; done
uploads=""
for f in trivy sarif trivy sarif; do
	curl -s -o "$dir/out.$f.$$" -w "$f %{http_code}\n" -H "Authorization: Bearer $token" --data-binary "@$dir/$f.json" \
		"http://127.0.0.1:$port/api/v1/scans?asset=$f-$(date +%N)" &
	uploads="$uploads $!"
done
wait $uploads || true
echo "max_concurrent_imports $conc: $(grep -E 'VmHWM' /proc/$pid/status) peak, $(grep -E 'VmRSS' /proc/$pid/status) after"
