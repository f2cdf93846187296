#!/usr/bin/env bash
# Install the Debian packages taplab needs on a fresh machine.
#
# Idempotent: a package that is already installed is left alone, and when
# everything is present the script prints nothing and exits 0. It only acts
# when run as root on a system with apt-get; elsewhere it says what to install
# and exits 0, so it never blocks a build on an unusual machine.
#
#   liburing-dev     io_uring batched writes in the TAP addon (optional: the
#                    addon falls back to a plain write() loop without it)
#   iproute2         `ip netns` / `ip link` for labs and kernel tests
#   iputils-ping     the kernel side pings taplab hosts in the integration tests
#   python3          node-gyp, and the AF_PACKET helpers of the kernel tests
#   build-essential  make, gcc, g++ for the native addon
#   pkg-config       build tooling
#   tshark           the kernel tests check every IGMP/MLD frame the host sends
#                    with Wireshark's dissectors (malformed / bad checksum)
set -u

PACKAGES=(liburing-dev iproute2 iputils-ping python3 build-essential pkg-config tshark)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in
    *"install ok installed"*) ;;
    *) missing+=("$p") ;;
  esac
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "taplab: missing packages: ${missing[*]}" >&2
  echo "taplab: install them as root (apt-get install ${missing[*]}); liburing-dev is optional" >&2
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# wireshark-common (pulled in by tshark) asks whether non-root users may
# capture; answer "no" up front so the install never waits for a prompt
# (the tests capture as root).
if command -v debconf-set-selections >/dev/null 2>&1; then
  echo 'wireshark-common wireshark-common/install-setuid boolean false' | debconf-set-selections
fi
install() {
  apt-get install -y --no-install-recommends "${missing[@]}"
}

echo "taplab: installing ${missing[*]}"
# The package lists may be stale or absent on a fresh machine; refresh them
# only when the first attempt fails, so a warm machine makes no network call.
if ! install; then
  apt-get update && install || {
    echo "taplab: could not install ${missing[*]}; see the apt-get output above" >&2
    exit 1
  }
fi
