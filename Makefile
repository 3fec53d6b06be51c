# The two commands a reader needs: `make book` and `make test` (see README.md).
# Both create .venv when it is missing and install everything into it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HTML   := _build/html/index.html
PORT   ?= 8000

.PHONY: all install sync book test test-lib test-notebooks test-book bench serve clean

all: book

# Re-install only when a dependency file changes.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -e .
	touch $(STAMP)

install: $(STAMP)

# Regenerate what is derived from _config.yml and book/formulas.yml: the first two
# cells of every notebook and the formula-index and errata pages.
sync: install
	$(BIN)/python tools/sync.py

book: sync
	$(BIN)/jupyter-book build . --builder html
	@echo "The book: file://$(CURDIR)/$(HTML)"

test: test-lib test-notebooks test-book

test-lib: install
	$(BIN)/python -m pytest tests

test-notebooks: install
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider notebooks

# -W: a warning (a broken reference, a missing citation, a failing cell) fails the build.
test-book: install
	$(BIN)/jupyter-book build . --builder html -W -n --keep-going
	@echo "The book: file://$(CURDIR)/$(HTML)"

# Every benchmarks/bench_*.py, each comparing the library with its peer in one process.
bench: install
	@set -e; for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script; done

serve:
	@test -f $(HTML) || { echo "no book yet: run make book first"; exit 1; }
	@echo "Serving the book at http://127.0.0.1:$(PORT)/ (Ctrl-C stops)"
	$(BIN)/python -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

clean:
	rm -rf _build
