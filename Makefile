# The two commands a reader needs: `make book` and `make test` (see README.md).
# Both create .venv when it is missing and install everything into it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HTML   := _build/html/index.html
PORT   ?= 8000
# The benchmarks' environment: the library and its peers (SPAMS), see requirements-bench.txt.
BENCH_VENV  := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
# The colab-like environment the notebooks are tested in (see tools/colab_path.py).
COLAB_VENV  := .venv-colab
COLAB_STAMP := $(COLAB_VENV)/.installed

.PHONY: all install colab-env bench-env system-deps sync sync-sources book test test-lib test-workflows test-notebooks \
	test-book test-browser lint linkcheck bench serve clean

all: book

# Re-install only when a dependency file changes.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade pip
	$(BIN)/python -m pip install -qq -r requirements-dev.txt -e .
	touch $(STAMP)

install: $(STAMP)

# Only what Colab has by default (tools/colab_path.py runs the notebooks on top of it).
$(COLAB_STAMP): requirements-colab.txt
	test -x $(COLAB_VENV)/bin/python || $(PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install -qq --upgrade pip
	$(COLAB_VENV)/bin/python -m pip install -qq -r requirements-colab.txt
	touch $(COLAB_STAMP)

colab-env: $(COLAB_STAMP)

# The library with the peers of `make bench` (SPAMS), in an environment of their own.
$(BENCH_STAMP): requirements.txt requirements-bench.txt pyproject.toml
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -qq --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install -qq -r requirements-bench.txt -e .
	touch $(BENCH_STAMP)

bench-env: $(BENCH_STAMP)

# What the browser test needs from the system: Chromium, CJK and emoji fonts, fontconfig,
# npm. Installs what is missing with apt-get (as root or with sudo), else says what to install.
system-deps:
	@bash tools/system_deps.sh

# Regenerate what is derived from _config.yml and book/formulas.yml: the first two
# cells of every notebook and the formula-index and errata pages.
sync-sources: install
	$(BIN)/python tools/sync.py

book: sync-sources
	$(BIN)/jupyter-book build . --builder html
	@echo "The book: file://$(CURDIR)/$(HTML)"

# Everything derived, the Colab edition (colab/) included: the chapters run in the
# colab-like kernel (their outputs go into the book's execution cache), the book build
# writes the edition from the executed pages, and it is copied to colab/. Commit colab/.
sync: sync-sources colab-env
	$(BIN)/python tools/colab_path.py --chapters
	$(BIN)/jupyter-book build . --builder html
	$(BIN)/python tools/colab_edition.py

# In this order (test-browser reads the book test-book builds): no `make -j test`.
# system-deps first, so that a machine that cannot get them fails at once, not at the end.
test: system-deps lint test-lib test-workflows test-notebooks test-book test-browser

# ruff (pinned in requirements-dev.txt, configured in pyproject.toml): the lint rules over
# the library, tests, tools and the chapters' code cells, and the formatting of every .py file.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# -n 2: two pytest-xdist workers (2 cores; measured 46 s against 52 s in one process).
test-lib: install
	$(BIN)/python -m pytest -n 2 tests

# The publishing workflow, checked by actionlint (expressions, inputs, runtimes, ...).
test-workflows: install
	$(BIN)/actionlint .github/workflows/*.yml

# Each chapter's Colab edition (colab/) as Colab runs it: its setup cell installs the
# library into the bare colab-like kernel (from this checkout), then every cell runs; a
# failing cell fails. The outputs go into the book's execution cache (the edition's code
# cells are the chapter's), so test-book does not run them again.
test-notebooks: install colab-env
	$(BIN)/python tools/colab_path.py

# -W: a warning (a broken reference, a missing citation, a failing cell) fails the build.
# --all: every page is read again, so that a page whose last build warned is not taken as
# up to date (the notebooks' outputs come from the execution cache: nothing runs twice).
# Then the Colab edition the build wrote (_build/colab) must be the committed one (colab/).
test-book: install
	$(BIN)/jupyter-book build . --builder html -W -n --keep-going --all
	$(BIN)/python tools/colab_edition.py --check
	@echo "The book: file://$(CURDIR)/$(HTML)"

# MathJax for the browser test, as pinned in package-lock.json (the pages load it from a
# CDN; the test answers those requests from this copy, since CI is offline).
node_modules/.package-lock.json: package.json package-lock.json | system-deps
	npm ci --no-audit --no-fund --loglevel=error

# The built book in headless Chromium (Debian's /usr/bin/chromium, from system-deps):
# console errors, typeset math, images, dark mode, solutions, launch buttons, prev/next,
# search; and the Colab edition rendered by nbconvert (tests/browser/test_colab_edition_rendered.py).
# Screenshots of every chapter page and of every chapter's Colab edition go to _build/browser.
test-browser: install system-deps node_modules/.package-lock.json
	@test -f $(HTML) || { echo "no book yet: run make book first"; exit 1; }
	$(BIN)/python -m pytest -p no:cacheprovider -n 2 --dist loadgroup tests/browser

# External links (needs the internet: for maintainers, not CI). Internal links and
# cross-references are checked by test-book's -W build.
linkcheck: install
	$(BIN)/jupyter-book build . --builder linkcheck

# Mutation testing (not part of make test: about an hour): every mutant of the library's
# formulas (tools/mutants_list.py) must be killed by its module's tests AND by its chapter's
# notebook. `MUTANTS="SC3 AE5"` for some formulas, `MUTANTS=--tests-only` for the tests only.
mutants: install
	$(BIN)/python tools/mutants.py $(MUTANTS)

# Every benchmarks/bench_*.py, each comparing the library with its peers (scikit-learn,
# SPAMS) in one process; they write benchmarks/results/*.json (then `make sync`).
bench: bench-env
	@set -e; for script in benchmarks/bench_*.py; do echo "== $$script"; $(BENCH_VENV)/bin/python $$script; done

serve:
	@test -f $(HTML) || { echo "no book yet: run make book first"; exit 1; }
	@echo "Serving the book at http://127.0.0.1:$(PORT)/ (Ctrl-C stops)"
	$(BIN)/python -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

clean:
	rm -rf _build $(COLAB_VENV) $(BENCH_VENV)
