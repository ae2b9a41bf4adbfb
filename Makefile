# Two commands a newcomer needs: `make run` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: smoke lambda-runtime fuzz openapi openapi-check deploy hooks install run test test-unit test-integration test-e2e lint format bench invoke build validate clean

$(STAMP): requirements-dev.txt requirements-nodeps.txt layers/shared/requirements.txt
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	touch $(STAMP)

PDS_STAMP := .local/pds-installed
# The real local PDS (Node 22 + @atproto/dev-env) in a cache outside the repo, keyed by the lockfile.
$(PDS_STAMP): pds/package-lock.json pds/install.sh
	bash pds/install.sh
	mkdir -p .local && touch $(PDS_STAMP)

# Debian's Chromium for the headless-browser test (Playwright drives it; its own browser download is
# never used). Root installs directly, anyone else through sudo; nothing happens once it is there.
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
$(CHROMIUM):
	@echo "installing Debian's chromium (headless-browser test)"
	@$(SUDO) apt-get update -qq >/dev/null
	@DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/tmp/chromium-install.log 2>&1 \
		|| { cat /tmp/chromium-install.log; exit 1; }

# The Lambda-like interpreter and the built layer the local functions run on, cached outside the
# repo by what they are built from (local_runtime/lambda_build.py); instant once built.
lambda-runtime: $(STAMP)
	$(PY) -m local_runtime.lambda_build

install: $(STAMP) $(PDS_STAMP) lambda-runtime $(CHROMIUM)

## Start the whole service on 127.0.0.1 (moto, tables from template.yaml, demo data, HTTP gateway).
## FRONTEND_URL= (the web app, default http://127.0.0.1:5173) and ALLOWED_ORIGINS= (comma-separated).
run: $(STAMP) $(PDS_STAMP) lambda-runtime
	$(PY) -m local_runtime run $(if $(FRONTEND_URL),--frontend-url '$(FRONTEND_URL)') \
		$(if $(ALLOWED_ORIGINS),--allowed-origins '$(ALLOWED_ORIGINS)')

# pytest-xdist workers for the folders that wait on servers (moto, the PDS, Lambda workers, the
# browser): each worker starts its own, on free ports; `--dist loadfile` keeps a module's tests
# (and its module fixtures) on one worker. TEST_WORKERS=0 runs in this process (no xdist).
TEST_WORKERS ?= 2
XDIST := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

## Every test: unit, integration (moto server) and end-to-end (HTTP through the local runtime).
test: $(STAMP) $(PDS_STAMP) lambda-runtime $(CHROMIUM)
	$(PY) -m pytest $(XDIST)

## A longer schema-fuzzing run (CI runs FUZZ_EXAMPLES=10 per operation within `make test`).
fuzz: $(STAMP) $(PDS_STAMP)
	FUZZ_EXAMPLES=$(or $(EXAMPLES),200) $(PY) -m pytest -s tests/e2e/test_fuzz.py

## Unit tests: no moto, no PDS, no network (schemathesis' plugin serves only the fuzzing run).
test-unit: $(STAMP)
	$(PY) -m pytest -p no:schemathesis tests/unit

test-integration: $(STAMP) $(PDS_STAMP) lambda-runtime
	$(PY) -m pytest $(XDIST) tests/integration

test-e2e: $(STAMP) $(PDS_STAMP) lambda-runtime $(CHROMIUM)
	$(PY) -m pytest $(XDIST) tests/e2e

lint: $(STAMP)
	$(VENV)/bin/cfn-lint template.yaml
	$(PY) -m tools.openapi --check
	$(PY) -m tools.botocore_data --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers/shared/albums_core local_runtime tools functions/*/app.py bench
	PYTHONPATH=layers/shared $(VENV)/bin/lint-imports
	$(PY) -m tools.check_imports
	$(PY) -m tools.check_sizes

## The OpenAPI document, generated from the handlers' routes and models (committed).
openapi: $(STAMP)
	$(PY) -m tools.openapi

openapi-check: $(STAMP)
	$(PY) -m tools.openapi --check

## pre-commit hooks (ruff, the OpenAPI drift check) as local hooks.
hooks: $(STAMP)
	$(VENV)/bin/pre-commit install

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## Benchmarks: cold starts against a baseline, DynamoDB calls per request, page time vs catalogue size.
bench: $(STAMP) $(PDS_STAMP) lambda-runtime
	$(PY) -m bench

## make invoke FN=get_album EVENT=events/get_album_200.json  (stands in for `sam local invoke`)
invoke: $(STAMP) $(PDS_STAMP) lambda-runtime
	$(PY) -m local_runtime invoke $(FN) -e $(EVENT)

## sam build / validate (aws-sam-cli in its own virtualenv: it pins its own boto3).
$(VENV)-sam/bin/sam:
	$(PYTHON) -m venv $(VENV)-sam
	$(VENV)-sam/bin/pip install --quiet aws-sam-cli==1.170.0

validate: $(VENV)-sam/bin/sam
	$(VENV)-sam/bin/sam validate --lint

# SAM builds for the template's python3.13 and needs a working `python3.13` on PATH: tools/sam_python.py
# finds one (PYTHON313=…, PATH, pyenv's or uv's versions) and puts its folder first. Then every compiled
# module of the result is checked to be an arm64 (aarch64) build for CPython 3.13.
build: $(VENV)-sam/bin/sam
	@py313="$$($(PYTHON) -m tools.sam_python)" && echo "sam build with $$py313/python3.13" && \
		PATH="$$py313:$$PATH" $(VENV)-sam/bin/sam build
	$(PYTHON) -m tools.check_build

## sam deploy; PROFILE=production for the production profile of samconfig.toml.
deploy: build
	$(VENV)-sam/bin/sam deploy --config-env $(or $(PROFILE),default)

## make smoke URL=https://…/dev  (account: SMOKE_IDENTIFIER / SMOKE_PASSWORD, or ARGS=--read-only;
## the origin to check CORS for: SMOKE_ORIGIN, one of the stack's AllowedOrigins). Standard library only.
smoke:
	@test -n "$(URL)" || { echo "usage: make smoke URL=<the stack's ApiUrl output> [ARGS=...]"; exit 2; }
	$(PYTHON) -m tools.smoke $(URL) $(ARGS)

clean:
	rm -rf .aws-sam .local .pytest_cache .mypy_cache .ruff_cache
