#!/usr/bin/python3
"""scripts/lowbit_budget.py - the error budget of W4A4 on a GPT-2
checkpoint (docs/quantization.md, "Where W4A4's perplexity increase comes
from"): a torch fake-quant model of looplynx's low-bit arithmetic, written
apart from the engine, in which each quantization site can be switched on
alone, with and without the rotations (R1 mixing rotation with folded norms,
R2 per-head V/O, R4 online Hadamard before FC2; --parts picks a subset,
"lnh" is an online Hadamard on both LayerNorm outputs instead of R1).  KV
scales come from the first --calib ids of TRAIN_IDS; perplexity over the
first --tokens ids of VALID_IDS in windows of 128 (as looplynx ppl).  The
random signs are numpy's, not the engine's.  Token ids: the "ids:" line of
`looplynx tokenize -m MODEL -f FILE`.

usage: lowbit_budget.py MODEL_DIR TRAIN_IDS VALID_IDS [--tokens N] [--calib N]
         [--exp budget|stats] [--rows w,wqkv,...,a,aqkv,...,kv,lm8,lm4,all,allf]
         [--parts fold,r1,r2,r4,lnh] [--mix mix|haar] [--wclip none|mse]
         [--aclip RATIO] [--plain 0|1] [--seed N]
"""
import argparse, json, math
import numpy as np
import torch

from learn_rotation import load_safetensors  # the checkpoint reader both scripts use

torch.set_grad_enabled(False)
torch.set_flush_denormal(True)
torch.set_num_threads(1)


def load(dirname):
    out = load_safetensors(dirname + "/model.safetensors")
    cfg = json.load(open(dirname + "/config.json"))
    return out, cfg


def hadamard(n):
    h = np.ones((1, 1))
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    assert h.shape[0] == n, "power-of-two sizes only here"
    return h / math.sqrt(n)


def signs(n, rng):
    return np.where(rng.random(n) < 0.5, -1.0, 1.0)


