#!/usr/bin/env bash
# Every chapter's Colab edition, run inside Google Colab's published runtime image
# (us-docker.pkg.dev/colab-images/public/runtime): Colab's Python, packages and kernel, not
# the colab-like copy `make test` uses. The weekly job colab-runtime of
# .github/workflows/book.yml runs it with this checkout mounted; on a machine with Docker:
#
#   docker run --rm -v "$PWD:/content/book" -w /content/book \
#     us-docker.pkg.dev/colab-images/public/runtime:latest bash tools/colab_runtime.sh
#
# Each notebook is executed by nbconvert (in the image) from its first cell, as a reader's
# "Run all" does, in an empty folder (Colab's /content). Its setup cell installs the library
# from UNSUPERVISED_BOOK_INSTALL: the workflow sets it to git+<repository>.git@<commit>, the
# pip install from GitHub that Colab does, at the commit under test; unset, it is this
# checkout. Prints one line per chapter, writes the failures to _build/colab-runtime.txt and
# exits 1 if any chapter failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export UNSUPERVISED_BOOK_INSTALL="${UNSUPERVISED_BOOK_INSTALL:-$PWD}"
echo "the setup cells install: $UNSUPERVISED_BOOK_INSTALL"
report=_build/colab-runtime.txt
mkdir -p _build && : > "$report"

python --version
python -m pip list 2>/dev/null | grep -iE "^(numpy|scipy|scikit-learn|matplotlib|torch|tqdm|ipykernel) "

for notebook in colab/*.ipynb; do
    out=$(mktemp -d)                                    # an empty folder, as /content is
    cp "$notebook" "$out/"
    start=$SECONDS
    if (cd "$out" && jupyter nbconvert --to notebook --execute --inplace \
            --ExecutePreprocessor.timeout=900 "$(basename "$notebook")") > "$out/log" 2>&1; then
        echo "passed: $notebook ($((SECONDS - start)) s)"
    else
        echo "FAILED: $notebook ($((SECONDS - start)) s)"
        tail -n 40 "$out/log"
        { echo "### $notebook"; echo '```'; tail -n 40 "$out/log"; echo '```'; } >> "$report"
    fi
    python -m pip uninstall --quiet --yes unsupervised > /dev/null 2>&1   # the next one installs it again
done
test ! -s "$report"
