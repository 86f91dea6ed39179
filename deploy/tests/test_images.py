"""Static checks of the container images (images/*.Dockerfile), .dockerignore and
scripts/build-images.sh. Nothing here needs a Docker engine: the Dockerfiles are parsed, and the
build script runs against a stub `docker` that records what it is asked to do."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = {
    "operator": REPO / "images" / "operator.Dockerfile",
    "runner": REPO / "images" / "runner.Dockerfile",
    "runner-cuda": REPO / "images" / "runner-cuda.Dockerfile",
}
RUNNERS = ("runner", "runner-cuda")
SCRIPT = REPO / "scripts" / "build-images.sh"
# The PATH of the Debian and Ubuntu based images the runner images start from.
BASE_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]


# ---------------------------------------------------------------------------------------------
# A small Dockerfile parser: logical lines, instructions, and stages with their ARGs.


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass
class Stage:
    index: int
    name: str | None
    image: str  # FROM's image after substituting the global ARGs
    raw_image: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def args(self, global_args: dict[str, str]) -> dict[str, str]:
        """ARG defaults visible in the stage (a stage's own ARG overrides the global one)."""
        values = {}
        for i in self.all("ARG"):
            name, _, default = i.args.partition("=")
            name = name.strip()
            values[name] = default.strip().strip('"') if default else global_args.get(name, "")
        return values


@dataclass
class Dockerfile:
    path: Path
    global_args: dict[str, str]
    stages: list[Stage]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Joins continuation lines; drops comments and blank lines, as Docker does."""
    lines: list[tuple[int, str]] = []
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not buffer):
            continue
        if not buffer:
            start = number
        if raw.rstrip().endswith("\\"):
            buffer.append(raw.rstrip()[:-1])
            continue
        buffer.append(raw)
        lines.append((start, " ".join(part.strip() for part in buffer).strip()))
        buffer = []
    assert not buffer, "the file ends inside a continued line"
    return lines


def substitute(text: str, values: dict[str, str]) -> str:
    def value(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        assert name in values, f"${name} is used but never declared as an ARG"
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, text)


def parse(path: Path) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line, text in logical_lines(path.read_text()):
        keyword, _, args = text.partition(" ")
        keyword = keyword.upper()
        args = args.strip()
        assert keyword in {
            "ARG", "FROM", "ENV", "WORKDIR", "COPY", "RUN", "LABEL", "USER", "ENTRYPOINT", "CMD",
        }, f"{path.name}:{line}: unexpected instruction {keyword}"
        if keyword == "FROM":
            words = [w for w in args.split() if not w.startswith("--platform")]
            assert len(words) in (1, 3), f"{path.name}:{line}: FROM image [AS name]"
            name = None
            if len(words) == 3:
                assert words[1].upper() == "AS", f"{path.name}:{line}: FROM image AS name"
                name = words[2]
            stages.append(Stage(len(stages), name, substitute(words[0], global_args), words[0]))
        elif not stages:
            assert keyword == "ARG", f"{path.name}:{line}: only ARG may come before FROM"
            name, _, default = args.partition("=")
            global_args[name.strip()] = default.strip()
        else:
            stages[-1].instructions.append(Instruction(keyword, args, line))
    return Dockerfile(path, global_args, stages)


def copy_parts(instruction: Instruction) -> tuple[dict[str, str], list[str], str]:
    """(flags, sources, destination) of a COPY in shell form."""
    words = instruction.args.split()
    flags = {}
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        flags[key] = value
    assert len(words) >= 2, f"line {instruction.line}: COPY needs a source and a destination"
    return flags, words[:-1], words[-1]


def run_commands(stage: Stage) -> list[str]:
    """Shell commands of the stage's RUNs, without their --mount flags."""
    commands = []
    for i in stage.all("RUN"):
        text = i.args
        while text.startswith("--"):
            text = text.split(None, 1)[1]
        commands.append(text)
    return commands


def exec_form(instruction: Instruction) -> list[str]:
    value = json.loads(instruction.args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value


def env_of(stage: Stage) -> dict[str, str]:
    env = {}
    for i in stage.all("ENV"):
        for key, value in re.findall(r'(\w+)=("[^"]*"|\S+)', i.args):
            env[key] = value.strip('"')
    return env


@pytest.fixture(scope="module")
def dockerfiles() -> dict[str, Dockerfile]:
    return {name: parse(path) for name, path in DOCKERFILES.items()}


# ---------------------------------------------------------------------------------------------
# Facts from the rest of the repository.


def workspace() -> dict:
    """Packages of the workspace with their binaries and features (cargo metadata, or the
    manifests themselves where cargo is not installed)."""
    try:
        out = subprocess.run(
            ["cargo", "metadata", "--no-deps", "--format-version", "1"],
            cwd=REPO, capture_output=True, text=True, timeout=120, check=True,
        ).stdout
    except FileNotFoundError:
        return workspace_from_manifests()
    packages = {}
    for p in json.loads(out)["packages"]:
        packages[p["name"]] = {
            "bins": {t["name"] for t in p["targets"] if "bin" in t["kind"]},
            "features": set(p["features"]),
        }
    return packages


def workspace_from_manifests() -> dict:
    packages = {}
    for member in workspace_members():
        manifest = tomllib.loads((REPO / member / "Cargo.toml").read_text())
        name = manifest["package"]["name"]
        bins = {b["name"] for b in manifest.get("bin", [])}
        if (REPO / member / "src" / "main.rs").exists() and not bins:
            bins.add(name)
        packages[name] = {"bins": bins, "features": set(manifest.get("features", {}))}
    return packages


def workspace_members() -> list[str]:
    return tomllib.loads((REPO / "Cargo.toml").read_text())["workspace"]["members"]


def workspace_version() -> str:
    return tomllib.loads((REPO / "Cargo.toml").read_text())["workspace"]["package"]["version"]


def operator_version() -> str:
    """CARGO_PKG_VERSION of the operator, which its default image tags use."""
    package = tomllib.loads((REPO / "operator" / "Cargo.toml").read_text())["package"]
    version = package["version"]
    return workspace_version() if isinstance(version, dict) else version


def onnxruntime_pin() -> str:
    text = (REPO / "requirements-test.txt").read_text()
    m = re.search(r"^onnxruntime==([\w.]+)\s*$", text, re.M)
    assert m, "requirements-test.txt pins no onnxruntime version"
    return m.group(1)


def config_rs() -> str:
    return (REPO / "operator" / "src" / "config.rs").read_text()


def rust_fn_body(text: str, name: str) -> str:
    m = re.search(rf"fn {name}\(\)\s*->\s*String\s*\{{(.*?)\n\}}", text, re.S)
    assert m, f"operator/src/config.rs has no fn {name}"
    return m.group(1)


def default_runner_command() -> str:
    body = rust_fn_body(config_rs(), "default_runner_command")
    m = re.fullmatch(r'\s*"([^"]+)"\.to_owned\(\)\s*', body)
    assert m, f"default_runner_command is no longer a plain string: {body!r}"
    return m.group(1)


def default_image(function: str) -> str:
    """The default image of `function` with CARGO_PKG_VERSION filled in."""
    body = rust_fn_body(config_rs(), function)
    m = re.search(r'format!\(\s*"([^"]+)",\s*env!\("CARGO_PKG_VERSION"\)\s*,?\s*\)', body)
    assert m, f"{function} is no longer format!(\"...{{}}\", CARGO_PKG_VERSION): {body!r}"
    return m.group(1).replace("{}", operator_version())


def runner_uid() -> int:
    text = (REPO / "operator" / "src" / "pod_spec.rs").read_text()
    m = re.search(r"pub const RUNNER_UID: i64 = (\d+);", text)
    assert m, "operator/src/pod_spec.rs defines no RUNNER_UID"
    return int(m.group(1))


def ort_library_env() -> str:
    text = (REPO / "runner" / "src" / "onnx_runtime.rs").read_text()
    m = re.search(r'pub const LIBRARY_ENV: &str = "(\w+)";', text)
    assert m, "runner/src/onnx_runtime.rs defines no LIBRARY_ENV"
    return m.group(1)


def ort_api_level() -> int:
    """The ONNX Runtime API version the runner's `ort` dependency is built for."""
    manifest = tomllib.loads((REPO / "runner" / "Cargo.toml").read_text())
    features = manifest["dependencies"]["ort"]["features"]
    levels = [int(f.removeprefix("api-")) for f in features if re.fullmatch(r"api-\d+", f)]
    assert levels, "the runner's ort dependency names no api-N feature"
    return max(levels)


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


# ---------------------------------------------------------------------------------------------
# .dockerignore, with Docker's matching rules: patterns are relative to the context root, `**`
# matches any number of directories, and excluding a directory excludes everything under it.


def dockerignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def pattern_regex(pattern: str) -> re.Pattern:
    pattern = pattern.strip("/")
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        else:
            c = pattern[i]
            out += {"*": "[^/]*", "?": "[^/]"}.get(c, re.escape(c))
            i += 1
    return re.compile(out + "$")


def ignored(path: str) -> bool:
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for pattern in dockerignore_patterns():
        negate = pattern.startswith("!")
        regex = pattern_regex(pattern.lstrip("!"))
        if any(regex.match(p) for p in prefixes):
            excluded = not negate
    return excluded


def test_the_dockerignore_matcher_follows_dockers_rules():
    assert pattern_regex("**/target").match("runner/target")
    assert pattern_regex("**/target").match("target")
    assert not pattern_regex("tests").match("runner/tests")
    assert pattern_regex(".venv*").match(".venv-bench")


def test_dockerignore_excludes_build_outputs_and_local_environments():
    for path in ["target", "target/release/lepton-runner", "runner/target", "fuzz/target",
                 ".venv", ".venv/bin/python", ".venv-bench", ".lepton", ".git", "bench/results"]:
        assert ignored(path), f".dockerignore does not exclude {path}"
    for path in ["Cargo.toml", "Cargo.lock", "runner/src/main.rs", "operator/src/main.rs",
                 "runner/tests"]:
        assert not ignored(path), f".dockerignore excludes {path}, which builds need"


# ---------------------------------------------------------------------------------------------
# The Dockerfiles.


def test_each_dockerfile_parses_into_named_build_stages_and_a_final_stage(dockerfiles):
    expected = {
        "operator": ["builder", None],
        "runner": ["builder", "onnxruntime", None],
        "runner-cuda": ["builder", "libraries", None],
    }
    for name, dockerfile in dockerfiles.items():
        assert [s.name for s in dockerfile.stages] == expected[name], name
        names = [s.name for s in dockerfile.stages]
        for stage in dockerfile.stages:
            for copy in stage.all("COPY"):
                flags, _, _ = copy_parts(copy)
                if "from" in flags:
                    source = flags["from"]
                    assert source in names[: stage.index], (
                        f"{name}:{copy.line}: --from={source} is not an earlier stage"
                    )


def test_every_base_image_is_pinned_and_overridable(dockerfiles):
    for name, dockerfile in dockerfiles.items():
        for stage in dockerfile.stages:
            image = stage.image
            # A variable, so that a digest can be pinned with --build-arg without editing.
            assert re.fullmatch(r"\$\{\w+\}", stage.raw_image), (
                f"{name}: FROM {stage.raw_image} should be an ARG with a default"
            )
            reference, _, digest = image.partition("@")
            last = reference.rsplit("/", 1)[-1]
            assert ":" in last, f"{name}: base image {image} has no tag"
            tag = last.split(":", 1)[1]
            assert tag and tag != "latest", f"{name}: base image {image} is not pinned"
            if digest:
                assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), image


def test_the_rust_builder_matches_the_workspace_toolchain(dockerfiles):
    manifest = tomllib.loads((REPO / "Cargo.toml").read_text())
    minimum = version_tuple(manifest["workspace"]["package"]["rust-version"])
    for name, dockerfile in dockerfiles.items():
        image = dockerfile.stage("builder").image
        m = re.fullmatch(r"rust:(\d+\.\d+\.\d+)-bookworm(@sha256:[0-9a-f]{64})?", image)
        assert m, f"{name}: the builder should be rust:<x.y.z>-bookworm, not {image}"
        assert version_tuple(m.group(1)) >= minimum, f"{name}: {image} is older than rust-version"
    images = {d.stage("builder").image for d in dockerfiles.values()}
    assert len(images) == 1, f"the images are built with different toolchains: {images}"


def test_the_final_stage_runs_as_a_numeric_non_root_user(dockerfiles):
    for name, dockerfile in dockerfiles.items():
        users = dockerfile.final.all("USER")
        assert users, f"{name}: the final stage sets no USER"
        user = users[-1].args
        assert re.fullmatch(r"\d+:\d+", user), f"{name}: USER {user} is not numeric uid:gid"
        uid, gid = (int(x) for x in user.split(":"))
        assert uid != 0 and gid != 0, f"{name}: runs as root"
        if name in RUNNERS:
            assert uid == gid == runner_uid(), (
                f"{name}: USER {user} differs from the operator's RUNNER_UID {runner_uid()}"
            )


def test_every_cargo_build_is_locked_and_names_what_exists(dockerfiles):
    packages = workspace()
    builds = {}
    for name, dockerfile in dockerfiles.items():
        for stage in dockerfile.stages:
            for command in run_commands(stage):
                for m in re.finditer(r"cargo build([^&;|]*)", command):
                    words = m.group(1).split()
                    assert "--locked" in words, f"{name}: cargo build without --locked"
                    assert "--release" in words, f"{name}: cargo build without --release"
                    options = {w: words[i + 1] for i, w in enumerate(words[:-1])
                               if w in ("-p", "--package", "--bin", "--features")}
                    package = options.get("-p") or options.get("--package")
                    assert package in packages, f"{name}: cargo build -p {package}: no such package"
                    binary = options.get("--bin")
                    assert binary in packages[package]["bins"], (
                        f"{name}: {package} has no binary {binary}"
                    )
                    features = options.get("--features", "")
                    for feature in filter(None, re.split(r"[ ,]", features)):
                        assert feature in packages[package]["features"], (
                            f"{name}: {package} has no feature {feature}"
                        )
                    builds[name] = (package, binary, features)
    assert builds == {
        "operator": ("lepton-operator", "lepton-operator", ""),
        "runner": ("lepton-runner", "lepton-runner", ""),
        "runner-cuda": ("lepton-runner", "lepton-runner", "cuda"),
    }


def test_the_builder_copies_every_workspace_member(dockerfiles):
    for name, dockerfile in dockerfiles.items():
        destinations = builder_copies(dockerfile)
        for required in ["Cargo.toml", "Cargo.lock", *workspace_members()]:
            assert any(required == d or required.startswith(d + "/") for d in destinations), (
                f"{name}: the builder does not copy {required}, which cargo needs"
            )


def builder_copies(dockerfile: Dockerfile) -> list[str]:
    copied = []
    for copy in dockerfile.stage("builder").all("COPY"):
        _, sources, destination = copy_parts(copy)
        copied.extend(sources if destination in ("./", ".") else [destination.rstrip("/")])
    return copied


def test_files_the_sources_embed_are_copied_too(dockerfiles):
    embedded = set()
    for member in workspace_members():
        for source in (REPO / member / "src").rglob("*.rs"):
            for path in re.findall(r'include_(?:str|bytes)!\(\s*"([^"]+)"', source.read_text()):
                embedded.add((source.parent / path).resolve().relative_to(REPO).as_posix())
    assert embedded, "no include_str! found: the scan is broken"
    for name, dockerfile in dockerfiles.items():
        copied = builder_copies(dockerfile)
        for path in sorted(embedded):
            assert any(path == c or path.startswith(c + "/") for c in copied), (
                f"{name}: the build embeds {path}, which the builder does not copy"
            )
            assert not ignored(path), f".dockerignore drops {path}, which the build embeds"


def test_copied_sources_exist_and_are_in_the_build_context(dockerfiles):
    for name, dockerfile in dockerfiles.items():
        for stage in dockerfile.stages:
            for copy in stage.all("COPY"):
                flags, sources, _ = copy_parts(copy)
                if "from" in flags:
                    continue
                for source in sources:
                    assert (REPO / source).exists(), f"{name}:{copy.line}: {source} does not exist"
                    assert not ignored(source), f"{name}:{copy.line}: .dockerignore drops {source}"


def test_run_commands_are_valid_shell(dockerfiles):
    shell = shutil.which("dash") or shutil.which("sh")
    for name, dockerfile in dockerfiles.items():
        for stage in dockerfile.stages:
            for command in run_commands(stage):
                result = subprocess.run([shell, "-n", "-c", command], capture_output=True,
                                        text=True)
                assert result.returncode == 0, f"{name}: {command}\n{result.stderr}"


def test_cache_mounts_cover_the_registry_and_the_target_directory(dockerfiles):
    for name, dockerfile in dockerfiles.items():
        run = next(i for i in dockerfile.stage("builder").all("RUN") if "cargo build" in i.args)
        targets = re.findall(r"--mount=type=cache,[^ ]*target=([^, ]+)", run.args)
        assert "/usr/local/cargo/registry" in targets, name
        assert any(t.endswith("/target") for t in targets), name
        env = env_of(dockerfile.stage("builder"))
        assert env.get("CARGO_INCREMENTAL") == "0", name
        assert "--remap-path-prefix" in env.get("RUSTFLAGS", ""), name
        assert "SOURCE_DATE_EPOCH" in dockerfile.stage("builder").args(dockerfile.global_args)


def test_onnxruntime_comes_from_the_pinned_wheel(dockerfiles):
    pin = onnxruntime_pin()
    runner = dockerfiles["runner"].stage("onnxruntime")
    assert runner.args({})["ONNXRUNTIME_VERSION"] == pin
    assert any('"onnxruntime==${ONNXRUNTIME_VERSION}"' in c for c in run_commands(runner))

    cuda = dockerfiles["runner-cuda"].stage("libraries")
    gpu = cuda.args({})["ONNXRUNTIME_GPU_VERSION"]
    assert any('"onnxruntime-gpu==${ONNXRUNTIME_GPU_VERSION}"' in c for c in run_commands(cuda))
    # The GPU wheel may trail the CPU pin (it is published later), but never lead it, and it
    # must offer the C API the runner is built for.
    assert version_tuple(gpu) <= version_tuple(pin), f"onnxruntime-gpu {gpu} is newer than {pin}"
    assert version_tuple(gpu)[:2] >= (1, ort_api_level()), (
        f"onnxruntime-gpu {gpu} lacks ONNX Runtime API {ort_api_level()}, which the runner needs"
    )
    if gpu != pin:
        text = DOCKERFILES["runner-cuda"].read_text()
        assert f"onnxruntime-gpu {pin} is not available" in text, (
            "onnxruntime-gpu differs from requirements-test.txt without saying why"
        )
    copies = " ".join(run_commands(cuda))
    for library in ["libonnxruntime_providers_cuda.so", "libonnxruntime_providers_shared.so"]:
        assert library in copies, f"runner-cuda does not ship {library}"


def test_the_runner_binary_is_where_the_operator_runs_it(dockerfiles):
    command = default_runner_command()
    for name in RUNNERS:
        final = dockerfiles[name].final
        destinations = [copy_parts(c)[2] for c in final.all("COPY")
                        if copy_parts(c)[0].get("from") == "builder"
                        and copy_parts(c)[1] == ["/out/lepton-runner"]]
        assert len(destinations) == 1, f"{name}: the runner binary is not copied exactly once"
        destination = destinations[0]
        if command.startswith("/"):
            assert destination == command, f"{name}: binary at {destination}, not {command}"
        else:
            directory, _, binary = destination.rpartition("/")
            path = env_of(final).get("PATH", ":".join(BASE_PATH)).split(":")
            assert binary == command and directory in path, (
                f"{name}: the operator runs `{command}` from PATH; the binary is at {destination}"
            )
        assert exec_form(final.all("ENTRYPOINT")[-1]) == [destination], name


def test_the_operator_image_runs_the_operator(dockerfiles):
    final = dockerfiles["operator"].final
    assert exec_form(final.all("ENTRYPOINT")[-1]) == ["/lepton-operator"]
    assert exec_form(final.all("CMD")[-1]) == ["run"]
    assert final.image.startswith("gcr.io/distroless/cc-debian12:nonroot")


def test_the_runner_images_point_the_runner_at_their_onnxruntime(dockerfiles):
    variable = ort_library_env()
    for name in RUNNERS:
        final = dockerfiles[name].final
        env = env_of(final)
        assert variable in env, f"{name}: {variable} is not set"
        library = env[variable]
        assert library.endswith("/libonnxruntime.so"), library
        libraries = [copy_parts(c)[2] for c in final.all("COPY")
                     if copy_parts(c)[0].get("from") in ("onnxruntime", "libraries")]
        assert any(library.startswith(d) for d in libraries), (
            f"{name}: {library} is not under a directory copied from the wheel stage"
        )
        # Pods have a read-only root file system and a writable emptyDir at /tmp.
        assert env.get("TMPDIR") == "/tmp" and env.get("HOME") == "/tmp", name


def test_the_cuda_image_serves_with_cuda_13_and_trains_with_cuda_12(dockerfiles):
    cuda = dockerfiles["runner-cuda"]
    image = cuda.final.image
    m = re.fullmatch(r"nvidia/cuda:(\d+)\.\d+\.\d+-cudnn-runtime-ubuntu(\d+\.\d+)(@.*)?", image)
    assert m, f"the CUDA runner should start from a cuDNN runtime image, not {image}"
    assert m.group(1) == "13", "onnxruntime-gpu from PyPI is built for CUDA 13"
    # The runner is linked against Debian 12's glibc (2.36); Ubuntu 22.04 has only 2.35.
    assert version_tuple(m.group(2)) >= (24, 4), image
    libraries = cuda.stage("libraries").args({})
    assert libraries["CUBLAS_CU12_VERSION"].startswith("12.")
    assert libraries["NVRTC_CU12_VERSION"].startswith("12.")
    env = env_of(cuda.final)
    assert env["LD_LIBRARY_PATH"].startswith("/opt/lepton/cuda12/lib:"), env
    # cudarc's `cuda-12040` feature: the trainer opens the CUDA 12 sonames.
    manifest = (REPO / "runner" / "Cargo.toml").read_text()
    assert re.search(r'cudarc = \{[^}]*"cuda-12\d+"', manifest), "cudarc no longer targets CUDA 12"


def test_labels_name_the_source_and_the_license(dockerfiles):
    license_ = tomllib.loads((REPO / "Cargo.toml").read_text())["workspace"]["package"]["license"]
    for name, dockerfile in dockerfiles.items():
        labels = " ".join(i.args for i in dockerfile.final.all("LABEL"))
        assert f'org.opencontainers.image.licenses="{license_}"' in labels, name
        assert 'org.opencontainers.image.version="${VERSION}"' in labels, name
        for key in ("source", "title", "description"):
            assert f"org.opencontainers.image.{key}=" in labels, f"{name}: no {key} label"


# ---------------------------------------------------------------------------------------------
# scripts/build-images.sh against stub commands.

STUB = """#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "$STUB_LOG"
if [[ "$(basename "$0")" == docker ]]; then
  case "$1" in
    info) [[ "${STUB_DOCKER_INFO:-fail}" == ok ]] || { echo "Cannot connect" >&2; exit 1; } ;;
    buildx) [[ "${STUB_BUILDX:-1}" == 1 ]] || exit 1 ;;
  esac
fi
exit 0
"""


@pytest.fixture()
def stubs(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for command in ("docker", "kind", "k3d"):
        stub = bin_dir / command
        stub.write_text(STUB)
        stub.chmod(0o755)
    log = tmp_path / "calls.log"
    log.touch()
    return bin_dir, log


def build_images(stubs, *args, **env):
    bin_dir, log = stubs
    clean = {k: v for k, v in os.environ.items()
             if k not in ("VERSION", "LEPTON_IMAGE_REPO", "LEPTON_IMAGES_OPTIONAL",
                          "SOURCE_DATE_EPOCH", "LEPTON_REWRITE_TIMESTAMP")}
    clean["PATH"] = f"{bin_dir}:{clean['PATH']}"
    clean["STUB_LOG"] = str(log)
    clean.update(env)
    result = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=60,
                            env=clean, cwd="/")
    return result, log.read_text().splitlines()


def test_the_script_parses_and_is_executable():
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0
    assert os.access(SCRIPT, os.X_OK)


def test_shellcheck_finds_nothing_when_installed():
    shellcheck = shutil.which("shellcheck")
    if shellcheck is None:
        pytest.skip("shellcheck is not installed: the script was only parsed with bash -n")
    result = subprocess.run([shellcheck, str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_without_a_docker_engine_the_script_fails_clearly(stubs):
    result, calls = build_images(stubs)
    assert result.returncode == 1
    assert "no Docker engine reachable" in result.stderr
    assert "images not built" in result.stderr
    assert not any(" build" in c for c in calls)


def test_without_a_docker_engine_the_script_passes_when_images_are_optional(stubs):
    result, calls = build_images(stubs, LEPTON_IMAGES_OPTIONAL="1")
    assert result.returncode == 0, result.stderr
    assert "no Docker engine reachable" in result.stderr
    assert not any(" build" in c for c in calls)


def built_tags(calls):
    return [c.split("--tag ", 1)[1].split()[0] for c in calls if "--tag " in c]


def test_default_tags_are_the_operators_default_images(stubs):
    result, calls = build_images(stubs, STUB_DOCKER_INFO="ok", SOURCE_DATE_EPOCH="1700000000")
    assert result.returncode == 0, result.stderr
    version = operator_version()
    assert built_tags(calls) == [
        f"ghcr.io/lepton-ai/lepton-operator:{version}",
        default_image("default_runner_image"),
        default_image("default_cuda_image"),
    ]
    builds = [c for c in calls if c.startswith("docker buildx build")]
    assert len(builds) == 3
    for call, dockerfile in zip(builds, DOCKERFILES.values()):
        assert f"--file images/{dockerfile.name}" in call
        assert f"--build-arg VERSION={version}" in call
        assert "--build-arg SOURCE_DATE_EPOCH=1700000000" in call
        assert "rewrite-timestamp=true" in call
        assert call.endswith(" .")
    assert "--platform linux/amd64" in builds[2]
    assert not any(c.startswith("docker push") for c in calls)


def test_selected_images_are_pushed_and_loaded_into_kind_and_k3d(stubs):
    result, calls = build_images(
        stubs, "runner", "--push", "--load-kind", "dev", "--load-k3d", "edge",
        STUB_DOCKER_INFO="ok", LEPTON_IMAGE_REPO="registry.example/ml/", VERSION="9.9.9",
    )
    assert result.returncode == 0, result.stderr
    tag = "registry.example/ml/lepton-runner:9.9.9"
    assert built_tags(calls) == [tag]
    assert f"docker push {tag}" in calls
    assert f"kind load docker-image --name dev {tag}" in calls
    assert f"k3d image import --cluster edge {tag}" in calls


def test_without_buildx_the_classic_builder_is_used(stubs):
    result, calls = build_images(stubs, "operator", STUB_DOCKER_INFO="ok", STUB_BUILDX="0")
    assert result.returncode == 0, result.stderr
    builds = [c for c in calls if " build " in c]
    assert len(builds) == 1 and builds[0].startswith("docker build "), builds


def test_unknown_arguments_are_refused(stubs):
    result, calls = build_images(stubs, "--frobnicate", STUB_DOCKER_INFO="ok")
    assert result.returncode != 0
    assert "unknown argument" in result.stderr
    assert not any(" build" in c for c in calls)


@pytest.mark.parametrize("flag", ["--load-kind", "--load-k3d"])
def test_a_load_flag_needs_a_cluster_name_and_its_command(stubs, flag):
    result, calls = build_images(stubs, flag, STUB_DOCKER_INFO="ok")
    assert result.returncode == 1
    assert f"{flag} needs a cluster name" in result.stderr
    command = flag.removeprefix("--load-")
    (stubs[0] / command).unlink()
    # Only the stub directory and the shell's own tools: the real kind or k3d, if this machine
    # has one, must not be found.
    result, calls = build_images(stubs, "operator", flag, "dev", STUB_DOCKER_INFO="ok",
                                 PATH=f"{stubs[0]}:/usr/bin:/bin")
    if shutil.which(command, path="/usr/bin:/bin"):
        pytest.skip(f"{command} is installed in /usr/bin or /bin; its absence cannot be tested")
    assert result.returncode == 1
    assert f"{flag} needs the {command} command on PATH" in result.stderr
    assert not any(" build" in c for c in calls)
