"""Activation: acting on the analysis, with consent and a holdout.

- :mod:`~regulars.activation.definitions`: journeys written in TOML (shipped templates in
  ``activation/journeys/``), validated into :class:`~regulars.activation.definitions.Journey`.
- :mod:`~regulars.activation.holdout`: the deterministic control group of every journey.
- :mod:`~regulars.activation.policy`: consent per channel, frequency caps, quiet hours.
- :mod:`~regulars.activation.content`: e-mail and SMS text from a step's template.
- :mod:`~regulars.activation.mailer`: SMTP delivery with idempotency keys as Message-IDs.
- :mod:`~regulars.activation.webhooks`: signing (HMAC-SHA256 with a timestamp), verifying,
  back-off, HTTP delivery.
- :mod:`~regulars.activation.audiences`: Klaviyo, Mailchimp and ad-platform customer-match files.
- :mod:`~regulars.activation.uplift`: what a journey brought in beyond its holdout.
- :mod:`~regulars.activation.alerts`: alert conditions over shop metrics.
- :mod:`~regulars.activation.schedule`: cron in the shop's time zone.

Everything here is logic over values; the tables live in :mod:`regulars.data`
(``journey_store``, ``webhook_store``, ``activation_store``) and the runner that ties
them together is :mod:`regulars.jobs.activation`.
"""
