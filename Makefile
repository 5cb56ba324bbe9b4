# replica-mi: one entry point per job. `make figures` and `make test` need only a Rust toolchain
# (everything else comes from crates.io) and ../shared beside the checkout.
CARGO ?= cargo
SPECS := $(wildcard examples/specs/*.toml)

.PHONY: all figures demo test bench bench-guard bench-guard-update budgets fmt lint clean

all: test

# Until the figure binaries exist, the main job is the estimator's demo on the example specs.
figures: demo

demo:
	@for s in $(SPECS); do \
		echo "== $$s"; \
		$(CARGO) run --quiet --bin replica-mi -- entropy "$$s" --all-layers || exit $$?; \
	done

# Every formula and reference value, the exact checks, the command line.
test:
	$(CARGO) test --no-fail-fast

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
