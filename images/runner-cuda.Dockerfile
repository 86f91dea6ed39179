# The Lepton runner for GPU pods: lepton-runner built with the `cuda` feature (dense models
# train on the GPU) plus ONNX Runtime with its CUDA execution provider (serving). linux/amd64
# only: ONNX Runtime's GPU wheel exists for no other platform.
#
# Two CUDA major versions live side by side, under different sonames:
# - CUDA 13 and cuDNN 9 from the base image, for ONNX Runtime: onnxruntime-gpu is built against
#   CUDA 13.0 (its libonnxruntime_providers_cuda.so needs libcudart.so.13 and libcublas.so.13,
#   and it loads cuDNN 9 at run time).
# - cuBLAS and NVRTC 12 from their wheels, for the trainer: cudarc is built for the CUDA 12.4 API
#   and opens libcublas.so.12 and libnvrtc.so.12.
# The node needs an NVIDIA driver of the 580 series or newer (CUDA 13); the NVIDIA container
# runtime refuses to start the container on an older one.
#
# Build from the repository root (BuildKit is required for the cache mounts):
#   docker build --platform linux/amd64 -f images/runner-cuda.Dockerfile \
#     -t ghcr.io/lepton-ai/lepton-runner:0.1.0-cuda .
# scripts/build-images.sh sets the tags, VERSION and SOURCE_DATE_EPOCH.
#
# Base images are pinned by tag. To pin them by digest as well, pass the full reference, e.g.
#   --build-arg CUDA_IMAGE=nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04@sha256:<digest>

ARG RUST_IMAGE=rust:1.95.0-bookworm
ARG PYTHON_IMAGE=python:3.12-slim-bookworm
# Ubuntu 24.04 (glibc 2.39) rather than 22.04 (glibc 2.35): the runner is linked on Debian 12
# (glibc 2.36) and needs a C library at least that new.
ARG CUDA_IMAGE=nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04

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
# CUDA is loaded at run time, so the build needs no CUDA toolkit. The target directory lives in a
# cache mount, so the binary is copied out in the same step.
RUN --mount=type=cache,id=lepton-cargo-registry,target=/usr/local/cargo/registry \
    --mount=type=cache,id=lepton-cargo-git,target=/usr/local/cargo/git \
    --mount=type=cache,id=lepton-target-runner-cuda,target=/src/target,sharing=locked \
    cargo build --release --locked -p lepton-runner --bin lepton-runner --features cuda \
    && install -D -m 0755 target/release/lepton-runner /out/lepton-runner \
    && touch -d "@${SOURCE_DATE_EPOCH}" /out/lepton-runner

# The shared libraries come from their official wheels; pip is only the downloader here, nothing
# Python reaches the final image.
FROM ${PYTHON_IMAGE} AS libraries
ARG SOURCE_DATE_EPOCH=0
# The GPU wheel is published later than the CPU one: onnxruntime-gpu 1.32.0 is not available
# yet, so this stays on 1.31.1 (the runner needs ONNX Runtime API 31, i.e. 1.31 or newer).
# Move it to the onnxruntime pin in requirements-test.txt once that version is published.
ARG ONNXRUNTIME_GPU_VERSION=1.31.1
ARG CUBLAS_CU12_VERSION=12.9.3.13
ARG NVRTC_CU12_VERSION=12.9.86
ARG CUDART_CU12_VERSION=12.9.79
RUN python -m pip install --no-cache-dir --disable-pip-version-check --no-deps \
        --only-binary=:all: --target /wheel "onnxruntime-gpu==${ONNXRUNTIME_GPU_VERSION}" \
    && mkdir -p /out/onnxruntime/lib \
    && cd /wheel/onnxruntime/capi \
    && cp libonnxruntime.so.* libonnxruntime_providers_shared.so \
        libonnxruntime_providers_cuda.so /out/onnxruntime/lib/ \
    && cp ../LICENSE ../ThirdPartyNotices.txt /out/onnxruntime/ \
    && cd /out/onnxruntime/lib \
    && ln -s "libonnxruntime.so.${ONNXRUNTIME_GPU_VERSION}" libonnxruntime.so \
    && test -f libonnxruntime.so
# The same CUDA 12 libraries scripts/gpu-check.sh tests the trainer with.
RUN python -m pip install --no-cache-dir --disable-pip-version-check --no-deps \
        --only-binary=:all: --target /cuda12 \
        "nvidia-cublas-cu12==${CUBLAS_CU12_VERSION}" \
        "nvidia-cuda-nvrtc-cu12==${NVRTC_CU12_VERSION}" \
        "nvidia-cuda-runtime-cu12==${CUDART_CU12_VERSION}" \
    && mkdir -p /out/cuda12/lib /out/cuda12/licenses \
    && cp -P /cuda12/nvidia/*/lib/*.so* /out/cuda12/lib/ \
    && test -e /out/cuda12/lib/libcublas.so.12 \
    && test -e /out/cuda12/lib/libnvrtc.so.12 \
    && for d in /cuda12/nvidia_*.dist-info; do \
        n="${d##*/}"; \
        find "$d" -type f -iname 'license*' -exec cp {} "/out/cuda12/licenses/${n%.dist-info}.txt" \; ; \
    done \
    && find /out -exec touch -h -d "@${SOURCE_DATE_EPOCH}" {} +

FROM ${CUDA_IMAGE}
ARG VERSION=dev
LABEL org.opencontainers.image.title="lepton-runner" \
      org.opencontainers.image.description="Lepton's runner with CUDA: trains dense models on NVIDIA GPUs and serves ONNX models with ONNX Runtime's CUDA execution provider." \
      org.opencontainers.image.source="https://github.com/lepton-ai/lepton" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=libraries /out/onnxruntime/ /opt/onnxruntime/
COPY --from=libraries /out/cuda12/ /opt/lepton/cuda12/
# On PATH, because the operator's default runner command is the bare name `lepton-runner`.
COPY --from=builder /out/lepton-runner /usr/local/bin/lepton-runner
# ONNX Runtime finds its CUDA provider next to libonnxruntime; the CUDA 12 libraries are found
# through LD_LIBRARY_PATH, ahead of the driver directories the base image already lists. The root
# file system is read-only in runner pods; /tmp is their writable emptyDir.
ENV LEPTON_ORT_LIB=/opt/onnxruntime/lib/libonnxruntime.so \
    LD_LIBRARY_PATH=/opt/lepton/cuda12/lib:${LD_LIBRARY_PATH} \
    HOME=/tmp \
    TMPDIR=/tmp
WORKDIR /tmp
# The uid the operator's pod security context runs as; numeric, so that runAsNonRoot can be
# verified without a passwd entry.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/lepton-runner"]
CMD ["--help"]
