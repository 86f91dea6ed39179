#!/usr/bin/env bash
# Builds Lepton's container images (operator, CPU runner, CUDA runner) into the local Docker
# engine, and optionally pushes them or loads them into a kind or k3d cluster. `make images` runs
# it. The default names are the ones the operator's configuration defaults to, so a cluster
# running this version finds them without configuration.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/build-images.sh [options] [operator] [runner] [runner-cuda]

Builds the named images (default: all three) with BuildKit.

options:
  --push               push the images after building them
  --load-kind CLUSTER  load the images into the kind cluster CLUSTER (`kind load docker-image`)
  --load-k3d CLUSTER   import the images into the k3d cluster CLUSTER (`k3d image import`)
  -h, --help           print this help

environment:
  LEPTON_IMAGE_REPO         registry and namespace of the images (default ghcr.io/lepton-ai)
  VERSION                   image tag (default: the workspace version in Cargo.toml)
  SOURCE_DATE_EPOCH         timestamp of the image files (default: the last commit's time)
  LEPTON_IMAGES_OPTIONAL=1  exit 0 instead of 1 when no Docker engine is reachable
  LEPTON_REWRITE_TIMESTAMP=0  do not ask BuildKit to clamp file times to SOURCE_DATE_EPOCH
                            (needed with BuildKit older than 0.13)

images:
  operator     $LEPTON_IMAGE_REPO/lepton-operator:$VERSION
  runner       $LEPTON_IMAGE_REPO/lepton-runner:$VERSION
  runner-cuda  $LEPTON_IMAGE_REPO/lepton-runner:$VERSION-cuda  (linux/amd64 only)
EOF
}

die() {
  echo "build-images: $*" >&2
  exit 1
}

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

push=0
kind_cluster=""
k3d_cluster=""
selected=()
while (($# > 0)); do
  case "$1" in
    --push) push=1 ;;
    --load-kind)
      (($# > 1)) || die "--load-kind needs a cluster name"
      kind_cluster="$2"
      shift
      ;;
    --load-k3d)
      (($# > 1)) || die "--load-k3d needs a cluster name"
      k3d_cluster="$2"
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    operator | runner | runner-cuda) selected+=("$1") ;;
    *)
      usage >&2
      die "unknown argument \`$1'"
      ;;
  esac
  shift
done
if ((${#selected[@]} == 0)); then
  selected=(operator runner runner-cuda)
fi

# A machine without Docker (a CI runner, a build container) can still run the rest of the
# build when the caller says the images are optional.
if ! command -v docker >/dev/null 2>&1; then
  reason="the docker command is not installed"
elif ! docker info >/dev/null 2>&1; then
  reason="'docker info' failed (is the daemon running, and DOCKER_HOST right?)"
else
  reason=""
fi
if [[ -n "$reason" ]]; then
  echo "build-images: no Docker engine reachable: $reason; images not built" >&2
  if [[ "${LEPTON_IMAGES_OPTIONAL:-0}" == 1 ]]; then
    exit 0
  fi
  exit 1
fi
if [[ -n "$kind_cluster" ]] && ! command -v kind >/dev/null 2>&1; then
  die "--load-kind needs the kind command on PATH"
fi
if [[ -n "$k3d_cluster" ]] && ! command -v k3d >/dev/null 2>&1; then
  die "--load-k3d needs the k3d command on PATH"
fi

workspace_version() {
  awk '
    /^\[workspace\.package\]/ { section = 1; next }
    /^\[/ { section = 0 }
    section && $1 == "version" { gsub(/"/, "", $3); print $3; exit }
  ' Cargo.toml
}

repo="${LEPTON_IMAGE_REPO:-ghcr.io/lepton-ai}"
repo="${repo%/}"
version="${VERSION:-$(workspace_version)}"
[[ -n "$version" ]] || die "no VERSION given and none found in Cargo.toml"
epoch="${SOURCE_DATE_EPOCH:-}"
if [[ -z "$epoch" ]]; then
  epoch="$(git log -1 --format=%ct 2>/dev/null || true)"
fi
epoch="${epoch:-0}"

# buildx can clamp every file time in the image to SOURCE_DATE_EPOCH, which makes two builds of
# the same commit identical; the classic client only sets the image's own timestamps.
buildx=0
if docker buildx version >/dev/null 2>&1; then
  buildx=1
fi

build() {
  local dockerfile="$1" tag="$2" platform="$3"
  local args=(
    --file "$dockerfile"
    --tag "$tag"
    --build-arg "VERSION=$version"
    --build-arg "SOURCE_DATE_EPOCH=$epoch"
  )
  if [[ -n "$platform" ]]; then
    args+=(--platform "$platform")
  fi
  echo "build-images: building $tag from $dockerfile" >&2
  if ((buildx)); then
    if [[ "${LEPTON_REWRITE_TIMESTAMP:-1}" == 1 ]]; then
      args+=(--output "type=docker,rewrite-timestamp=true")
    else
      args+=(--load)
    fi
    docker buildx build "${args[@]}" .
  else
    DOCKER_BUILDKIT=1 docker build "${args[@]}" .
  fi
}

tags=()
for image in "${selected[@]}"; do
  case "$image" in
    operator)
      tag="$repo/lepton-operator:$version"
      build images/operator.Dockerfile "$tag" ""
      ;;
    runner)
      tag="$repo/lepton-runner:$version"
      build images/runner.Dockerfile "$tag" ""
      ;;
    runner-cuda)
      tag="$repo/lepton-runner:$version-cuda"
      build images/runner-cuda.Dockerfile "$tag" linux/amd64
      ;;
    *) die "unknown image \`$image'" ;;
  esac
  tags+=("$tag")
done

if ((push)); then
  for tag in "${tags[@]}"; do
    docker push "$tag"
  done
fi
if [[ -n "$kind_cluster" ]]; then
  kind load docker-image --name "$kind_cluster" "${tags[@]}"
fi
if [[ -n "$k3d_cluster" ]]; then
  k3d image import --cluster "$k3d_cluster" "${tags[@]}"
fi
printf 'build-images: built %s\n' "${tags[@]}" >&2
