#!/usr/bin/env python3
"""Make the trec_eval parity fixtures of test/fixtures/trec_eval/.

An independent reference implementation of the trec_eval (v9/v10) measures we support, written from
trec_eval's documented semantics (its measure descriptions, `form_res_rels.c` and `m_*.c`), not from our
TypeScript code. It reads Cranfield's graded test qrels, makes synthetic runs with many score ties and
writes qrels, runs and expected values (full precision JSON and trec_eval-style text).

Run by hand (needs only Python 3 and numpy): python3 scripts/make_trec_fixtures.py
Tests never run it.
"""
import json
import math
import os
import random
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "test", "fixtures", "trec_eval")
CRANFIELD = os.environ.get("CRANFIELD_QRELS", "/work/shared/data/cranfield/qrels/test.tsv")

MEASURES = [
    "ndcg_cut.5,10,20,100",
    "ndcg",
    "map",
    "map_cut.10,100",
    "recip_rank",
    "P.5,10,20,100",
    "recall.5,10,100,1000",
    # Added for issue 18: the rest of trec_eval's standard measures ...
    "num_q",
    "num_ret",
    "num_rel",
    "num_rel_ret",
    "gm_map",
    "Rprec",
    "bpref",
    "iprec_at_recall",
    "infAP",
    "success.1,5,10",
    # ... and two from outside trec_eval (ir_measures' Judged@k, ranx's ndcg_burges).
    "judged@5,10",
    "ndcg_burges@10",
    "ndcg_burges",
]

# trec_eval's measure table order (measures.c), which is its print order whatever the -m order.
TREC_ORDER = ["num_q", "num_ret", "num_rel", "num_rel_ret", "map", "gm_map", "Rprec", "bpref", "recip_rank",
              "iprec_at_recall", "P", "recall", "infAP", "ndcg", "ndcg_cut", "map_cut", "success",
              "judged", "ndcg_burges"]
COUNTS = {"num_q", "num_ret", "num_rel", "num_rel_ret"}
NOT_PER_QUERY = {"num_q", "gm_map"}  # trec_eval's print_single is empty for these
IPREC_LEVELS = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]


def measure_keys():
    """(family, cutoff or level or None, output name) in the order MEASURES lists them."""
    keys = []
    for m in MEASURES:
        if "@" in m:
            name, cuts = m.split("@", 1)
            keys += [(name, int(c), f"{name}@{c}") for c in cuts.split(",")]
        elif "." in m:
            name, cuts = m.split(".", 1)
            keys += [(name, int(c), f"{name}_{c}") for c in cuts.split(",")]
        elif m == "iprec_at_recall":
            keys += [(m, lv, "%s_%3.2f" % (m, lv)) for lv in IPREC_LEVELS]
        else:
            keys.append((m, None, m))
    return keys


def trec_print_order():
    keyed = measure_keys()
    return sorted(keyed, key=lambda t: (TREC_ORDER.index(t[0]), t[1] if t[1] is not None else math.inf))


# ---------------------------------------------------------------- reference measures


def trec_order(doc_scores):
    """trec_eval sorts by score descending, ties by docno descending in strcmp (UTF-8 byte) order."""
    return [d for d, _ in sorted(doc_scores.items(), key=lambda kv: (kv[1], kv[0].encode("utf-8")), reverse=True)]


