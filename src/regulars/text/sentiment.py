"""Sentiment of short English texts with VADER, and "not analysed" for every other language.

VADER (Hutto & Gilbert 2014, "VADER: A Parsimonious Rule-based Model for Sentiment Analysis of
Social Media Text", ICWSM) scores a text from a human-rated lexicon of ~7,500 words, emoticons and
slang, with rules for negation ("not good"), intensifiers ("very"), contrast ("but"), capitals
and exclamation marks. The lexicon ships inside the ``vaderSentiment`` package: nothing is
downloaded. It is built for English; other languages are marked ``is_analysed = False``
(see :mod:`regulars.text.language`) instead of being scored wrongly.

The *compound* score runs from -1 (most negative) to +1; VADER's authors' thresholds name it
``positive`` (>= 0.05), ``negative`` (<= -0.05) or ``neutral``. :data:`SHOP_LEXICON` adds a few
words that shop reviews and tickets use and VADER's general lexicon lacks ("stale",
"overpriced", "cracked"); ``shop_words=False`` scores with VADER alone. Both are evaluated on the
hand-labelled texts in ``tests/text`` (``docs/text.md`` has the figures).

Examples
--------
>>> scorer = SentimentScorer()
>>> scores = scorer.score(["Love it, super fresh!", "The beans were stale.", "Où est ma commande ?"])
>>> scores["sentiment"].tolist(), scores["is_analysed"].tolist()
(['positive', 'negative', None], [True, True, False])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

from regulars.text.language import SUPPORTED, detect_language

#: Words shop texts use with a clear valence that VADER's lexicon lacks (VADER's -4..+4 scale).
SHOP_LEXICON: dict[str, float] = {
    "stale": -1.8, "overpriced": -1.9, "overcharged": -2.0, "burnt": -1.5, "sour": -1.2, "mediocre": -1.5,
    "cracked": -1.6, "leaks": -1.4, "leaking": -1.4, "musty": -1.6, "yuck": -2.0, "tasteless": -1.8,
    "bland": -1.5, "undrinkable": -2.5, "dented": -1.2, "jams": -1.0, "jammed": -1.2, "faulty": -1.9,
    "late": -1.0, "unhelpful": -1.8, "smooth": 1.2, "favourite": 2.0, "flavourful": 1.5, "flavorful": 1.5,
    "fragrant": 1.3, "tasty": 1.8,
}

POSITIVE_THRESHOLD = 0.05
NEGATIVE_THRESHOLD = -0.05
#: Below this many texts a second process costs more than it saves.
PARALLEL_MIN_TEXTS = 50_000


@lru_cache(maxsize=1)
def vader_lexicon() -> dict[str, float]:
    """VADER's word -> valence lexicon, as shipped in the package."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return dict(SentimentIntensityAnalyzer().lexicon)


@lru_cache(maxsize=2)
def _analyzer(shop_words: bool):
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    if shop_words:
        analyzer.lexicon.update(SHOP_LEXICON)
    return analyzer


def label(compound: np.ndarray) -> np.ndarray:
    """``positive`` / ``neutral`` / ``negative`` for compound scores (VADER's thresholds).

    >>> label(np.array([0.6, 0.0, -0.3])).tolist()
    ['positive', 'neutral', 'negative']
    """
    compound = np.asarray(compound, dtype=float)
    return np.where(compound >= POSITIVE_THRESHOLD, "positive",
                    np.where(compound <= NEGATIVE_THRESHOLD, "negative", "neutral")).astype(object)


def _score_chunk(args: tuple[Sequence[str | None], bool]) -> tuple[list[str], np.ndarray]:
    texts, shop_words = args
    analyzer = _analyzer(shop_words)
    languages = []
    out = np.full((len(texts), 4), np.nan)
    for i, text in enumerate(texts):
        lang = detect_language(text)
        languages.append(lang)
        if lang in SUPPORTED:
            s = analyzer.polarity_scores(text)
            out[i] = (s["compound"], s["pos"], s["neu"], s["neg"])
    return languages, out


class SentimentScorer:
    """Language, VADER scores and a label for each text.

    Parameters
    ----------
    shop_words : bool
        Add :data:`SHOP_LEXICON` to VADER's lexicon (default True).
    n_jobs : int
        Processes for large inputs (``-1``: every core). Results do not depend on it.
    """

    def __init__(self, shop_words: bool = True, n_jobs: int = -1):
        self.shop_words = shop_words
        self.n_jobs = n_jobs

    def _workers(self, n: int) -> int:
        if n < PARALLEL_MIN_TEXTS:
            return 1
        cores = os.cpu_count() or 1
        return max(1, cores if self.n_jobs in (-1, None) else min(self.n_jobs, cores))

    def score(self, texts: Sequence[str | None]) -> pd.DataFrame:
        """One row per text: ``language``, ``is_analysed``, ``compound``, ``positive``,
        ``neutral``, ``negative`` (VADER's proportions) and ``sentiment`` (None when not analysed)."""
        texts = list(texts)
        # identical texts ("Great!", "Thanks") are scored once
        codes, uniques = pd.factorize(pd.Series(texts, dtype=object), use_na_sentinel=False)
        if len(uniques) < len(texts):
            once = self.score(list(uniques))
            return once.iloc[codes].reset_index(drop=True)
        workers = self._workers(len(texts))
        if workers == 1:
            languages, values = _score_chunk((texts, self.shop_words))
        else:
            import multiprocessing as mp

            bounds = np.linspace(0, len(texts), workers * 4 + 1).astype(int)
            chunks = [(texts[a:b], self.shop_words) for a, b in zip(bounds[:-1], bounds[1:])]
            with mp.get_context("fork").Pool(workers) as pool:
                parts = pool.map(_score_chunk, chunks)
            languages = [lang for p in parts for lang in p[0]]
            values = np.vstack([p[1] for p in parts]) if parts else np.zeros((0, 4))
        analysed = ~np.isnan(values[:, 0])
        sentiment = label(np.nan_to_num(values[:, 0]))
        sentiment[~analysed] = None
        return pd.DataFrame({
            "language": languages, "is_analysed": analysed, "compound": values[:, 0], "positive": values[:, 1],
            "neutral": values[:, 2], "negative": values[:, 3], "sentiment": pd.Series(sentiment, dtype=object),
        })


def accuracy_against_baseline(truth: Sequence[str], predicted: Sequence[str]) -> dict:
    """Accuracy of *predicted* labels and of always answering the most common true label.

    >>> r = accuracy_against_baseline(["positive", "positive", "negative"], ["positive", "negative", "negative"])
    >>> round(r["accuracy"], 3), round(r["baseline_accuracy"], 3), r["baseline_label"]
    (0.667, 0.667, 'positive')
    """
    truth = pd.Series(list(truth), dtype=object)
    predicted = pd.Series(list(predicted), dtype=object)
    majority = truth.value_counts().idxmax()
    per_class = {c: float((predicted[truth == c] == c).mean()) for c in sorted(truth.unique())}
    return {"n": len(truth), "accuracy": float((truth == predicted).mean()),
            "baseline_label": majority, "baseline_accuracy": float((truth == majority).mean()),
            "recall_per_class": per_class}