class Model:
    """fp64 weights in [out][in] layout, LayerNorms folded when rotated."""

    def __init__(self, sd, cfg, rotate=False, seed=0, mix="mix", parts="fold,r1,r2,r4"):
        self.C, self.L, self.NH = cfg["n_embd"], cfg["n_layer"], cfg["n_head"]
        self.d = self.C // self.NH
        self.F = 4 * self.C
        self.wte, self.wpe = sd["wte.weight"].copy(), sd["wpe.weight"].copy()
        self.layers = []
        for l in range(self.L):
            p = "h.%d." % l
            L = dict(
                g1=sd[p + "ln_1.weight"].copy(), b1=sd[p + "ln_1.bias"].copy(),
                g2=sd[p + "ln_2.weight"].copy(), b2=sd[p + "ln_2.bias"].copy(),
                qkv=sd[p + "attn.c_attn.weight"].T.copy(), qkv_b=sd[p + "attn.c_attn.bias"].copy(),
                proj=sd[p + "attn.c_proj.weight"].T.copy(), proj_b=sd[p + "attn.c_proj.bias"].copy(),
                fc1=sd[p + "mlp.c_fc.weight"].T.copy(), fc1_b=sd[p + "mlp.c_fc.bias"].copy(),
                fc2=sd[p + "mlp.c_proj.weight"].T.copy(), fc2_b=sd[p + "mlp.c_proj.bias"].copy())
            self.layers.append(L)
        self.gf, self.bf = sd["ln_f.weight"].copy(), sd["ln_f.bias"].copy()
        self.lm, self.lm_b = self.wte.copy(), np.zeros(self.wte.shape[0])
        self.down = None  # online transform matrix for FC2's input
        self.online = {}  # site -> online orthogonal transform of the site's input (x -> x @ M)
        self.parts = set(parts.split(","))
        if rotate:
            self.rotate(seed, mix)

    def rotate(self, seed, mix):
        C, F, d = self.C, self.F, self.d
        P = self.parts
        rng = np.random.default_rng(seed)
        H = hadamard(C)
        s = signs(C, rng); s[0] = 1.0
        if mix == "mix":  # Q = H^T D H, D = +1 on the all-ones direction (index 0)
            Q = H.T @ np.diag(s) @ H
        elif mix == "haar":  # a Haar-random orthogonal Q with Q 1 = 1 (the mean-free subspace rotated at random)
            B = np.linalg.qr(np.column_stack([np.ones(C), rng.standard_normal((C, C - 1))]))[0][:, 1:]
            G = np.linalg.qr(rng.standard_normal((C - 1, C - 1)))[0]
            Q = B @ G @ B.T + np.ones((C, C)) / C
        else:
            raise ValueError(mix)
        Hd = hadamard(d) @ np.diag(signs(d, rng))
        Hf = hadamard(F) @ np.diag(signs(F, rng))
        Hl = hadamard(C) @ np.diag(signs(C, rng))
        fold = "fold" in P or "r1" in P
        for L in self.layers:
            if fold:
                L["qkv_b"] = L["qkv_b"] + L["qkv"] @ L["b1"]; L["qkv"] = L["qkv"] * L["g1"][None, :]
                L["fc1_b"] = L["fc1_b"] + L["fc1"] @ L["b2"]; L["fc1"] = L["fc1"] * L["g2"][None, :]
                L["g1"][:] = 1; L["b1"][:] = 0; L["g2"][:] = 1; L["b2"][:] = 0
            if "r1" in P:
                L["qkv"] = L["qkv"] @ Q.T
                L["fc1"] = L["fc1"] @ Q.T
                L["proj"] = Q @ L["proj"]; L["proj_b"] = Q @ L["proj_b"]
                L["fc2"] = Q @ L["fc2"]; L["fc2_b"] = Q @ L["fc2_b"]
            if "lnh" in P:  # online randomised Hadamard on both LN outputs
                L["qkv"] = L["qkv"] @ Hl.T
                L["fc1"] = L["fc1"] @ Hl.T
            if "r2" in P:
                for h in range(self.NH):
                    r = slice(2 * C + h * d, 2 * C + (h + 1) * d)
                    L["qkv"][r] = Hd @ L["qkv"][r]; L["qkv_b"][r] = Hd @ L["qkv_b"][r]
                    c = slice(h * d, (h + 1) * d)
                    L["proj"][:, c] = L["proj"][:, c] @ Hd.T
            if "r4" in P:
                L["fc2"] = L["fc2"] @ Hf.T
        if fold:
            self.lm_b = self.lm @ self.bf; self.lm = self.lm * self.gf[None, :]
            self.gf[:] = 1; self.bf[:] = 0
        if "r1" in P:
            self.lm = self.lm @ Q.T
            self.wte = self.wte @ Q.T
            self.wpe = self.wpe @ Q.T
        if "r4" in P:
            self.down = Hf
        if "lnh" in P:
            self.online = {"qkv": Hl.T, "fc1": Hl.T}


# ---- fake quantizers (docs/quantization.md) ----

