"""Attacks: what the papers' threat models leave open (key recovery, permutation invariants, ...).

Each chapter's engineer owns one section, headed by a comment ``# --- <chapter> ---``.
"""

from __future__ import annotations

import numpy as np

from ppstudy import InputError
