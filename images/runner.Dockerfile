# The Lepton runner for CPU pods: lepton-runner plus ONNX Runtime's shared library, which it
# loads at run time to check exported models (train) and to run them (serve).
#
# Build from the repository root (BuildKit is required for the cache mounts):
#   docker build -f images/runner.Dockerfile -t ghcr.io/lepton-ai/lepton-runner:0.1.0 .
# scripts/build-images.sh sets the tags, VERSION and SOURCE_DATE_EPOCH.
#
# Base images are pinned by tag. To pin them by digest as well, pass the full reference, e.g.
#   --build-arg RUNTIME_IMAGE=debian:bookworm-slim@sha256:<digest>

ARG RUST_IMAGE=rust:1.95.0-bookworm
ARG PYTHON_IMAGE=python:3.12-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS builder
# Commit time of the source; build scripts that stamp dates use it instead of the clock.
ARG SOURCE_DATE_EPOCH=0
# Incremental artifacts are not reproducible; the remapped prefixes keep the build machine's
# paths out of the binary (panic locations, debug info).
ENV CARGO_INCREMENTAL=0 \
    CARGO_TERM_COLOR=never \
    RUSTFLAGS="--remap-path-prefix=/src=/lepton --remap-path-prefix=/usr/local/cargo=/cargo"
WORKDIR /src
# Cargo loads every workspace member, so all of them are copied even though only the runner is
# built; crds embeds the example manifests in its generated API reference.
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
    --mount=type=cache,id=lepton-target-runner,target=/src/target,sharing=locked \
    cargo build --release --locked -p lepton-runner --bin lepton-runner \
    && install -D -m 0755 target/release/lepton-runner /out/lepton-runner \
    && touch -d "@${SOURCE_DATE_EPOCH}" /out/lepton-runner

# ONNX Runtime comes from its official wheel, the same build the test suite checks against; pip is
# only the downloader here, nothing Python reaches the final image.
FROM ${PYTHON_IMAGE} AS onnxruntime
ARG SOURCE_DATE_EPOCH=0
# Keep equal to the onnxruntime pin in requirements-test.txt.
ARG ONNXRUNTIME_VERSION=1.32.0
RUN python -m pip install --no-cache-dir --disable-pip-version-check --no-deps \
        --only-binary=:all: --target /wheel "onnxruntime==${ONNXRUNTIME_VERSION}" \
    && mkdir -p /out/lib \
    && cp /wheel/onnxruntime/capi/libonnxruntime.so.* /out/lib/ \
    && cp /wheel/onnxruntime/LICENSE /wheel/onnxruntime/ThirdPartyNotices.txt /out/ \
    && cd /out/lib \
    && ln -s "libonnxruntime.so.${ONNXRUNTIME_VERSION}" libonnxruntime.so \
    && test -f libonnxruntime.so \
    && find /out -exec touch -h -d "@${SOURCE_DATE_EPOCH}" {} +

# Debian slim rather than distroless: ONNX Runtime needs libstdc++, which slim has for certain,
# and a shell makes `kubectl exec` usable when a training pod needs to be inspected. Nothing is
# installed with apt, so the final layers depend only on the pinned base and the stages above.
FROM ${RUNTIME_IMAGE}
ARG VERSION=dev
LABEL org.opencontainers.image.title="lepton-runner" \
      org.opencontainers.image.description="Lepton's runner: trains models (train) and serves them over the Open Inference Protocol (serve)." \
      org.opencontainers.image.source="https://github.com/lepton-ai/lepton" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
# rustls reads the system trust store for s3:// and https:// sources; slim has none.
COPY --from=builder /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=onnxruntime /out/ /opt/onnxruntime/
# On PATH, because the operator's default runner command is the bare name `lepton-runner`.
COPY --from=builder /out/lepton-runner /usr/local/bin/lepton-runner
# The root file system is read-only in runner pods; /tmp is their writable emptyDir.
ENV LEPTON_ORT_LIB=/opt/onnxruntime/lib/libonnxruntime.so \
    HOME=/tmp \
    TMPDIR=/tmp
WORKDIR /tmp
# The uid the operator's pod security context runs as; numeric, so that runAsNonRoot can be
# verified without a passwd entry.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/lepton-runner"]
CMD ["--help"]
