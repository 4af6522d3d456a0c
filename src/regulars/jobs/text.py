"""The text job: language, sentiment and topics of every review, ticket and survey comment, stored.

``analyse_texts(ws)`` is what ``regulars text analyse`` runs (and ``regulars text topics`` /
``sentiment`` when nothing is stored yet):

1. every non-empty review body, ticket body and survey comment is read
   (:func:`regulars.data.text_store.read_texts`);
2. its language is detected and English texts get VADER scores
   (:class:`regulars.text.SentimentScorer`); other languages are counted as not analysed;
3. per source (reviews, tickets, surveys) with at least :data:`MIN_TOPIC_TEXTS` English texts, a
   :class:`regulars.text.topics.TopicModel` is fitted and matched to that source's topics of the
   previous run, so a topic keeps its id and label from one refresh to the next;
4. scores, topics and a run record are written in one transaction.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from regulars.data import text_store as store
from regulars.text.sentiment import SentimentScorer
from regulars.text.topics import TopicModel

#: Fewer English texts than this in a source and its topics would be anecdotes: none are fitted.
MIN_TOPIC_TEXTS = 50


@dataclass
class TextRunResult:
    """What :func:`analyse_texts` did."""

    run_id: str
    texts: int
    analysed: int
    languages: dict[str, int]
    topics: dict[str, int]
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "texts": self.texts, "analysed": self.analysed, "languages": self.languages,
                "topics": self.topics, "notes": self.notes,
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}}


def analyse_texts(ws, n_topics: int | str = "auto", shop_words: bool = True, n_jobs: int = -1,
                  progress=None) -> TextRunResult:
    """Score and group every text in the workspace and store the result (see the module docstring)."""
    say = progress or (lambda _s: None)
    seconds: dict[str, float] = {}
    started = t = time.perf_counter()
    run_id = f"t-{pd.Timestamp.now(tz='UTC').strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    say("reading texts")
    table = store.read_texts(ws)
    texts = table.column("text").to_pylist()
    seconds["read"] = time.perf_counter() - t

    say(f"sentiment of {len(texts):,} texts")
    t = time.perf_counter()
    scores = SentimentScorer(shop_words=shop_words, n_jobs=n_jobs).score(texts)
    seconds["sentiment"] = time.perf_counter() - t

    t = time.perf_counter()
    previous = store.topics(ws)
    ignored = store.product_words(ws) | store.customer_name_words(ws)
    sources = np.asarray(table.column("source").to_pylist(), dtype=object)
    ids = table.column("text_id").to_pylist()
    topic_id = np.full(len(texts), -1, dtype=np.int64)
    topic_weight = np.full(len(texts), np.nan)
    topic_rows, topic_counts, notes = [], {}, []
    analysed = scores["is_analysed"].to_numpy()
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    for source in store.SOURCES:
        rows = np.flatnonzero((sources == source) & analysed)
        if len(rows) < MIN_TOPIC_TEXTS:
            if len(rows):
                notes.append(f"{source}: {len(rows):,} English text(s), too few for topics (at least "
                             f"{MIN_TOPIC_TEXTS} are needed)")
            continue
        say(f"topics of {len(rows):,} {source}")
        before = previous[previous["source"] == source] if len(previous) else previous
        model = TopicModel(n_topics=n_topics, previous_topics=len(before) or None, extra_stop_words=ignored)
        model.fit([texts[i] for i in rows], keys=[ids[i] for i in rows])
        matched = model.align(before.to_dict("records") if len(before) else [])
        index, weight = model.assign([texts[i] for i in rows])
        ids_of = np.asarray(model.topic_ids_ + [-1])
        topic_id[rows] = ids_of[index]  # -1 -> the last entry, -1
        topic_weight[rows] = np.where(index >= 0, weight, np.nan)
        first_run = dict(zip(before["topic_id"], before["first_run_id"])) if len(before) else {}
        counts = np.bincount(index[index >= 0], minlength=model.n_topics_)
        for i in range(model.n_topics_):
            topic_rows.append({
                "run_id": run_id, "source": source, "topic_id": model.topic_ids_[i], "label": model.labels_[i],
                "top_words": model.top_words_[i], "signature": model.signatures_[i], "texts": int(counts[i]),
                "first_run_id": first_run.get(matched[i], run_id) if matched[i] is not None else run_id,
                "created_at": now,
            })
        topic_counts[source] = model.n_topics_
    seconds["topics"] = time.perf_counter() - t

    say("writing")
    t = time.perf_counter()
    out = pa.table({
        "source": table.column("source"), "text_id": table.column("text_id"),
        "customer_id": table.column("customer_id"), "product_id": table.column("product_id"),
        "written_at": table.column("written_at"), "language": pa.array(scores["language"].tolist(), pa.string()),
        "is_analysed": pa.array(analysed), "compound": pa.array(scores["compound"].to_numpy(), from_pandas=True),
        "positive": pa.array(scores["positive"].to_numpy(), from_pandas=True),
        "neutral": pa.array(scores["neutral"].to_numpy(), from_pandas=True),
        "negative": pa.array(scores["negative"].to_numpy(), from_pandas=True),
        "sentiment": pa.array(scores["sentiment"].tolist(), pa.string()),
        "topic_id": pa.array(topic_id, mask=topic_id < 0), "topic_weight": pa.array(topic_weight, from_pandas=True),
        "score": table.column("score"), "run_id": pa.array([run_id] * len(texts), pa.string()),
    })
    languages = scores["language"].value_counts().to_dict()
    n_analysed = int(analysed.sum())
    other = sum(v for k, v in languages.items() if k != "en")
    if other:
        notes.append(f"{other:,} text(s) not in English were not analysed (sentiment and topics are English only)")
    seconds["total"] = time.perf_counter() - started
    store.write_run(ws, out, pd.DataFrame(topic_rows, columns=[c for c, _ in store.TOPICS]), {
        "run_id": run_id, "finished_at": pd.Timestamp.now(tz="UTC").tz_localize(None), "texts": len(texts),
        "analysed": n_analysed, "languages": {str(k): int(v) for k, v in languages.items()},
        "params": {"n_topics": n_topics, "shop_words": shop_words, "notes": notes},
        "seconds": round(seconds["total"], 3),
    })
    seconds["write"] = time.perf_counter() - t
    return TextRunResult(run_id, len(texts), n_analysed, {str(k): int(v) for k, v in languages.items()},
                         topic_counts, notes, seconds)
