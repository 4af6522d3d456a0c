"""Region codes in words for segment names: ``or`` → ``Oregon (OR)``, ``north holland`` → ``North Holland``.

Postal abbreviations of US states, Canadian provinces and Australian states are written out (the
region column of most shop exports holds them); any other region is title-cased as written.

>>> region_words("or"), region_words("BC"), region_words("north holland"), region_words("unknown")
('Oregon (OR)', 'British Columbia (BC)', 'North Holland', 'Unknown')
"""

from __future__ import annotations

CODES = {
    "al": "Alabama", "ak": "Alaska", "az": "Arizona", "ar": "Arkansas", "ca": "California", "co": "Colorado",
    "ct": "Connecticut", "de": "Delaware", "dc": "District of Columbia", "fl": "Florida", "ga": "Georgia",
    "hi": "Hawaii", "id": "Idaho", "il": "Illinois", "in": "Indiana", "ia": "Iowa", "ks": "Kansas",
    "ky": "Kentucky", "la": "Louisiana", "me": "Maine", "md": "Maryland", "ma": "Massachusetts", "mi": "Michigan",
    "mn": "Minnesota", "ms": "Mississippi", "mo": "Missouri", "mt": "Montana", "ne": "Nebraska", "nv": "Nevada",
    "nh": "New Hampshire", "nj": "New Jersey", "nm": "New Mexico", "ny": "New York", "nc": "North Carolina",
    "nd": "North Dakota", "oh": "Ohio", "ok": "Oklahoma", "or": "Oregon", "pa": "Pennsylvania",
    "ri": "Rhode Island", "sc": "South Carolina", "sd": "South Dakota", "tn": "Tennessee", "tx": "Texas",
    "ut": "Utah", "vt": "Vermont", "va": "Virginia", "wa": "Washington", "wv": "West Virginia", "wi": "Wisconsin",
    "wy": "Wyoming", "pr": "Puerto Rico",
    "ab": "Alberta", "bc": "British Columbia", "mb": "Manitoba", "nb": "New Brunswick",
    "nl": "Newfoundland and Labrador", "ns": "Nova Scotia", "on": "Ontario", "pe": "Prince Edward Island",
    "qc": "Quebec", "sk": "Saskatchewan", "nt": "Northwest Territories", "nu": "Nunavut", "yt": "Yukon",
    "nsw": "New South Wales", "vic": "Victoria", "qld": "Queensland", "tas": "Tasmania", "act": "Australian Capital Territory",
}


def region_words(region: str) -> str:
    """*region* (as stored, any case) as a shop owner reads it."""
    text = " ".join(str(region).split())
    name = CODES.get(text.lower())
    if name:
        return f"{name} ({text.upper()})"
    return text.title() if text.islower() or text.isupper() else text