def query_measures(ranked, judged):
    grades = np.array([judged.get(d, 0) for d in ranked], dtype=np.float64)
    relevant = grades >= 1  # trec_eval relevance_level 1
    num_rel = sum(1 for g in judged.values() if g >= 1)
    ideal = np.array(sorted((g for g in judged.values() if g > 0), reverse=True), dtype=np.float64)

    def dcg(gains, k):
        gains = gains[:k]
        gains = np.where(gains > 0, gains, 0.0)
        return float(np.sum(gains / np.log2(np.arange(2, len(gains) + 2)))) if len(gains) else 0.0

    def ndcg(k):
        idcg = dcg(ideal, k)
        return dcg(grades, k) / idcg if idcg > 0 else 0.0

    def ap(k):
        if num_rel == 0:
            return 0.0
        hits = relevant[:k]
        ranks = np.nonzero(hits)[0] + 1
        precisions = np.arange(1, len(ranks) + 1) / ranks
        return float(np.sum(precisions)) / num_rel

    num_ret = len(ranked)
    num_rel_ret = int(np.sum(relevant))
    # trec_eval's pool view: grade >= 1 relevant, 0 judged non-relevant, < 0 pooled but unjudged.
    in_pool = np.array([d in judged for d in ranked], dtype=bool)
    judged_nonrel = np.array([d in judged and 0 <= judged[d] < 1 for d in ranked], dtype=bool)
    pool_unjudged = np.array([d in judged and judged[d] < 0 for d in ranked], dtype=bool)
    total_nonrel = sum(1 for g in judged.values() if 0 <= g < 1)

    def bpref():
        if num_rel == 0:
            return 0.0
        terms = []
        for i in np.nonzero(relevant)[0]:
            above = int(np.sum(judged_nonrel[:i]))
            terms.append(1.0 if above == 0 else 1.0 - min(above, num_rel) / min(total_nonrel, num_rel))
        return math.fsum(terms) / num_rel

    def iprec(level):
        # C lround of level * R, exactly (Decimal of the double product, halves away from zero).
        needed = int(Decimal(level * num_rel).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        if num_ret == 0:
            return 0.0
        counts = np.cumsum(relevant)
        precision = counts / np.arange(1, num_ret + 1)
        ok = counts >= needed
        return float(np.max(precision[ok])) if np.any(ok) else 0.0

    def inf_ap():
        if num_rel == 0:
            return 0.0
        total = 0.0
        for j in np.nonzero(relevant)[0]:
            j = int(j)
            if j == 0:
                total += 1.0
                continue
            r = int(np.sum(relevant[:j]))
            n = int(np.sum(judged_nonrel[:j]))
            u = int(np.sum(pool_unjudged[:j]))
            total += 1.0 / (j + 1) + (j / (j + 1.0)) * ((r + n + u) / j) * ((r + 1e-5) / (r + n + 2e-5))
        return total / num_rel

    def ndcg_exp(k):
        def dcg(g):
            g = np.asarray(g[:k], dtype=np.float64)
            g = np.where(g > 0, np.power(2.0, g) - 1.0, 0.0)
            return float(np.sum(g / np.log2(np.arange(2, len(g) + 2)))) if len(g) else 0.0

        idcg = dcg(ideal)
        return dcg(grades) / idcg if idcg > 0 else 0.0

    out = {}
    big = len(ranked) + len(judged) + 1
    for name, k, key in measure_keys():
        if name == "ndcg_cut":
            v = ndcg(k)
        elif name == "ndcg":
            v = ndcg(big)
        elif name == "map":
            v = ap(big)
        elif name == "map_cut":
            v = ap(k)
        elif name == "recip_rank":
            first = np.nonzero(relevant)[0]
            v = 1.0 / (first[0] + 1) if len(first) else 0.0
        elif name == "P":
            v = float(np.sum(relevant[:k])) / k
        elif name == "recall":
            v = float(np.sum(relevant[:k])) / num_rel if num_rel else 0.0
        elif name == "num_q":
            v = 1
        elif name == "num_ret":
            v = num_ret
        elif name == "num_rel":
            v = num_rel
        elif name == "num_rel_ret":
            v = num_rel_ret
        elif name == "gm_map":
            v = math.log(max(ap(big), 1e-5))
        elif name == "Rprec":
            v = float(np.sum(relevant[:num_rel])) / num_rel if num_rel else 0.0
        elif name == "bpref":
            v = bpref()
        elif name == "iprec_at_recall":
            v = iprec(k)
        elif name == "infAP":
            v = inf_ap()
        elif name == "success":
            v = 1.0 if np.any(relevant[:k]) else 0.0
        elif name == "judged":
            v = float(np.sum(in_pool[:k])) / k
        elif name == "ndcg_burges":
            v = ndcg_exp(k if k is not None else big)
        else:
            raise ValueError(name)
        out[key] = float(v)
    return out


def evaluate(qrels, run, complete=False, ignore_identical_ids=False):
    per_query = {}
    for qid, docs in run.items():
        if qid not in qrels:
            continue  # trec_eval ignores run queries without judgements
        if ignore_identical_ids:
            docs = {d: s for d, s in docs.items() if d != qid}
        per_query[qid] = query_measures(trec_order(docs), qrels[qid])
    scored = dict(per_query)
    if complete:
        # trec_eval -c (v10, trec_eval.c) scores a judged query missing from the run on a one-document
        # "bogus" ranking of an unjudged docno, then resets its num_ret to 0.
        for qid in qrels:
            if qid not in scored:
                values = query_measures(["ceci_nest_pas_un_docno"], qrels[qid])
                values["num_ret"] = 0
                scored[qid] = values
    n = len(scored)
    order = sorted(scored, key=lambda q: q.encode("utf-8"))
    mean = {}
    for name, _, key in measure_keys():
        total = math.fsum(scored[q][key] for q in order)
        if name in COUNTS:
            mean[key] = total
        elif name == "gm_map":
            mean[key] = math.exp(total / n)
        else:
            mean[key] = total / n
    return (per_query, mean, scored) if complete else (per_query, mean)


def trec_line(name, key, qid, value):
    if name in COUNTS:
        return "%-22s\t%s\t%d" % (key, qid, int(value))
    return "%-22s\t%s\t%6.4f" % (key, qid, value)


def trec_text(per_query, mean):
    """trec_eval -q output: per-query lines (queries in strcmp order, measures in trec_eval's table order),
    then the `all` lines."""
    keys = trec_print_order()
    lines = []
    for q in sorted(per_query, key=lambda q: q.encode("utf-8")):
        lines += [trec_line(n, k, q, per_query[q][k]) for n, _, k in keys if n not in NOT_PER_QUERY]
    lines += [trec_line(n, k, "all", mean[k]) for n, _, k in keys]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- fixture data


def read_beir_qrels(path):
    qrels = {}
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            q, d, g = line.rstrip("\n").split("\t")
            qrels.setdefault(q, {})[d] = int(g)
    return qrels


def cranfield_set(rng):
    qrels = read_beir_qrels(CRANFIELD)
    qids = sorted(qrels, key=int)
    run = {}
    for i, q in enumerate(qids):
        if i % 9 == 4:
            continue  # judged but not retrieved: exercises -c
        judged = list(qrels[q])
        docs = set(d for d in judged if rng.random() < 0.6)
        while len(docs) < 60:
            docs.add(str(rng.randint(1, 1400)))
        # Scores on a coarse grid: many ties, broken by docno descending ("99" ranks above "100").
        run[q] = {d: rng.randint(0, 12) / 4 for d in sorted(docs)}
    for extra in ["9001", "9002"]:
        run[extra] = {str(rng.randint(1, 1400)): 1.0 for _ in range(5)}
    return qrels, run


def synthetic_set(rng):
    ids = ["d%d" % i for i in range(1, 31)] + ["D5", "dé", "d\uff21", "d\U0001F600", "d10a", "d1_"]
    qrels, run = {}, {}
    for qi in range(1, 13):
        q = "q%d" % qi
        judged = rng.sample(ids, 14)
        qrels[q] = {d: rng.choice([-1, 0, 0, 1, 1, 2, 3]) for d in judged}
        depth = 4 if qi == 5 else 25  # fewer documents retrieved than most cutoffs
        retrieved = rng.sample(ids, depth)
        run[q] = {d: rng.choice([2.5, 1.0, 1.0, 0.5, 0.0, -1.5, 1e-3]) for d in retrieved}
    qrels["q7"] = {d: 0 for d in qrels["q7"]}  # judged, nothing relevant: scores 0
    # Astral vs BMP character tie: strcmp puts U+1F600 after U+FF21; UTF-16 order would not.
    run["q2"].update({"d\uff21": 2.5, "d\U0001F600": 2.5, "dé": 2.5})
    qrels["q2"].update({"d\uff21": 3, "d\U0001F600": 0, "dé": 1})
    # A query that retrieves a document with its own id (BEIR ignore_identical_ids).
    run["q3"]["q3"] = 9.0
    qrels["q3"]["q3"] = 2
    qrels["q13"] = {"d1": 1}  # judged only: -c counts it as 0
    run["q99"] = {"d1": 1.0}  # retrieved only: ignored
    return qrels, run


def write_trec_qrels(path, qrels):
    with open(path, "w", encoding="utf-8") as f:
        for q in qrels:
            for d, g in qrels[q].items():
                f.write("%s 0 %s %d\n" % (q, d, g))


def write_beir_qrels(path, qrels):
    with open(path, "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for q in qrels:
            for d, g in qrels[q].items():
                f.write("%s\t%s\t%d\n" % (q, d, g))


def write_run(path, run, rng):
    """Lines in a shuffled order with a meaningless rank column: trec_eval ignores both."""
    lines = []
    for q, docs in run.items():
        for i, (d, s) in enumerate(docs.items()):
            lines.append("%s Q0 %s %d %r fixture\n" % (q, d, i + 1, s))
    rng.shuffle(lines)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(lines)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = random.Random(20261127)
    sets = {
        "cranfield": (cranfield_set(rng), write_trec_qrels, "qrels"),
        "synthetic": (synthetic_set(rng), write_beir_qrels, "tsv"),
    }
    for name, ((qrels, run), write_qrels, ext) in sets.items():
        write_qrels(os.path.join(OUT, "%s.%s" % (name, ext)), qrels)
        write_run(os.path.join(OUT, "%s.run" % name), run, rng)
        per_query, mean = evaluate(qrels, run)
        _, mean_complete, scored_complete = evaluate(qrels, run, complete=True)
        per_query_ident, mean_ident = evaluate(qrels, run, ignore_identical_ids=True)
        expected = {
            "measures": MEASURES,
            "perQuery": per_query,
            "mean": mean,
            "meanComplete": mean_complete,
            "perQueryIgnoreIdenticalIds": per_query_ident,
            "meanIgnoreIdenticalIds": mean_ident,
        }
        with open(os.path.join(OUT, "%s.expected.json" % name), "w", encoding="utf-8") as f:
            json.dump(expected, f, indent=1, ensure_ascii=False, sort_keys=True)
            f.write("\n")
        with open(os.path.join(OUT, "%s.expected.txt" % name), "w", encoding="utf-8") as f:
            f.write(trec_text(per_query, mean))
        with open(os.path.join(OUT, "%s.expected-c.txt" % name), "w", encoding="utf-8") as f:
            f.write(trec_text({}, mean_complete))
        with open(os.path.join(OUT, "%s.expected-qc.txt" % name), "w", encoding="utf-8") as f:
            f.write(trec_text(scored_complete, mean_complete))
        print(name, {k: round(v, 4) for k, v in mean.items()})


if __name__ == "__main__":
    main()
