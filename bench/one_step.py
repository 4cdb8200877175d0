#!/usr/bin/env python3
# The one-step agreement check: kiln and PyTorch (float64) take one training step from the
# same state, and the loss, every gradient, the optimizer states, the updates and the new
# params must agree within a tolerance derived per element from f32 rounding (bench/README.md,
# "Agreement with PyTorch"). States: the initial params and kiln's own after 5 and 20 steps.
# Exit 0 agree, 1 a mismatch, 2 kiln could not run, 3 torch/numpy missing (the caller decides).
import argparse
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import SPECS, initial_params, read_safetensors_np, write_safetensors  # noqa: E402

REPO = os.path.dirname(HERE)
DEFAULT_MODELS = "linreg,mlp_small,mlp_mnist,mlp_big"
U32, U64 = 2.0 ** -24, 2.0 ** -53  # unit roundoff: |fl(x) - x| <= u |x|
# The tolerance is LAMBDA * sqrt(V) + D (bench/README.md, "The tolerances"): V is the sum
# of squares of the coefficients of every rounding error (each |delta| <= u), so by
# Hoeffding's inequality a difference beyond LAMBDA sqrt(V) has probability at most
# 2 exp(-LAMBDA^2 / 2) = 4e-22 per element when rounding errors are independent and
# mean-zero (the standard probabilistic model); D holds what is added at its worst: a relu
# gate that may differ, the few roundings of the optimizer step, the f32 rounding of the
# literals lr, eps, beta.
LAMBDA = 10.0
# Roundings charged to an f32 implementation of the composite steps (in units of u):
K_SIGMOID = 6.0  # exp(-|z|) (vectorised, within 2 ulp = 4u), 1 + e, division
K_EXP = 4.0      # exp, log: within 2 ulp
K_LOG1P = 12.0   # log1p, expm1: an exp or log, a correction, a division
K_BC = 10.0      # a bias correction 1 - beta^t = -expm1(t ln beta): ln beta, the product, expm1
K_UPDATE = 5.0   # m / bc1, v / bc2 (half of it through sqrt), sqrt, + eps, lr * mhat, the division
ADAM = dict(beta1=0.9, beta2=0.999, eps=1e-8)
MEDIAN_ADAM = 1e-6  # issue 12: Adam updates agree with PyTorch f64 to a median of 1e-6 relative


def f32(v):
    import numpy as np
    return float(np.float32(v))


# ---------------------------------------------------------------- the reference step --

def reference_step(spec, state, xb, yb):
    """One training step of the PyTorch model (nn.Linear layers, the loss module,
    torch.optim.SGD/Adam) in float64 from kiln's state. Returns the loss, the gradients,
    the updates (p_old - p_new) and the new params and states, all in kiln's layout."""
    import torch
    import torch_bench
    model, loss_fn, opt = torch_bench.build(spec)
    model.to(torch.float64)
    opt = type(opt)(model.parameters(), **opt.defaults)
    lins = torch_bench.linears(model)
    names = spec.param_names()
    with torch.no_grad():
        for lin, (w, b) in zip(lins, names):
            lin.weight.copy_(torch.from_numpy(state[w]).t())
            lin.bias.copy_(torch.from_numpy(state[b]))
    step = state.get("__state__.step")
    if spec.opt == "adam" and step is not None and float(step) > 0:
        for lin, (w, b) in zip(lins, names):
            for p, name, t in ((lin.weight, w, True), (lin.bias, b, False)):
                m, v = state["__state__." + name + ".m"], state["__state__." + name + ".v"]
                opt.state[p] = {"step": torch.tensor(float(step), dtype=torch.float64),
                                "exp_avg": torch.from_numpy(m.T.copy() if t else m.copy()),
                                "exp_avg_sq": torch.from_numpy(v.T.copy() if t else v.copy())}
    x = torch.from_numpy(xb)
    y = torch.from_numpy(yb).long() if spec.loss == "softmax_ce" else torch.from_numpy(yb).reshape(len(yb), -1)
    old = {}
    for lin, (w, b) in zip(lins, names):
        old[w], old[b] = lin.weight.detach().t().clone(), lin.bias.detach().clone()
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    grads = {}
    for lin, (w, b) in zip(lins, names):
        grads[w], grads[b] = lin.weight.grad.t().clone(), lin.bias.grad.clone()
    opt.step()
    out = {"loss": float(loss.item()), "grad": grads, "param": {}, "update": {}, "state": {}}
    for lin, (w, b) in zip(lins, names):
        for p, name, t in ((lin.weight, w, True), (lin.bias, b, False)):
            new = p.detach().t() if t else p.detach()
            out["param"][name] = new.clone()
            out["update"][name] = old[name] - new
            if spec.opt == "adam":
                st = opt.state[p]
                out["state"][name + ".m"] = st["exp_avg"].t().clone() if t else st["exp_avg"].clone()
                out["state"][name + ".v"] = st["exp_avg_sq"].t().clone() if t else st["exp_avg_sq"].clone()
    out["state"]["step"] = torch.tensor(float(step or 0) + 1, dtype=torch.float64)
    return out


