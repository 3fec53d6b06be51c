"""Benchmark of the sparse-coding library against scikit-learn.

Run:  python benchmarks/bench_sparse_coding.py

Data: 20,000 mean-removed 8x8 grey patches of the two photographs shipped with scikit-learn
(``unsupervised.datasets.image_patches(20000, seed=0)``), eta = 0.15 (scikit-learn's
alpha = eta / 2, see ``sklearn_alpha``).

Rows
- Dictionary learning (reported, no target): ``learn_dictionary`` (256 atoms, alternating
  SC6/SC7 with normalised atoms, 12 rounds) and ``MiniBatchDictionaryLearning``
  (256 atoms, alpha = eta / 2, batch 256, 3 epochs), each timed on the same patches. Both
  dictionaries have unit-norm atoms, so the same objective is evaluated for both:
  L(A, Z) / N of SC2 with Z the exact codes of the patches under each dictionary.
- Encoding (target): ``encode(X, A, eta)`` with its default settings versus
  ``sparse_encode(X, A.T, algorithm="lasso_cd", alpha=eta / 2)`` on a fresh set of 20,000
  patches (seed 1), for the dictionary learned above (and, reported, for scikit-learn's).
  Targets: our objective is not above lasso_cd's by more than 1e-6 (relative) and we are at
  least as fast (best of three runs each, interleaved).

Prints a table, writes benchmarks/results/sparse_coding.json (with machine information) and exits
with status 1 if a target is missed.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from _machine import machine_info
from sklearn.decomposition import MiniBatchDictionaryLearning, sparse_encode

from unsupervised.datasets import image_patches
from unsupervised.sparse_coding import encode, learn_dictionary, objective, sklearn_alpha

N_PATCHES = 20_000
N_ATOMS = 256
ETA = 0.15
LAM = 1e-3  # only regularises the SC7 solve; the atoms are normalised afterwards
N_ROUNDS = 12
MBDL_EPOCHS = 3
ACCURACY_TARGET = 1e-6
SPEED_TARGET = 1.0
REPEATS = 3
RESULTS = Path(__file__).resolve().parent / "results" / "sparse_coding.json"


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def lasso_cd(X, A, eta):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lasso_cd reports slow samples; not an error
        return sparse_encode(X, A.T, algorithm="lasso_cd", alpha=sklearn_alpha(eta))


def learning_rows(X):
    t_ours, (A, Z, hist) = timed(
        lambda: learn_dictionary(X, N_ATOMS, ETA, LAM, N_ROUNDS, seed=0, normalize_atoms=True)
    )
    mbdl = MiniBatchDictionaryLearning(
        n_components=N_ATOMS,
        alpha=sklearn_alpha(ETA),
        batch_size=256,
        max_iter=MBDL_EPOCHS,
        tol=0.0,
        max_no_improvement=None,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_sk, _ = timed(lambda: mbdl.fit(X))
    D = mbdl.components_.T.copy()  # (d, p), atoms as columns
    Z_sk = encode(X, D, ETA)  # exact codes: the same objective for both
    rows = []
    for name, seconds, A_, Z_ in (
        ("learn_dictionary", t_ours, A, Z),
        ("MiniBatchDictionaryLearning", t_sk, D, Z_sk),
    ):
        norms = np.linalg.norm(A_, axis=0)
        rows.append(
            {
                "row": "learning",
                "method": name,
                "seconds": seconds,
                "objective_per_patch": objective(X, A_, Z_, ETA) / len(X),
                "relative_residual": float(np.sum((X - Z_ @ A_.T) ** 2) / np.sum(X * X)),
                "mean_nonzeros": float(np.mean(np.count_nonzero(Z_, axis=1))),
                "atom_norm_min": float(norms.min()),
                "atom_norm_max": float(norms.max()),
                "unused_atoms": int(np.sum(~np.any(Z_ != 0, axis=0))),
            }
        )
    rows[0]["rounds"] = N_ROUNDS
    rows[1]["epochs"] = MBDL_EPOCHS
    return rows, A, D


def encode_row(name, X, A, target):
    t_ours, t_sk = [], []
    for _ in range(REPEATS):  # interleaved: both see the same load
        s, Z = timed(lambda: encode(X, A, ETA))
        t_ours.append(s)
        s, C = timed(lambda: lasso_cd(X, A, ETA))
        t_sk.append(s)
    ours, theirs = objective(X, A, Z, ETA), objective(X, A, C, ETA)
    rel = (ours - theirs) / theirs
    ratio = min(t_sk) / min(t_ours)
    ok = rel <= ACCURACY_TARGET and ratio >= SPEED_TARGET
    return {
        "row": "encode",
        "dictionary": name,
        "N": len(X),
        "p": A.shape[1],
        "eta": ETA,
        "sklearn_alpha": sklearn_alpha(ETA),
        "t_ours_s": min(t_ours),
        "t_sklearn_s": min(t_sk),
        "t_ours_all_s": t_ours,
        "t_sklearn_all_s": t_sk,
        "speed_ratio": ratio,
        "objective_ours": ours,
        "objective_sklearn": theirs,
        "relative_difference": rel,
        "mean_nonzeros": float(np.mean(np.count_nonzero(Z, axis=1))),
        "target": target,
        "pass": bool(ok) if target else None,
    }


def main():
    X = image_patches(N_PATCHES, seed=0)
    X_new = image_patches(N_PATCHES, seed=1)
    learn, A, D = learning_rows(X)
    enc = [
        encode_row("learn_dictionary", X_new, A, target=True),
        encode_row("MiniBatchDictionaryLearning", X_new, D, target=False),
    ]

    print(
        f"Dictionary learning on {N_PATCHES} mean-removed 8x8 patches, {N_ATOMS} atoms, "
        f"eta = {ETA} (same objective for both: L(A, Z)/N with exact codes)"
    )
    header = f"{'method':<28} {'time[s]':>8} {'L/N':>10} {'residual':>9} {'nnz':>6} {'unused':>6}"
    print(header)
    print("-" * len(header))
    for r in learn:
        print(
            f"{r['method']:<28} {r['seconds']:>8.1f} {r['objective_per_patch']:>10.6f} "
            f"{r['relative_residual']:>9.4f} {r['mean_nonzeros']:>6.2f} {r['unused_atoms']:>6}"
        )
    print()
    print(
        f"Encoding {N_PATCHES} new patches: encode (defaults) vs sparse_encode(lasso_cd), "
        f"targets: relative objective difference <= {ACCURACY_TARGET:g}, speed ratio >= "
        f"{SPEED_TARGET:g}"
    )
    header = (
        f"{'dictionary':<28} {'nnz':>6} {'t_ours[s]':>9} {'t_sklearn[s]':>12} "
        f"{'ratio':>6} {'rel.diff':>10}  result"
    )
    print(header)
    print("-" * len(header))
    for r in enc:
        verdict = ("PASS" if r["pass"] else "FAIL") if r["target"] else "(reported)"
        print(
            f"{r['dictionary']:<28} {r['mean_nonzeros']:>6.2f} {r['t_ours_s']:>9.2f} "
            f"{r['t_sklearn_s']:>12.2f} {r['speed_ratio']:>5.2f}x "
            f"{r['relative_difference']:>10.1e}  {verdict}"
        )

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"machine": machine_info(), "rows": learn + enc}, indent=2) + "\n"
    )
    print(f"\nwrote {RESULTS}")
    all_ok = all(r["pass"] for r in enc if r["target"])
    print("ALL TARGETS MET" if all_ok else "SOME TARGETS FAILED")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
