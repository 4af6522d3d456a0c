"""The topic of a customer's last complaint, as inputs a classifier can take.

A :class:`regulars.text.topics.TopicModel` is fitted on complaints only (negative texts), and each
topic is named by the common shop theme its top words match (:data:`regulars.text.topics.THEMES`:
delivery, damage, refunds, billing, ...) or "other". A customer's last complaint becomes a one-hot
row over :data:`COLUMNS`: one column per theme, ``complaint_other`` (a topic that matches no theme,
or a complaint with no known word) and ``complaint_none`` (no complaint at all).

Naming the columns by theme rather than by topic number keeps them meaning the same thing when the
model is fitted again on another set of complaints: the churn model is trained on snapshots taken
at several dates and each snapshot gets its own fit, on the complaints written before its date only
(:func:`regulars.jobs.text_features.complaint_topic_features`), so no later text reaches it.

Examples
--------
>>> complaints = (["parcel late again, tracking shows nothing, courier lost it"] * 20
...               + ["the mug arrived broken and cracked, box crushed, damaged"] * 20
...               + ["charged twice on my card, the invoice is wrong"] * 20)
>>> encoder = ComplaintTopics(n_topics=3, min_df=1).fit(complaints)
>>> sorted(encoder.themes_)
['Billing and payment', 'Damaged or broken items', 'Delivery and tracking']
>>> rows = encoder.transform(["my parcel is late", None, "zzz qqq"])
>>> [COLUMNS[i] for i in rows.argmax(axis=1)]
['complaint_delivery_and_tracking', 'complaint_none', 'complaint_other']
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from regulars.text.topics import THEMES, TopicModel, label_topic


def column_name(theme: str) -> str:
    """``'Delivery and tracking'`` -> ``'complaint_delivery_and_tracking'``."""
    return "complaint_" + re.sub(r"[^a-z0-9]+", "_", theme.lower()).strip("_")


#: Feature columns, in order: one per shop theme, then "other" and "none".
COLUMNS: tuple[str, ...] = tuple(column_name(t) for t in THEMES) + ("complaint_other", "complaint_none")
OTHER, NONE = len(COLUMNS) - 2, len(COLUMNS) - 1


class ComplaintTopics(TransformerMixin, BaseEstimator):
    """Topics of complaints, one-hot by shop theme (see the module docstring).

    Parameters
    ----------
    min_texts : int
        Fewer complaints than this and no topics are fitted: every complaint counts as "other".
    n_topics : int or "auto"
        Passed to :class:`~regulars.text.topics.TopicModel` (``"auto"`` chooses by topic quality).
    min_df : int
        A word must appear in this many complaints.
    extra_stop_words : collection of str
        More words to ignore (the words of the shop's product names).
    random_state : int
    """

    def __init__(self, min_texts: int = 50, n_topics: int | str = "auto", min_df: int = 3, extra_stop_words=(),
                 random_state: int = 0):
        self.min_texts = min_texts
        self.n_topics = n_topics
        self.min_df = min_df
        self.extra_stop_words = extra_stop_words
        self.random_state = random_state

    def fit(self, texts: Sequence[str], keys: Sequence[str] | None = None):
        """Fit the topics of *texts* (the complaints) and name each by its theme."""
        texts = ["" if t is None else str(t) for t in texts]
        self.n_texts_ = len(texts)
        self.topics_ = None
        self.themes_: list[str] = []
        self.columns_ = np.zeros(0, dtype=int)
        if len(texts) >= self.min_texts:
            model = TopicModel(n_topics=self.n_topics, min_df=self.min_df, extra_stop_words=self.extra_stop_words,
                               random_state=self.random_state)
            try:
                with warnings.catch_warnings():  # the quick fits that choose the topic count stop early
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    model.fit(texts, keys=keys)
            except ValueError:  # no word left after the stop words and min_df: nothing to group by
                model = None
            if model is not None:
                self.topics_ = model
                self.themes_ = [label_topic(w, x) for w, x in zip(model.top_words_, model.top_weights_)]
                self.columns_ = np.array([COLUMNS.index(column_name(t)) if t in THEMES else OTHER
                                          for t in self.themes_], dtype=int)
        return self

    def transform(self, texts: Sequence[str | None]) -> np.ndarray:
        """One row per text over :data:`COLUMNS`: its topic's theme, ``other``, or ``none`` for None."""
        check_is_fitted(self, "n_texts_")
        out = np.zeros((len(texts), len(COLUMNS)), dtype=np.float64)
        given = np.array([t is not None for t in texts], dtype=bool)
        column = np.full(len(texts), NONE, dtype=int)
        column[given] = OTHER
        rows = np.flatnonzero(given)
        if self.topics_ is not None and len(rows):
            index, _weight = self.topics_.assign([str(texts[i]) for i in rows], n_jobs=1)
            column[rows] = np.where(index >= 0, self.columns_[np.maximum(index, 0)], OTHER)
        out[np.arange(len(texts)), column] = 1.0
        return out
