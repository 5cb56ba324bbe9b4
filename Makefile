# replica-mi: one entry point per job. `make figures` and `make test` need only a Rust toolchain
# (everything else comes from crates.io) and ../shared beside the checkout.
CARGO ?= cargo
SPECS := $(wildcard examples/specs/*.toml)
# Figure size (quick | default | paper) and output folder of `make figures`.
SCALE ?= default
OUT ?= figures/output

.PHONY: docs-check deps-check all figures fig2 fig3 fig4 figS2 data-fashion-mnist demo refs readme-figures test slurm-test bench bench-guard bench-guard-update bench-pytorch budgets chain-grid cuda-kit cuda-kit-cpu cuda-kit-check fmt lint clean python-test python-wheel python-venv python-deps-check python-lint python-torch-test

all: test

# Every figure binary at $(SCALE) scale (dev profile, as the tests), then the estimator's demo.
figures: fig2 fig3 fig4 figS2 demo
	@echo "== figures ($(SCALE) scale) in $(OUT)/: fig2.svg figS1.svg fig3.svg fig4.svg figS2.svg (data fig*.csv, fig*.provenance.json)"

# Figure 2 (entropies) and S1 (mutual informations) vs the weight scale.
fig2:
	$(CARGO) run --quiet --bin fig2 -- --scale $(SCALE) --out $(OUT)

# Figure 3: linear teacher-student, I(X;T_l) replica vs exact during training, error vs width.
fig3:
	$(CARGO) run --quiet --bin fig3 -- --scale $(SCALE) --out $(OUT)

# Figure 4: generative-model classification, losses and I(X;T_l) of the 4 hidden layers.
fig4:
	$(CARGO) run --quiet --bin fig4 -- --scale $(SCALE) --out $(OUT)

# Figure S2: USV vs dense layers on an MNIST-format data set (Fashion-MNIST by default; real MNIST
# with `make figS2 MNIST_DIR=/path/to/mnist`, a folder with the four IDX files, raw or .gz).
MNIST_DIR ?= /usr/share/datasets/fashion-mnist
figS2: $(if $(filter /usr/share/datasets/fashion-mnist,$(MNIST_DIR)),data-fashion-mnist)
	$(CARGO) run --quiet --bin figS2 -- --scale $(SCALE) --out $(OUT) --data-dir $(MNIST_DIR)

# Fashion-MNIST in IDX format from Debian (package dataset-fashion-mnist): installed when missing
# if we are root, otherwise a message saying how to get it (Figure S2 and its test need it).
FASHION_MNIST := /usr/share/datasets/fashion-mnist
data-fashion-mnist:
	@if [ -f $(FASHION_MNIST)/train-images-idx3-ubyte.gz ] && [ -f $(FASHION_MNIST)/train-labels-idx1-ubyte.gz ] \
	  && [ -f $(FASHION_MNIST)/t10k-images-idx3-ubyte.gz ] && [ -f $(FASHION_MNIST)/t10k-labels-idx1-ubyte.gz ]; then \
	  :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "== installing dataset-fashion-mnist (Debian) into $(FASHION_MNIST)"; \
	  apt-get update && apt-get install -y dataset-fashion-mnist; \
	else \
	  echo "Fashion-MNIST is missing from $(FASHION_MNIST): install it as root with" >&2; \
	  echo "  apt-get update && apt-get install -y dataset-fashion-mnist" >&2; \
	  echo "(Debian/Ubuntu), or run figS2 with --data-dir pointing at a folder with the MNIST files" >&2; \
	  echo "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, raw or .gz)," >&2; \
	  echo "e.g. make figS2 MNIST_DIR=/path/to/mnist (the test of figS2 needs Fashion-MNIST itself)." >&2; \
	  exit 1; \
	fi

# Regenerate the quick-scale reference CSVs checked by `make test` (on purpose, never from a test).
refs:
	$(CARGO) run --quiet --bin fig2 -- --scale quick --quiet --out target/refs
	mkdir -p data/reference
	cp target/refs/fig2.csv data/reference/fig2_quick.csv
	cp target/refs/fig2.provenance.json data/reference/fig2_quick.provenance.json
	$(CARGO) run --quiet --bin fig3 -- --scale quick --quiet --out target/refs
	cp target/refs/fig3.csv data/reference/fig3_quick.csv
	$(CARGO) run --quiet --bin fig4 -- --scale quick --quiet --out target/refs
	cp target/refs/fig4.csv data/reference/fig4_quick.csv
	$(MAKE) data-fashion-mnist
	$(CARGO) run --quiet --bin figS2 -- --scale quick --quiet --out target/refs
	cp target/refs/figS2.csv data/reference/figS2_quick.csv
	@echo "== data/reference/fig2_quick.csv fig3_quick.csv fig4_quick.csv figS2_quick.csv refreshed (review the diff before committing)"

# Copy the default-scale SVGs embedded in the README into data/figures/ (after `make figures`).
readme-figures:
	mkdir -p data/figures
	cp $(OUT)/fig2.svg $(OUT)/figS1.svg $(OUT)/fig3.svg $(OUT)/fig4.svg $(OUT)/figS2.svg data/figures/

demo:
	@for s in $(SPECS); do \
		echo "== $$s"; \
		$(CARGO) run --quiet --bin replica-mi -- entropy "$$s" --all-layers || exit $$?; \
	done

# Every formula and reference value, the exact checks, the command line (Figure S2's test needs
# Fashion-MNIST, hence the data target); then the Python package.
test: data-fashion-mnist docs-check deps-check doc-check
	$(CARGO) test --no-fail-fast
	$(MAKE) python-test
	$(MAKE) python-torch-test

# rustdoc of every crate with warnings as errors (a broken intra-doc link fails), and the number of
# public items of replica-core (rustdoc pages; scripts/count_public_items.sh).
doc-check:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --workspace --quiet
	@echo "doc-check: rustdoc clean; replica-core has $$(scripts/count_public_items.sh replica-core) public items"

# README.md and docs/: every path, link and make target they name exists; README.md stays short.
docs-check:
	$(PYTHON) scripts/check_docs.py

# The Python package (python/, module replica_mi). A build environment in .venv (pip: maturin,
# ziglang, pytest, numpy, safetensors, mypy) builds the abi3 wheel for CPython >= 3.9 tagged
# manylinux2014 (glibc >= 2.17: linked by zig against that glibc, checked by maturin's auditwheel),
# stripped, with the licence files, into $(PY_DIST). `make python-wheel` is the distributable
# (release profile); python-test builds the same wheel with the dev profile (the tests' profile,
# faster to compile) and runs every package test against it, installed into a fresh virtual
# environment with no Rust toolchain on PATH (scripts/python_wheel_test.sh). pytest's exit status is
# make's: no test collected (status 5) fails too.
PYTHON ?= python3
PY_VENV ?= .venv
PY_DIST ?= python/dist
PY_PROFILE ?= release
PY_TARGET := $(abspath $(or $(CARGO_TARGET_DIR),target))
PY_DEPS := 'maturin>=1.9.4,<2' 'ziglang>=0.13' 'pytest>=7' numpy safetensors mypy
python-venv:
	@test -f $(PY_VENV)/.deps-ok-2 || { $(PYTHON) -m venv $(PY_VENV) && \
		$(PY_VENV)/bin/pip install --quiet --upgrade pip $(PY_DEPS) && \
		touch $(PY_VENV)/.deps-ok-2; }

# (maturin finds zig as `python -m ziglang` of the python on PATH: the venv's)
python-wheel: python-venv
	rm -rf $(PY_DIST)
	PATH="$(abspath $(PY_VENV))/bin:$$PATH" $(PY_VENV)/bin/maturin build --quiet -m python/Cargo.toml \
		--profile $(PY_PROFILE) --zig --compatibility manylinux2014 \
		--interpreter $(PY_VENV)/bin/python -o $(PY_DIST)
	@ls -l $(PY_DIST)/*.whl

# (the binary comes from `cargo test --no-run`: the build `make test` has just made, with the same
# features, where a separate `cargo build --bin` could rebuild candle without the dev-dependencies)
python-test: python-deps-check
	$(MAKE) python-wheel PY_PROFILE=dev
	$(CARGO) test --no-run --quiet
	REPLICA_MI_BIN=$(PY_TARGET)/debug/replica-mi scripts/python_wheel_test.sh $(PY_DIST) $(PYTHON)

# The command line and the Python extension depend on the lean crate only: no candle, polars,
# plotters, tokio or tokenizers in their dependency trees (`cargo tree`, normal dependencies). The
# layering of the library crates, enforced by Cargo and checked here: the training side
# (replica-nn) knows nothing of the estimator, tables or plots; the estimator (replica-core)
# nothing of candle or the training side.
LEAN_CRATES ?= replica-cli replica-mi-python
deps-check:
	@for crate in $(LEAN_CRATES); do \
	  tree=$$($(CARGO) tree -p $$crate -e normal --prefix none) || exit 1; \
	  if echo "$$tree" | grep -E '^(candle|polars|plotters|tokio|tokenizers)'; then \
	    echo "deps-check: $$crate depends on the crates above" >&2; exit 1; \
	  fi; \
	  echo "deps-check: no candle, polars, plotters, tokio or tokenizers among the $$(echo "$$tree" | sort -u | wc -l) crates of $$crate"; \
	done

	@tree=$$($(CARGO) tree -p replica-nn -e normal --prefix none) || exit 1; \
	if echo "$$tree" | grep -E '^(replica-core|polars|plotters)( |-)'; then \
	  echo "deps-check: replica-nn depends on the crates above" >&2; exit 1; \
	fi; \
	echo "deps-check: no replica-core, polars or plotters among the $$(echo "$$tree" | sort -u | wc -l) crates of replica-nn"
	@tree=$$($(CARGO) tree -p replica-core -e normal --prefix none) || exit 1; \
	if echo "$$tree" | grep -E '^(replica-nn|candle)'; then \
	  echo "deps-check: replica-core depends on the crates above" >&2; exit 1; \
	fi; \
	echo "deps-check: no replica-nn or candle among the $$(echo "$$tree" | sort -u | wc -l) crates of replica-core"

python-deps-check: deps-check

# replica_mi.torch (optional part of the package) and the PyTorch example: PyTorch from PyPI (the
# CUDA build, about 5.5 GB with its nvidia packages, needed even on CPU) in a virtual environment
# outside the clone, made once and reused (about 3 minutes to make), the wheel of python-wheel
# installed into it (built first when missing), then python/tests_torch.
TORCH_VENV ?= $(HOME)/.cache/replica-mi/torch-venv
python-torch-test:
	@ls $(PY_DIST)/*.whl >/dev/null 2>&1 || $(MAKE) python-wheel PY_PROFILE=dev
	@test -f $(TORCH_VENV)/.deps-ok || { rm -rf $(TORCH_VENV) && $(PYTHON) -m venv $(TORCH_VENV) && \
		$(TORCH_VENV)/bin/pip install --quiet --upgrade pip && \
		$(TORCH_VENV)/bin/pip install --quiet --no-cache-dir 'torch>=2.1' numpy 'pytest>=7' pandas && \
		touch $(TORCH_VENV)/.deps-ok; }
	$(TORCH_VENV)/bin/pip install --quiet --force-reinstall --no-deps $(PY_DIST)/*.whl
	$(TORCH_VENV)/bin/python -m pytest -q -p no:cacheprovider python/tests_torch

python-lint:
	$(CARGO) clippy -p replica-mi-python --all-targets -- -D warnings

# The Slurm recipe of scripts/slurm/ on a real one-node cluster (root: installs Debian's slurmctld,
# slurmd, slurm-client and munge when missing; daemons in a network namespace of their own, loopback
# only, stopped by PID): quick fig3 as a 2-task array + the dependent merge = the unsharded CSV.
slurm-test:
	scripts/slurm/test.sh

# Wall-clock medians of the solver (criterion, release profile).
bench:
	$(CARGO) bench --bench solver

# Instruction counts of the guard panel under callgrind vs data/instruction_baseline.csv.
bench-guard:
	scripts/bench_guard.sh

bench-guard-update:
	scripts/bench_guard.sh --update

# SGD epochs side by side with PyTorch (CPU), paired and alternating; not in CI (PyTorch is large).
bench-pytorch:
	scripts/bench_pytorch.sh

# Refresh data/solver_budgets.csv (work counters and entropies of the guard panel), on purpose.
budgets:
	$(CARGO) run --quiet --bin solver-panel -- --write-budgets data/solver_budgets.csv

# The random-chain grid: N random valid chains of seed GRID_SEED, summary table on stdout, one row per
# chain in target/chain-grid.csv (with its spec) and the provenance beside it.
N ?= 10000
GRID_SEED ?= 1
# GRID_KIND=extreme: the generator of extremes (5-10 layers, every range at its edges).
GRID_KIND ?= ordinary
chain-grid:
	$(CARGO) run --quiet --bin chain-grid -- --n $(N) --seed $(GRID_SEED) --kind $(GRID_KIND) --out target/chain-grid$(if $(filter extreme,$(GRID_KIND)),-extreme).csv

# The CUDA kit: CUDA 13.0 nvcc from PyPI, fig3/fig4 and the CUDA tests built with --features cuda
# (profile cuda-kit: release at -O2, stripped; sm_90), packed into cuda-kit/ (< 60 MiB) for a GPU
# machine: there, `cuda-kit/run.sh`. CUDA_KIT_TARGET_DIR: its target dir (default target/cuda-kit-build).
cuda-kit:
	scripts/cuda_kit.sh

# The kit's run script on this machine, CPU only (checks the kit; writes into cuda-kit-out/).
cuda-kit-cpu:
	rm -rf cuda-kit-out
	cuda-kit/run.sh --cpu-only --out cuda-kit-out

# Minutes instead of the CUDA build's hour: a kit WITHOUT CUDA packed from the tests' build (dev
# profile) into target/cuda-kit-nocuda/, then its run.sh --cpu-only (checks packing and run.sh).
cuda-kit-check:
	$(CARGO) test --no-run --test it
	CUDA_KIT_NO_CUDA=1 CUDA_KIT_PROFILE=dev CUDA_KIT_TARGET_DIR=$${CARGO_TARGET_DIR:-target} \
		CUDA_KIT_DIR=target/cuda-kit-nocuda scripts/cuda_kit.sh
	rm -rf target/cuda-kit-nocuda-out
	target/cuda-kit-nocuda/run.sh --cpu-only --timing-scale default --out target/cuda-kit-nocuda-out

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

clean:
	$(CARGO) clean
