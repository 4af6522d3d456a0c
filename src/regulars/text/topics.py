"""Topics of short texts: TF-IDF + non-negative matrix factorisation, labelled in words, stable across runs.

Why this module is long: TF-IDF + NMF topics are one estimator: choosing the topic count, NNDSVDa
initialisation, labelling topics in words and keeping topic ids stable across refreshes all act on
the same factorisation.

NMF (Lee & Seung 1999, "Learning the parts of objects by non-negative matrix factorization",
Nature 401) factors the TF-IDF matrix of the texts into topics (weighted word lists) and each
text's weight on every topic; on short texts it gives cleaner topics than LDA (O'Callaghan et
al. 2015, "An analysis of the coherence of descriptors in topic modeling", Expert Systems with
Applications 42). scikit-learn does the work (``TfidfVectorizer``, ``NMF``).

- **How many topics**: unless fixed, each count from ``min_topics`` (5: fewer themes than that
  rarely tell a shop anything it did not know) to ``max_topics`` (12) is fitted
  on a sample and scored by *topic quality* = mean NPMI coherence of each topic's top words
  x the share of distinct top words (Dieng, Ruiz & Blei 2020, "Topic modeling in embedding
  spaces", TACL 8); the best count wins, the previous run's count unless another is clearly
  better.
- **Labels**: a topic whose top words match a common shop theme (delivery, damage, refunds,
  taste, price, ...) is called by it ("Delivery and tracking"); any other by its three top words.
- **Stable across refreshes**: a fixed seed and deterministic initialisation (NNDSVDa), a
  sample chosen by a hash of each text's key, and :meth:`TopicModel.align`, which matches the new
  topics to the previous run's by the cosine similarity of their word weights (Hungarian
  assignment): a matched topic keeps its id and its label.

Examples
--------
>>> texts = ["parcel late, tracking not updated", "tracking shows nothing, parcel lost",
...          "where is my parcel, tracking stuck", "charged twice for my order, refund please",
...          "refund the double charge", "double charge on my card, need a refund"] * 5
>>> model = TopicModel(n_topics=2, min_df=1).fit(texts)
>>> sorted(model.labels_)
['Billing and payment', 'Delivery and tracking']
>>> topic, weight = model.assign(["my parcel is late", "a double charge", "nothing known here"])
>>> [model.labels_[i] if i >= 0 else None for i in topic]
['Delivery and tracking', 'Billing and payment', None]
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import NMF
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

#: Words that say nothing about what a shop text is about.
SHOP_STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | frozenset(
    """hi hello hey thanks thank thx pls please im ive id ill dont doesnt didnt cant wont isnt wasnt
    just really got get like know need want wanted let would could can will also still one two
    bit lot order ordered hasn doesn didn isn wasn haven couldn wouldn shouldn aren weren won don
    regards best quite sort""".split()
)

#: Common shop themes: a topic whose top words overlap one of these enough is named by it.
THEMES: dict[str, frozenset] = {name: frozenset(words.split()) for name, words in {
    "Delivery and tracking": "delivery deliver delivered arrived arrive arriving tracking track parcel package "
                             "late shipping shipped courier lost waiting week weeks days supposed",
    "Damaged or broken items": "damaged damage broken broke cracked crushed torn ripped leaks leaking shattered "
                               "replacement defective",
    "Returns and refunds": "return returning returned refund refunded exchange send back unopened expected",
    "Billing and payment": "charged charge twice invoice payment card billing bill company statement double "
                           "overcharged receipt",
    "Discount codes": "discount code codes promo coupon voucher apply applied difference",
    "Subscriptions": "subscription subscriptions skip pause month monthly renew renewal decaf switch travel",
    "Account and login": "account login log password reset email address update",
    "Order changes": "change address moved add switch wrong grind shipped hasn bean",
    "Product questions": "recommend grind size pour fresh stay opened work available anymore press long",
    "Taste and quality": "taste tastes tasted flavour flavor bitter smooth delicious fresh stale quality notes "
                         "morning ritual best amazing fantastic",
    "Price and value": "price pricey expensive value worth cheap overpriced money sale full",
    "Packaging": "packaging packed bag bags box wrapped packed",
    "Customer service": "service support staff helpful answered answer response rude friendly people",
    "Website and app": "website site app checkout online easier",
}.items()}
#: A topic is named after a theme when this share of its top words' weight falls in the theme.
THEME_MIN_SHARE = 0.3
TOP_WORDS = 10
#: Top words per topic scored for coherence: short texts rarely share more than a few words.
COHERENCE_WORDS = 5
#: Words per topic kept for matching the next run's topics.
SIGNATURE_WORDS = 30
MIN_SIMILARITY = 0.3


def opinion_words() -> frozenset:
    """Strong opinion words (VADER valence of 1.5 or more either way) that name no shop theme:
    left out of topics, which should say what a text is about, not how the writer felt (the
    sentiment score says that)."""
    from regulars.text.sentiment import vader_lexicon

    themed = frozenset().union(*THEMES.values())
    return frozenset(w for w, v in vader_lexicon().items() if abs(v) >= 1.5 and w.isalpha()) - themed


def stable_sample(keys: Sequence[str], size: int) -> np.ndarray:
    """Positions of the *size* keys with the smallest hash, in their original order: the choice does
    not depend on the order of the keys, and a new key displaces one only when its hash is smaller.

    >>> keys = ["a", "b", "c", "d", "e"]
    >>> chosen = {keys[i] for i in stable_sample(keys, 2)}
    >>> chosen == {keys[::-1][i] for i in stable_sample(keys[::-1], 2)}
    True
    """
    if len(keys) <= size:
        return np.arange(len(keys))
    h = np.array([int.from_bytes(hashlib.blake2b(str(k).encode(), digest_size=8).digest(), "big") for k in keys],
                 dtype=np.uint64)
    return np.sort(np.argsort(h, kind="stable")[:size])


def _npmi(binary, top: list[np.ndarray]) -> float:
    """Mean normalised pointwise mutual information of each topic's top-word pairs (document co-occurrence)."""
    n = binary.shape[0]
    words = np.unique(np.concatenate(top))
    sub = binary[:, words].astype(np.float64)
    co = (sub.T @ sub).toarray() / n
    p = np.diag(co).copy()
    pos = {w: i for i, w in enumerate(words)}
    scores = []
    for t in top:
        idx = [pos[w] for w in t]
        for a in range(len(idx)):
            for b in range(a + 1, len(idx)):
                pij = co[idx[a], idx[b]]
                if pij <= 0:
                    scores.append(-1.0)
                    continue
                scores.append(np.log(pij / (p[idx[a]] * p[idx[b]])) / -np.log(pij))
    return float(np.mean(scores)) if scores else -1.0


