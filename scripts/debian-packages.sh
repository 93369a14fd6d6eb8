# Sourced by scripts/demo and scripts/test: installs the Debian packages the build needs (and curl)
# when they are missing, as root; a caller adds its own in extra_packages (scripts/test: the servers
# the tests start).
need=()
for package in zlib1g-dev libsqlite3-dev libnghttp2-dev libnats-dev libhiredis-dev curl ${extra_packages:-}; do
  dpkg -s "$package" >/dev/null 2>&1 || need+=("$package")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
