#!/usr/bin/env python3
"""Make test/fixtures/significance/scipy.json: reference values of scipy's paired tests on fixed inputs.

For each case: the two per-query score vectors x (system) and y (baseline), and what scipy returns for
`scipy.stats.ttest_rel(x, y)` (statistic, p-value, 95 % confidence interval of the mean difference) and
`scipy.stats.wilcoxon(x, y)` with its defaults (zero_method='wilcox', correction=False,
alternative='two-sided', method='auto': exact null distribution for n <= 50 without ties or zero
differences, an exact enumeration of all sign flips when there are ties or zeros and n <= 13, the normal
approximation with tie correction otherwise). Plus, for the randomization test, the exact permutation
p-value of the paired sign-flip test on |mean difference|, enumerated over all 2^n sign flips.

Run by hand with Debian's python3-scipy (apt-get install -y python3-scipy): python3 scripts/make_significance_fixtures.py
Tests never run it.
"""
import itertools
import json
import os

import numpy as np
import scipy
from scipy import stats

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "significance")


def ir_scores(rng, n, levels=None):
    """Per-query scores like nDCG@10 or MRR: in [0, 1], many exact zeros and repeated values."""
    if levels is not None:
        return [float(v) for v in rng.choice(levels, size=n)]
    v = np.clip(rng.beta(0.8, 1.2, size=n), 0, 1)
    v[rng.random(n) < 0.2] = 0.0
    return [float(round(x, 4)) for x in v]


def cases():
    rng = np.random.default_rng(20261129)
    out = []
    # Continuous scores, no ties: exact Wilcoxon (n <= 50).
    x = [float(round(v, 6)) for v in rng.normal(0.5, 0.2, 12)]
    y = [float(round(a - rng.normal(0.08, 0.15), 6)) for a in x]
    out.append(("continuous-12", x, y))
    x = [float(round(v, 6)) for v in rng.normal(0.4, 0.2, 40)]
    y = [float(round(a - rng.normal(0.03, 0.1), 6)) for a in x]
    out.append(("continuous-40", x, y))
    # n > 50, no ties: normal approximation.
    x = [float(round(v, 7)) for v in rng.normal(0.4, 0.2, 80)]
    y = [float(round(a - rng.normal(0.02, 0.1), 7)) for a in x]
    out.append(("continuous-80", x, y))
    # IR-like: ties and zero differences, n <= 13: enumerated sign flips.
    rr = [1.0, 0.5, 1 / 3, 0.25, 0.2, 0.0]
    x = ir_scores(rng, 11, rr)
    y = ir_scores(rng, 11, rr)
    out.append(("reciprocal-rank-11", x, y))
    # IR-like, n = 13 with ties and zeros (the largest n scipy enumerates).
    x = ir_scores(rng, 13)
    y = list(x)
    for i in range(0, 13, 2):
        y[i] = float(round(max(0.0, x[i] - 0.1), 4))
    for i in range(1, 13, 5):
        y[i] = float(round(min(1.0, x[i] + 0.05), 4))
    out.append(("ties-13", x, y))
    # IR-like, n = 60 with ties and zeros: normal approximation with tie correction.
    x = ir_scores(rng, 60, rr)
    y = ir_scores(rng, 60, rr)
    out.append(("reciprocal-rank-60", x, y))
    x = ir_scores(rng, 30)
    y = [float(round(min(1.0, max(0.0, a + rng.choice([0.0, 0.0, 0.1, -0.1, 0.05]))), 4)) for a in x]
    out.append(("ndcg-30", x, y))
    return out


def exact_randomization(d):
    """Two-sided sign-flip p-value: fraction of the 2^n flips with |mean| >= observed |mean|."""
    d = np.asarray(d)
    observed = abs(d.mean())
    count = 0
    total = 0
    for signs in itertools.product([1.0, -1.0], repeat=len(d)):
        total += 1
        if abs(np.dot(signs, d) / len(d)) >= observed * (1 - 1e-12):
            count += 1
    return count / total


def main():
    os.makedirs(OUT, exist_ok=True)
    result = {"scipy": scipy.__version__, "cases": []}
    for name, x, y in cases():
        t = stats.ttest_rel(x, y)
        ci = t.confidence_interval(0.95)
        w = stats.wilcoxon(x, y)
        d = np.subtract(x, y)
        case = {
            "name": name,
            "x": x,
            "y": y,
            "ttest": {"statistic": float(t.statistic), "pvalue": float(t.pvalue), "df": float(t.df),
                      "ci": [float(ci.low), float(ci.high)]},
            "wilcoxon": {"statistic": float(w.statistic), "pvalue": float(w.pvalue)},
        }
        if len(x) <= 13:
            case["exactRandomization"] = exact_randomization(d)
        result["cases"].append(case)
        print(name, len(x), "zeros", int(np.sum(d == 0)), case["ttest"]["pvalue"], case["wilcoxon"]["pvalue"])
    with open(os.path.join(OUT, "scipy.json"), "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
