"""The motion-free model of a series: low-rank (Karhunen–Loève / PCA) synthetic images.

A few principal components capture the smooth contrast change of the first pass but not the
frame-to-frame jitter of breathing, so the projection of each frame onto them is a synthetic
frame with the same contrast and (almost) no motion: a target that plain intensity
registration can use although the contrast changes. The rank is raised as the series gets
better aligned (Melbourne et al., Phys Med Biol 2007;52:5147,
doi:10.1088/0031-9155/52/17/003; Xue et al., JCMR 2012;14:P93 KLT MoCo).
"""

from __future__ import annotations

import numpy as np

__all__ = ["lowrank_model"]


def lowrank_model(frames: np.ndarray, rank: int, basis: np.ndarray, *,
                  leave_one_out: bool = False) -> np.ndarray:
    """Project every frame onto the leading spatial components of the ``basis`` frames.

    Parameters
    ----------
    frames : ndarray of shape (T, h, w)
        Current (partly registered) frames.
    rank : int
        Number of components kept.
    basis : ndarray of shape (T,), bool
        Frames the components are learned from: saturation-recovery frames that are not
        outliers. Frames outside it (proton-density, outliers) are still projected, so their
        synthetic image lies in the geometry of the basis frames.

    Returns
    -------
    ndarray of shape (T, h, w), float32
        Synthetic frames.
    """
    T, h, w = frames.shape
    X = frames.reshape(T, h * w).astype(np.float64)
    if leave_one_out:
        return _lowrank_loo(X, rank, basis).reshape(T, h, w).astype(np.float32)
    Xb = X[basis]
    rank = int(min(rank, Xb.shape[0]))
    G = Xb @ Xb.T  # small (n_basis x n_basis) Gram matrix instead of an SVD of the images
    evals, evecs = np.linalg.eigh(G)
    keep = np.argsort(evals)[::-1][:rank]
    evals, evecs = evals[keep], evecs[:, keep]
    good = evals > evals[0] * 1e-10
    U = (Xb.T @ evecs[:, good]) / np.sqrt(evals[good])  # (N, r), orthonormal columns
    M = (X @ U) @ U.T
    return M.reshape(T, h, w).astype(np.float32)


def _lowrank_loo(X: np.ndarray, rank: int, basis: np.ndarray) -> np.ndarray:
    """Each frame projected on components learned without it (from the Gram matrix only).

    A frame's own misalignment leaks into components learned from it, and its synthetic frame
    then follows its motion; learning them without it removes that pull.
    With ``G = X X^T`` and the eigenpairs ``(lam, V)`` of ``G`` restricted to the basis frames
    other than t, the projection is ``M_t = sum_j a_tj X_j`` with
    ``a_t = V lam^-1 V^T G[others, t]``.
    """
    T = X.shape[0]
    G = X @ X.T
    A = np.zeros((T, T))
    idx_all = np.nonzero(basis)[0]
    for t in range(T):
        idx = idx_all[idx_all != t]
        evals, evecs = np.linalg.eigh(G[np.ix_(idx, idx)])
        keep = np.argsort(evals)[::-1][: min(rank, idx.size)]
        evals, evecs = evals[keep], evecs[:, keep]
        good = evals > evals[0] * 1e-10
        evals, evecs = evals[good], evecs[:, good]
        A[t, idx] = evecs @ ((evecs.T @ G[idx, t]) / evals)
    return A @ X