# ------------------------------------------------------------------ the rounding model --

def sum_var(u, n, sq_terms, value):
    """The variance proxy of the rounding of a sum of n terms (any order, each partial sum
    rounded): u^2 * sum of squared partial sums, estimated as n (sum t^2 + value^2) (the
    partial sums of terms in data order are a drift j/n * value plus a bridge of the size of
    the terms' norm; see bench/README.md)."""
    return u * u * n * (sq_terms + value * value)


def mm(a, b):
    """a @ b where either may be None (a zero tensor): None."""
    return None if a is None or b is None else a @ b


def add(*xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


def mul(a, b):
    return None if a is None or b is None else a * b


class Model:
    """The per-element tolerances of one f32 (or f64) training step of an MLP from `state`:
    for the loss and every gradient a variance proxy V (the rounding errors, combined in
    quadrature) and a deterministic part D (a relu gate that may open in one computation and
    not in the other, combined linearly; None when zero), and the values they are computed
    at (checked against PyTorch's); optimizer() adds the updates, params and states.
    Computed for f32 (u = 2^-24); in_f64() gives the same step's in f64 (V scales with u^2;
    the gates' D is kept: a superset of f64's, whose tolerances are smaller)."""

    def __init__(self, spec, state, xb, yb):
        import torch
        u = U32
        self.spec, self.u, self.lit = spec, u, True
        T = lambda a: torch.from_numpy(a)  # noqa: E731
        names = spec.param_names()
        Ws = [T(state[w]) for w, _ in names]
        bs = [T(state[b]) for _, b in names]
        x = T(xb)
        L = len(Ws)
        # Forward: z = a @ W + b, then the activation.
        acts = []  # per layer: (a, Va, Da) of its input
        a, Va, Da = x, torch.zeros_like(x), None
        zs = []
        for l in range(L):
            W, b = Ws[l], bs[l]
            W2 = W * W
            prod = a @ W
            z = prod + b
            Vz = sum_var(u, W.shape[0], (a * a) @ W2, prod) + Va @ W2 + u * u * z * z
            Dz = mm(Da, W.abs())
            acts.append((a, Va, Da))
            zs.append((z, Vz, Dz))
            if l + 1 < L:
                if spec.act == "relu":  # 1-Lipschitz; exactly 0 where z is surely negative
                    live = (z > -(LAMBDA * Vz.sqrt() + (Dz if Dz is not None else 0))).to(z.dtype)
                    a, Va, Da = z.clamp(min=0), Vz * live, mul(Dz, live)
                else:
                    s = torch.sigmoid(z)
                    a, Va, Da = s, (s * (1 - s)) ** 2 * Vz + (K_SIGMOID * u * s) ** 2, mul(Dz, s * (1 - s))
        z, Vz, Dz = zs[-1]
        B = z.shape[0]
        # The loss (a mean) and its gradient G with respect to the logits.
        if spec.loss == "mse":
            y = T(yb).reshape(B, -1)
            n = z.numel()
            d = z - y
            Vd = Vz + u * u * d * d
            se = d * d
            Vse = 4 * d * d * Vd + (u * se) ** 2
            self.loss = float(se.mean())
            VL = float(Vse.sum()) / n ** 2 + float(sum_var(u, n, (se * se).sum(), se.sum())) / n ** 2 + (u * self.loss) ** 2
            DL = None if Dz is None else float((2 * d.abs() * Dz).sum()) / n
            G = 2 * d / n
            VG = (2.0 / n) ** 2 * Vd + (2 * u * G) ** 2
            DG = mul(Dz, 2.0 / n)
        elif spec.loss == "bce_with_logits":
            y = T(yb).reshape(B, -1)
            n = z.numel()
            s = torch.sigmoid(z)
            sp = torch.log1p(torch.exp(-z.abs()))
            ell = z.clamp(min=0) - z * y + sp
            Vell = (s - y) ** 2 * Vz + u * u * ((z * y) ** 2 + (z.clamp(min=0) - z * y) ** 2
                                                + ((K_EXP + K_LOG1P) * sp) ** 2 + ell ** 2)
            self.loss = float(ell.mean())
            VL = float(Vell.sum()) / n ** 2 + float(sum_var(u, n, (ell * ell).sum(), ell.sum())) / n ** 2 + (u * self.loss) ** 2
            DL = None if Dz is None else float(((s - y).abs() * Dz).sum()) / n
            G = (s - y) / n
            VG = (s * (1 - s) / n) ** 2 * Vz + (u / n) ** 2 * ((K_SIGMOID * s) ** 2 + 2 * (s - y) ** 2)
            DG = mul(Dz, s * (1 - s) / n)
        else:  # softmax_ce on class indices
            lab = T(yb).long()
            C = z.shape[1]
            m = z.max(dim=1, keepdim=True).values
            e = torch.exp(z - m)
            ssum = e.sum(dim=1, keepdim=True)
            p = e / ssum
            lse = m + torch.log(ssum)
            onehot = torch.nn.functional.one_hot(lab, C).to(z.dtype)
            ell = lse - (z * onehot).sum(dim=1, keepdim=True)
            rowsum = lambda t: t.sum(dim=1, keepdim=True)  # noqa: E731
            # lse's own roundings: z - m, exp, the sum, log, + m
            sums = sum_var(1.0, C, rowsum(e * e), ssum) / ssum ** 2
            lse_loc = u * u * (rowsum(p * p * (z - m) ** 2) + K_EXP ** 2 * rowsum(p * p) + sums
                               + (K_EXP * torch.log(ssum)) ** 2 + lse ** 2)
            Vell = rowsum((p - onehot) ** 2 * Vz) + lse_loc + (u * ell) ** 2
            self.loss = float(ell.mean())
            VL = float(Vell.sum()) / B ** 2 + float(sum_var(u, B, (ell * ell).sum(), ell.sum())) / B ** 2 + (u * self.loss) ** 2
            DL = None if Dz is None else float(((p - onehot).abs() * Dz).sum()) / B
            G = (p - onehot) / B
            # softmax: dp_c = p_c (dz_c - sum_j p_j dz_j); its roundings: z - m, exp, sum, division
            soft_loc = ((z - m) ** 2 + rowsum(p * p * (z - m) ** 2) + K_EXP ** 2 + K_EXP ** 2 * rowsum(p * p) + sums + 1)
            VG = (2.0 / B ** 2) * p * p * (Vz + rowsum(p * p * Vz)) + (u / B) ** 2 * (2 * p * p * soft_loc + 2 * (p - onehot) ** 2)
            DG = None if Dz is None else p * (Dz + rowsum(p * Dz)) / B
        self.V, self.D = {"loss": VL}, {"loss": DL or 0.0}
        # Backward: dW = a^T G, db = the rows' sum of G, dA = G W^T, then the activation's
        # derivative (a relu's gate may differ where z is within its tolerance of 0).
        grads, Vg, Dg = {}, {}, {}
        for l in reversed(range(L)):
            a, Va, Da = acts[l]
            W = Ws[l]
            a2, G2 = a * a, G * G
            dW = a.t() @ G
            wname, bname = names[l]
            grads[wname] = dW
            Vg[wname] = sum_var(u, B, a2.t() @ G2, dW) + a2.t() @ VG + Va.t() @ G2
            Dg[wname] = add(mm(a.abs().t(), DG), mm(None if Da is None else Da.t(), G.abs()))
            db = G.sum(dim=0)
            grads[bname] = db
            Vg[bname] = sum_var(u, B, G2.sum(dim=0), db) + VG.sum(dim=0)
            Dg[bname] = None if DG is None else DG.sum(dim=0)
            if l == 0:
                break
            W2t = (W * W).t()
            dA = G @ W.t()
            VdA = sum_var(u, W.shape[1], G2 @ W2t, dA) + VG @ W2t
            DdA = mm(DG, W.abs().t())
            zp, Vzp, Dzp = zs[l - 1]
            if spec.act == "relu":
                mask = (zp > 0).to(zp.dtype)
                Tz = LAMBDA * Vzp.sqrt() + (Dzp if Dzp is not None else 0)
                amb = (zp.abs() <= Tz).to(zp.dtype)
                G, VG = dA * mask, VdA * mask
                DG = add(mul(DdA, mask), amb * (dA.abs() + LAMBDA * VdA.sqrt() + (DdA if DdA is not None else 0)))
                if not bool(amb.any()) and DdA is None:
                    DG = None
            else:
                s, Vs, Ds = acts[l]  # the activation's output is this layer's input
                sd = s * (1 - s)
                Vsd = (1 - 2 * s) ** 2 * Vs + 2 * (u * sd) ** 2
                G = dA * sd
                VG = sd * sd * VdA + dA * dA * Vsd + (u * G) ** 2
                DG = add(mul(DdA, sd), mul(Ds, dA.abs() * (1 - 2 * s).abs()))
        self.grads, self.Vgrads, self.Dgrads = grads, Vg, Dg

    def tol(self, V, D):
        return LAMBDA * V.sqrt() + (D if D is not None else 0)

    def in_f64(self):
        """The model of the same step in f64: kiln's interpreter in f64, whose literals are
        not rounded to f32 either."""
        import copy
        m = copy.copy(self)
        k = (U64 / U32) ** 2
        m.u, m.lit = U64, False
        m.V = {key: v * k for key, v in self.V.items()}
        m.Vgrads = {key: v * k for key, v in self.Vgrads.items()}
        return m

    def optimizer(self, state, ref):
        """Tolerances of the update, the new params and the new states, from the gradients'."""
        import torch
        spec, u, lr = self.spec, self.u, self.spec.lr
        fl = f32 if self.lit else (lambda v: v)
        out = {}
        step = float(state.get("__state__.step", 0.0))
        t = step + 1
        for name in [n for pair in spec.param_names() for n in pair]:
            g = ref["grad"][name]
            Tg = self.tol(self.Vgrads[name], self.Dgrads[name])
            p = torch.from_numpy(state[name])
            if spec.opt == "sgd":
                upd = lr * g
                Du = lr * Tg + abs(fl(lr) - lr) * g.abs() + u * upd.abs()
                out[name] = {"update": (torch.zeros_like(g), Du)}
            else:
                b1, b2, eps = ADAM["beta1"], ADAM["beta2"], ADAM["eps"]
                m0 = torch.from_numpy(state["__state__." + name + ".m"]) if step > 0 else torch.zeros_like(g)
                v0 = torch.from_numpy(state["__state__." + name + ".v"]) if step > 0 else torch.zeros_like(g)
                # (exactly: -expm1(t ln beta); PyTorch's 1 - beta**t loses up to 10 bits in f64)
                bc1, bc2 = -math.expm1(t * math.log(b1)), -math.expm1(t * math.log(b2))

                def adam(gg):
                    m = b1 * m0 + (1 - b1) * gg
                    v = b2 * v0 + (1 - b2) * gg * gg
                    return lr * (m / bc1) / ((v / bc2).sqrt() + eps), m, v

                upd, m, v = adam(g)
                # The gradient's tolerance carried through the (nonlinear) update: the
                # largest change of each value when g moves by its tolerance either way
                # (then a deterministic part: the sum of few terms is bounded term by term).
                hi, mhi, vhi = adam(g + Tg)
                lo, mlo, vlo = adam(g - Tg)
                dev = lambda a, b, c: torch.maximum((b - a).abs(), (c - a).abs())  # noqa: E731
                vhat = v / bc2
                den = vhat.sqrt() + eps
                dudm = lr / (bc1 * den)
                dudv = torch.where(vhat > 0, lr * (m / bc1) / den ** 2 * 0.5 / vhat.clamp(min=1e-300).sqrt() / bc2,
                                   torch.zeros_like(vhat))
                # The step's own few roundings, at their worst (no sum of many terms here):
                # m and v (two products and a sum; g^2), the bias corrections (K_BC), the update.
                Dm = u * ((b1 * m0).abs() + ((1 - b1) * g).abs() + m.abs()) \
                    + abs(fl(b1) - b1) * m0.abs() + abs(fl(1 - b1) - (1 - b1)) * g.abs()
                Dv = u * (b2 * v0 + 2 * (1 - b2) * g * g + v) + abs(fl(b2) - b2) * v0 + abs(fl(1 - b2) - (1 - b2)) * g * g
                Du = (dudm * Dm + dudv.abs() * Dv + K_BC * u * upd.abs() * (1 + vhat.sqrt() / den / 2)
                      + K_UPDATE * u * upd.abs() + abs(fl(lr) - lr) / lr * upd.abs() + abs(fl(eps) - eps) * upd.abs() / den)
                zero = torch.zeros_like(g)
                out[name] = {"update": (zero, dev(upd, hi, lo) + Du),
                             "m": (zero, dev(m, mhi, mlo) + Dm + U64 * m.abs()),
                             "v": (zero, dev(v, vhi, vlo) + Dv + U64 * v)}
            # The new param p - update, rounded (kiln's sub), against PyTorch's p_new, itself
            # rounded to f64 (and the reference update p_old - p_new carries that rounding).
            pn = (p - upd).abs()
            Vu, Du = out[name]["update"]
            out[name]["param"] = (Vu, Du + U64 * pn)  # (+ half an ulp of kiln's new value: check())
            out[name]["ref_update"] = upd
            # The formula's update is PyTorch's step (p_old - p_new, rounded to f64 twice, and
            # its bias corrections computed as 1 - beta**t) to 1e-12.
            if float(((ref["update"][name] - upd).abs() - 1e-12 * upd.abs() - 2 * U64 * pn).max()) > 0:
                raise RuntimeError("internal: the rounding model's update of %s is not PyTorch's" % name)
        return out


# ------------------------------------------------------------------------- comparing --

class Verdict:
    def __init__(self):
        self.failures = []

    def check(self, what, got, want, V, D, half_ulp_of=None):
        """Every element of `got` within LAMBDA sqrt(V) + D of `want` (plus half an ulp of
        its own value in `half_ulp_of`'s precision: "f32" or "f64", for a value rounded once
        more than the tolerance counts); returns the worst difference / tolerance."""
        import numpy as np
        import torch
        got = torch.as_tensor(got, dtype=torch.float64).reshape(want.shape)
        diff = got - want
        diff.abs_()
        if bool(torch.isnan(diff).any()):
            self.failures.append("%s: NaN (kiln %s)" % (what, "NaN" if bool(torch.isnan(got).any()) else "finite"))
            return math.inf
        tol = torch.as_tensor(V, dtype=torch.float64).sqrt().mul_(LAMBDA)
        tol = tol + (D if D is not None else 0.0)
        if half_ulp_of:
            ulp = torch.from_numpy(np.spacing(np.abs(got.numpy()).astype(
                np.float32 if half_ulp_of == "f32" else np.float64)).astype(np.float64))
            half = ulp.mul_(0.5)
            # (reported: the worst difference beyond that last rounding, over the tolerance)
            beyond = ((diff - half).clamp_(min=0) / torch.broadcast_to(tol, diff.shape)).nan_to_num_(nan=0.0)
            self.beyond = max(getattr(self, "beyond", 0.0), float(beyond.max()))
            tol = tol + half
        ratio = diff / torch.broadcast_to(tol, diff.shape)
        ratio.nan_to_num_(nan=0.0)  # 0 / 0: equal, with no tolerance
        worst = float(ratio.max()) if ratio.numel() else 0.0
        if worst > 1:
            k = int(ratio.reshape(-1).argmax())
            self.failures.append("%s: element %d: kiln %.9g, PyTorch %.9g, difference %.3g > tolerance %.3g"
                                 % (what, k, float(got.reshape(-1)[k]), float(want.reshape(-1)[k]),
                                    float(diff.reshape(-1)[k]), float(torch.broadcast_to(tol, diff.shape).reshape(-1)[k])))
        return worst


def sample(t, limit=1 << 20):
    """At most `limit` elements of a flat tensor, evenly strided (for medians of big tensors)."""
    step = max(1, t.numel() // limit)
    return t[::step]


def compare(spec, engine, kout, ref, model, opt_tol):
    """Compares one engine's step (kiln_one_step's tensors `kout`) with PyTorch's."""
    import numpy as np
    import torch
    v = Verdict()
    worst = dict(loss=0.0, grad=0.0, update=0.0, param=0.0, state=0.0)
    names = [n for pair in spec.param_names() for n in pair]
    prec = "f64" if engine == "interp64" else "f32"
    worst["loss"] = v.check("loss", kout[engine + ".loss"], torch.tensor(ref["loss"], dtype=torch.float64),
                            model.V["loss"], model.D["loss"])
    loss_rel = abs(float(kout[engine + ".loss"]) - ref["loss"]) / abs(ref["loss"])
    rel_upd, grad_rel, lr_frac = [], [], 0.0
    for name in names:
        g = ref["grad"][name]
        worst["grad"] = max(worst["grad"], v.check("grad " + name, kout[engine + ".grad." + name], g,
                                                   model.Vgrads[name], model.Dgrads[name]))
        kg = torch.from_numpy(kout[engine + ".grad." + name]).reshape(g.shape)
        grad_rel.append(sample(((kg - g) / g).abs().reshape(-1)))  # (0/0, x/0: dropped below)
        Vu, Du = opt_tol[name]["update"]
        upd = opt_tol[name]["ref_update"]
        worst["update"] = max(worst["update"], v.check("update " + name, kout[engine + ".update." + name], upd, Vu, Du))
        Vp, Dp = opt_tol[name]["param"]
        worst["param"] = max(worst["param"], v.check("param " + name, kout[engine + ".param." + name],
                                                     ref["param"][name], Vp, Dp, half_ulp_of=prec))
        if spec.opt == "adam":
            for s in ("m", "v"):
                Vs, Ds = opt_tol[name][s]
                worst["state"] = max(worst["state"], v.check("state %s.%s" % (name, s),
                                                             kout["%s.state.%s.%s" % (engine, name, s)],
                                                             ref["state"]["%s.%s" % (name, s)], Vs, Ds))
        # Updates relative and as a fraction of lr, leaving out Adam's elements whose
        # gradient is below 100 x eps (there the update hinges on eps: see README).
        ku = torch.from_numpy(kout[engine + ".update." + name]).reshape(upd.shape)
        du = (ku - upd).abs()
        keep = (g.abs() >= 100 * ADAM["eps"]) if spec.opt == "adam" else (g != 0)
        keep &= upd != 0
        rel = torch.where(keep, du / upd.abs(), torch.full_like(du, math.nan))
        rel_upd.append(sample(rel.reshape(-1)))
        lr_frac = max(lr_frac, float(torch.where(keep, du, torch.zeros_like(du)).max()) / spec.lr)
    want_step = float(ref["state"]["step"])
    if float(kout["%s.state.step" % engine]) != want_step:
        v.failures.append("state step: kiln %g, expected %g" % (float(kout["%s.state.step" % engine]), want_step))
    finite = lambda ts: np.concatenate([t.numpy() for t in ts])  # noqa: E731
    ru, rg = finite(rel_upd), finite(grad_rel)
    ru, rg = ru[np.isfinite(ru)], rg[np.isfinite(rg)]
    med_upd = float(np.median(ru)) if ru.size else 0.0
    if spec.opt == "adam" and engine == "jit" and med_upd > MEDIAN_ADAM:
        v.failures.append("updates: median relative difference %.3g > %.0e (Adam's updates must agree with "
                          "PyTorch f64 to a median of 1e-6)" % (med_upd, MEDIAN_ADAM))
    stats = {"param_beyond": getattr(v, "beyond", 0.0), "loss_rel": loss_rel, "grad_rel_median": float(np.median(rg)) if rg.size else 0.0,
             "upd_rel_median": med_upd, "upd_rel_max": float(ru.max()) if ru.size else 0.0, "upd_lr_frac": lr_frac}
    return v, worst, stats


# --------------------------------------------------------------------------- driving --

def run(cmd, what):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print("one_step: %s failed (exit %d): %s\n%s" % (what, p.returncode, " ".join(cmd), p.stderr), file=sys.stderr)
        sys.exit(2)


def main():
    ap = argparse.ArgumentParser(description="kiln vs PyTorch f64: one training step from a shared state")
    ap.add_argument("--build", default=os.environ.get("KILN_BUILD", os.path.join(REPO, "build")),
                    help="kiln's build directory (kiln, kiln_one_step)")
    ap.add_argument("--models", default=DEFAULT_MODELS)
    ap.add_argument("--states", default="0,5,20,mlp_big=0",
                    help="the states: kiln's own after these many steps (name=N,...: a model's own list)")
    ap.add_argument("--engines", default="jit,interp64",
                    help="kiln engines to compare (interp64: the interpreter in f64; not run for mlp_big)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", default="mlp_big=32",
                    help="batch sizes other than the model's, as name=N,... (mlp_big's own 256 makes its "
                         "float64 reference and tolerances take minutes; 32 keeps every layer's shape but the batch)")
    ap.add_argument("--lanes", type=int, default=0,
                    help="kiln_one_step --lanes: the JIT's GEMM for 8 lanes (AVX2) or 4 (SSE) on this host")
    ap.add_argument("--seed", type=int, default=123)
    ap.add_argument("--keep", default="", help="work in this directory and keep it")
    a = ap.parse_args()
    import torch_bench
    try:
        import numpy as np
        have = torch_bench.import_torch(a.threads)
    except ImportError:
        have = False
    if not have:
        print("one_step: torch or numpy is not installed (python3-torch, python3-numpy)")
        return 3
    import gen_data
    kiln = os.path.join(a.build, "kiln")
    driver = os.path.join(a.build, "kiln_one_step")
    for exe in (kiln, driver):
        if not os.access(exe, os.X_OK):
            print("one_step: no %s (ninja -C %s kiln kiln_one_step)" % (exe, a.build), file=sys.stderr)
            return 2
    states_of = {}
    for part in a.states.split(","):
        key, _, val = part.rpartition("=")
        states_of.setdefault(key, []).append(int(val))
    batches = dict((kv.split("=")[0], int(kv.split("=")[1])) for kv in a.batch.split(",") if kv)
    work = a.keep or tempfile.mkdtemp(prefix="kiln-onestep-")
    os.makedirs(work, exist_ok=True)
    failed = False
    t0 = time.time()
    for name in a.models.split(","):
        if name not in SPECS:
            print("one_step: unknown model '%s'" % name, file=sys.stderr)
            return 2
        spec = SPECS[name]
        states = sorted(states_of.get(name, states_of.get("", [0])))
        if name in batches:  # the same network on smaller batches (kiln: --batch)
            import copy
            spec = copy.copy(spec)
            spec.batch = batches[name]
        batch_args = ["--batch", str(spec.batch)]
        tm = time.time()
        spent = {"kiln train": 0.0, "kiln_one_step": 0.0, "PyTorch": 0.0, "tolerances": 0.0}
        # (the data does not depend on --states: gen_data draws its targets' projection after x)
        x, y = gen_data.make_data(spec, max(21, states[-1] + 1) * spec.batch, a.seed)
        init = os.path.join(work, name + ".s0.safetensors")
        write_safetensors(init, initial_params(spec, a.seed))
        engines = [e for e in a.engines.split(",") if not (e == "interp64" and name == "mlp_big")]
        print("%s (%s, lr %g, batch %d): states after %s steps, engines %s"
              % (name, spec.opt, spec.lr, spec.batch, ", ".join(map(str, states)), ", ".join(engines)))
        for k in states:
            state_path = init
            if k > 0:  # kiln's own training: k steps on the first k batches, in order
                d = os.path.join(work, "%s.train%d" % (name, k))
                os.makedirs(d, exist_ok=True)
                np.save(os.path.join(d, "x.npy"), x[:k * spec.batch])
                np.save(os.path.join(d, spec.label_input + ".npy"), y[:k * spec.batch])
                state_path = os.path.join(work, "%s.s%d.safetensors" % (name, k))
                tk = time.time()
                run([kiln, "train", spec.model_file, "--data", "x=" + os.path.join(d, "x.npy"), "--data",
                     "%s=%s" % (spec.label_input, os.path.join(d, spec.label_input + ".npy")), "--load", init,
                     "--no-shuffle", "--epochs", "1", "--save", state_path, "--quiet", "--engine", "jit",
                     "--threads", str(a.threads)] + batch_args, "kiln train")
                spent["kiln train"] += time.time() - tk
            # The next batch, and one step of it in kiln and in PyTorch.
            xb, yb = x[k * spec.batch:(k + 1) * spec.batch], y[k * spec.batch:(k + 1) * spec.batch]
            bd = os.path.join(work, "%s.batch%d" % (name, k))
            os.makedirs(bd, exist_ok=True)
            np.save(os.path.join(bd, "x.npy"), xb)
            np.save(os.path.join(bd, spec.label_input + ".npy"), yb)
            out = os.path.join(work, "%s.step%d.safetensors" % (name, k))
            tk = time.time()
            run([driver, spec.model_file, "--load", state_path, "--data", "x=" + os.path.join(bd, "x.npy"), "--data",
                 "%s=%s" % (spec.label_input, os.path.join(bd, spec.label_input + ".npy")), "--out", out,
                 "--engines", ",".join(engines), "--threads", str(a.threads), "--lanes", str(a.lanes)] + batch_args,
                "kiln_one_step")
            spent["kiln_one_step"] += time.time() - tk
            kout, meta = read_safetensors_np(out, with_metadata=True)
            state = read_safetensors_np(state_path)  # params; states as __state__.<name>
            xb64, yb64 = xb.astype(np.float64), (yb.astype(np.int64) if spec.loss == "softmax_ce" else yb.astype(np.float64))
            tk = time.time()
            ref = reference_step(spec, state, xb64, yb64)
            spent["PyTorch"] += time.time() - tk
            tk = time.time()
            model32 = Model(spec, state, xb64, yb64)
            spent["tolerances"] += time.time() - tk
            # The model's own values are PyTorch's (a check of this script's formulas).
            for pname in ref["grad"]:
                scale = float(ref["grad"][pname].abs().max()) or 1.0
                if float((model32.grads[pname] - ref["grad"][pname]).abs().max()) > 1e-9 * scale:
                    print("one_step: internal: the rounding model's gradient of %s is not PyTorch's" % pname,
                          file=sys.stderr)
                    return 2
            for engine in engines:
                tk = time.time()
                model = model32.in_f64() if engine == "interp64" else model32
                opt_tol = model.optimizer(state, ref)
                spent["tolerances"] += time.time() - tk
                v, worst, st = compare(spec, engine, kout, ref, model, opt_tol)
                ok = not v.failures
                failed = failed or not ok
                print("  state %-2d %-8s %s loss %.6f (rel diff %.1e); worst diff/tolerance: loss %.2f, grads %.2f, "
                      "%supdates %.2f, params %.2f (beyond their rounding %.2f); updates: median rel %.1e, max rel %.1e, max %.1e "
                      "of lr; grads: median rel %.1e"
                      % (k, engine, "ok  " if ok else "FAIL", ref["loss"], st["loss_rel"], worst["loss"], worst["grad"],
                         ("m,v %.2f, " % worst["state"]) if spec.opt == "adam" else "", worst["update"],
                         worst["param"], st["param_beyond"], st["upd_rel_median"], st["upd_rel_max"],
                         st["upd_lr_frac"], st["grad_rel_median"]))
                for f in v.failures[:6]:
                    print("      " + f)
            if meta.get("jit_plain_identical") == "no":
                print("      the JIT's params after the step with the update roots differ from those without them")
                failed = True
        print("  (%s: %.1f s: %s)" % (name, time.time() - tm, ", ".join("%s %.1f s" % kv for kv in spent.items())))
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    print("one_step: %s in %.0f s" % ("MISMATCH" if failed else "all agree", time.time() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
