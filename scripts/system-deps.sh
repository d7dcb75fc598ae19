#!/usr/bin/env bash
# Installs the Debian packages synthcam's tools and tests use, only when one is missing.
# Another apt or dpkg (unattended upgrades, a second terminal) holding the lock is waited for,
# with a message, for up to SYNTHCAM_APT_WAIT seconds (default 600), instead of failing at once.
set -euo pipefail
need=()
command -v ffmpeg  >/dev/null 2>&1 || need+=(ffmpeg)
command -v git     >/dev/null 2>&1 || need+=(git)
command -v git-lfs >/dev/null 2>&1 || need+=(git-lfs)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing system packages: ${need[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "error: need root (or sudo) to install: ${need[*]}" >&2; exit 2; fi
fi
export DEBIAN_FRONTEND=noninteractive
wait_s="${SYNTHCAM_APT_WAIT:-600}"

# Run an apt-get command; while another apt/dpkg holds its lock, wait (bounded) and try again.
apt_with_wait() {
  local start=$SECONDS said="" log
  log="$(mktemp)"
  while true; do
    if $sudo apt-get -o DPkg::Lock::Timeout=10 "$@" >"$log" 2>&1; then rm -f "$log"; return 0; fi
    if grep -qiE "could not get lock|unable to acquire the dpkg frontend lock|is another process using it" "$log"; then
      if (( SECONDS - start >= wait_s )); then
        echo "error: another apt/dpkg still holds the package lock after ${wait_s} s; let it finish, then run this again" >&2
        rm -f "$log"; return 2
      fi
      if [ -z "$said" ]; then
        echo "waiting for another apt/dpkg to finish (up to ${wait_s} s)..." >&2; said=1
      fi
      sleep "${SYNTHCAM_APT_POLL:-5}"
      continue
    fi
    cat "$log" >&2; rm -f "$log"; return 1
  done
}

apt_with_wait update -q
apt_with_wait install -y -q --no-install-recommends "${need[@]}"
