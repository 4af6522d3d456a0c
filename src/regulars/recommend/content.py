"""Content-based recommendations: products like the ones a customer bought, by what they are.

Each product is described by its name (TF-IDF of words and word pairs, Salton & Buckley 1988,
"Term-weighting approaches in automatic text retrieval"), its category and its brand (one-hot,
weighted) and its price band (cheap / middle / dear within its category). A customer's
profile is the confidence-weighted sum of the descriptions of what she interacted with; a
product's score is the cosine between her profile and its description (Pazzani & Billsus
2007, "Content-based recommendation systems", The Adaptive Web). It needs no other
customer's behaviour, so it reaches **new products** nobody has bought yet and customers with
**one or two purchases**, where collaborative filtering has little to go on.

Examples
--------
>>> import pandas as pd
>>> products = pd.DataFrame({"product_id": ["p1", "p2", "p3"],
...     "name": ["Ethiopia Guji coffee", "Ethiopia Sidamo coffee", "Gooseneck kettle"],
...     "category": ["coffee", "coffee", "equipment"]})
>>> frame = pd.DataFrame({"customer_id": ["a"], "product_id": ["p1"], "purchases": [1]})
>>> rec = ContentRecommender().fit(frame, "2024-01-01", products=products)
>>> rec.recommend(["a"], k=1)[["product_id", "reason"]].values.tolist()
[['p2', 'like Ethiopia Guji coffee you bought (same category: coffee)']]
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from regulars.recommend.base import BaseRecommender
from regulars.recommend.item_knn import DENSE_MAX
from regulars.recommend.matrix import cells

__all__ = ["ContentRecommender", "product_vectors"]


def product_vectors(products: pd.DataFrame, index: pd.Index, category_weight: float = 1.0,
                    brand_weight: float = 0.3, price_weight: float = 0.2) -> sp.csr_matrix:
    """One L2-normalised row per product of ``index``: name TF-IDF + category + brand + price band."""
    cat = products.drop_duplicates("product_id").set_index("product_id").reindex(index)
    parts = []
    names = cat["name"].fillna("").astype(str) if "name" in cat else pd.Series("", index=index)
    if names.str.strip().any():
        tfidf = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True, token_pattern=r"(?u)\b[^\W\d_]{2,}\b")
        try:
            parts.append(tfidf.fit_transform(names.to_numpy()))
        except ValueError:  # no usable words
            pass
    for column, weight in (("category", category_weight), ("brand", brand_weight)):
        if column in cat and weight > 0 and cat[column].notna().any():
            codes, uniques = pd.factorize(cat[column].astype("string").str.lower())
            has = codes >= 0
            parts.append(sp.csr_matrix((np.full(int(has.sum()), weight), (np.flatnonzero(has), codes[has])),
                                       shape=(len(index), len(uniques))))
    if "price" in cat and price_weight > 0 and cat["price"].notna().any():
        price = pd.to_numeric(cat["price"], errors="coerce")
        group = cat["category"].astype("string") if "category" in cat else pd.Series("all", index=index)
        band = price.groupby(group.fillna("?")).rank(pct=True)
        codes = np.where(band.isna(), -1, np.minimum((band.fillna(0) * 3).astype(int), 2))
        has = codes >= 0
        parts.append(sp.csr_matrix((np.full(int(has.sum()), price_weight), (np.flatnonzero(has), codes[has])),
                                   shape=(len(index), 3)))
    if not parts:
        return sp.csr_matrix((len(index), 1), dtype=np.float32)
    return normalize(sp.hstack(parts).tocsr().astype(np.float32), norm="l2", axis=1)


class ContentRecommender(BaseRecommender):
    """Cosine between the customer's profile and each product's description.

    Parameters
    ----------
    category_weight, brand_weight, price_weight : float
        Weight of the category, the brand and the price band next to the name's TF-IDF.
    exclude_bought : bool, default True
        Score NaN for products the customer already bought.

    Attributes
    ----------
    vectors_ : scipy.sparse.csr_matrix
        One normalised description per product.
    """

    def __init__(self, category_weight: float = 1.0, brand_weight: float = 0.3, price_weight: float = 0.2,
                 exclude_bought: bool = True):
        self.category_weight = category_weight
        self.brand_weight = brand_weight
        self.price_weight = price_weight
        self.exclude_bought = exclude_bought

    def _fit(self, matrix, products: pd.DataFrame | None = None, **_ignored) -> None:
        if products is None:
            products = pd.DataFrame({"product_id": matrix.products})
        self.vectors_ = product_vectors(products, matrix.products, self.category_weight, self.brand_weight,
                                        self.price_weight)
        conf = matrix.weights.copy()
        conf.data = np.log1p(conf.data)
        self.confidence_ = conf.tocsr()
        sim = (self.vectors_ @ self.vectors_.T).tocsr()
        self.described_ = np.asarray(sim.diagonal()).ravel() > 0.5
        sim.setdiag(0)
        self.similarity_ = sim.toarray().astype(np.float32) if matrix.n_products <= DENSE_MAX else sim
        cat = products.drop_duplicates("product_id").set_index("product_id").reindex(matrix.products)
        self.categories_ = cat["category"].astype(object).to_numpy() if "category" in cat else \
            np.full(matrix.n_products, None, dtype=object)

    def _scores(self, rows, ids=None) -> np.ndarray:
        x = self.confidence_[rows[rows >= 0]]
        # cosine to her profile sum_j x_j v_j: ((x S)_i + x_i) / |profile|, with S the products' own cosines
        # (zero diagonal; a described product's cosine with itself is 1)
        described = sp.diags(self.described_.astype(np.float32))
        s = self._spread(rows, x, self.similarity_ + described if sp.issparse(self.similarity_)
                         else self.similarity_ + np.diag(self.described_.astype(np.float32)))
        known = rows >= 0
        if known.any():
            # |profile|^2 = sum_j x_j (x S')_j over her own cells only: gathered, not a dense block made sparse
            r, c = cells(x)
            own = s[np.flatnonzero(known)[r], c]
            squared = np.bincount(r, weights=x.data * np.nan_to_num(own), minlength=x.shape[0])
            norm = np.sqrt(np.maximum(squared, 1e-12))
            s[known] /= norm[:, None].astype(np.float32)
        return s

    def _explain(self, rows, cols, ids=None) -> np.ndarray:
        """Names the product of her history whose description is closest to the chosen one."""
        def sentence(names, bought, j, chosen):
            like = "like " + names + np.where(bought, " you bought", " you looked at")
            same = (self.categories_[j] == self.categories_[chosen]) & pd.notna(self.categories_[j])
            return like.where(~np.asarray(same), like + " (same category: " + pd.Series(self.categories_[j]).astype(str) + ")")

        return self._name_strongest(rows, cols, self.confidence_[rows[rows >= 0]], self.similarity_,
                                    "matches what you usually look at", sentence)
