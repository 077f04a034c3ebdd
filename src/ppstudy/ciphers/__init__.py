"""Image ciphers, one module per scheme, all behind one protocol (:class:`ppstudy.ciphers.base.Cipher`):
``keygen(shape, *, seed=None, **options)`` / ``encrypt(x, key)`` / ``decrypt(y, key)`` /
``key_space(shape, **options) -> KeySpace``. Keys are frozen dataclasses that record the image shape they fit;
every cipher is vectorised over the batch and refuses bad input with :class:`ppstudy.InputError`.

The registry names the configured ciphers the studies use (``ciphers.get("pixel23")``). Modules:
``etc`` (block scrambling EtC), ``pixel`` (pixel-based negative-positive + colour shuffle), ``tanaka``
(learnable encryption), ``chaotic`` (logistic map + RC4), ``catmap`` (cat map per tile / whole image),
``bfv`` (Pyfhel), ``ope`` (Boldyreva OPE as a table; an integer cipher) and ``deid`` (structural
de-identification: a keyed, non-invertible transform built on ``ope``).
"""

from ppstudy.ciphers import catmap, chaotic, etc, pixel, tanaka
from ppstudy.ciphers.base import Cipher, CipherSpec, KeySpace, get, names, register

register("pixel2", pixel, label="pixel-based, step 2 (negative-positive)", key_options=("shuffle",), shuffle=False)
register(
    "pixel23", pixel, label="pixel-based, steps 2 and 3 (+ colour shuffle)", key_options=("shuffle",), shuffle=True
)
register("tanaka", tanaka, label="Tanaka's learnable encryption, 4x4 blocks", key_options=("block",), block=4)
register("etc", etc, label="block-scrambling EtC, 8x8 blocks", key_options=("block",), block=8)
register("etc4", etc, label="block-scrambling EtC, 4x4 blocks", key_options=("block",), block=4)
register(
    "etc-grayscale",
    etc,
    label="grayscale-based EtC, 8x8 blocks",
    key_options=("block", "grayscale"),
    block=8,
    grayscale=True,
)
register("chaotic", chaotic, label="logistic map + RC4 pixel cipher")
register("catmap-tile", catmap, label="cat map per 32x32 tile", key_options=("mode", "tile"), mode="tile", tile=32)
register("catmap-whole", catmap, label="cat map on the whole image", key_options=("mode",), mode="whole")

__all__ = ["Cipher", "CipherSpec", "KeySpace", "get", "names", "register"]