def label_topic(words: Sequence[str], weights: Sequence[float]) -> str:
    """A readable name for a topic: the best-matching :data:`THEMES` entry, else its top three words.

    >>> label_topic(["refund", "return", "sent"], [0.5, 0.4, 0.1]), label_topic(["foo", "bar", "baz"], [1, 1, 1])
    ('Returns and refunds', 'foo, bar, baz')
    """
    w = np.asarray(weights, dtype=float)
    total = w.sum() or 1.0
    best, share = None, 0.0
    for name, vocab in THEMES.items():
        s = sum(float(x) for word, x in zip(words, w) if word in vocab) / total
        if s > share:
            best, share = name, s
    if best is not None and share >= THEME_MIN_SHARE:
        return best
    return ", ".join(words[:3])


class TopicModel(TransformerMixin, BaseEstimator):
    """TF-IDF + NMF topics with readable labels and ids kept across refreshes.

    Parameters
    ----------
    n_topics : int or "auto"
        Number of topics, or chosen by topic quality between ``min_topics`` and ``max_topics``.
    min_topics, max_topics : int
    max_features : int
        Vocabulary size (most frequent words).
    min_df : int
        A word must appear in this many texts.
    max_df : float
        Words in more than this share of texts are ignored (they describe every text).
    sample_size : int
        Texts the vectoriser and the factorisation are fitted on (all texts are then assigned).
    previous_topics : int, optional
        The previous run's topic count, kept unless another count scores clearly better.
    extra_stop_words : collection of str, optional
        More words to ignore: the text job passes the words of the shop's product names (which
        product a text is about is known; a topic should say what is said about it) and its
        customers' names (a topic's words are shown to people who may not see personal data).
    random_state : int
    """

    def __init__(self, n_topics: int | str = "auto", min_topics: int = 5, max_topics: int = 12,
                 max_features: int = 5000, min_df: int = 3, max_df: float = 0.5, sample_size: int = 30_000,
                 previous_topics: int | None = None, extra_stop_words=(), random_state: int = 0):
        self.n_topics = n_topics
        self.min_topics = min_topics
        self.max_topics = max_topics
        self.max_features = max_features
        self.min_df = min_df
        self.max_df = max_df
        self.sample_size = sample_size
        self.previous_topics = previous_topics
        self.extra_stop_words = extra_stop_words
        self.random_state = random_state

    def _vectorizer(self) -> TfidfVectorizer:
        stop = SHOP_STOP_WORDS | opinion_words() | {str(w).lower() for w in self.extra_stop_words}
        return TfidfVectorizer(stop_words=sorted(stop), token_pattern=r"(?u)\b[^\W\d_]{3,}\b",
                               max_features=self.max_features, min_df=self.min_df, max_df=self.max_df,
                               sublinear_tf=True, dtype=np.float32)

    def _nmf(self, k: int, max_iter: int = 400) -> NMF:
        return NMF(n_components=k, init="custom", random_state=self.random_state, max_iter=max_iter, tol=1e-4)

    def _svd(self, X, k: int):
        from sklearn.utils.extmath import randomized_svd

        return randomized_svd(X, k, random_state=self.random_state)

    def _factor(self, X, k: int, svd=None, max_iter: int = 400) -> np.ndarray:
        """NMF with NNDSVDa initialisation (Boutsidis & Gallopoulos 2008) from a truncated SVD that
        may be shared between topic counts (the leading k components of one SVD); returns the topics."""
        U, S, V = svd if svd is not None else self._svd(X, k)
        W0, H0 = _nndsvda(U[:, :k], S[:k], V[:k], float(X.mean()))
        model = self._nmf(k, max_iter)
        model.fit_transform(X, W=W0.astype(X.dtype), H=H0.astype(X.dtype))
        return model

    def fit(self, texts: Sequence[str], keys: Sequence[str] | None = None):
        """Learn the vocabulary and the topics from (a stable sample of) *texts*."""
        texts = ["" if t is None else str(t) for t in texts]
        pick = stable_sample(list(keys) if keys is not None else [str(i) for i in range(len(texts))],
                             self.sample_size)
        sample = [texts[i] for i in pick]
        self.vectorizer_ = self._vectorizer()
        X = self.vectorizer_.fit_transform(sample)
        self.n_texts_ = len(texts)
        self.n_sampled_ = len(sample)
        vocab = np.asarray(self.vectorizer_.get_feature_names_out())
        self.quality_ = {}
        if self.n_topics == "auto":
            k = self._choose(X)
        else:
            k = int(self.n_topics)
        k = max(1, min(k, X.shape[1], X.shape[0]))
        self.nmf_ = self._factor(X, k)
        H = self.nmf_.components_
        self.n_topics_ = k
        order = np.argsort(-H, axis=1)
        self.top_words_ = [vocab[order[i, :TOP_WORDS]].tolist() for i in range(k)]
        self.top_weights_ = [H[i, order[i, :TOP_WORDS]].tolist() for i in range(k)]
        self.signatures_ = []
        for i in range(k):
            top = order[i, :SIGNATURE_WORDS]
            w = H[i, top]
            norm = float(np.linalg.norm(w)) or 1.0
            self.signatures_.append({str(vocab[j]): round(float(x) / norm, 6) for j, x in zip(top, w) if x > 0})
        self.labels_ = _distinct([label_topic(w, x) for w, x in zip(self.top_words_, self.top_weights_)],
                                 self.top_words_)
        self.topic_ids_ = list(range(k))
        return self

    def _choose(self, X) -> int:
        """The topic count with the best quality (coherence x diversity) on a sample of at most 3,000 texts."""
        rows = X[:3000]
        binary = (rows > 0).astype(np.float32).tocsc()
        lo, hi = self.min_topics, max(self.min_topics, min(self.max_topics, X.shape[1] // 3, rows.shape[0] // 10))
        svd = self._svd(rows, hi)
        for k in range(lo, hi + 1):
            H = self._factor(rows, k, svd, max_iter=200).components_
            top = [np.argsort(-H[i])[:COHERENCE_WORDS] for i in range(k)]
            diversity = len(np.unique(np.concatenate(top))) / (k * COHERENCE_WORDS)
            self.quality_[k] = _npmi(binary, top) * diversity
        best = max(self.quality_, key=lambda k: (round(self.quality_[k], 3), -k))
        kept = self.previous_topics
        if kept in self.quality_ and self.quality_[kept] >= 0.95 * self.quality_[best]:
            return kept
        return best

    def transform(self, texts: Sequence[str], normalise: bool = True) -> np.ndarray:
        """Each text's weight on every topic (rows sum to 1 when *normalise*; all zero for a text with
        no known word)."""
        check_is_fitted(self, "nmf_")
        X = self.vectorizer_.transform(["" if t is None else str(t) for t in texts])
        H = self.nmf_.components_.astype(np.float32)
        # least squares with the topics fixed, clipped at zero: the argmax matches NMF.transform
        # on all but near-ties and is a matrix product instead of an iterative solve per text
        W = np.asarray(X @ H.T) @ np.linalg.pinv(H @ H.T).astype(np.float32)
        np.maximum(W, 0, out=W)
        if normalise:
            sums = W.sum(axis=1, keepdims=True)
            np.divide(W, sums, out=W, where=sums > 0)
        return W

    def assign(self, texts: Sequence[str], chunk: int = 100_000, n_jobs: int = -1) -> tuple[np.ndarray, np.ndarray]:
        """The main topic (index into ``top_words_``; -1 when none) and how strongly the text loads on
        it (its unnormalised weight: texts that use many of the topic's words score highest), per text.

        Above :data:`PARALLEL_MIN_TEXTS` texts the chunks are tokenised in parallel processes
        (``n_jobs``, -1 for every core); the result does not depend on it."""
        check_is_fitted(self, "nmf_")
        bounds = list(range(0, len(texts), chunk)) + [len(texts)]
        pieces = [list(texts[a:b]) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
        import os

        cores = os.cpu_count() or 1
        workers = 1 if len(texts) < PARALLEL_MIN_TEXTS else max(1, cores if n_jobs in (-1, None) else min(n_jobs, cores))
        if workers > 1 and len(pieces) > 1:
            import multiprocessing as mp

            global _FORKED_MODEL
            _FORKED_MODEL = self  # inherited by the forked workers: the model is not pickled
            try:
                with mp.get_context("fork").Pool(workers) as pool:
                    parts = pool.map(_assign_forked, pieces)
            finally:
                _FORKED_MODEL = None
        else:
            parts = [self._assign_chunk(p) for p in pieces]
        if not parts:
            return np.zeros(0, dtype=int), np.zeros(0)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _assign_chunk(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        W = self.transform(texts, normalise=False)
        best = W.argmax(axis=1)
        w = W[np.arange(len(best)), best]
        return np.where(w > 0, best, -1), w

    def align(self, previous: Sequence[dict], min_similarity: float = MIN_SIMILARITY) -> list[int | None]:
        """Match these topics to *previous* ones (each ``{"topic_id", "label", "signature"}``).

        A matched topic takes the previous id and label (``topic_ids_``, ``labels_``); the others
        get new ids after the largest previous one. Returns, per topic, the previous id it matched
        (or None).
        """
        check_is_fitted(self, "nmf_")
        previous = list(previous)
        matched: list[int | None] = [None] * self.n_topics_
        if previous:
            sim = np.array([[_cosine(s, p["signature"]) for p in previous] for s in self.signatures_])
            rows, cols = linear_sum_assignment(-sim)
            for r, c in zip(rows, cols):
                if sim[r, c] >= min_similarity:
                    matched[r] = int(previous[c]["topic_id"])
        next_id = max((int(p["topic_id"]) for p in previous), default=-1) + 1
        ids, labels = [], []
        old_labels = {int(p["topic_id"]): p["label"] for p in previous}
        for i in range(self.n_topics_):
            if matched[i] is not None:
                ids.append(matched[i])
                labels.append(old_labels[matched[i]])
            else:
                ids.append(next_id)
                next_id += 1
                labels.append(self.labels_[i])
        self.topic_ids_ = ids
        self.labels_ = _distinct(labels, self.top_words_)
        return matched


PARALLEL_MIN_TEXTS = 100_000
_FORKED_MODEL: "TopicModel | None" = None


def _assign_forked(texts: list[str]):
    return _FORKED_MODEL._assign_chunk(texts)


def _nndsvda(U: np.ndarray, S: np.ndarray, V: np.ndarray, mean: float) -> tuple[np.ndarray, np.ndarray]:
    """NNDSVD initialisation (Boutsidis & Gallopoulos 2008, as in scikit-learn), zeros filled with the
    data's mean ("a" variant), from the leading singular triplets."""
    k = len(S)
    W = np.zeros((U.shape[0], k))
    H = np.zeros((k, V.shape[1]))
    W[:, 0] = np.sqrt(S[0]) * np.abs(U[:, 0])
    H[0, :] = np.sqrt(S[0]) * np.abs(V[0, :])
    for j in range(1, k):
        x, y = U[:, j], V[j, :]
        xp, yp = np.maximum(x, 0), np.maximum(y, 0)
        xn, yn = np.abs(np.minimum(x, 0)), np.abs(np.minimum(y, 0))
        xpn, ypn, xnn, ynn = (float(np.linalg.norm(v)) for v in (xp, yp, xn, yn))
        mp, mn = xpn * ypn, xnn * ynn
        if mp > mn:
            u, v, sigma = xp / max(xpn, 1e-12), yp / max(ypn, 1e-12), mp
        else:
            u, v, sigma = xn / max(xnn, 1e-12), yn / max(ynn, 1e-12), mn
        lbd = np.sqrt(S[j] * sigma)
        W[:, j] = lbd * u
        H[j, :] = lbd * v
    W[W < 1e-6] = 0
    H[H < 1e-6] = 0
    W[W == 0] = mean
    H[H == 0] = mean
    return W, H


def _cosine(a: dict, b: dict) -> float:
    dot = sum(v * b.get(w, 0.0) for w, v in a.items())
    na = np.sqrt(sum(v * v for v in a.values())) or 1.0
    nb = np.sqrt(sum(v * v for v in b.values())) or 1.0
    return float(dot / (na * nb))


def _distinct(labels: list[str], top_words: list[list[str]]) -> list[str]:
    """Labels shared by several topics get the two top words that set each apart:
    'Returns and refunds (label, unopened)', 'Returns and refunds (description, suit)'.

    >>> _distinct(["A", "A", "B"], [["x", "y", "z"], ["x", "u", "v"], ["w"]])
    ['A (y, z)', 'A (u, v)', 'B']
    """
    out = list(labels)
    for lab in set(labels):
        same = [i for i, x in enumerate(labels) if x == lab]
        if len(same) < 2:
            continue
        theme = THEMES.get(lab, frozenset())
        for i in same:
            others = set().union(*(set(top_words[j][:3]) for j in same if j != i))
            words = [w for w in top_words[i] if w not in theme and w not in others][:2] or top_words[i][:2]
            out[i] = f"{lab} ({', '.join(words)})"
    seen: dict[str, int] = {}
    for i, lab in enumerate(out):  # still equal (identical top words): number them
        seen[lab] = seen.get(lab, 0) + 1
        if seen[lab] > 1:
            out[i] = f"{lab} #{seen[lab]}"
    return out
