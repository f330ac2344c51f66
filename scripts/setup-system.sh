#!/usr/bin/env bash
# What lets arm64 Lambda binaries be built AND run on an x86_64 Debian host without Docker:
#   1. the Rust standard library for aarch64: `rustup target add` (what every Rust user does);
#      only when rustup is missing or cannot download, Debian's rustc-web, whose aarch64 std
#      comes as a package (the Makefile then points RUSTC at /usr/bin/rustc);
#   2. qemu-user to run aarch64 binaries, and the aarch64 glibc (libc6:arm64) for its loader;
#   3. the musl std of both architectures (BundlingOptions(libc=Libc.MUSL): static binaries,
#      FROM-scratch images), with `rustup target add`, only where rustc lacks it (Debian ships
#      no musl std: without rustup the musl tests are skipped).
# Idempotent: installs only what is missing. Elsewhere (macOS, other distros) it prints what to
# do and leaves the system alone.
set -euo pipefail

target=aarch64-unknown-linux-gnu

rustc_has_target() {
  local sysroot
  sysroot="$(rustc --print sysroot 2>/dev/null)" || return 1
  [ -d "$sysroot/lib/rustlib/$target/lib" ]
}

need_debian_rustc=0
if rustc_has_target; then
  echo "setup-system: rustc has the $target standard library"
elif command -v rustup >/dev/null 2>&1 && timeout 600 rustup target add "$target"; then
  echo "setup-system: added $target with rustup"
elif [ -d "/usr/lib/rustlib/$target/lib" ]; then
  echo "setup-system: rustup could not add $target; using Debian's rustc (present)"
else
  echo "setup-system: rustup could not add $target; falling back to Debian's rustc-web" >&2
  need_debian_rustc=1
fi

rustc_has() {
  local sysroot
  sysroot="$(rustc --print sysroot 2>/dev/null)" || return 1
  [ -d "$sysroot/lib/rustlib/$1/lib" ]
}
for musl in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
  if rustc_has "$musl"; then
    echo "setup-system: rustc has the $musl standard library"
  elif command -v rustup >/dev/null 2>&1 && timeout 600 rustup target add "$musl"; then
    echo "setup-system: added $musl with rustup"
  else
    echo "setup-system: could not add $musl (no rustup, or no download): musl builds are skipped" >&2
  fi
done

packages=(qemu-user-static libc6:arm64)
if [ "$need_debian_rustc" -eq 1 ]; then
  packages+=(rustc-web libstd-rust-web-dev:arm64)
fi
# The Docker tests: Debian's engine (the session starts its own dockerd), debootstrap for the
# local stand-ins of the pinned images, and a cargo a non-root test user can run (`cargo
# metadata` on the host is part of Docker bundling).
packages+=(docker.io debootstrap cargo-web)
# The docs tests measure the built site in a real browser engine (code blocks that fit,
# identifiers kept whole): Chromium's headless shell, without a desktop.
packages+=(chromium-headless-shell)

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-system: no apt-get; arm64 bootstraps can be built but not run here without qemu-user" >&2
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
