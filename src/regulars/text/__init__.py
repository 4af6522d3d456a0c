"""What customers say: language, sentiment and topics of reviews, tickets and survey comments.

Estimators on lists of texts, no database (the text job in :mod:`regulars.jobs.text` reads and
writes through :mod:`regulars.data.text_store`):

- :mod:`regulars.text.language` -- which texts are English (the only language analysed);
- :mod:`regulars.text.sentiment` -- VADER sentiment with a small shop lexicon;
- :mod:`regulars.text.topics` -- TF-IDF + NMF topics with readable labels, stable across runs;
- :mod:`regulars.text.redact` -- personal data masked out of quotes.
"""

from regulars.text.language import SUPPORTED, detect_language, detect_languages
from regulars.text.sentiment import SentimentScorer, accuracy_against_baseline

__all__ = ["SUPPORTED", "SentimentScorer", "accuracy_against_baseline", "detect_language", "detect_languages"]
