"""Recommendations: what to offer each customer, and frequently bought together.

Every recommender follows one interface (:class:`~regulars.recommend.base.BaseRecommender`):
``fit(interactions, as_of, **data)`` then ``recommend(customer_ids, k)``, frames in and out,
no database. ``docs/recommendations.md`` explains each one and how they are evaluated.

>>> from regulars.recommend import HybridRecommender, PopularityRecommender
>>> HybridRecommender().get_params()["horizon_days"]
30
"""

from regulars.recommend.content import ContentRecommender
from regulars.recommend.hybrid import HybridRecommender
from regulars.recommend.item_knn import ItemKNNRecommender
from regulars.recommend.matrix import InteractionMatrix
from regulars.recommend.popularity import PopularityRecommender
from regulars.recommend.repeat import ReplenishmentRecommender, UsualOrderRecommender
from regulars.recommend.together import FrequentlyBoughtTogether, association_rules

__all__ = [
    "ContentRecommender",
    "FrequentlyBoughtTogether",
    "HybridRecommender",
    "InteractionMatrix",
    "ItemKNNRecommender",
    "PopularityRecommender",
    "ReplenishmentRecommender",
    "UsualOrderRecommender",
    "association_rules",
]
