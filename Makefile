# replica-mi: one entry point per job. `make figures` and `make test` need only a Rust toolchain
# (everything else comes from crates.io) and ../shared beside the checkout.
CARGO ?= cargo
SPECS := $(wildcard examples/specs/*.toml)
# Figure size (quick | default | paper) and output folder of `make figures`.
SCALE ?= default
OUT ?= figures/output

.PHONY: all figures fig2 fig3 fig4 demo refs readme-figures test slurm-test bench bench-guard bench-guard-update budgets fmt lint clean

all: test

# Every figure binary at $(SCALE) scale (dev profile, as the tests), then the estimator's demo.
figures: fig2 fig3 fig4 demo
	@echo "== figures ($(SCALE) scale) in $(OUT)/: fig2.svg figS1.svg fig3.svg fig4.svg (data fig*.csv, fig*.provenance.json)"

# Figure 2 (entropies) and S1 (mutual informations) vs the weight scale.
fig2:
	$(CARGO) run --quiet --bin fig2 -- --scale $(SCALE) --out $(OUT)

# Figure 3: linear teacher-student, I(X;T_l) replica vs exact during training, error vs width.
fig3:
	$(CARGO) run --quiet --bin fig3 -- --scale $(SCALE) --out $(OUT)

# Figure 4: generative-model classification, losses and I(X;T_l) of the 4 hidden layers.
fig4:
	$(CARGO) run --quiet --bin fig4 -- --scale $(SCALE) --out $(OUT)

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
	@echo "== data/reference/fig2_quick.csv fig3_quick.csv fig4_quick.csv refreshed (review the diff before committing)"

# Copy the default-scale SVGs embedded in the README into data/figures/ (after `make figures`).
readme-figures:
	mkdir -p data/figures
	cp $(OUT)/fig2.svg $(OUT)/figS1.svg $(OUT)/fig3.svg $(OUT)/fig4.svg data/figures/

demo:
	@for s in $(SPECS); do \
		echo "== $$s"; \
		$(CARGO) run --quiet --bin replica-mi -- entropy "$$s" --all-layers || exit $$?; \
	done

# Every formula and reference value, the exact checks, the command line.
test:
	$(CARGO) test --no-fail-fast

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

# Refresh data/solver_budgets.csv (work counters and entropies of the guard panel), on purpose.
budgets:
	$(CARGO) run --quiet --bin solver-panel -- --write-budgets data/solver_budgets.csv

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

clean:
	$(CARGO) clean
