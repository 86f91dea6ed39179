# The Lepton operator: one static-enough Rust binary on distroless.
#
# Build from the repository root (BuildKit is required for the cache mounts):
#   docker build -f images/operator.Dockerfile -t ghcr.io/lepton-ai/lepton-operator:0.1.0 .
# scripts/build-images.sh sets the tags, VERSION and SOURCE_DATE_EPOCH.
#
# Base images are pinned by tag. To pin them by digest as well, pass the full reference, e.g.
#   --build-arg RUST_IMAGE=rust:1.95.0-bookworm@sha256:<digest>

ARG RUST_IMAGE=rust:1.95.0-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${RUST_IMAGE} AS builder
# Commit time of the source; build scripts that stamp dates use it instead of the clock.
ARG SOURCE_DATE_EPOCH=0
# Incremental artifacts are not reproducible; the remapped prefixes keep the build machine's
# paths out of the binary (panic locations, debug info).
ENV CARGO_INCREMENTAL=0 \
    CARGO_TERM_COLOR=never \
    RUSTFLAGS="--remap-path-prefix=/src=/lepton --remap-path-prefix=/usr/local/cargo=/cargo"
WORKDIR /src
# Cargo loads every workspace member, so all of them are copied even though only the operator
# is built; crds embeds the example manifests in its generated API reference.
COPY Cargo.toml Cargo.lock ./
COPY bench/sweep bench/sweep
COPY cli cli
COPY crds crds
COPY embedded-cluster embedded-cluster
COPY examples/credit-default examples/credit-default
COPY operator operator
COPY report report
COPY runner runner
COPY tuning tuning
# The target directory lives in a cache mount, so the binary is copied out in the same step.
RUN --mount=type=cache,id=lepton-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=lepton-cargo-git,target=/usr/local/cargo/git \
    --mount=type=cache,id=lepton-target-operator,target=/src/target,sharing=locked \
    cargo build --release --locked -p lepton-operator --bin lepton-operator \
    && install -D -m 0755 target/release/lepton-operator /out/lepton-operator \
    && touch -d "@${SOURCE_DATE_EPOCH}" /out/lepton-operator

# distroless/cc carries glibc, libgcc_s (Rust's unwinder) and CA certificates, and nothing else:
# TLS is rustls with ring, so no OpenSSL is needed.
FROM ${RUNTIME_IMAGE}
ARG VERSION=dev
LABEL org.opencontainers.image.title="lepton-operator" \
      org.opencontainers.image.description="Lepton's Kubernetes operator: controllers for TrainingJob, TuningSweep and ModelDeployment." \
      org.opencontainers.image.source="https://github.com/lepton-ai/lepton" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=builder /out/lepton-operator /lepton-operator
# Numeric, so that runAsNonRoot can be verified without a passwd entry.
USER 65532:65532
ENTRYPOINT ["/lepton-operator"]
CMD ["run"]
