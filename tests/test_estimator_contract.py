"""scikit-learn's estimator contract over every estimator in regulars (issue 15, item 5).

**Which estimators.** Every class deriving from scikit-learn's ``BaseEstimator`` in any module of
``regulars`` is found by walking the package (:func:`_estimators`), so a new estimator is covered
without touching this file: it must get an entry in :data:`EXAMPLES` (how to build it and fit it on
its own kind of data) and, when scikit-learn's checks do not apply to its data, in
:data:`EXEMPTIONS`. Abstract bases are listed in :data:`BASES`; a class with a ``fit`` method that
is not an estimator fails :func:`test_every_class_with_fit_is_an_estimator`.

**scikit-learn's own checks** (:func:`test_check_estimator`): ``check_estimator`` runs on each,
built as in :data:`EXAMPLES`. Most of our estimators are not fitted on an arbitrary numeric ``X``
(and ``y``) but on data with a meaning: an RFM summary, interaction frames keyed by product ids,
texts, daily sales, named lead features, a treatment flag. The checks that fit them on
scikit-learn's random arrays (:data:`FITS_ON_RANDOM_ARRAYS`) cannot pass and are exempt, with that
reason, per estimator; every other check (parameters, ``clone``, ``repr``, tags, nothing set in
``__init__``, ``NotFittedError`` when unfitted) must pass. The exemptions are exact: a check that
is listed but passes fails the test too (take it off the list), so they only shrink.

**The contract on the estimator's own data** (:func:`test_the_contract_on_its_own_data`), for
every estimator: ``fit`` returns ``self``; hyperparameters are left as given; learned attributes
end in ``_`` and exist only after ``fit``; using it before ``fit`` raises ``NotFittedError``;
``clone`` of a fitted estimator is an unfitted one with the same parameters; a pickled copy gives
the same results.
"""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import pickle
import pkgutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import check_estimator
from sklearn.utils.validation import check_is_fitted

import regulars


