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
from scipy.linalg import eigh

__all__ = ["lowrank_model"]


def lowrank_model(frames: np.ndarray, rank: int, basis: np.ndarray, *,
                  normalise: bool = True) -> np.ndarray:
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
    Xb = X[basis]
    if normalise:
        # every frame counts equally in the components: by energy alone the bright bolus
        # frames would decide them and the dark pre-contrast frames be modelled badly
        Xb = Xb / np.maximum(np.linalg.norm(Xb, axis=1, keepdims=True), 1e-30)
    rank = int(min(rank, Xb.shape[0]))
    G = Xb @ Xb.T  # small (n_basis x n_basis) Gram matrix instead of an SVD of the images
    n = G.shape[0]
    evals, evecs = eigh(G, subset_by_index=[n - rank, n - 1])
    evals, evecs = evals[::-1], evecs[:, ::-1]
    if evals.size == 0 or evals[0] <= 0:  # blank frames: the model is the frames
        return frames.astype(np.float32, copy=True)
    good = evals > evals[0] * 1e-10
    U = (Xb.T @ evecs[:, good]) / np.sqrt(evals[good])  # (N, r), orthonormal columns
    M = (X @ U) @ U.T
    return M.reshape(T, h, w).astype(np.float32)

