"""Pair CNNs: 6-channel timm models, the Siamese variant (pairwise == matrix scores), augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ppstudy import InputError
from ppstudy.metrics import binomial_ci, chance_ceiling, weighted_score
from ppstudy.models import pair_cnn


@pytest.mark.parametrize("arch", ["tiny_resnet", "tiny_efficientnet"])
def test_pair_cnn_sees_both_images(arch):
    """One logit per pair, and it depends on the original (channels 0-2) and on the encoding (3-5)."""
    torch.manual_seed(0)
    m = pair_cnn.pair_cnn(arch).eval()
    x = torch.randn(2, 6, 32, 32)
    with torch.no_grad():
        out = m(x)
        o2, e2 = x.clone(), x.clone()
        o2[:, :3] = torch.randn(2, 3, 32, 32)
        e2[:, 3:] = torch.randn(2, 3, 32, 32)
        assert out.shape == (2, 1)
        assert not torch.allclose(m(o2), out) and not torch.allclose(m(e2), out)
        torch.testing.assert_close(m(x), out)  # eval mode: deterministic


def test_paper_architectures_take_six_channels():
    m = pair_cnn.pair_cnn("efficientnet_b0")  # random init, no download
    first = next(p for p in m.parameters() if p.ndim == 4)
    assert first.shape[1] == 6
    assert pair_cnn.timm_name("xception") == "legacy_xception"
    with pytest.raises(InputError, match="unknown architecture"):
        pair_cnn.pair_cnn("vgg")


def test_siamese_matrix_equals_pairwise():
    torch.manual_seed(0)
    m = pair_cnn.SiameseMatcher("tiny_resnet", dim=16)
    rng = np.random.default_rng(0)
    o = rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    e = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    norm = ([0.5] * 6, [0.25] * 6)
    mat = pair_cnn.siamese_score_matrix(m, o, e, norm)
    ii, jj = np.divmod(np.arange(20), 4)
    pairs = np.concatenate([o[ii], e[jj]], axis=3)
    np.testing.assert_allclose(pair_cnn.predict_proba(m, pairs, norm), mat.ravel(), atol=1e-5)
    tp = pair_cnn.pair_throughput(m, o, e, norm, siamese=True)
    assert tp["pairs"] == 20 and tp["pairs_per_s"] > 0


def test_augment_only_touches_the_original_and_is_reproducible():
    x = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (3, 6, 32, 32), dtype=np.uint8))
    aug = pair_cnn.PairAugment(p=1.0)
    a = aug(x, torch.Generator().manual_seed(1))
    b = aug(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.dtype == torch.uint8 and a.shape == x.shape
    assert torch.equal(a[:, 3:], x[:, 3:]) and not torch.equal(a[:, :3], x[:, :3])
    both = pair_cnn.PairAugment(p=1.0, both=True, extra=True)(x, torch.Generator().manual_seed(2))
    assert not torch.equal(both[:, 3:], x[:, 3:])
    with pytest.raises(InputError, match="6 x H x W"):
        aug(x[:, :3], torch.Generator())


def test_cup_metrics():
    assert weighted_score([1, 1, 0.5]) == pytest.approx(0.7)
    assert weighted_score([0.999, 0.959497, 0.5]) == pytest.approx(0.1 * 0.999 + 0.3 * 0.959497 + 0.3)
    with pytest.raises(InputError):
        weighted_score([1, 1])
    lo, hi = binomial_ci(50, 100)
    assert lo < 0.5 < hi


def test_cup_metrics_against_scipy():
    from scipy.stats import beta, binom

    lo, hi = binomial_ci(37, 80, 0.95)
    assert lo == pytest.approx(beta.ppf(0.025, 37, 44), abs=1e-9)
    assert hi == pytest.approx(beta.ppf(0.975, 38, 43), abs=1e-9)
    assert chance_ceiling() == pytest.approx(0.7)
    assert chance_ceiling(n_test=9000) == pytest.approx(0.4 + 0.6 * binom.ppf(0.95, 9000, 0.5) / 9000)
    assert chance_ceiling(n_test=9000) > 0.7
