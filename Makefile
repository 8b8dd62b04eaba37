# Two entry points, each doing all set-up on a fresh Debian machine with Python 3.11:
#   make demo   -> venv + package, then the worked example (the main job)
#   make test   -> venv + package + test extras + torch, then ruff and the whole test suite
#                  (on the compiled node core; a slow test runs the fast suite once more on
#                  the Python source, AUTOGRAD_BP_PURE=1)
# pip install builds the node core (autograd_bp/core/node.py) with mypyc when a C compiler is
# at hand (setup.py); without one the package runs the same source as Python.
VENV ?= .venv
PY := $(VENV)/bin/python
# pytest-xdist workers: the machine's 2 cores (the suite takes about half the time it takes
# serially); PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= 2
# The one torch build that installs from a local file here; others download gigabytes.
TORCH ?= torch==2.13.0

.PHONY: demo test setup-core setup-test dot browser bench docs serve-docs messages

# Debian packages: Graphviz's dot for diagrams (and a Chinese font); Chromium + its driver for the browser test.
dot:
	@command -v dot >/dev/null || { apt-get update -qq && apt-get install -y -qq graphviz >/dev/null; }
	@# A Chinese font, so --lang zh pictures and pages show characters, not empty boxes.
	@fc-list :lang=zh 2>/dev/null | grep -q . || { apt-get update -qq && \
		apt-get install -y -qq fonts-wqy-microhei >/dev/null; }

browser:
	@command -v chromedriver >/dev/null || { apt-get update -qq && \
		apt-get install -y -qq chromium chromium-driver >/dev/null; }

$(VENV)/.core: pyproject.toml setup.py autograd_bp/core/node.py
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -e '.[train]'
	touch $@

$(VENV)/.test: $(VENV)/.core
	$(PY) -m pip install -q '$(TORCH)'
	$(PY) -m pip install -q -e '.[train,test,torch,docs]'
	touch $@

setup-core: dot $(VENV)/.core
setup-test: dot browser $(VENV)/.test

demo: setup-core
	$(PY) -m autograd_bp demo

test: setup-test
	$(PY) -m ruff check .
	$(PY) -m mypy autograd_bp
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)
	$(PY) scripts/make_doc_images.py $$(mktemp -d) >/dev/null
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir $$(mktemp -d)

bench: setup-test
	$(PY) -m benchmarks

docs: setup-test
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

serve-docs: setup-test
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs serve

# The gettext catalogs of what the package prints (--lang zh): extract every _()/N_()/ngettext()
# string into the template, merge it into each language's .po (new strings arrive untranslated
# and tests/test_locale.py fails until they are translated), compile the .mo the package loads.
LOCALE := autograd_bp/locale
messages:
	$(VENV)/bin/pybabel extract -F babel.cfg --no-location --sort-output --omit-header \
		-o $(LOCALE)/autograd_bp.pot .
	$(VENV)/bin/pybabel update -i $(LOCALE)/autograd_bp.pot -d $(LOCALE) -D autograd_bp -l zh \
		--no-fuzzy-matching --ignore-obsolete
	# a fixed date: the catalog's content, not the minute it was extracted, decides its bytes
	sed -i 's/^"POT-Creation-Date: .*/"POT-Creation-Date: 2026-12-06 00:00+0000\\n"/' \
		$(LOCALE)/zh/LC_MESSAGES/autograd_bp.po
	$(VENV)/bin/pybabel compile -d $(LOCALE) -D autograd_bp -l zh --statistics
