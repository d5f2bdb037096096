# syntax=docker/dockerfile:1
#
# Meshdrop in one image: the signaling server with the web app built into its binary,
# plus the built-in STUN server. See docs/self-hosting.md.
#
#   docker build -t meshdrop .
#   docker run -p 8080:8080 -p 3478:3478/udp -e MESHDROP_PUBLIC_URL=https://meshdrop.example.com meshdrop
#
# Not tested on the machine this was written on (it cannot run Docker); the steps are
# the ones `cargo xtask` runs, which are tested.

FROM rust:1-bookworm AS build

# The web build tools, at the versions Trunk.toml and Cargo.lock pin (xtask checks
# that they agree). wasm-opt comes from npm: Debian's binaryen is too old.
ARG TRUNK_VERSION=0.21.14
ARG WASM_BINDGEN_VERSION=0.2.130
ARG BINARYEN_VERSION=132
ARG TERSER_VERSION=5.51.4
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add wasm32-unknown-unknown \
 && cargo install --locked trunk --version "${TRUNK_VERSION}" \
 && cargo install wasm-bindgen-cli --version "=${WASM_BINDGEN_VERSION}" \
 && npm install --global --no-audit --no-fund "binaryen@${BINARYEN_VERSION}"

WORKDIR /src
COPY . .
# terser for Trunk's post-build hook (web/post-build.mjs), where the hook looks for it.
RUN npm install --prefix .tools --no-audit --no-fund "terser@${TERSER_VERSION}" \
 && trunk build --release \
 && cargo build --release --locked -p meshdrop-signaling-server --features embed-web \
 && install -D target/release/meshdrop-server /out/meshdrop-server

# glibc and libgcc, nothing else: no shell, no package manager.
FROM gcr.io/distroless/cc-debian12
COPY --from=build /out/meshdrop-server /usr/local/bin/meshdrop-server
# Listen on every interface inside the container; STUN follows on UDP 3478.
ENV MESHDROP_LISTEN=0.0.0.0:8080
EXPOSE 8080/tcp 3478/udp
USER nonroot
# SIGTERM (docker stop) closes every WebSocket with 1001 and exits 0 within 10 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/meshdrop-server"]
