"""Attacks: what the papers' threat models leave open, one module per threat model.

* :mod:`ppstudy.attacks.pixel`: ciphertext-only key recovery against the pixel-based cipher, whose one key
  encrypts a whole data set;
* :mod:`ppstudy.attacks.catmap`: a key-free matcher and a known-plaintext key recovery for the cat map of
  the Big Data Cup;
* :mod:`ppstudy.attacks.ope`: inverting a leaked position-shifted SVG without the OPE key, and the raster-only
  resize-back of a de-identified image.

The attacks use the ciphers' public functions only. Matchers share :class:`~ppstudy.attacks.base.Matcher`.
"""

from ppstudy.attacks.base import Matcher, NotFittedError

__all__ = ["Matcher", "NotFittedError"]
