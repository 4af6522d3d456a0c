"""The dashboard: server-rendered pages on the same FastAPI app as the JSON API (see :mod:`regulars.web.pages`)."""
