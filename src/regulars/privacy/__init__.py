"""Privacy in practice: pseudonymised exports and consent checks (pure functions; the data layer
reads and writes).

- :mod:`regulars.privacy.pseudonymise` -- personal fields replaced by keyed hashes;
- :mod:`regulars.privacy.consent` -- who may receive what (channel consent, personalisation).
"""
