# Two commands for everyone: `make book` and `make test`. Both create .venv when it is missing and
# install the course with the pinned versions in constraints.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PIP_INSTALL := $(BIN)/python -m pip install --disable-pip-version-check -q

.PHONY: install book notebooks test test-fast lint typecheck test-torchvision constraints clean

# Debian packages (chromium, bubblewrap): installed as root, else the exact command and a stop
system-packages-%:
	@bash scripts/system-packages.sh $*

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -c constraints.txt -e ".[book,grading,dev]"
	touch $@

install: $(STAMP)

# axe-core, pinned in package-lock.json: the accessibility test injects it into every page
# (without npm, as with SYSTEM_PACKAGES=skip, the accessibility test skips and says so)
node_modules/.package-lock.json: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --ignore-scripts --no-audit --no-fund; \
	else echo "make test: no npm, so axe-core is not installed and the accessibility test" \
	  "will skip (apt-get install npm)" >&2; fi

## make book: build the textbook into _build/html (warnings are errors; executed cells are cached)
## (the launch buttons' repository: REPOSITORY_URL=https://github.com/org/repo, else _config.yml's,
## else the origin remote, else none; a course with its own hub: JUPYTERHUB_URL=https://hub...)
book: system-packages-book $(STAMP)
	$(BIN)/python scripts/book_config.py _build/_config.local.yml \
	    $(if $(REPOSITORY_URL),--repository-url "$(REPOSITORY_URL)") \
	    $(if $(JUPYTERHUB_URL),--jupyterhub-url "$(JUPYTERHUB_URL)")
	$(BIN)/jupyter-book build . -W --config _build/_config.local.yml

## make notebooks: regenerate each chapter's paired .ipynb (launch buttons open it) from its .md
notebooks: $(STAMP)
	$(BIN)/jupytext --sync book/[0-9]*.md

## make test: ruff and mypy, then every test (including a strict book build and browser checks)
test: system-packages-test lint typecheck node_modules/.package-lock.json
	$(BIN)/python -m pytest --durations=10

## make test-fast: ruff and mypy, then every test that needs neither the book build, nor a browser, nor
## an end-to-end grading run, nor more than a few seconds (markers book, browser, e2e, slow)
test-fast: lint typecheck
	$(BIN)/python -m pytest -m "not book and not browser and not e2e and not slow" -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## make typecheck: mypy over the package (strictness: pyproject.toml's [tool.mypy])
typecheck: $(STAMP)
	$(BIN)/mypy

## make test-torchvision: the torchvision-compatibility tests, in their own environment
## (torchvision does not import beside torch 2.13.0; this pulls torch 2.14.1 + torchvision 0.29.1)
test-torchvision:
	test -x .venv-tv/bin/python || $(PYTHON) -m venv .venv-tv
	.venv-tv/bin/python -m pip install --disable-pip-version-check -q torch==2.14.1 torchvision==0.29.1 pytest
	.venv-tv/bin/python -m pip install --disable-pip-version-check -q -e ".[grading]" -c constraints.txt --no-deps
	.venv-tv/bin/python -m pip install --disable-pip-version-check -q numpy tqdm matplotlib ipywidgets
	.venv-tv/bin/python -m pytest tests/models/test_torchvision_compat.py -p no:cacheprovider

## make constraints: re-pin every installed package (after changing pyproject.toml)
constraints: $(STAMP)
	{ sed -n '1,3p' constraints.txt; $(BIN)/python -m pip freeze --exclude-editable \
	  | grep -v -i '^cnncourse' | sed 's/^torch==\([0-9.]*\)+cpu/torch==\1/'; } > constraints.new
	mv constraints.new constraints.txt

clean:
	rm -rf _build .pytest_cache .ruff_cache .mypy_cache .hypothesis node_modules
