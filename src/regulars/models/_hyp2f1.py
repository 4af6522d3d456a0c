"""Gauss hypergeometric function 2F1(a, b; a + 1; z) with parameter derivatives.

The Pareto/NBD likelihood (Fader & Hardie 2005, "A note on deriving the Pareto/NBD model
and related expressions") only needs the special case ``c = a + 1`` with ``0 <= z < 1``.
There every term of the power series

    2F1(a, b; a + 1; z) = sum_n  t_n,   t_n = a / (a + n) * (b)_n / n! * z**n

is positive, so the sum is free of cancellation, and the derivatives are sums of the same
terms with positive weights:

    d/da log F = sum_n t_n * n / (a (a + n)) / F
    d/db log F = sum_n t_n * (digamma(b + n) - digamma(b)) / F
    d/dz log F = sum_n t_n * n / z / F

This module sums the series in chunks of terms, each term from the previous one by the ratio
``(a+n-1)/(a+n) (b+n-1)/n z`` (products only; a chunk whose terms would overflow, as for the
large ``b`` of heavy buyers, is rescaled in logs), keeping the running sums scaled by their
largest term, and returns ``log F`` with its three derivatives, which the analytic gradient of
the Pareto/NBD likelihood needs (``scipy.special.hyp2f1`` gives values only). The series
needs about ``40 / -log(z)`` terms, so it slows down as ``z`` approaches 1, i.e. when
``alpha`` and ``beta`` differ by orders of magnitude.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["log_hyp2f1_a_a1"]

_MAX_TERMS = 2_000_000
#: Rows x terms summed at once: bounds the memory of a chunk (a few arrays of this many floats).
_MAX_CELLS = 2_000_000
_TAIL_LOG_RTOL = np.log(1e-16)


def _terms_needed(a, b, z):
    """Rough number of terms until the series has converged (for sizing the first chunk)."""
    with np.errstate(divide="ignore"):
        log_z = np.log(z)
    peak = np.maximum(0.0, (b * z - 1) / (1 - z))  # terms grow until about here
    return peak + (-_TAIL_LOG_RTOL + np.log1p(b)) / np.maximum(-log_z, 1e-12)


def log_hyp2f1_a_a1(a, b, z):
    """Log of 2F1(a, b; a + 1; z) and its derivatives, for a > 0, b > 0, 0 <= z < 1.

    Parameters
    ----------
    a, b, z : array_like
        Broadcastable arrays.

    Returns
    -------
    log_f, dlog_f_da, dlog_f_db, dlog_f_dz : ndarray
        ``log 2F1`` and its partial derivatives, each of the broadcast shape. Summation
        stops once a geometric bound on the tail is below 1e-16 of the sum.

    Examples
    --------
    >>> from scipy.special import hyp2f1
    >>> log_f, *_ = log_hyp2f1_a_a1(3.2, 1.6, 0.7)
    >>> bool(np.isclose(np.exp(log_f), hyp2f1(3.2, 1.6, 4.2, 0.7), rtol=1e-13))
    True
    """
    a, b, z = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (a, b, z)))
    shape = a.shape
    a, b, z = a.ravel(), b.ravel(), z.ravel()
    if np.any(a <= 0) or np.any(b <= 0) or np.any(z < 0) or np.any(z >= 1):
        raise ValueError("log_hyp2f1_a_a1 needs a > 0, b > 0 and 0 <= z < 1")
    size = a.size
    # z == 0: F = 1, only the n = 1 term has a z-derivative.
    log_f = np.zeros(size)
    d_a = np.zeros(size)
    d_b = np.zeros(size)
    d_z = a * b / (a + 1)
    rows = np.flatnonzero(z > 0)
    if rows.size == 0:
        return tuple(v.reshape(shape) for v in (log_f, d_a, d_b, d_z))

    # State of the running sums of the rows still being summed (compact arrays, reindexed
    # as rows converge). Sums are stored scaled by exp(-ref).
    ra, rb, rz = a[rows], b[rows], z[rows]
    log_z = np.log(rz)
    ref = np.zeros(rows.size)  # log t_0 = 0
    s0 = np.zeros(rows.size)
    sa = np.zeros(rows.size)
    sb = np.zeros(rows.size)
    sz = np.zeros(rows.size)
    log_prev = np.zeros(rows.size)  # log of the last term summed (t_-1 := 1 before the first)
    psi_diff = np.zeros(rows.size)  # digamma(b + n) - digamma(b) at the last summed n
    start = 0
    chunk = int(np.clip(np.median(_terms_needed(ra, rb, rz)), 16, max(16, min(4096, _MAX_CELLS // rows.size))))
    while rows.size:
        n = np.arange(start, start + chunk, dtype=float)
        aa, bb = ra[:, None], rb[:, None]
        inv_an = 1.0 / (aa + n)
        bn1 = bb + (n - 1)
        # consecutive-term ratios t_n / t_(n-1) = (a+n-1)/(a+n) (b+n-1)/n z: products, no log/exp per term
        ratio = (aa + (n - 1)) * inv_an * bn1 * (1.0 / np.maximum(n, 1.0)) * rz[:, None]
        with np.errstate(divide="ignore"):  # b + n - 1 = 0 only at n = 0, replaced below
            inc_psi = 1.0 / bn1
        if start == 0:  # t_0 = 1, and no digamma step at n = 0
            ratio[:, 0] = 1.0
            inc_psi[:, 0] = 0.0
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            rel = np.cumprod(ratio, axis=1)  # t_n / t_(start-1)
        offset = np.zeros(rows.size)
        bad = ~np.all(np.isfinite(rel), axis=1)
        if bad.any():  # the terms of a heavy buyer grow by orders of magnitude: rescale in logs
            log_rel = np.cumsum(np.log(ratio[bad]), axis=1)
            offset[bad] = log_rel.max(axis=1)
            rel[bad] = np.exp(log_rel - offset[bad][:, None])
        dpsi = psi_diff[:, None] + np.cumsum(inc_psi, axis=1)
        with np.errstate(divide="ignore"):
            base = log_prev + offset  # log of the scale of this chunk's relative terms
            new_ref = np.maximum(ref, base + np.log(rel.max(axis=1)))
        rescale = np.exp(ref - new_ref)
        e = rel * np.exp(base - new_ref)[:, None]
        s0 = s0 * rescale + e.sum(axis=1)
        sa = sa * rescale + (e * (n * inv_an)).sum(axis=1) / ra
        sb = sb * rescale + (e * dpsi).sum(axis=1)
        sz = sz * rescale + (e * n).sum(axis=1) / rz
        ref = new_ref
        with np.errstate(divide="ignore"):
            log_prev = base + np.log(rel[:, -1])
        psi_diff = dpsi[:, -1]
        # Ratio of consecutive terms after the chunk; once below 1 it keeps decreasing
        # towards z, so the tail is bounded by a geometric series.
        last = n[-1]
        ratio = (ra + last) / (ra + last + 1) * (rb + last) / (last + 1) * rz
        ratio_z = ratio * (last + 2) / (last + 1)
        shrinking = ratio_z < 1
        with np.errstate(divide="ignore", invalid="ignore"):
            weight = 1 + 1 / ra + dpsi[:, -1] + (last + 1) / rz  # bounds every weight in the tail
            tail = e[:, -1] * weight / np.where(shrinking, 1 - ratio_z, 1.0)
        done = shrinking & (tail <= 1e-16 * s0)
        if done.any():
            idx = rows[done]
            log_f[idx] = ref[done] + np.log(s0[done])
            d_a[idx] = sa[done] / s0[done]
            d_b[idx] = sb[done] / s0[done]
            d_z[idx] = sz[done] / s0[done]
            keep = ~done
            rows = rows[keep]
            ra, rb, rz, log_z = ra[keep], rb[keep], rz[keep], log_z[keep]
            ref, s0, sa, sb, sz = ref[keep], s0[keep], sa[keep], sb[keep], sz[keep]
            log_prev, psi_diff = log_prev[keep], psi_diff[keep]
        start += chunk
        if rows.size:
            cap = max(16, min(65_536, _MAX_CELLS // rows.size))
            chunk = int(np.clip(np.min(_terms_needed(ra, rb, rz)) - start, min(2 * chunk, cap), cap))
        if start >= _MAX_TERMS and rows.size:
            warnings.warn(
                f"2F1 series did not converge for {rows.size} argument(s) after {start} terms",
                RuntimeWarning,
                stacklevel=2,
            )
            log_f[rows] = ref + np.log(s0)
            d_a[rows], d_b[rows], d_z[rows] = sa / s0, sb / s0, sz / s0
            break
    return tuple(v.reshape(shape) for v in (log_f, d_a, d_b, d_z))
