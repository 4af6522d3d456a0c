"""``regulars demo``: a realistic synthetic shop with planted ground truth.

Lantern Roasting Co. is a coffee roaster in Portland, Oregon, with two stores
and a web shop (coffee, tea, equipment, accessories, gifts, subscriptions).
:func:`generate` writes its exports in canonical column names, so the
generic loader reads them without a mapping file; :func:`build_demo` loads
them through :func:`regulars.data.ingest.pipeline.ingest` (the same path as
real files) and stores the truth in ``demo_truth``.

What is planted (see :mod:`regulars.demo.types` for the numbers):

* every customer has a latent type: ``loyal_regular``, ``deal_seeker``,
  ``one_timer``, ``lapsing``, ``category_fan``, ``big_spender`` or ``browser``
  (newsletter sign-ups who never buy);
* purchases follow a BG/NBD-like process: the first at acquisition, then a
  Poisson process with rate ``purchase_rate`` per week (gamma across
  customers, modulated by the type's rhythm: weekdays, hours, December,
  promotion weeks), and after each purchase a silent dropout with
  probability ``dropout_probability`` (beta across customers, 1 for
  one-timers);
* ``churned_at`` is the last purchase of a customer who dropped out;
  ``orders_next_365d`` is the expected number of orders in the year after
  the period given the customer's own parameters and whether they are alive
  (``(1 - exp(-p * lam * L)) / p`` with ``L`` the rhythm's intensity over
  the next year), 0 for dropped-out customers;
* browsers: ``purchase_rate`` 0, alive, ``acquired_at`` = sign-up;
* deal seekers buy mostly in promotion weeks with codes and open offer
  e-mails; category fans spend at least 80% in their favourite category;
  December is the busiest month; a few percent of orders are refunded or
  returned (negative totals and quantities); consents include opt-outs.

Timestamps are naive UTC (the shop's local day runs 07:00/08:00 to
07:00/08:00 UTC). Same seed, same files, byte for byte.

Examples
--------
>>> import tempfile
>>> files = generate(tempfile.mkdtemp(), n_customers=50, seed=1, kinds=["customers", "orders"])
>>> [kind for kind, _ in files]
['customers', 'orders']
>>> len(files.truth), sorted(files.truth.latent_type.unique())[:2]
(50, ['big_spender', 'browser'])
"""

from regulars.demo.build import build_demo
from regulars.demo.generate import FILES, DemoFiles, generate
from regulars.demo.types import TYPE_NAMES as LATENT_TYPES

__all__ = ["generate", "build_demo", "DemoFiles", "FILES", "LATENT_TYPES"]
