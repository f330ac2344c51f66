# Stand-in for ghcr.io/cargo-lambda/cargo-lambda:<pinned> (no registry is reachable here),
# reproducing upstream's Dockerfile: a Rust toolchain with CARGO_HOME=/usr/local/cargo and
# RUSTUP_HOME=/usr/local/rustup (their bin dirs on PATH, world-writable as in the rust image),
# the x86_64 and aarch64 -unknown-linux-gnu std, zig unpacked at /zig on PATH, /.cache
# world-writable (zig's cache for a non-root user without a home), cargo-lambda at
# /cargo-lambda on PATH, CMD ["cargo", "lambda"], no ENTRYPOINT, user root.
# Differences: the toolchain is Debian's rustc-web/cargo-web (+ libstd-rust-web-dev:arm64)
# instead of rustup's (rustup cannot add targets here); zig and cargo-lambda are the PyPI
# builds (ziglang, cargo-lambda) the test venv installed; gcc for build scripts as in rust:<v>.
# ca/ holds this machine's extra CA certificates: its egress re-signs TLS, and cargo inside the
# container downloads crates from crates.io. The library's images never get them.
ARG BASE
FROM ${BASE}
COPY ca/ /usr/local/share/ca-certificates/
RUN set -eu; \
    dpkg --add-architecture arm64; \
    apt-get update -q; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      ca-certificates gcc libc6-dev rustc-web cargo-web libstd-rust-web-dev libstd-rust-web-dev:arm64; \
    update-ca-certificates; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin; \
    mkdir -p /usr/local/cargo/bin /usr/local/rustup; \
    ln -s /usr/bin/cargo /usr/bin/rustc /usr/bin/rustdoc /usr/local/cargo/bin/; \
    chmod -R a+w /usr/local/cargo /usr/local/rustup; \
    mkdir -m 1777 /.cache
ENV RUSTUP_HOME=/usr/local/rustup \
    CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/zig:/cargo-lambda:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY zig/ /zig/
COPY cargo-lambda /cargo-lambda/cargo-lambda
CMD ["cargo", "lambda"]
