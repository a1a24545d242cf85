# The local mirror of CI. `make run` and `make test` set up everything they need.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8787
DATA   ?= data

.PHONY: install run test bench synth wheelhouse lint format openapi clean

# jsii (under aws-cdk-lib) warns on every call that Node 20 is past its end of life.
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := 1

# Re-install when the dependency list or the pins change. Running the service needs the
# package and the local server's extras; the tests, the CDK app and the benchmarks more.
$(BIN)/.runtime: pyproject.toml constraints.txt clients/python/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[local]' -e clients/python
	touch $@

$(BIN)/.installed: $(BIN)/.runtime
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]' -e clients/python
	touch $@

# The benchmarks' reference engines (DuckDB, chDB), for `make bench` only.
$(BIN)/.bench: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[bench]'
	touch $@

# The CDK CLI, pinned in package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# wrangler and Miniflare (workerd) for the Workers, pinned for Node 20.
workers/node_modules/.installed: workers/package.json workers/package-lock.json
	cd workers && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# checkov, for the templates' security scan, in a virtual environment of its own: it pins
# an older boto3 than the service uses.
AUDIT := .venv-audit
$(AUDIT)/.installed: Makefile
	test -x $(AUDIT)/bin/python || $(PYTHON) -m venv $(AUDIT)
	$(AUDIT)/bin/python -m pip install --quiet checkov==3.3.30
	touch $@

# Debian's Chromium, for the console's browser tests (Playwright drives it; it downloads no
# browser of its own).
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

# Running the service needs Python only; the tests and synth also need the Node packages.
install: $(BIN)/.installed node_modules/.installed workers/node_modules/.installed $(AUDIT)/.installed $(CHROMIUM)

# Ctrl-C ends the server with 130 (as shells report an interrupted command); for make run
# that is the way to stop, not a failure to report ("make: *** ... Error 130"), and the
# recipe's shell waits for the server instead of dying with it ("Interrupt").
run: $(BIN)/.runtime
	trap true INT; $(BIN)/logsvc serve --host 127.0.0.1 --port $(PORT) --data-dir $(DATA) || [ $$? -eq 130 ]

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/logsvc openapi --check
	$(BIN)/pytest

# Figures for docs/PERFORMANCE.md and docs/COST.md (about 25 minutes): throughput, latency,
# cold start and cost (1,000,000 logs), search by arrival pattern over HTTP beside the
# reference engines (1,000,000), archive search before and after compaction (10,000,000),
# the monthly bill (written into docs/COST.md). Results in bench/results.
bench: $(BIN)/.bench node_modules/.installed workers/node_modules/.installed
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.bill --measure --write-docs
	$(BIN)/python -m bench.ask --save bench/results
	$(BIN)/python -m bench.arrival --logs 1000000 --save bench/results
	$(BIN)/python -m bench.fair --logs 1000000 --samples 10 --save bench/results
	$(BIN)/python -m bench.archive --logs 10000000 --save bench/results
	$(BIN)/python -m bench.archive --logs 10000000 --object-size 100 --save bench/results

# CloudFormation templates in cdk.out, layers bundled here without Docker. Offline: run
# `make wheelhouse` once while online, then `make synth WHEELHOUSE=wheelhouse`.
# Templates to review; a deploy names the D1 database instead (README, Deploy to AWS). The
# Workers' packages come too: docs/DEPLOY.md runs their pinned wrangler.
synth: $(BIN)/.installed node_modules/.installed workers/node_modules/.installed $(AUDIT)/.installed
	npx cdk synth --quiet -c allow_placeholders=true $(if $(WHEELHOUSE),-c wheelhouse=$(abspath $(WHEELHOUSE)))
	$(BIN)/cfn-lint --ignore-checks W3005 -- cdk.out/*.template.json
	$(AUDIT)/bin/checkov -d cdk.out --config-file checkov.yaml --compact --quiet

wheelhouse: $(BIN)/.installed
	$(BIN)/python -m pip download --quiet --dest wheelhouse --only-binary=:all: \
	  --platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64 \
	  --implementation cp --python-version 3.14 \
	  $(addprefix -r ,$(wildcard layers/deps/*.txt))

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(BIN)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

openapi: $(BIN)/.installed
	$(BIN)/logsvc openapi

clean:
	rm -rf $(VENV) $(AUDIT) node_modules workers/node_modules cdk.out .pytest_cache .ruff_cache
