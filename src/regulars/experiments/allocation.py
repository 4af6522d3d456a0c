"""Deterministic, keyed assignment of customers to arms.

Each customer's arm comes from ``BLAKE2b(customer_id, key=salt)``: the same customer always
lands in the same arm of the same experiment (a journey can ask again and get the same answer),
different experiments (different salts) are independent, and nobody can predict or steer the
assignment without the salt. The hash is read as a number in [0, 1) and mapped onto the
cumulative arm shares.

**Stratified** assignment (balanced within each segment) orders the customers of each stratum by
the same hash and deals the arms out in proportion, so every stratum is split as exactly as its
size allows (permuted blocks; Kernan et al. 1999). It is for a fixed audience assigned at once;
customers added later are assigned by the plain hash.

References
----------
- Kohavi, R., Tang, D. & Xu, Y. (2020). *Trustworthy Online Controlled Experiments*, chapter 4
  (hash-based randomisation).
- Kernan, W. N., Viscoli, C. M., Makuch, R. W., Brass, L. M. & Horwitz, R. I. (1999). "Stratified
  randomization for clinical trials". *Journal of Clinical Epidemiology* 52(1), 19-26.
- Aumasson, J.-P., Neves, S., Wilcox-O'Hearn, Z. & Winnerlein, C. (2013). "BLAKE2: simpler,
  smaller, fast as MD5". *ACNS 2013*, LNCS 7954, 119-135.

Examples
--------
>>> arms = assign(["c1", "c2", "c3", "c4"], salt="spring-offer", shares={"control": 0.5, "offer": 0.5})
>>> list(arms) == list(assign(["c1", "c2", "c3", "c4"], "spring-offer", {"control": 0.5, "offer": 0.5}))
True
>>> s = assign([f"c{i}" for i in range(1000)], "x", {"a": 0.5, "b": 0.5}, strata=["s1"] * 500 + ["s2"] * 500)
>>> int((s[:500] == "a").sum()), int((s[500:] == "a").sum())
(250, 250)
"""

from __future__ import annotations

import hashlib
import secrets

import numpy as np
import pandas as pd

__all__ = ["assign", "check_shares", "hash_unit", "new_salt", "parse_arms"]


def new_salt() -> str:
    """A fresh random key for a new experiment."""
    return secrets.token_hex(16)


def parse_arms(spec: str) -> dict[str, float]:
    """``"control:0.5,offer:0.5"`` -> ``{"control": 0.5, "offer": 0.5}`` (shares must add up to 1).

    >>> parse_arms("control:0.2, a:0.4, b:0.4")
    {'control': 0.2, 'a': 0.4, 'b': 0.4}
    """
    arms: dict[str, float] = {}
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        name, sep, share = part.rpartition(":")
        if not sep or not name.strip():
            raise ValueError(f"arm {part!r} must be written NAME:SHARE, e.g. control:0.5")
        try:
            value = float(share)
        except ValueError:
            raise ValueError(f"the share of arm {name.strip()!r} must be a number between 0 and 1, got {share!r}") from None
        if name.strip() in arms:
            raise ValueError(f"arm {name.strip()!r} is named twice")
        arms[name.strip()] = value
    return check_shares(arms)


def check_shares(arms: dict[str, float]) -> dict[str, float]:
    if len(arms) < 2:
        raise ValueError("an experiment needs at least two arms, e.g. control:0.5,offer:0.5")
    if any(not 0 < v <= 1 for v in arms.values()):
        raise ValueError("every arm's share must be above 0 and at most 1")
    if abs(sum(arms.values()) - 1) > 1e-6:
        raise ValueError(f"arm shares must add up to 1, they add up to {sum(arms.values()):g}")
    return dict(arms)


def hash_unit(customer_ids, salt: str) -> np.ndarray:
    """A number in [0, 1) per customer, fixed by the customer id and the experiment's salt."""
    key = salt.encode()[:64]
    out = np.fromiter((int.from_bytes(hashlib.blake2b(str(c).encode(), digest_size=8, key=key).digest(), "big")
                       for c in customer_ids), dtype=np.uint64)
    return (out >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def assign(customer_ids, salt: str, shares: dict[str, float], strata=None) -> np.ndarray:
    """The arm of each customer (an array of arm names, in the order given).

    Parameters
    ----------
    customer_ids : sequence of str
    salt : str
        The experiment's key (:func:`new_salt`).
    shares : dict
        Arm name -> share; the order is the order of the arms.
    strata : sequence, optional
        A stratum per customer (e.g. the RFM segment); arms are then dealt out within each.
    """
    names = np.array(list(shares), dtype=object)
    cum = np.cumsum(list(shares.values()))
    cum[-1] = 1.0
    u = hash_unit(customer_ids, salt)
    if strata is None:
        return names[np.searchsorted(cum, u, side="right").clip(max=len(names) - 1)]
    frame = pd.DataFrame({"s": pd.Series(strata, dtype="string").fillna("(none)").to_numpy(), "u": u})
    rank = frame.groupby("s")["u"].rank(method="first").to_numpy() - 1
    size = frame.groupby("s")["u"].transform("size").to_numpy()
    position = (rank + 0.5) / size
    return names[np.searchsorted(cum, position, side="right").clip(max=len(names) - 1)]
