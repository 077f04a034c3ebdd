"""An extended jigsaw-puzzle solver for block-scrambled images (EtC and its grayscale-based variant).

Threat model: ciphertext only. The attacker holds cipher images and the scheme's public description (the
block size; which steps are on), and public natural images of the same kind (to pick the global
orientation, below); no key and no plaintext. With several cipher images under one key (one key for a
data set, as the learning schemes require), the blocks of every image share the key, and the solver adds
up their evidence: the placement it finds is then the key's block order, symmetries and colour
transforms, and ``key_estimate`` turns it into an EtC key.

A piece is a cipher block; the solver may show it in any of the 8 symmetries of a square (with the
rotation step) and under any colour transform (channel permutation with the shuffle step, the flip
``v -> 255 - v`` with the negative-positive step), as Chuman, Kurihara and Kiya's extended solver does.

* **Compatibility**: for two shown pieces side by side (left-right, and top-bottom), the jump ``d`` across
  their common edge against the gradients each piece has next to it (``g_l`` inside the left piece, ``g_r``
  inside the right): ``sum |d - (g_l + g_r) / 2| ** p`` over the edge's pixels and channels (prediction-based
  dissimilarity, as Pomeranz et al.'s; :data:`EXPONENT` was chosen on public images). Colour transforms
  are relative: only the right piece's is varied (applying one transform to both pieces leaves the
  measure unchanged). Each dissimilarity is divided by the second-best one of its left and of its right
  piece (a match much better than the next one is confident).
* **Placement**: Kruskal-like merging of the most confident matches (Gallagher's tree-based assembly with
  pieces of unknown orientation): every component keeps each piece's position, symmetry and colour in its
  own frame; two components merge along a match unless pieces collide or the merged component no longer
  fits the image's grid of blocks. The largest component is then placed in the grid where its leftovers
  fit best, and the empty cells are filled one at a time (the cell with the most placed neighbours first)
  with the piece, symmetry and colour that fit those neighbours best.
* **Global pick**: the placement is found up to one symmetry of the whole grid and one colour transform
  of the whole image; the attacker picks the candidate whose decryption is most likely under region-wise
  colour histograms of the public images (:class:`JigsawPrior`).

Measures (:func:`score`): *direct comparison*, the share of grid cells that show exactly the plain block
(every pixel), and *neighbour comparison*, the share of the plain image's adjacent block pairs that the
solution keeps adjacent in the same relative pose (which ignores the global symmetry and colour).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ppstudy import InputError, validate
from ppstudy.attacks import blocks as B
from ppstudy.images import check_uint8

#: exponent ``p`` of the dissimilarity (chosen on CIFAR-10 training images as the public set)
EXPONENT = 1.0
#: matches kept per piece side for the merging (the best ones by confidence)
KEEP = 6
_EPS = 1e-6
_REGIONS = 4


# ---------------------------------------------------------------------- layout
def work_layout(images: np.ndarray, grayscale: bool) -> np.ndarray:
    """Plain images in the layout the cipher's blocks live in: as they are, or for the grayscale-based
    variant the channels side by side (``N x H x C*W x 1``)."""
    check_uint8(images, "images")
    if images.ndim != 4:
        raise InputError(f"expected images N x H x W x C, got {images.shape}")
    if not grayscale:
        return images
    n, h, w, c = images.shape
    return np.ascontiguousarray(images.transpose(0, 1, 3, 2)).reshape(n, h, c * w, 1)


def plain_layout(work: np.ndarray, channels: int) -> np.ndarray:
    """Undo :func:`work_layout` of the grayscale-based variant (``N x H x C*W x 1`` -> ``N x H x W x C``)."""
    n, h, cw, _ = work.shape
    w = cw // channels
    return np.ascontiguousarray(work.reshape(n, h, channels, w).transpose(0, 1, 3, 2))


# ---------------------------------------------------------------------- the public prior
@dataclass(frozen=True, eq=False)
class JigsawPrior:
    """Region-wise (4 x 4) colour histograms of public images in the cipher's layout (16 levels per
    channel for colour, 64 for one channel), as log-probabilities smoothed towards the pooled histogram."""

    shape: tuple[int, int, int]
    levels: int
    log_prob: np.ndarray = field(repr=False)

    @classmethod
    def fit(cls, public: np.ndarray, *, alpha: float = 1.0) -> JigsawPrior:
        check_uint8(public, "public images")
        if public.ndim != 4 or not len(public):
            raise InputError(f"public images: expected N x H x W x C, got {public.shape}")
        c = public.shape[-1]
        levels = 16 if c > 1 else 64
        codes = _codes(public, levels)
        nb = levels**c
        reg = _regions(*public.shape[1:3])
        pooled = np.bincount(codes.ravel(), minlength=nb) + 0.5
        pooled = pooled / pooled.sum()
        hst = np.bincount((reg[None] * nb + codes).ravel(), minlength=_REGIONS**2 * nb).reshape(-1, nb)
        a = alpha * nb
        lp = np.log((hst + a * pooled) / (hst.sum(1, keepdims=True) + a))
        return cls(tuple(public.shape[1:]), levels, lp)

    def score(self, images: np.ndarray) -> np.ndarray:
        """Log-likelihood of each image (``N x H x W x C`` in the prior's layout)."""
        if tuple(images.shape[1:]) != self.shape:
            raise InputError(f"prior made for images of {self.shape}, got {images.shape[1:]}")
        reg = _regions(*self.shape[:2])
        return self.log_prob[reg[None], _codes(images, self.levels)].sum(axis=(1, 2))


def _codes(x: np.ndarray, levels: int) -> np.ndarray:
    q = (x.astype(np.int64) * levels) // 256
    out = np.zeros(x.shape[:-1], np.int64)
    for ch in range(x.shape[-1]):
        out = out * levels + q[..., ch]
    return out


def _regions(h: int, w: int) -> np.ndarray:
    return (np.arange(h) * _REGIONS // h)[:, None] * _REGIONS + (np.arange(w) * _REGIONS // w)[None, :]


# ---------------------------------------------------------------------- compatibility
def _variants(pieces: np.ndarray, syms, group: B.ColourGroup) -> np.ndarray:
    """``pieces`` (n x b x b x c) shown in every symmetry and colour: n x S x T x b x b x c (int16)."""
    out = np.empty((len(pieces), len(syms), group.size, *pieces.shape[1:]), np.int16)
    for a, s in enumerate(syms):
        shown = B.symmetry(pieces, s)
        for t in range(group.size):
            out[:, a, t] = group.apply(shown, t)
    return out


def _edge_terms(v: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray]:
    """Edge values and the gradient next to them, pointing across the edge: ``side`` of the piece
    (``right`` / ``left`` / ``bottom`` / ``top``) of ``... x b x b x c`` arrays -> ``... x (b c)``."""
    b = v.shape[-2]
    i1, i2 = {"right": (-1, -2), "left": (0, 1), "bottom": (-1, -2), "top": (0, 1)}[side]
    if side in ("right", "left"):
        e1, e2 = v[..., :, i1, :], v[..., :, i2 if b > 1 else i1, :]
    else:
        e1, e2 = v[..., i1, :, :], v[..., i2 if b > 1 else i1, :, :]
    e1 = e1.reshape(*v.shape[:-3], -1).astype(np.float32)
    e2 = e2.reshape(*v.shape[:-3], -1).astype(np.float32)
    return e1, e1 - e2  # the gradient towards the edge, outward


def dissimilarity(pieces: np.ndarray, *, rotations: bool, group: B.ColourGroup, p: float | None = None, chunk=64):
    """``D[dir][l, r]``: dissimilarity of shown piece ``l = (i, s)`` (colour 0) left of (``dir = 0``) or
    above (``dir = 1``) shown piece ``r = ((j, s'), t)``; ``pieces``: N x n x b x b x c (N images under
    one key, summed). Returns (D of shape 2 x n S x n S T, S, T)."""
    p = EXPONENT if p is None else p
    syms = list(range(B.N_SYMMETRIES)) if rotations and pieces.shape[2] > 1 else [0]
    nimg, n = pieces.shape[:2]
    ns, nt = len(syms), group.size
    out = np.zeros((2, n * ns, n * ns * nt), np.float32)
    for img in range(nimg):
        v = _variants(pieces[img], syms, group)  # n x S x T x b x b x c
        for d, (lside, rside) in enumerate((("right", "left"), ("bottom", "top"))):
            a1, ga = _edge_terms(v[:, :, 0], lside)  # n x S x e
            r1, gr = _edge_terms(v, rside)  # n x S x T x e
            a1, ga = a1.reshape(n * ns, -1), ga.reshape(n * ns, -1)
            r1, gr = r1.reshape(n * ns * nt, -1), gr.reshape(n * ns * nt, -1)
            for i in range(0, n * ns, chunk):
                jump = r1[None] - a1[i : i + chunk, None]  # across the edge, left -> right
                expect = (ga[i : i + chunk, None] - gr[None]) / 2  # ga points right, gr points left
                err = np.abs(jump - expect)
                out[d, i : i + chunk] += (err if p == 1 else err**p).sum(-1)
    return out, syms, nt


# ---------------------------------------------------------------------- placement
@dataclass
class _Component:
    pieces: dict[int, tuple[int, int, int, int]]  # piece -> (row, col, symmetry, colour)


def _fits(cells, rows: int, cols: int, turnable: bool) -> bool:
    rs = [r for r, _ in cells]
    cs = [c for _, c in cells]
    h, w = max(rs) - min(rs) + 1, max(cs) - min(cs) + 1
    return (h <= rows and w <= cols) or (turnable and h <= cols and w <= rows)


class _Solver:
    def __init__(self, D, syms, group: B.ColourGroup, n: int, rows: int, cols: int):
        self.D, self.syms, self.group, self.n = D, syms, group, n
        self.ns, self.nt = len(syms), group.size
        self.rows, self.cols = rows, cols
        self.sym_index = {s: a for a, s in enumerate(syms)}
        self.turnable = len(syms) == B.N_SYMMETRIES  # a component may be turned by 90 degrees

    # indices into D
    def left(self, i, s):
        return i * self.ns + self.sym_index[s]

    def right(self, j, s, t):
        return (j * self.ns + self.sym_index[s]) * self.nt + t

    def pair_cost(self, a, sa, ca, q, sq, cq, disp) -> float:
        """Dissimilarity of piece ``a`` (shown ``sa``, colour ``ca``) and ``q`` at displacement ``disp`` from
        ``a`` (one of the four unit steps)."""
        g = self.group
        if disp == (0, 1):
            return self.D[0, self.left(a, sa), self.right(q, sq, g.compose[g.inverse[ca], cq])]
        if disp == (1, 0):
            return self.D[1, self.left(a, sa), self.right(q, sq, g.compose[g.inverse[ca], cq])]
        if disp == (0, -1):
            return self.D[0, self.left(q, sq), self.right(a, sa, g.compose[g.inverse[cq], ca])]
        return self.D[1, self.left(q, sq), self.right(a, sa, g.compose[g.inverse[cq], ca])]

    def candidates(self) -> list[tuple[float, int, int, int]]:
        """Matches (confidence, direction, left index, right index), most confident first."""
        n, ns, nt = self.n, self.ns, self.nt
        out: list[tuple[float, int, int, int]] = []
        if n < 2:
            return out
        for d in range(2):
            Dd = self.D[d].copy()
            piece_l = np.arange(n * ns) // ns
            piece_r = np.arange(n * ns * nt) // (ns * nt)
            Dd[piece_l[:, None] == piece_r[None, :]] = np.inf  # a piece never matches itself
            # second best per left (over other pieces) and per right
            by_piece_r = Dd.reshape(n * ns, n, ns * nt).min(-1)  # left x right piece
            sl = np.sort(by_piece_r, axis=1)[:, 1] if n > 2 else by_piece_r.min(1)
            by_piece_l = Dd.reshape(n, ns, n * ns * nt).min(1)  # left piece x right
            sr = np.sort(by_piece_l, axis=0)[1] if n > 2 else by_piece_l.min(0)
            conf = 0.5 * (Dd / (sl[:, None] + _EPS) + Dd / (sr[None, :] + _EPS))
            k = min(KEEP, conf.shape[1])
            best_r = np.argpartition(conf, k - 1, axis=1)[:, :k]
            rows = np.repeat(np.arange(conf.shape[0]), k)
            cols = best_r.ravel()
            k2 = min(KEEP, conf.shape[0])
            best_l = np.argpartition(conf, k2 - 1, axis=0)[:k2]
            rows = np.concatenate([rows, best_l.ravel()])
            cols = np.concatenate([cols, np.tile(np.arange(conf.shape[1]), k2)])
            pairs = np.unique(np.stack([rows, cols], 1), axis=0)
            vals = conf[pairs[:, 0], pairs[:, 1]]
            ok = np.isfinite(vals)
            out += [(float(v), d, int(a), int(b)) for v, (a, b) in zip(vals[ok], pairs[ok])]
        out.sort()
        return out

    def merge_all(self) -> list[_Component]:
        gc, ginv = self.group.compose.tolist(), self.group.inverse.tolist()
        dc, dinv = B.D4_COMPOSE.tolist(), B.D4_INVERSE.tolist()
        mat = [tuple(int(v) for v in m.ravel()) for m in B.D4_MATRIX]  # (m00, m01, m10, m11)
        comp_of = list(range(self.n))
        comps = {i: _Component({i: (0, 0, 0, 0)}) for i in range(self.n)}
        cells = {i: {(0, 0)} for i in range(self.n)}
        merges = 0
        for _, d, lidx, ridx in self.candidates():
            if merges == self.n - 1:
                break
            i, si = divmod(lidx, self.ns)
            jr, t = divmod(ridx, self.nt)
            j, sj = divmod(jr, self.ns)
            ca, cb = comp_of[i], comp_of[j]
            if ca == cb:
                continue
            A, Bc = comps[ca], comps[cb]
            ri, ci, Oi, Ci = A.pieces[i]
            gsym = dc[Oi][dinv[self.syms[si]]]
            m = mat[gsym]
            step = (m[1], m[3]) if d == 0 else (m[0], m[2])  # M (0, 1) or M (1, 0)
            if (ri + step[0], ci + step[1]) in cells[ca]:  # j's cell is taken: the usual rejection
                continue
            rj, cj, Oj, Cj = Bc.pieces[j]
            h = dc[dc[gsym][self.syms[sj]]][dinv[Oj]]
            k = gc[gc[Ci][t]][ginv[Cj]]
            m = mat[h]
            tr = ri + step[0] - (m[0] * rj + m[1] * cj)
            tc = ci + step[1] - (m[2] * rj + m[3] * cj)
            new = {(m[0] * r + m[1] * c + tr, m[2] * r + m[3] * c + tc) for r, c in cells[cb]}
            if cells[ca] & new or not _fits(cells[ca] | new, self.rows, self.cols, self.turnable):
                continue
            for q, (rq, cq, Oq, Cq) in Bc.pieces.items():
                A.pieces[q] = (m[0] * rq + m[1] * cq + tr, m[2] * rq + m[3] * cq + tc, dc[h][Oq], gc[k][Cq])
                comp_of[q] = ca
            cells[ca] |= new
            del comps[cb], cells[cb]
            merges += 1
        return sorted(comps.values(), key=lambda c: -len(c.pieces))

    def place(self, comp: _Component) -> dict[tuple[int, int], tuple[int, int, int]]:
        """The component in the grid (rotated when it only fits that way, at the offset whose filling
        costs least) and the empty cells filled greedily: cell -> (piece, symmetry, colour)."""
        pieces = dict(comp.pieces)
        rs = [v[0] for v in pieces.values()]
        cs = [v[1] for v in pieces.values()]
        h, w = max(rs) - min(rs) + 1, max(cs) - min(cs) + 1
        if not (h <= self.rows and w <= self.cols):  # it fits only turned by 90 degrees (turnable)
            M = B.D4_MATRIX[1]
            turned = {}
            for q, (r, c, o, col) in pieces.items():
                pr = M @ np.array((r, c))
                turned[q] = (int(pr[0]), int(pr[1]), int(B.D4_COMPOSE[1, o]), col)
            pieces = turned
            rs = [v[0] for v in pieces.values()]
            cs = [v[1] for v in pieces.values()]
            h, w = max(rs) - min(rs) + 1, max(cs) - min(cs) + 1
        r0, c0 = min(rs), min(cs)
        best, best_cost = None, np.inf
        for dr in range(self.rows - h + 1):
            for dc in range(self.cols - w + 1):
                grid = {(r - r0 + dr, c - c0 + dc): (q, o, col) for q, (r, c, o, col) in pieces.items()}
                grid, cost = self.fill(grid)
                if cost < best_cost:
                    best, best_cost = grid, cost
        assert best is not None
        return best

    def costs(self, a: int, sa: int, ca: int, disp) -> np.ndarray:
        """The dissimilarity of every (piece, symmetry, colour), as an n x S x T array, at displacement
        ``disp`` from piece ``a`` shown ``sa`` in colour ``ca``."""
        g, n, ns, nt = self.group, self.n, self.ns, self.nt
        d = 0 if disp[0] == 0 else 1
        if disp in ((0, 1), (1, 0)):  # the candidate lies right of / below ``a``
            row = self.D[d, self.left(a, sa)].reshape(n, ns, nt)
            return row[:, :, g.compose[g.inverse[ca]]]
        # the candidate lies left of / above ``a``: its colour t makes a's relative colour inv(t) o ca
        cols = [self.right(a, sa, g.compose[g.inverse[t], ca]) for t in range(nt)]
        return self.D[d][:, cols].reshape(n, ns, nt)

    def fill(self, grid: dict) -> tuple[dict, float]:
        grid = dict(grid)
        free = np.ones(self.n, bool)
        free[[v[0] for v in grid.values()]] = False
        empty = {(r, c) for r in range(self.rows) for c in range(self.cols)} - set(grid)
        steps = ((0, 1), (1, 0), (0, -1), (-1, 0))

        def placed_neighbours(cell):
            return [(cell[0] - dr, cell[1] - dc, (dr, dc)) for dr, dc in steps if (cell[0] - dr, cell[1] - dc) in grid]

        while empty:
            cell = max(sorted(empty), key=lambda e: len(placed_neighbours(e)))
            cost = np.zeros((self.n, self.ns, self.nt))
            for r, c, disp in placed_neighbours(cell):  # disp: from the neighbour to the cell
                a, sa, ca = grid[(r, c)]
                cost += self.costs(a, sa, ca, disp)
            cost[~free] = np.inf
            q, si, t = np.unravel_index(int(np.argmin(cost)), cost.shape)
            grid[cell] = (int(q), self.syms[si], int(t))
            free[q] = False
            empty.discard(cell)
        total = 0.0  # the cost of the whole placement: every adjacent pair once
        for (r, c), (q, s, col) in grid.items():
            for disp in ((0, 1), (1, 0)):
                nb = (r + disp[0], c + disp[1])
                if nb in grid:
                    a, sa, ca = grid[nb]
                    total += self.pair_cost(q, s, col, a, sa, ca, disp)
        return grid, total


# ---------------------------------------------------------------------- the attack
@dataclass(frozen=True)
class Solution:
    """A solved puzzle: ``grid[r, c] = (piece, symmetry, colour)`` shown at cell ``(r, c)`` (after the
    global pick), the rendered ``images`` in the plain layout (N x H x W x C), the component sizes of the
    merging and the global candidates' scores."""

    grid: np.ndarray
    images: np.ndarray
    work_images: np.ndarray
    block: int
    grayscale: bool
    group: B.ColourGroup
    components: tuple[int, ...]
    global_scores: np.ndarray


def _render(pieces: np.ndarray, grid: np.ndarray, group: B.ColourGroup, rows: int, cols: int) -> np.ndarray:
    """pieces: N x n x b x b x c; grid: rows x cols x 3 -> N x H x W x c."""
    out = np.empty((pieces.shape[0], rows * cols, *pieces.shape[2:]), np.uint8)
    for cell, (q, s, t) in enumerate(grid.reshape(-1, 3)):
        out[:, cell] = group.apply(B.symmetry(pieces[:, q], int(s)), int(t))
    return B.from_blocks(out, rows, cols)


def solve(
    cipher_images: np.ndarray,
    *,
    block: int,
    rotations: bool = True,
    shuffle: bool = True,
    negpos: bool = True,
    grayscale: bool = False,
    channels: int = 3,
    prior: JigsawPrior | None = None,
) -> Solution:
    """Solve the puzzle of ``cipher_images`` (``N x H x W' x C'``: N images under one key, or one image).

    ``rotations`` / ``shuffle`` / ``negpos``: whether the scheme has the block symmetry, colour shuffle and
    negative-positive steps (the solver then tries them). ``grayscale``: the grayscale-based variant (its
    cipher is ``H x C*W x 1``; ``channels`` = the plain images' C). ``prior``: public images' statistics in
    the cipher's layout for the global pick (None: keep the merging's frame, colour 0)."""
    check_uint8(cipher_images, "cipher images")
    y = cipher_images if cipher_images.ndim == 4 else cipher_images[None]
    if y.ndim != 4:
        raise InputError(f"cipher images: expected N x H x W x C, got {cipher_images.shape}")
    block = validate.positive_int("block", block)
    h, w = y.shape[1:3]
    if h % block or w % block:
        raise InputError(f"cipher images of {h}x{w} are not divisible into {block}x{block} blocks")
    rows, cols = h // block, w // block
    pieces = B.to_blocks(y, block)
    c = y.shape[-1]
    group = B.colour_group(c, shuffle=shuffle and c > 1, negpos=negpos)
    D, syms, _ = dissimilarity(pieces, rotations=rotations, group=group)
    solver = _Solver(D, syms, group, rows * cols, rows, cols)
    comps = solver.merge_all()
    cells = solver.place(comps[0])
    grid = np.zeros((rows, cols, 3), np.int64)
    for (r, cc), v in cells.items():
        grid[r, cc] = v
    work = _render(pieces, grid, group, rows, cols)
    # the global pick: the symmetries of the whole grid that keep its shape, times the colour transforms
    square = rows == cols
    glob = [k for k in range(B.N_SYMMETRIES) if square or B.D4_MATRIX[k][0, 1] == 0] if len(syms) > 1 else [0]
    scores = np.full((B.N_SYMMETRIES, group.size), -np.inf)
    if prior is not None:
        for k in glob:
            shown = B.symmetry(work, k, (1, 2))
            for t in range(group.size):
                scores[k, t] = prior.score(group.apply(shown, t)).sum()
        kbest, tbest = np.unravel_index(int(np.argmax(scores)), scores.shape)
        grid = _transform_grid(grid, int(kbest), int(tbest), group)
        work = _render(pieces, grid, group, rows, cols)
    images = plain_layout(work, channels) if grayscale else work
    return Solution(grid, images, work, block, grayscale, group, tuple(len(c.pieces) for c in comps), scores)


def _transform_grid(grid: np.ndarray, k: int, t: int, group: B.ColourGroup) -> np.ndarray:
    """The grid of a placement after symmetry ``k`` of the whole image and colour ``t`` of every piece."""
    rows, cols = grid.shape[:2]
    cell = B.symmetry(np.arange(rows * cols).reshape(rows, cols), k, (0, 1))  # new cell <- old cell
    old = grid.reshape(-1, 3)[cell.ravel()]
    new = np.stack([old[:, 0], B.D4_COMPOSE[k, old[:, 1]], group.compose[t, old[:, 2]]], 1)
    return new.reshape(*cell.shape, 3)


# ---------------------------------------------------------------------- against the truth
def truth(key, group: B.ColourGroup) -> np.ndarray:
    """The solution a key implies: ``grid[r, c] = (cipher block, symmetry, colour)`` that shows plain
    block ``(r, c)`` (an :class:`~ppstudy.ciphers.etc.EtCKey` with every step on or off)."""
    rows, cols = key.cipher_shape[0] // key.block, key.cipher_shape[1] // key.block
    n = rows * cols
    out = np.zeros((n, 3), np.int64)
    code = {(tuple(p), bool(neg)): i for i, (p, neg) in enumerate(zip(group.perms.tolist(), group.neg))}
    for j in range(n):
        rot = int(key.rotation[j]) if "rotate" in key.steps and key.block > 1 else 0
        perm = key.shuffle[j] if "shuffle" in key.steps else np.arange(key.shuffle.shape[1])
        neg = bool(key.negpos[j]) if "negpos" in key.steps else False
        fwd = code.get((tuple(int(v) for v in perm), neg))
        if fwd is None:
            raise InputError("truth: the key uses colour transforms the solver's group lacks")
        src = int(key.scramble[j]) if "scramble" in key.steps else j
        out[src] = (j, B.D4_INVERSE[rot], group.inverse[fwd])
    return out.reshape(rows, cols, 3)


def score(solution: Solution, plain_images: np.ndarray, key) -> dict:
    """``direct``: share of grid cells showing exactly the plain block in every image; ``neighbour``: share
    of the plain image's adjacent block pairs kept adjacent in the same relative pose (global symmetry and
    colour ignored); ``key_cells``: share of cells whose (piece, symmetry, colour) is the key's."""
    work = work_layout(plain_images, solution.grayscale)
    b = solution.block
    pb = B.to_blocks(work, b)
    sb = B.to_blocks(solution.work_images, b)
    direct = float((pb == sb).all(axis=(0, 2, 3, 4)).mean())
    true = truth(key, solution.group)
    rows, cols = true.shape[:2]
    g = solution.group
    where = {int(q): (r, c) for (r, c), q in np.ndenumerate(solution.grid[..., 0])}
    pose = {}
    for r in range(rows):
        for c in range(cols):
            q, s, t = true[r, c]
            sr, sc = where[int(q)]
            _, s2, t2 = solution.grid[sr, sc]
            pose[(r, c)] = (sr, sc, int(B.D4_COMPOSE[s2, B.D4_INVERSE[s]]), int(g.compose[t2, g.inverse[t]]))
    good = total = 0
    for r in range(rows):
        for c in range(cols):
            for dr, dc in ((0, 1), (1, 0)):
                if r + dr >= rows or c + dc >= cols:
                    continue
                total += 1
                a, z = pose[(r, c)], pose[(r + dr, c + dc)]
                step = B.D4_MATRIX[a[2]] @ np.array((dr, dc))
                good += a[2:] == z[2:] and (z[0] - a[0], z[1] - a[1]) == (int(step[0]), int(step[1]))
    key_cells = float((solution.grid == true).all(-1).mean())
    # the mirror image of the solution (CIFAR-10 is as likely mirrored: no prior tells them apart)
    mirrored = _render(B.to_blocks(solution.work_images, b), _mirror_grid(solution), solution.group, rows, cols)
    direct_mirror = max(direct, float((pb == B.to_blocks(mirrored, b)).all(axis=(0, 2, 3, 4)).mean()))
    return {
        "direct": direct,
        "direct_up_to_mirror": direct_mirror,
        "neighbour": good / total if total else 1.0,
        "key_cells": key_cells,
    }


def _mirror_grid(solution: Solution) -> np.ndarray:
    """The grid that shows the solution's blocks mirrored left to right, as a grid over its own blocks
    (cell ``(r, c)`` shows rendered block ``(r, cols - 1 - c)`` flipped)."""
    rows, cols = solution.grid.shape[:2]
    out = np.zeros_like(solution.grid)
    for r in range(rows):
        for c in range(cols):
            out[r, c] = (r * cols + cols - 1 - c, 4, 0)
    return out


def key_estimate(solution: Solution, shape) -> object:
    """The EtC key (all four steps) that the solved puzzle implies for plain images of ``shape``: cipher
    block ``q`` shown at cell ``p`` in symmetry ``s`` and colour ``t`` came from plain block ``p`` by
    symmetry ``s^-1`` and colour ``t^-1``."""
    from ppstudy.ciphers import etc

    g = solution.group
    grid = solution.grid.reshape(-1, 3)
    n = len(grid)
    scramble, rotation = np.empty(n, np.intp), np.empty(n, np.int64)
    negpos, shuffle = np.empty(n, bool), np.empty((n, g.channels), np.int64)
    for p, (q, s, t) in enumerate(grid):
        fwd = g.inverse[t]
        scramble[q], rotation[q], negpos[q], shuffle[q] = p, B.D4_INVERSE[s], g.neg[fwd], g.perms[fwd]
    return etc.EtCKey(tuple(shape), solution.block, etc.STEPS, solution.grayscale, scramble, rotation, negpos, shuffle)
