# syntax=docker/dockerfile:1
# One image for every jst2tplus binary; docker-compose.yml picks the binary per service.
# Needs BuildKit (default in current Docker) for the cache mounts, and a registry for the
# base images. Without one (as in this project's CI) deploy/images/build-local.sh makes the
# same image from a local `cargo build` with `docker import`; it reads the binary list from
# the `for bin in` line below, so both always carry the same binaries.

# ---- builder ---------------------------------------------------------------
FROM rust:1.95-slim-bookworm AS builder
WORKDIR /src

# The whole workspace: cargo needs every member's manifest (tests/ and shared/testkit
# included) to resolve the workspace, even for members we do not build.
COPY Cargo.toml Cargo.lock ./
COPY shared shared
COPY services services
COPY tests tests
COPY config config

# The registry and target dir live in cache mounts so a source change recompiles only
# our crates. Cache mounts are not part of the image, so the binaries are copied out
# to /out within the same RUN. sharing=locked: two builds never use one target dir at once.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked --bins \
        -p j2t-fetcher -p j2t-transformer -p j2t-writer -p j2t-monitor -p j2t-simulator -p jst2tplus \
 && mkdir -p /out \
 && for bin in jst2tplus-fetcher jst2tplus-transformer jst2tplus-writer jst2tplus-monitor \
               jst2tplus-simulator jst2tplus; do \
        cp "target/release/$bin" /out/; \
    done

# ---- runtime ---------------------------------------------------------------
FROM debian:bookworm-slim

# ca-certificates: the system trust store, read by async-nats for a TLS NATS connection
# (reqwest bundles webpki roots for the HTTPS APIs, so it does not need them).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 j2t \
 && useradd --system --uid 10001 --gid j2t --no-create-home --shell /usr/sbin/nologin j2t

COPY --from=builder /out/ /usr/local/bin/
# For reference and for `--config`; the binaries carry these defaults compiled in and
# read overrides from J2T__SECTION__KEY environment variables.
COPY config /etc/jst2tplus/config

USER 10001:10001
# 8081/8082: simulator (JST / T+); 8090: monitor's console; 9090: admin /healthz, /readyz,
# /metrics of each service.
EXPOSE 8081 8082 8090 9090
CMD ["jst2tplus-simulator"]
