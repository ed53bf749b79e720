"""Would a learned intent classifier beat the rules on messages and catalogs it has not seen?

Issue 16 welcomes one (character n-gram logistic regression) only if it measures better on
held-out data. This prints, for every catalog-held-out split (train on the other catalogs' tune
parts, measure on this catalog's holdout; catalogs d and e, which have no tune part, are measured
with a, b and c's tune parts as training), the intent accuracy of:
  rules       parsing.parser.parse (what ships)
  learned     TF-IDF of character 2-5-grams + logistic regression (seeded: deterministic)
  hybrid      the rules, except where they say "unknown" and the classifier is at least 0.8 sure
and the false-order rate of each. Needs scikit-learn (`pip install scikit-learn`; not a dependency
of Thok: nothing adopted it).

    python bench/parser_classifier.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from parsing.corpus import load_catalog_corpus  # noqa: E402
from parsing.parser import Catalog, parse  # noqa: E402

SURE = 0.8


def _model(texts: list[str], intents: list[str]) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), lowercase=True, sublinear_tf=True, min_df=1),
        LogisticRegression(max_iter=2000, C=5.0, random_state=16),
    )
    model.fit(texts, intents)
    return model


def _features(row: dict[str, Any]) -> str:
    return ("W " if row.get("role") == "wholesaler" else "R ") + row["text"]


def _score(rows: list[dict[str, Any]], got: list[str]) -> tuple[float, int, int]:
    ok = sum(1 for r, g in zip(rows, got, strict=True) if r["intent"] == g)
    non_orders = [(r, g) for r, g in zip(rows, got, strict=True) if r["intent"] != "order"]
    false_orders = sum(1 for _r, g in non_orders if g == "order")
    return ok / max(1, len(rows)), false_orders, len(non_orders)


def main() -> int:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print("scikit-learn is not installed: pip install scikit-learn")
        return 0
    corpora = load_catalog_corpus()
    trainable = [k for k, (_c, rows) in corpora.items() if any(r.get("split") == "tune" for r in rows)]
    print(f"{'held out':<10}{'n':>6}  {'rules':>16}  {'learned':>16}  {'hybrid':>16}   (intent accuracy, false orders)")
    totals: dict[str, list[int]] = {"rules": [0, 0, 0], "learned": [0, 0, 0], "hybrid": [0, 0, 0]}
    n_total = 0
    for name, (catalog, rows) in corpora.items():
        train = [r for k in trainable if k != name for r in corpora[k][1] if r.get("split") == "tune"]
        test = [r for r in rows if r.get("split") == "holdout"]
        model = _model([_features(r) for r in train], [r["intent"] for r in train])
        probs = model.predict_proba([_features(r) for r in test])
        classes = list(model.classes_)
        learned = [classes[max(range(len(classes)), key=p.__getitem__)] for p in probs]
        rules = [_rules(r, catalog) for r in test]
        hybrid = [
            lg if rl == "unknown" and max(p) >= SURE and lg != "order" else rl
            for rl, lg, p in zip(rules, learned, probs, strict=True)
        ]
        cells = []
        for label, got in (("rules", rules), ("learned", learned), ("hybrid", hybrid)):
            acc, fo, non = _score(test, got)
            totals[label][0] += round(acc * len(test))
            totals[label][1] += fo
            totals[label][2] += non
            cells.append(f"{acc:.4f} {fo:>3}/{non:<4}")
        n_total += len(test)
        print(f"{name:<10}{len(test):>6}  " + "  ".join(f"{c:>16}" for c in cells))
    cells = [f"{t[0] / max(1, n_total):.4f} {t[1]:>3}/{t[2]:<4}" for t in totals.values()]
    print(f"{'all':<10}{n_total:>6}  " + "  ".join(f"{c:>16}" for c in cells))
    return 0


def _rules(row: dict[str, Any], catalog: Catalog) -> str:
    return parse(row["text"], catalog, row.get("role", "retailer")).intent


if __name__ == "__main__":
    raise SystemExit(main())
