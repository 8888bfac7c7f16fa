# Images for service1 and service2, built from this workspace.
#
#   docker build --target service1 -t zipkin-b3-demo/service1 .
#   docker build --target service2 -t zipkin-b3-demo/service2 .
#   (docker compose up --build does both)
#
# Layout: one `build` stage compiles both binaries in a single cargo invocation, and one
# small runtime stage per service copies just its binary. One image per service, rather than
# one image holding both, gives each its own entry point and exposed port, so `docker run`
# needs no command, while the compiling (the slow part) still happens once for both.
#
# Layer caching: dependencies take minutes to compile and change rarely; our sources change
# all the time. The `skeleton` stage reduces the build context to what decides the
# dependency graph (every Cargo.toml, Cargo.lock) plus an empty stub for every .rs file, and
# `build` compiles the dependencies from that alone. Docker caches a COPY by the content it
# copies (not by modification times), so editing a source file leaves the skeleton the same
# and the dependency layer cached; only editing a manifest or the lock file rebuilds it. This is what
# cargo-chef does, without a tool to install.
#
# Workspace members: the skeleton keeps every manifest it finds, so a new member (demo/,
# say) needs no change here. If a future build needs more than manifests to resolve (a
# .cargo/config.toml, a build script's inputs), keep those files in the skeleton too; a
# file missing from it costs only caching, never correctness, since `build` compiles the
# full sources afterwards.

# The same compiler CI uses (the toolchain on the project's machines); the workspace's
# rust-version (1.88) is only a floor. Bookworm, to match the runtime image's glibc.
ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS skeleton
WORKDIR /src
COPY . .
# Stub every Rust file (crate roots, modules, tests, build scripts) with an empty `main`, so
# that every target cargo discovers still exists; then delete everything that is neither a
# manifest nor a stub (docs, test data, the Dockerfile itself), and the folders left empty.
# (`{ }` has a space because find would substitute a file name for a literal `{}`.)
RUN find . -name '*.rs' -exec sh -c \
        'for f; do echo "#![allow(dead_code, missing_docs)] fn main() { }" > "$f"; done' sh {} + \
    && find . -type f ! -name Cargo.toml ! -name Cargo.lock ! -name '*.rs' -delete \
    && find . -type d -empty -delete

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY --from=skeleton /src ./
# The same profile and flags as CI's release build (.ci/run), so the images hold the
# binaries CI built; --locked refuses to build if Cargo.lock is out of date.
RUN cargo build --release --locked -p service1 -p service2
COPY . .
# COPY keeps the files' modification times, which are older than the stubs compiled above,
# so cargo would think our crates are up to date and ship the stubs. Touching the sources
# makes them newer; the compiled dependencies stay as they are.
RUN find . -path ./target -prune -o -name '*.rs' -exec touch {} + \
    && cargo build --release --locked -p service1 -p service2

# What both services' images share: a slim Debian (the glibc the binaries were linked
# against, and bash for the compose health checks) and an unprivileged user.
FROM ${RUNTIME_IMAGE} AS runtime
RUN groupadd --system --gid 10001 demo \
    && useradd --system --uid 10001 --gid demo --no-create-home --shell /usr/sbin/nologin demo
# A numeric USER lets orchestrators check "not root" without reading /etc/passwd.
USER 10001:10001
# Inside a container the default 127.0.0.1 would be unreachable from outside; listen on
# every interface. Both services read BIND.
ENV BIND=0.0.0.0

FROM runtime AS service2
COPY --from=build /src/target/release/service2 /usr/local/bin/service2
EXPOSE 6000
ENTRYPOINT ["/usr/local/bin/service2"]

# Last, so that a plain `docker build .` builds service1, the entry point of the demo.
FROM runtime AS service1
COPY --from=build /src/target/release/service1 /usr/local/bin/service1
EXPOSE 5000
ENTRYPOINT ["/usr/local/bin/service1"]