def _estimators() -> dict[str, type]:
    """``module.Class`` (without ``regulars.``) -> class, for every BaseEstimator defined in regulars."""
    found = {}
    for info in pkgutil.walk_packages(regulars.__path__, "regulars."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and obj.__module__ == module.__name__ and issubclass(obj, BaseEstimator):
                found[f"{module.__name__.removeprefix('regulars.')}.{name}"] = obj
    return found


def _classes_with_fit() -> dict[str, type]:
    found = {}
    for info in pkgutil.walk_packages(regulars.__path__, "regulars."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and obj.__module__ == module.__name__ and callable(getattr(obj, "fit", None)):
                found[f"{module.__name__.removeprefix('regulars.')}.{name}"] = obj
    return found


#: Abstract bases (not used on their own; every subclass is checked), and why.
BASES = {
    "models._base.MaximumLikelihoodModel": "the maximum-likelihood machinery of the BTYD and Gamma-Gamma models",
    "models._base.TransactionModel": "the fit(frequency, recency, T) of BG/NBD, MBG/NBD and Pareto/NBD",
    "recommend.base.BaseRecommender": "fit/recommend shared by the recommenders",
    "experiments.uplift._Base": "the hyperparameters shared by the T- and X-learner",
}

#: Classes with a ``fit`` that are deliberately not scikit-learn estimators, and why.
NOT_ESTIMATORS = {
    "recommend.rules.ProductKinds": "business rules (durable or consumable) fitted on the interaction "
    "matrix inside the hybrid recommender; no hyperparameter search or clone applies",
}

#: The checks that fit the estimator on scikit-learn's own random numeric arrays (X, y).
FITS_ON_RANDOM_ARRAYS = frozenset({
    "check_complex_data", "check_dict_unchanged", "check_dont_overwrite_parameters", "check_dtype_object",
    "check_estimator_sparse_array", "check_estimator_sparse_matrix", "check_estimator_sparse_tag",
    "check_estimators_dtypes", "check_estimators_empty_data_messages", "check_estimators_fit_returns_self",
    "check_estimators_nan_inf", "check_estimators_overwrite_params", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_fit2d_1feature", "check_fit2d_1sample", "check_fit2d_predict1d",
    "check_fit_check_is_fitted", "check_fit_idempotent", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_n_features_in", "check_n_features_in_after_fitting",
    "check_pipeline_consistency", "check_positive_only_tag_during_fit", "check_readonly_memmap_input",
})
#: ``fit`` takes its data under other names than (X, y): scikit-learn checks the signature.
NOT_X_Y = frozenset({"check_fit_score_takes_y"})
#: A 1-d input is not refused by a ValueError (the check expects one).
TAKES_1D = frozenset({"check_fit1d"})
#: The transformer and clusterer checks, which also fit on random arrays.
TRANSFORMS_RANDOM_ARRAYS = frozenset({"check_transformer_data_not_an_array", "check_transformer_general"})

RFM = "fitted on an RFM summary (frequency, recency, age T: counts and days with recency <= T), not on any X"
SPEND = "fitted on repeat customers' purchase counts and mean spend (positive money), not on any X"
GAPS = "fitted on per-customer gap statistics (count, mean and variance of log gaps), not on any X"
DAILY = "fitted on a frame of daily sales (day, orders, revenue), not on any X"
INTERACTIONS = ("fitted on an interaction frame (customer_id, product_id, purchases, dates) and the catalogue, "
                "as of a date, not on numeric arrays")
TEXTS = "fitted on texts (reviews, complaints), not on numeric arrays"
UPLIFT = "fit(X, y, treatment): the treatment flag is a third argument scikit-learn's checks do not pass"

#: Estimator -> (why scikit-learn's checks do not all apply, the checks expected to fail).
EXEMPTIONS: dict[str, tuple[str, frozenset]] = {
    "models.beta_geo.BetaGeoModel": (RFM, FITS_ON_RANDOM_ARRAYS | NOT_X_Y | TAKES_1D),
    "models.modified_beta_geo.ModifiedBetaGeoModel": (RFM, FITS_ON_RANDOM_ARRAYS | NOT_X_Y | TAKES_1D),
    "models.pareto_nbd.ParetoNBDModel": (RFM, FITS_ON_RANDOM_ARRAYS | NOT_X_Y | TAKES_1D),
    "models.gamma_gamma.GammaGammaModel": (SPEND, FITS_ON_RANDOM_ARRAYS | NOT_X_Y),
    "models.next_order.NextOrderEstimator": (GAPS, FITS_ON_RANDOM_ARRAYS | NOT_X_Y | TAKES_1D),
    "models.forecast.DemandForecaster": (DAILY, FITS_ON_RANDOM_ARRAYS | NOT_X_Y | TAKES_1D),
    "models.naive_forecast.SeasonalNaiveForecaster": (DAILY, FITS_ON_RANDOM_ARRAYS | NOT_X_Y | TAKES_1D),
    "models.leads.LeadScorer": (
        "fitted on a frame of the named lead features (models.leads.LEAD_FEATURES, days since and counts of "
        "activity); without enough conversions it scores by rules, so it does not learn from an unnamed X",
        frozenset({
            "check_n_features_in_after_fitting", "check_estimators_dtypes", "check_complex_data", "check_dtype_object",
            "check_estimators_empty_data_messages", "check_estimators_nan_inf", "check_estimator_sparse_array",
            "check_estimator_sparse_matrix", "check_estimators_pickle", "check_f_contiguous_array_estimator",
            "check_methods_sample_order_invariance", "check_methods_subset_invariance", "check_dict_unchanged",
            "check_fit_idempotent", "check_fit_check_is_fitted", "check_n_features_in", "check_fit1d",
            "check_fit2d_predict1d",
        })),
    "experiments.uplift.TLearner": (UPLIFT, FITS_ON_RANDOM_ARRAYS | NOT_X_Y | TAKES_1D),
    "experiments.uplift.XLearner": (UPLIFT, FITS_ON_RANDOM_ARRAYS | NOT_X_Y | TAKES_1D),
    "recommend.content.ContentRecommender": (INTERACTIONS, FITS_ON_RANDOM_ARRAYS | NOT_X_Y),
    "recommend.hybrid.HybridRecommender": (INTERACTIONS, FITS_ON_RANDOM_ARRAYS | NOT_X_Y),
    "recommend.item_knn.ItemKNNRecommender": (INTERACTIONS, FITS_ON_RANDOM_ARRAYS | NOT_X_Y),
    "recommend.popularity.PopularityRecommender": (INTERACTIONS, FITS_ON_RANDOM_ARRAYS | NOT_X_Y),
    "recommend.repeat.UsualOrderRecommender": (INTERACTIONS, FITS_ON_RANDOM_ARRAYS | NOT_X_Y),
    "recommend.repeat.ReplenishmentRecommender": (INTERACTIONS, FITS_ON_RANDOM_ARRAYS | NOT_X_Y),
    "recommend.together.FrequentlyBoughtTogether": (INTERACTIONS, FITS_ON_RANDOM_ARRAYS | NOT_X_Y),
    "segments.clusters.BehaviouralClusters": (
        "fitted on a frame of the named behavioural features (segments.clusters.FEATURES); random arrays have "
        "none of those columns", FITS_ON_RANDOM_ARRAYS | NOT_X_Y | TRANSFORMS_RANDOM_ARRAYS | {"check_clustering"}),
    "text.topics.TopicModel": (TEXTS, FITS_ON_RANDOM_ARRAYS | NOT_X_Y | TRANSFORMS_RANDOM_ARRAYS
                               | {"check_transformer_preserve_dtypes"}),
    "text.complaints.ComplaintTopics": (
        TEXTS + "; below min_texts (50) it learns no topic and counts every text as 'other', so scikit-learn's "
        "small arrays fit, but nothing checks them as numbers (NaN, sparse, complex, feature counts)",
        NOT_X_Y | TAKES_1D | TRANSFORMS_RANDOM_ARRAYS | {
            "check_complex_data", "check_dtype_object", "check_estimator_sparse_array", "check_estimator_sparse_matrix",
            "check_estimator_sparse_tag", "check_estimators_empty_data_messages", "check_estimators_nan_inf",
            "check_fit2d_predict1d", "check_n_features_in", "check_n_features_in_after_fitting"}),
    "models.churn.CalibratedBoostingClassifier": (
        "a binary classifier calibrated on a held-out quarter: scikit-learn's tiniest sets leave that quarter "
        "one class (NotEnoughData), and predict thresholds the calibrated probability while decision_function "
        "is the raw tree score", frozenset({"check_f_contiguous_array_estimator", "check_fit2d_1feature",
                                            "check_classifiers_classes"})),
}
EXEMPTIONS["models.churn.ChurnModel"] = EXEMPTIONS["models.churn.CalibratedBoostingClassifier"]
EXEMPTIONS["models.propensity.PurchasePropensityModel"] = EXEMPTIONS["models.churn.CalibratedBoostingClassifier"]


# --- each estimator on its own kind of data -------------------------------------------------------

AS_OF = dt.date(2024, 6, 1)
RNG = np.random.default_rng(7)


def _rfm(n: int = 400):
    T = RNG.uniform(30, 365, n).round()
    frequency = RNG.poisson(2.0, n).astype(float)
    recency = np.where(frequency > 0, (RNG.uniform(0.1, 1.0, n) * T).round(), 0.0)
    return frequency, recency, T


def _spend(n: int = 300):
    frequency = RNG.integers(1, 8, n).astype(float)
    return frequency, RNG.gamma(4.0, 10.0, n).round(2)


def _daily(days: int = 120) -> pd.DataFrame:
    day = pd.date_range(AS_OF - dt.timedelta(days=days), periods=days, freq="D")
    orders = np.where(day.day_of_week >= 5, 30, 20) + RNG.integers(-3, 4, days)
    return pd.DataFrame({"day": day.date, "orders": orders, "revenue": orders * 25.0})


def _leads(n: int = 60) -> pd.DataFrame:
    from regulars.models.leads import LEAD_FEATURES

    frame = pd.DataFrame({name: RNG.integers(0, 10, n).astype(float) for name in LEAD_FEATURES})
    frame["accepts_email"] = RNG.integers(0, 2, n)
    return frame


def _interactions() -> dict:
    rows = []
    for c in range(30):
        for p in RNG.choice(6, size=3, replace=False):
            ago = int(RNG.integers(1, 200))
            rows.append((f"c{c}", f"p{p}", int(RNG.integers(1, 4)), AS_OF - dt.timedelta(days=ago)))
    frame = pd.DataFrame(rows, columns=["customer_id", "product_id", "purchases", "last_purchase_day"])
    frame["first_purchase_day"] = frame["last_purchase_day"]
    frame["customer_orders"] = frame.groupby("customer_id")["purchases"].transform("sum")
    products = pd.DataFrame({"product_id": [f"p{p}" for p in range(6)],
                             "name": ["Ethiopia beans", "Decaf beans", "Paper filters", "Kettle", "Grinder", "Green tea"],
                             "category": ["coffee", "coffee", "accessories", "equipment", "equipment", "tea"],
                             "price": [15.0, 15.0, 5.0, 80.0, 120.0, 10.0], "is_active": [True] * 6})
    baskets = pd.DataFrame({"basket": np.repeat(np.arange(20), 2),
                            "product_id": [f"p{p}" for pair in RNG.integers(0, 6, (20, 2)) for p in pair]})
    schedule = pd.DataFrame({"customer_id": ["c0", "c1"], "product_id": ["p0", "p1"],
                             "due_date": [AS_OF + dt.timedelta(days=5)] * 2, "due_lower": [AS_OF] * 2,
                             "due_upper": [AS_OF + dt.timedelta(days=10)] * 2, "typical_interval_days": [30.0, 30.0]})
    return {"interactions": frame, "products": products, "baskets": baskets, "schedule": schedule}


def _texts() -> list[str]:
    path = Path(__file__).parent / "text" / "labelled_texts.psv"
    return pd.read_csv(path, sep="|")["text"].astype(str).tolist()


def _behaviour(n: int = 300) -> pd.DataFrame:
    from regulars.segments.clusters import FEATURES

    centres = RNG.uniform(0, 5, (3, len(FEATURES)))
    X = np.abs(centres[RNG.integers(0, 3, n)] + RNG.normal(0, 0.3, (n, len(FEATURES))))
    frame = pd.DataFrame(X, columns=list(FEATURES))
    for share in ("discount_share", "category_focus", "email_engagement"):
        frame[share] = frame[share] / frame[share].max()
    return frame


def _classification(n: int = 400):
    X = RNG.normal(size=(n, 3))
    return X, (X[:, 0] + 0.5 * RNG.normal(size=n) > 0).astype(int)


def _uplift(n: int = 400):
    X, y = _classification(n)
    return X, y, RNG.integers(0, 2, n)


def _recommender(cls, **data_keys):
    def example():
        data = _interactions()
        extra = {k: data[k] for k in data_keys.get("with", ())}
        return cls(), (data["interactions"], AS_OF), extra, lambda est: est.recommend(["c0", "c1", "new"], k=3)
    return example


def _btyd(cls):
    def example():
        f, r, T = _rfm()
        return cls(), (f, r, T), {}, lambda est: est.probability_alive(f, r, T)
    return example


def _examples() -> dict:
    from regulars.experiments.uplift import TLearner, XLearner
    from regulars.models.beta_geo import BetaGeoModel
    from regulars.models.churn import CalibratedBoostingClassifier, ChurnModel
    from regulars.models.forecast import DemandForecaster
    from regulars.models.gamma_gamma import GammaGammaModel
    from regulars.models.leads import LeadScorer
    from regulars.models.modified_beta_geo import ModifiedBetaGeoModel
    from regulars.models.naive_forecast import SeasonalNaiveForecaster
    from regulars.models.next_order import NextOrderEstimator
    from regulars.models.pareto_nbd import ParetoNBDModel
    from regulars.models.propensity import PurchasePropensityModel
    from regulars.recommend import (ContentRecommender, FrequentlyBoughtTogether, HybridRecommender,
                                    ItemKNNRecommender, PopularityRecommender, ReplenishmentRecommender,
                                    UsualOrderRecommender)
    from regulars.segments.clusters import BehaviouralClusters
    from regulars.text.complaints import ComplaintTopics
    from regulars.text.topics import TopicModel

    def spend():
        f, m = _spend()
        return GammaGammaModel(), (f, m), {}, lambda est: est.expected_spend(f, m)

    def gaps():
        k = RNG.integers(1, 6, 50).astype(float)
        mean, var = RNG.normal(np.log(30), 0.3, 50), RNG.uniform(0.05, 0.5, 50)
        use = lambda est: est.quantiles((0.1, 0.5, 0.9), k, mean, var, np.full(50, 10.0), k + 1, np.full(50, 200.0))  # noqa: E731
        return NextOrderEstimator(), (k, mean, var), {}, use

    def daily(cls):
        return lambda: (cls(), (_daily(),), {}, lambda est: est.forecast(14))

    def leads():
        X = _leads()
        return LeadScorer(), (X,), {}, lambda est: est.predict(X)

    def classifier(cls, **params):
        def example():
            X, y = _classification()
            return cls(**params), (X, y), {}, lambda est: est.predict_proba(X)
        return example

    def uplift(cls):
        def example():
            X, y, t = _uplift()
            return cls(n_estimators=20), (X, y, t), {}, lambda est: est.predict_uplift(X)
        return example

    def clusters():
        X = _behaviour()
        return BehaviouralClusters(n_clusters=3), (X,), {}, lambda est: est.predict(X)

    def topics(cls, **params):
        def example():
            texts = _texts()
            return cls(**params), (texts,), {}, lambda est: est.transform(texts[:20])
        return example

    return {
        "models.beta_geo.BetaGeoModel": _btyd(BetaGeoModel),
        "models.modified_beta_geo.ModifiedBetaGeoModel": _btyd(ModifiedBetaGeoModel),
        "models.pareto_nbd.ParetoNBDModel": _btyd(ParetoNBDModel),
        "models.gamma_gamma.GammaGammaModel": spend,
        "models.next_order.NextOrderEstimator": gaps,
        "models.forecast.DemandForecaster": daily(DemandForecaster),
        "models.naive_forecast.SeasonalNaiveForecaster": daily(SeasonalNaiveForecaster),
        "models.leads.LeadScorer": leads,
        # fewer trees than the default keep scikit-learn's ~55 checks at a few seconds
        "models.churn.CalibratedBoostingClassifier": classifier(CalibratedBoostingClassifier, n_estimators=20),
        "models.churn.ChurnModel": classifier(ChurnModel, n_estimators=20),
        "models.propensity.PurchasePropensityModel": classifier(PurchasePropensityModel, n_estimators=20),
        "experiments.uplift.TLearner": uplift(TLearner),
        "experiments.uplift.XLearner": uplift(XLearner),
        "recommend.content.ContentRecommender": _recommender(ContentRecommender, **{"with": ["products"]}),
        "recommend.hybrid.HybridRecommender": _recommender(HybridRecommender, **{"with": ["products", "baskets",
                                                                                         "schedule"]}),
        "recommend.item_knn.ItemKNNRecommender": _recommender(ItemKNNRecommender, **{"with": ["products"]}),
        "recommend.popularity.PopularityRecommender": _recommender(PopularityRecommender),
        "recommend.repeat.UsualOrderRecommender": _recommender(UsualOrderRecommender),
        "recommend.repeat.ReplenishmentRecommender": _recommender(ReplenishmentRecommender, **{"with": ["schedule"]}),
        "recommend.together.FrequentlyBoughtTogether": _recommender(FrequentlyBoughtTogether,
                                                                    **{"with": ["baskets", "products"]}),
        "segments.clusters.BehaviouralClusters": clusters,
        # min_df 2: the labelled texts are a few hundred short sentences
        "text.topics.TopicModel": topics(TopicModel, n_topics=5, min_df=2),
        "text.complaints.ComplaintTopics": topics(ComplaintTopics, n_topics=5, min_df=2),
    }


EXAMPLES = _examples()
ESTIMATORS = {name: cls for name, cls in _estimators().items() if name not in BASES}


def test_every_estimator_is_covered():
    found = _estimators()
    assert set(BASES) <= set(found), f"listed bases that are gone: {sorted(set(BASES) - set(found))}"
    for base in BASES:
        assert any(issubclass(c, found[base]) for n, c in ESTIMATORS.items()), f"{base} has no checked subclass"
    assert set(ESTIMATORS) == set(EXAMPLES), (
        f"add an example to EXAMPLES for {sorted(set(ESTIMATORS) - set(EXAMPLES))}; "
        f"gone: {sorted(set(EXAMPLES) - set(ESTIMATORS))}")
    assert set(EXEMPTIONS) <= set(ESTIMATORS)
    assert len(ESTIMATORS) >= 23  # models, segments, recommend, text, experiments


def test_every_class_with_fit_is_an_estimator():
    classes = _classes_with_fit()
    not_estimators = {name for name, cls in classes.items() if not issubclass(cls, BaseEstimator)}
    assert not_estimators == set(NOT_ESTIMATORS)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_check_estimator(name):
    estimator = EXAMPLES[name]()[0]
    reason, expected = EXEMPTIONS.get(name, ("", frozenset()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(estimator, on_fail=None)
    failed = {r["check_name"]: str(r["exception"]).splitlines()[0][:160] if str(r["exception"]) else repr(r["exception"])
              for r in results if r["status"] == "failed"}
    passed = {r["check_name"] for r in results if r["status"] == "passed"}
    assert len(results) > 40
    unexpected = {k: v for k, v in failed.items() if k not in expected}
    assert not unexpected, f"{name} fails scikit-learn checks not exempted ({reason or 'no exemption'}): {unexpected}"
    now_passing = expected & passed
    assert not now_passing, f"{name} now passes {sorted(now_passing)}: take them out of EXEMPTIONS"
    ran = {r["check_name"] for r in results}
    assert expected <= ran, f"{name}: exempted checks scikit-learn no longer runs: {sorted(expected - ran)}"


def _learned(estimator) -> list[str]:
    return sorted(k for k in vars(estimator) if k.endswith("_") and not k.startswith("_"))


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_the_contract_on_its_own_data(name):
    estimator, args, kwargs, use = EXAMPLES[name]()
    params = {k: repr(v) for k, v in estimator.get_params().items()}
    assert _learned(estimator) == [], f"{name}: learned attributes set before fit"
    with pytest.raises(NotFittedError):
        use(estimator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = estimator.fit(*args, **kwargs)
    assert fitted is estimator, f"{name}.fit does not return self"
    assert {k: repr(v) for k, v in estimator.get_params().items()} == params, f"{name}.fit changed a hyperparameter"
    assert _learned(estimator), f"{name}: no learned attribute ending in _ after fit"
    check_is_fitted(estimator)
    before = use(estimator)
    copy = clone(estimator)
    assert _learned(copy) == [] and {k: repr(v) for k, v in copy.get_params().items()} == params
    with pytest.raises(NotFittedError):
        use(copy)
    again = use(pickle.loads(pickle.dumps(estimator)))
    if isinstance(before, pd.DataFrame):
        pd.testing.assert_frame_equal(again, before)
    else:
        np.testing.assert_array_equal(np.asarray(again), np.asarray(before))


def test_the_classifier_learns_any_two_labels_from_arrays():
    from regulars.models.churn import CalibratedBoostingClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 3))
    y = np.where(X[:, 0] + 0.3 * rng.normal(size=2000) > 0, "stays", "leaves")
    model = CalibratedBoostingClassifier(n_estimators=30).fit(X, y)
    assert list(model.classes_) == ["leaves", "stays"] and not hasattr(model, "feature_names_in_")
    assert (model.predict(X) == y).mean() > 0.85
    assert model.predict_proba(X).shape == (2000, 2)
    with pytest.raises(ValueError, match="Only binary"):
        clone(model).fit(X, np.arange(2000) % 3)
    with pytest.raises(ValueError, match="expecting 3 features"):
        model.predict(X[:, :2])
