#!/usr/bin/env bash
# System packages that let arm64 Lambda binaries be built AND run on an x86_64 Debian host
# without Docker: Debian's rustc with the aarch64 std, qemu-user to run aarch64 binaries, and
# the aarch64 glibc so they find their loader. Idempotent: installs only what is missing.
# Elsewhere (macOS, other distros) it prints what to do and leaves the system alone.
set -euo pipefail

packages=(rustc-web libstd-rust-web-dev:arm64 qemu-user-static libc6-dev-arm64-cross)
# The Docker tests: Debian's engine (the session starts its own dockerd), debootstrap for the
# local stand-ins of the pinned images, and a cargo a non-root test user can run (`cargo
# metadata` on the host is part of Docker bundling).
packages+=(docker.io debootstrap cargo-web)

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-system: no apt-get; for arm64 builds run 'rustup target add aarch64-unknown-linux-gnu'" >&2
  exit 0
fi

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-system: system packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "setup-system: installing ${missing[*]}"
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $sudo dpkg --add-architecture arm64
fi
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
