"""Exact PCA of uint8 images: principal components from exactly computed Gram matrices.

Kawamura et al.'s pipeline reduces (encrypted) face images with a reduction learned from the data. With
floating-point PCA a common EtC key changes the result in the last bits (the permuted pixels are summed in
another order), and an SVM solver can turn a last-bit change into a different stopping point. Computing the
centred Gram matrices exactly in integer arithmetic makes the encrypted pipeline receive bitwise the
numbers of the plain one, which is what the EtC chapter measures.
"""

from __future__ import annotations

import numpy as np

from ppstudy import InputError, validate


class ExactPCA:
    """PCA of uint8 images through *exactly computed* centred Gram matrices (dual PCA).

    With ``X`` the ``n x d`` training images, ``n^2 (X - mu)(X - mu)^T = n^2 X X^T - n (t 1^T + 1 t^T) +
    s.s`` where ``s = X^T 1`` and ``t = X s`` are integers, so the centred Gram matrix is computed without any
    rounding (``X X^T`` in float64 BLAS is exact: every partial sum is an integer below ``2^53``; the rest in
    int64). Its eigenvectors ``U`` and eigenvalues ``lam`` give the principal-component scores of any image
    ``x``: ``z = (x - mu)^T (X - mu)^T U / sqrt(lam)`` — again from an exact cross Gram matrix. These are the
    scores of ordinary PCA (up to one sign per component), but since an EtC key with a common key maps
    ``X -> X Q^T + b`` and leaves every centred inner product unchanged, the encrypted Gram matrices are
    *bitwise* the plain ones: the whole pipeline downstream sees identical numbers.
    """

    def __init__(self, n_components: int):
        self.n_components = validate.positive_int("ExactPCA: n_components", n_components)
        self._x: np.ndarray | None = None

    @staticmethod
    def _flat(x: np.ndarray) -> np.ndarray:
        if not isinstance(x, np.ndarray) or x.dtype != np.uint8:
            raise InputError("ExactPCA needs uint8 images (exact integer arithmetic)")
        if x.ndim < 2:
            raise InputError(f"ExactPCA needs a batch of images (N x ...), got shape {x.shape}")
        return x.reshape(len(x), -1)

    def fit(self, x: np.ndarray) -> ExactPCA:
        xi = self._flat(x)
        n, d = xi.shape
        if not 2 <= self.n_components + 1 <= n:
            raise InputError(
                f"ExactPCA: {self.n_components} components need more than {self.n_components} training images, got {n}"
            )
        if 255 * 255 * d >= 2**53 or n * n * 255 * 255 * d >= 2**62:
            raise InputError(f"ExactPCA: {n} images of {d} pixels exceed exact integer arithmetic")
        self._x, self._n = xi, n
        self._s = xi.sum(axis=0, dtype=np.int64)
        self._u = int(self._s @ self._s)
        self._t = xi.astype(np.int64) @ self._s
        g = self._centred_gram(xi, self._t)
        lam, vec = np.linalg.eigh(g.astype(np.float64) / (n * n))
        k = self.n_components
        lam, vec = lam[::-1][:k], vec[:, ::-1][:, :k]
        if lam[-1] <= 0:
            raise InputError(f"ExactPCA: the training images span fewer than {k} dimensions")
        # a deterministic sign per component: the largest entry of each eigenvector positive
        flip = np.sign(vec[np.argmax(np.abs(vec), axis=0), np.arange(k)])
        self.explained_variance_ = lam / (n - 1)  # as sklearn.decomposition.PCA
        self._proj = vec * flip / np.sqrt(lam)
        return self

    def _centred_gram(self, q: np.ndarray, tq: np.ndarray) -> np.ndarray:
        """``n^2 (q - mu) . (x_i - mu)`` for every row of ``q`` and training image ``x_i``, exactly (int64)."""
        n = self._n
        assert self._x is not None  # fitted (transform checks it)
        dot = np.rint(q.astype(np.float64) @ self._x.astype(np.float64).T).astype(np.int64)  # exact
        return n * n * dot - n * (tq[:, None] + self._t[None, :]) + self._u

    def transform(self, x: np.ndarray) -> np.ndarray:
        if self._x is None:
            raise InputError("ExactPCA: call fit() before transform()")
        q = self._flat(x)
        if q.shape[1] != self._x.shape[1]:
            raise InputError(f"ExactPCA: images of {q.shape[1]} pixels, fitted on {self._x.shape[1]}")
        c = self._centred_gram(q, q.astype(np.int64) @ self._s)
        return (c.astype(np.float64) / (self._n * self._n)) @ self._proj
