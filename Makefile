# The two commands of the README: `make demo` and `make test`. Both build .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench screenshots lambda-package clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

demo: $(STAMP)
	$(BIN)/metahub --demo

lint: $(STAMP)
	$(BIN)/ruff check metahub tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

# The README's pictures of the report (docs/report*.png), made by the report's browser test.
screenshots: $(STAMP)
	METAHUB_SCREENSHOTS=docs $(BIN)/pytest -q tests/test_html_report.py -k screenshots

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_ingest.py
	$(BIN)/python benchmarks/bench_enrich.py
	$(BIN)/python benchmarks/bench_html.py
	$(BIN)/python benchmarks/bench_policy.py
	$(BIN)/python benchmarks/bench_outputs.py
	$(BIN)/python benchmarks/bench_scale.py --sizes 100000 --modes json-short json-full csv sqlite --shards 4 --split 4

# The Security Hub custom action's code (deploy/metahub-custom-action.yaml): metahub with pydantic,
# jmespath, PyYAML (the impact weights: every enriched run scores impact) and tqdm (the progress
# mechanism, silent there), built for Lambda's Python 3.12 on x86_64; boto3 comes with the runtime.
LAMBDA_BUILD := build/lambda
lambda-package: $(STAMP)
	rm -rf $(LAMBDA_BUILD) && mkdir -p $(LAMBDA_BUILD) dist
	$(BIN)/pip install --quiet --disable-pip-version-check --target $(LAMBDA_BUILD) \
		--platform manylinux2014_x86_64 --implementation cp --python-version 3.12 --only-binary=:all: \
		'pydantic>=2.6,<3' 'jmespath>=1.0' 'PyYAML>=6.0' 'tqdm>=4.66' 'jinja2>=3.1'
	$(BIN)/pip install --quiet --disable-pip-version-check --target $(LAMBDA_BUILD) --no-deps .
	rm -rf $(LAMBDA_BUILD)/bin
	$(BIN)/python -c "import shutil; shutil.make_archive('dist/metahub-lambda', 'zip', '$(LAMBDA_BUILD)')"
	@echo "dist/metahub-lambda.zip: upload it to S3 and deploy deploy/metahub-custom-action.yaml or deploy/metahub-org.yaml"

clean:
	rm -rf $(VENV) build dist *.egg-info
