# Lepton's entry points. `make test` is what CI runs (through .ci/run).
CARGO ?= cargo
PYTHON ?= python3
VENV := .venv

.PHONY: all test crds check-crds manifests lint fmt demo build python-env images e2e e2e-local gpu-check bench bench-train bench-serve bench-operator bench-sweep-scale bench-sweep

all: build

build:
	$(CARGO) build --workspace --locked

## test: the whole test suite (includes the checks that generated CRDs, docs and install
## manifests are current), then the packaging checks (chart, manifests, Argo CD, images)
test: python-env
	$(CARGO) test --workspace --locked
	$(VENV)/bin/python -m pytest deploy/tests -q

## python-env: the Python packages tests check Lepton against (ONNX Runtime, onnx, moto,
## Helm's SDK, Kubernetes' schemas, Lua)
python-env: $(VENV)/.installed

$(VENV)/.installed: requirements-test.txt
	$(PYTHON) -m venv $(VENV) || { $(PYTHON) -m pip install --quiet --user virtualenv && $(PYTHON) -m virtualenv $(VENV); }
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-test.txt
	touch $@

## crds: regenerate crds/*.yaml, charts/lepton/crds/*.yaml and docs/api.md from the Rust types,
## then the plain install manifests that include them
crds:
	$(CARGO) run --quiet --locked -p lepton-crds --bin lepton-crdgen
	$(MAKE) manifests

## manifests: render deploy/install.yaml (and the Argo CD health ConfigMap) from their sources
manifests: python-env
	$(VENV)/bin/python deploy/generate.py
	$(VENV)/bin/python deploy/argocd/generate.py

## check-crds: fail when a generated file is stale
check-crds:
	$(CARGO) run --quiet --locked -p lepton-crds --bin lepton-crdgen -- --check

## lint: formatting and clippy with warnings as errors
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) clippy -p lepton-runner --features cuda --all-targets --locked -- -D warnings

fmt:
	$(CARGO) fmt --all

## demo: the credit-default pipeline on this machine (train, ASHA sweep, deploy the fastest
## model within 0.005 AUC of the best, predict), with no cluster; installs what it needs
demo: python-env
	$(CARGO) build --locked -p lepton-cli -p lepton-runner
	$${CARGO_TARGET_DIR:-target}/debug/lepton run -f examples/credit-default/ \
		--volume lepton-datasets=examples/data $(DEMO_FLAGS)

## images: the operator and runner (CPU, CUDA) container images; needs a Docker engine
images:
	scripts/build-images.sh

## e2e: the real-cluster suite (needs LEPTON_E2E_KUBECONFIG; docs/install.md): install the
## chart, run the credit-default pipeline with kubectl, predict, uninstall
e2e:
	e2e/cluster.sh

## e2e-local: the same kubectl steps against a local session (`lepton up`); CI runs this
e2e-local: python-env
	$(CARGO) build --locked -p lepton-cli -p lepton-runner
	e2e/local.sh

## bench: every benchmark; results go to bench/results/ and docs/benchmarks/
bench: bench-train bench-serve bench-operator bench-sweep-scale bench-sweep

## bench-train: the trainer next to scikit-learn and PyTorch on the same split (installs them)
bench-train: $(VENV)-bench/.installed
	$(CARGO) build --release --locked -p lepton-runner
	LEPTON_ORT_LIB="$$(ls $(VENV)/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* | head -n1)" \
		$(VENV)-bench/bin/python bench/train_bench.py

$(VENV)-bench/.installed: bench/requirements-train.txt $(VENV)/.installed
	$(PYTHON) -m venv $(VENV)-bench || { $(PYTHON) -m pip install --quiet --user virtualenv && $(PYTHON) -m virtualenv $(VENV)-bench; }
	$(VENV)-bench/bin/pip install --quiet --disable-pip-version-check -r bench/requirements-train.txt
	touch $@

## bench-serve: lepton-runner serve next to KServe's and MLServer's Python servers (installs them; needs wrk)
bench-serve: $(VENV)-serve/.installed $(VENV)-serve-mlserver/.installed
	$(CARGO) build --release --locked -p lepton-runner
	LEPTON_ORT_LIB="$$(ls $(VENV)/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so.* | head -n1)" \
		$(VENV)-serve/bin/python bench/serve_bench.py

# KServe and MLServer pin incompatible web stacks, so each gets its own environment.
$(VENV)-serve/.installed: bench/requirements-serve.txt $(VENV)/.installed
	$(PYTHON) -m venv $(VENV)-serve || { $(PYTHON) -m pip install --quiet --user virtualenv && $(PYTHON) -m virtualenv $(VENV)-serve; }
	$(VENV)-serve/bin/pip install --quiet --disable-pip-version-check -r bench/requirements-serve.txt
	touch $@

$(VENV)-serve-mlserver/.installed: bench/requirements-serve-mlserver.txt $(VENV)/.installed
	$(PYTHON) -m venv $(VENV)-serve-mlserver || { $(PYTHON) -m pip install --quiet --user virtualenv && $(PYTHON) -m virtualenv $(VENV)-serve-mlserver; }
	$(VENV)-serve-mlserver/bin/pip install --quiet --disable-pip-version-check -r bench/requirements-serve-mlserver.txt
	touch $@

## bench-operator: reconcile p99, memory and time to Succeeded of the operator with 1,000 TrainingJobs
bench-operator:
	$(CARGO) build --release --locked -p lepton-operator -p lepton-embedded-cluster --bins --example operator_scale
	target/release/examples/operator_scale

## bench-sweep-scale: time, reconcile durations by trials created, memory and status size of a 1,000-trial TuningSweep (random, then TPE)
bench-sweep-scale:
	$(CARGO) build --release --locked -p lepton-operator -p lepton-embedded-cluster --bins --example operator_scale
	target/release/examples/operator_scale --sweep-trials 1000 --parallel-trials 50 --algorithms random,tpe

## bench-sweep: Lepton's random, TPE and ASHA next to Optuna's samplers, scored on held-out test rows (installs Optuna)
bench-sweep: $(VENV)-sweep/.installed
	$(CARGO) build --release --locked -p lepton-sweep-bench
	$(VENV)-sweep/bin/python bench/sweep_bench.py

$(VENV)-sweep/.installed: bench/requirements-sweep.txt
	$(PYTHON) -m venv $(VENV)-sweep || { $(PYTHON) -m pip install --quiet --user virtualenv && $(PYTHON) -m virtualenv $(VENV)-sweep; }
	$(VENV)-sweep/bin/pip install --quiet --disable-pip-version-check -r bench/requirements-sweep.txt
	touch $@

## gpu-check: the checks that need an NVIDIA GPU (GPU trainer against the CPU one)
gpu-check: python-env
	scripts/gpu-check.sh
