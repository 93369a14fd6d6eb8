#!/usr/bin/env bash
# Drives `pushd emulate` with clients nobody here wrote: curl (ALPN, APNs error bodies),
# nghttp (the SETTINGS the server advertises) and h2load (load over HTTP/2 and TLS).
# Needs Debian's nghttp2-client (h2load, nghttp) and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PORT:-9555}
dir=$(mktemp -d)
swift build --product pushd >/dev/null
.build/debug/pushd emulate --listen 127.0.0.1:$port --cert-dir "$dir" >"$dir/emulator.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do [ -f "$dir/pushd-emulator.yaml" ] && break; sleep 0.1; done
if [ ! -f "$dir/pushd-emulator.yaml" ]; then
  echo "the emulator did not start on 127.0.0.1:$port (port taken? set PORT):" >&2
  cat "$dir/emulator.log" >&2
  exit 1
fi
base=https://127.0.0.1:$port
token=$(printf 'ab%.0s' $(seq 1 32))

echo "== curl --http2: ALPN and an APNs error body (no provider token)"
curl -sv --http2 --cacert "$dir/ca.pem" -X POST "$base/apns/3/device/$token" \
  -H 'apns-topic: com.example.im' -H 'apns-push-type: alert' -d '{"aps":{"alert":"hi"}}' 2>&1 |
  grep -E 'ALPN|^< HTTP|^< apns-id|reason' | sed 's/^/  /'

echo "== curl --http2: a forged provider token"
curl -s --http2 --cacert "$dir/ca.pem" -X POST "$base/apns/3/device/$token" \
  -H 'authorization: bearer eyJhbGciOiJFUzI1NiIsImtpZCI6IkRFTU9LRVkwMDEifQ.eyJpc3MiOiJERU1PVEVBTTAxIiwiaWF0IjoxfQ.AAAA' \
  -H 'apns-topic: com.example.im' -d '{"aps":{"alert":"hi"}}' -w '  HTTP %{http_code}\n' | sed 's/^/  /'

echo "== curl --http1.1: the same endpoint over HTTP/1.1 (ALPN http/1.1)"
curl -s --http1.1 --cacert "$dir/ca.pem" -X POST "$base/apns/3/device/$token" -d '{}' -w '  HTTP %{http_code} over %{http_version}\n' | sed 's/^/  /'

echo "== nghttp: SETTINGS advertised by the server"
nghttp -nv --no-verify-peer "$base/admin/requests" 2>&1 | grep -A4 'recv SETTINGS frame' | head -6 | sed 's/^/  /'

echo "== h2load: 2000 POSTs, 2 connections x 50 streams (expect 403 MissingProviderToken)"
echo '{"aps":{"alert":"hi"}}' >"$dir/body.json"
h2load -n 2000 -c 2 -m 50 -d "$dir/body.json" -H 'apns-topic: com.example.im' "$base/apns/3/device/$token" 2>&1 |
  grep -E 'finished in|status codes|requests:|TLS Protocol|Application protocol' | sed 's/^/  /'

echo "== recorder: requests seen"
curl -s --cacert "$dir/ca.pem" "$base/admin/requests?vendor=apns" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("  ", len(r), "APNs requests recorded; results:", sorted({x["result"] for x in r}))'