def w4(W, group=0, clip="none", H=None):
    """int4 symmetric per row (or group); clip: none, or mse (grid search of
    the clip ratio per row/group minimising the squared error, weighted by
    diag(H) when given)."""
    R, K = W.shape
    G = group if group else K
    Wg = W.reshape(R, K // G, G)
    amax = np.abs(Wg).max(axis=2, keepdims=True)
    wt = None if H is None else np.diag(H).reshape(1, K // G, G)
    best = None
    ratios = [1.0] if clip == "none" else [1.0 - 0.01 * i for i in range(0, 51)]
    out = None
    for r in ratios:
        s = (amax * r / 7.0).astype(np.float32).astype(np.float64)
        s[s == 0] = 1.0
        q = np.clip(np.round(Wg / s), -8, 7) * s
        e = (q - Wg) ** 2
        if wt is not None:
            e = e * wt
        e = e.sum(axis=2, keepdims=True)
        if best is None:
            best, out = e, q
        else:
            m = e < best
            best = np.where(m, e, best)
            out = np.where(m, q, out)
    return out.reshape(R, K)


def w8(W):
    amax = np.abs(W).max(axis=1, keepdims=True)
    amax[amax == 0] = 1
    return np.clip(np.round(W * (127.0 / amax)), -127, 127) * (amax / 127.0)


def a4(x, clip=1.0):
    """per-token asymmetric int4 over the last dim (llx_quantize_a4), range
    optionally shrunk by clip"""
    mn = torch.clamp(x.min(dim=-1, keepdim=True).values, max=0.0) * clip
    mx = torch.clamp(x.max(dim=-1, keepdim=True).values, min=0.0) * clip
    rng = mx - mn
    rng = torch.where(rng > 0, rng, torch.ones_like(rng))
    inv = 15.0 / rng
    z = torch.round(-mn * inv)
    c = torch.clamp(torch.round(x * inv) + z, 0, 15)
    return (c - z) * (rng / 15.0)


def a8(x):
    amax = x.abs().max(dim=-1, keepdim=True).values
    amax = torch.where(amax > 0, amax, torch.ones_like(amax))
    return torch.clamp(torch.round(x * (127.0 / amax)), -127, 127) * (amax / 127.0)


SITES = ("qkv", "proj", "fc1", "fc2")


def gelu(x):
    return 0.5 * x * (1.0 + torch.tanh(0.7978845608 * (x + 0.044715 * x ** 3)))


def ln(x, g, b):
    m = x.mean(-1, keepdim=True)
    v = ((x - m) ** 2).mean(-1, keepdim=True)
    return (x - m) / torch.sqrt(v + 1e-5) * g + b


class Runner:
    """the model with a quantization plan:
    wbits: dict site -> weights int4 (RTN with clip mode, or given matrices)
    abits: set of sites with int4 activations (clip ratio per site)
    kv8: static per-head int8 q/k/v and int8 attention probabilities
    lm: 'f32' | 'w8a8' | 'w4a8'"""

    def __init__(self, m, w4sites=(), a4sites=(), kv8=False, lm="f32", wclip="none", aclip=None,
                 group=0, wmats=None):
        self.m, self.a4sites, self.kv8, self.lmmode = m, set(a4sites), kv8, lm
        self.aclip = aclip or {}
        t = lambda a: torch.tensor(a, dtype=torch.float32)
        self.L = []
        for li, L in enumerate(m.layers):
            T = {}
            for s in SITES:
                W = L[s]
                if wmats is not None and (li, s) in wmats:
                    W = wmats[(li, s)]
                elif s in w4sites:
                    W = w4(W, group, wclip)
                T[s] = t(W.T.copy()); T[s + "_b"] = t(L[s + "_b"])
            for k in ("g1", "b1", "g2", "b2"):
                T[k] = t(L[k])
            self.L.append(T)
        lmw = m.lm
        if lm == "w8a8":
            lmw = w8(lmw)
        elif lm == "w4a8":
            lmw = w4(lmw, 0, wclip)
        self.lm, self.lm_b = t(lmw.T.copy()), t(m.lm_b)
        self.wte, self.wpe, self.gf, self.bf = t(m.wte), t(m.wpe), t(m.gf), t(m.bf)
        self.down = None if m.down is None else t(m.down.T.copy())
        self.online = {k: t(v) for k, v in m.online.items()}
        self.kvs = None
        self.observe = None

    def q_in(self, site, x, layer):
        if site in self.online:
            x = x @ self.online[site]
        if self.observe:
            self.observe(site, layer, x)
        if site in self.a4sites:
            c = self.aclip.get(site, 1.0)
            if isinstance(c, (list, tuple)):
                c = c[layer]
            return a4(x, c)
        return x

    def attn(self, y, layer, T):
        B, N, _ = y.shape
        C, NH, d = self.m.C, self.m.NH, self.m.d
        q, k, v = y[..., :C], y[..., C:2 * C], y[..., 2 * C:]
        sh = lambda a: a.reshape(B, N, NH, d).transpose(1, 2)
        q, k, v = sh(q), sh(k), sh(v)
        mask = torch.triu(torch.ones(N, N, dtype=torch.bool), 1)
        if self.kv8 and self.kvs is not None:
            sq, sk, sv = [torch.tensor(self.kvs[layer][i], dtype=torch.float32).view(1, NH, 1, 1) for i in range(3)]
            q8 = torch.clamp(torch.round(q / sq), -127, 127)
            k8 = torch.clamp(torch.round(k / sk), -127, 127)
            v8 = torch.clamp(torch.round(v / sv), -127, 127)
            sc = (q8 @ k8.transpose(-1, -2)) * (sq * sk / math.sqrt(d))
            p = torch.softmax(sc.masked_fill(mask, float("-inf")), -1)
            p8 = torch.round(127.0 * p)
            ctx = (p8 @ v8) * (sv / 127.0)
        else:
            if self.kvobs is not None:
                for i, a in enumerate((q, k, v)):
                    mx = a.abs().amax(dim=(0, 2, 3)).numpy()
                    self.kvobs[layer][i] = np.maximum(self.kvobs[layer][i], mx)
            sc = (q @ k.transpose(-1, -2)) / math.sqrt(d)
            p = torch.softmax(sc.masked_fill(mask, float("-inf")), -1)
            ctx = p @ v
        return ctx.transpose(1, 2).reshape(B, N, C)

    kvobs = None

    def forward(self, ids):
        B, N = ids.shape
        x = self.wte[ids] + self.wpe[:N][None]
        for li, T in enumerate(self.L):
            h = ln(x, T["g1"], T["b1"])
            y = self.q_in("qkv", h, li) @ T["qkv"] + T["qkv_b"]
            c = self.attn(y, li, T)
            x = x + self.q_in("proj", c, li) @ T["proj"] + T["proj_b"]
            h = ln(x, T["g2"], T["b2"])
            g = gelu(self.q_in("fc1", h, li) @ T["fc1"] + T["fc1_b"])
            if self.down is not None:
                g = g @ self.down
            x = x + self.q_in("fc2", g, li) @ T["fc2"] + T["fc2_b"]
        h = ln(x, self.gf, self.bf)
        if self.lmmode != "f32":
            h = a8(h)
        return h @ self.lm + self.lm_b

    def calibrate_kv(self, ids):
        NH = self.m.NH
        self.kvobs = [[np.zeros(NH) for _ in range(3)] for _ in range(self.m.L)]
        kv8 = self.kv8
        self.kv8 = False
        a4s = self.a4sites
        self.a4sites = set()
        for b in batches(ids, 128, 64):
            self.forward(b)
        self.kv8, self.a4sites = kv8, a4s
        self.kvs = [[np.where(o > 0, o / 127.0, 1.0).astype(np.float32) for o in obs] for obs in self.kvobs]
        self.kvobs = None

    def nll(self, ids, batch=8):  # 8 x 127 x vocab doubles of log-probabilities at once
        tot, n = 0.0, 0
        for b in batches(ids, 128, batch):
            lg = self.forward(b)
            lp = torch.log_softmax(lg[:, :-1].double(), -1)
            tot += -lp.gather(-1, b[:, 1:, None]).sum().item()
            n += b.shape[0] * (b.shape[1] - 1)
        return tot / n


def batches(ids, w, bs):
    nwin = len(ids) // w
    a = torch.tensor(ids[: nwin * w], dtype=torch.long).reshape(nwin, w)
    for i in range(0, nwin, bs):
        yield a[i:i + bs]


def stats(m, ids):
    """max-to-rms and kurtosis of each site's input, per token (median over
    tokens) and per channel over the calibration data"""
    r = Runner(m)
    acc = {}

    def obs(site, layer, x):
        x = x.reshape(-1, x.shape[-1]).double()
        acc.setdefault((site, layer), []).append(x)
    r.observe = obs
    for b in batches(ids, 128, 64):
        r.forward(b)
    out = {}
    for (site, layer), xs in sorted(acc.items()):
        X = torch.cat(xs)
        mtr = (X.abs().max(-1).values / X.pow(2).mean(-1).sqrt()).median().item()
        xc = X - X.mean(-1, keepdim=True)
        kurt = ((xc ** 4).mean(-1) / (xc ** 2).mean(-1) ** 2).median().item()
        rng = ((X.max(-1).values - X.min(-1).values) / X.std(-1)).median().item()
        ch = X.abs().amax(0)
        chr_ = (ch.max() / ch.median()).item()
        out[(site, layer)] = (mtr, kurt, rng, chr_)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model"); ap.add_argument("train"); ap.add_argument("valid")
    ap.add_argument("--tokens", type=int, default=8192)
    ap.add_argument("--calib", type=int, default=16384)
    ap.add_argument("--exp", default="budget")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--parts", default="fold,r1,r2,r4")
    ap.add_argument("--mix", default="mix")
    ap.add_argument("--rows", default="")
    ap.add_argument("--wclip", default="none")
    ap.add_argument("--aclip", type=float, default=1.0)
    ap.add_argument("--plain", type=int, default=1)
    a = ap.parse_args()
    sd, cfg = load(a.model)
    tr = [int(t) for t in open(a.train).read().split()][: a.calib]
    va = [int(t) for t in open(a.valid).read().split()][: a.tokens]
    plain = Model(sd, cfg)
    rot = Model(sd, cfg, rotate=True, seed=a.seed, mix=a.mix, parts=a.parts)
    f32 = math.exp(Runner(plain).nll(va))
    print("fp32 ppl %.4f (transformed fp32 %.4f) parts=%s mix=%s wclip=%s aclip=%g" % (
        f32, math.exp(Runner(rot).nll(va)), a.parts, a.mix, a.wclip, a.aclip), flush=True)

    def run(m, **kw):
        r = Runner(m, wclip=a.wclip, aclip={s: a.aclip for s in SITES}, **kw)
        if kw.get("kv8"):
            r.calibrate_kv(tr)
        p = math.exp(r.nll(va))
        return p, 100.0 * (p / f32 - 1.0)

    rows = {"w": ("weights int4 (all 4 matrices)", dict(w4sites=SITES))}
    rows.update({"w" + s: ("weights int4: %s only" % s, dict(w4sites=(s,))) for s in SITES})
    rows["a"] = ("acts int4 (all 4 inputs)", dict(a4sites=SITES))
    rows.update({"a" + s: ("acts int4: %s input only" % s, dict(a4sites=(s,))) for s in SITES})
    rows.update({"kv": ("KV int8 only", dict(kv8=True)), "lm8": ("LM head int8 (W8A8)", dict(lm="w8a8")),
                 "lm4": ("LM head int4 (W4A8)", dict(lm="w4a8")),
                 "all": ("W4A4 all (int8 KV, int8 LM head)", dict(w4sites=SITES, a4sites=SITES, kv8=True, lm="w8a8")),
                 "allf": ("W4A4 all, fp32 KV", dict(w4sites=SITES, a4sites=SITES, lm="w8a8"))})
    order = a.rows.split(",") if a.rows else list(rows)
    if a.exp == "budget":
        for key in order:
            name, kw = rows[key]
            p0, d0 = run(plain, **kw) if a.plain else (float("nan"), float("nan"))
            p1, d1 = run(rot, **kw)
            print("| %s | %.3f | %+.2f %% | %.3f | %+.2f %% |" % (name, p0, d0, p1, d1), flush=True)
    elif a.exp == "stats":
        s0, s1 = stats(plain, tr), stats(rot, tr)
        for k in s0:
            print("| %s L%d | %.1f / %.1f | %.1f / %.1f | %.1f / %.1f | %.1f / %.1f |" % (
                k[0], k[1], s0[k][0], s1[k][0], s0[k][1], s1[k][1], s0[k][2], s1[k][2], s0[k][3], s1[k][3]))


if __name__ == "__main__":
    main()
