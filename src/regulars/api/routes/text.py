"""Text routes: topics and sentiment of reviews, tickets and survey comments; run the analysis.

Each calls the same function as the dashboard's Text page (:mod:`regulars.server.text_views`).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request

from regulars.api.routes._common import ERRORS, JSON, example
from regulars.server import text_views
from regulars.server.read import read_view
from regulars.server.security import Principal, require

router = APIRouter(tags=["text"])


@router.get(
    "/text/topics",
    summary="Topics of reviews, tickets and survey comments, with trends and example quotes",
    description="Per source, each topic's label and top words, number and share of texts, mean sentiment "
    "(-1..+1), share of negative texts, texts per month, whether it is emerging (a significantly larger share "
    "of the last 90 days), and example quotes. Viewers get quotes with personal data masked. Only English "
    "texts are analysed; `run.languages` counts the others.",
    responses={**ERRORS, **example({"run": {"run_id": "t-20250101", "texts": 3200, "analysed": 3150,
                                            "languages": {"en": 3150, "de": 50}}, "pii_masked": True, "notes": [],
                                    "sources": [{"source": "tickets", "name": "support tickets", "topics": [{
                                        "topic_id": 3, "label": "Delivery and tracking",
                                        "top_words": ["tracking", "parcel", "arrived"], "texts": 420, "share": 0.18,
                                        "mean_sentiment": -0.21, "negative_share": 0.55, "emerging": False,
                                        "trend": {"months": ["2024-11", "2024-12"], "texts": [31, 44]},
                                        "examples": [{"text": "Hi, this is [name]. Where is my parcel?",
                                                      "sentiment": "neutral"}]}]}]})},
)
def get_topics(request: Request, principal: Principal = Depends(require("viewer")), ws=Depends(read_view)):
    return JSON(text_views.topics(request, ws, include_pii=principal.sees_pii))


@router.get(
    "/text/sentiment",
    summary="Sentiment of what customers write, overall or by month, product, segment or source",
    description="Texts, texts analysed (English), mean VADER compound score (-1..+1), shares of positive and "
    "negative texts, mean review rating and mean ticket CSAT per group.",
    responses={**ERRORS, **example({"by": "month", "overall": {"group": "all", "texts": 3200, "analysed": 3150,
                                                               "mean_sentiment": 0.31},
                                    "rows": [{"group": "2024-12", "texts": 280, "analysed": 276,
                                              "mean_sentiment": 0.28, "positive_share": 0.61,
                                              "negative_share": 0.22, "mean_rating": 4.1, "mean_csat": 3.6}],
                                    "notes": []})},
)
def get_sentiment(request: Request, principal: Principal = Depends(require("viewer")), ws=Depends(read_view),
                  by: Literal["month", "product", "segment", "source"] | None = Query(None)):
    return JSON(text_views.sentiment(request, ws, by=by))


@router.post(
    "/text/analyse",
    summary="Run the text analysis now (analyst)",
    description="Detects languages, scores sentiment and refits the topics of every text (topics keep their ids "
    "from the previous run when they match). Takes seconds to a minute on a large shop.",
    responses={**ERRORS, **example({"run_id": "t-20250101", "texts": 3200, "analysed": 3150,
                                    "languages": {"en": 3150}, "topics": {"tickets": 8}, "notes": []})},
)
def post_analyse(request: Request, principal: Principal = Depends(require("analyst"))):
    return JSON(text_views.analyse(request))
