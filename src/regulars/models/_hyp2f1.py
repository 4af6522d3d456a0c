"""Gauss hypergeometric function 2F1(a, b; a + 1; z) with parameter derivatives.

The Pareto/NBD likelihood (Fader & Hardie 2005, "A note on deriving the Pareto/NBD model
and related expressions") only needs the special case ``c = a + 1`` with ``0 <= z < 1``.
There every term of the power series

    2F1(a, b; a + 1; z) = sum_n  a / (a + n) * (b)_n / n! * z**n

is positive, so the sum is free of cancellation, and the derivatives with respect to
``a``, ``b`` and ``z`` are sums of the same terms with positive weights. This module sums
the series in log space (no overflow for the large ``a``, ``b`` of heavy buyers) and
returns the log of the function with its three derivatives, which the analytic gradient
of the Pareto/NBD likelihood needs (``scipy.special.hyp2f1`` gives values only).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import xlogy

__all__ = ["log_hyp2f1_a_a1"]

_FIRST_CHUNK = 32
_MAX_TERMS = 2_000_000


def log_hyp2f1_a_a1(a, b, z, *, rtol: float = 1e-16):
    """Log of 2F1(a, b; a + 1; z) and its derivatives, for a > 0, b > 0, 0 <= z < 1.

    Parameters
    ----------
    a, b, z : array_like
        Broadcastable arrays.
    rtol : float
        Stop summing once a bound on the remaining tail is below ``rtol`` times the sum.

    Returns
    -------
    log_f, dlog_f_da, dlog_f_db, dlog_f_dz : ndarray
        ``log 2F1`` and its partial derivatives, each of the broadcast shape.

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
    ref = np.full(size, -np.inf)  # running log-scale of the sums below
    s0, sa, sb, sz = (np.zeros(size) for _ in range(4))
    log_poch = np.zeros(size)  # log((b)_n / n!) at the last summed n
    psi_diff = np.zeros(size)  # digamma(b + n) - digamma(b) at the last summed n
    active = np.arange(size)
    start, chunk = 0, _FIRST_CHUNK
    while active.size:
        n = np.arange(start, start + chunk, dtype=float)[None, :]
        aa, bb, zz = a[active, None], b[active, None], z[active, None]
        step = n >= 1
        inc_poch = np.where(step, np.log(np.where(step, bb + n - 1, 1.0)) - np.log(np.maximum(n, 1.0)), 0.0)
        inc_psi = np.where(step, 1.0 / (bb + n - 1 + ~step), 0.0)
        lp = log_poch[active, None] + np.cumsum(inc_poch, axis=1)
        dpsi = psi_diff[active, None] + np.cumsum(inc_psi, axis=1)
        base = np.log(aa) - np.log(aa + n) + lp
        log_t = base + xlogy(n, zz)
        log_tz = np.where(step, base + np.log(np.maximum(n, 1.0)) + xlogy(n - 1, zz), -np.inf)
        new_ref = np.maximum(ref[active], np.maximum(log_t.max(axis=1), log_tz.max(axis=1)))
        rescale = np.exp(ref[active] - new_ref)
        e = np.exp(log_t - new_ref[:, None])
        ez = np.exp(log_tz - new_ref[:, None])
        s0[active] = s0[active] * rescale + e.sum(axis=1)
        sa[active] = sa[active] * rescale + (e * (n / (aa * (aa + n)))).sum(axis=1)
        sb[active] = sb[active] * rescale + (e * dpsi).sum(axis=1)
        sz[active] = sz[active] * rescale + ez.sum(axis=1)
        ref[active] = new_ref
        log_poch[active] = lp[:, -1]
        psi_diff[active] = dpsi[:, -1]
        # Ratio of consecutive terms at the end of the chunk; once below 1 it decreases
        # towards z, so the tail is bounded by a geometric series.
        last = n[0, -1]
        a1, b1, z1 = aa[:, 0], bb[:, 0], zz[:, 0]
        ratio = (a1 + last) / (a1 + last + 1) * (b1 + last) / (last + 1) * z1
        ratio_z = ratio * (last + 2) / (last + 1)
        shrinking = ratio_z < 1
        with np.errstate(divide="ignore", invalid="ignore"):
            tail = (e[:, -1] * (1 + dpsi[:, -1]) + ez[:, -1]) / np.where(shrinking, 1 - ratio_z, 1.0)
        done = shrinking & (tail <= rtol * s0[active])
        active = active[~done]
        start += chunk
        chunk = min(2 * chunk, 65_536)
        if start >= _MAX_TERMS and active.size:
            warnings.warn(
                f"2F1 series did not converge for {active.size} argument(s) after {start} terms",
                RuntimeWarning,
                stacklevel=2,
            )
            break
    log_f = ref + np.log(s0)
    out = (log_f, sa / s0, sb / s0, sz / s0)
    return tuple(v.reshape(shape) for v in out)
