#!/usr/bin/python3
"""scripts/learn_rotation.py - learn the rotations R1 (residual stream) and
R2 (per head, one per layer) of a GPT-2 or Llama checkpoint for W4A4, after
SpinQuant, and write them as a rotation file for
`looplynx quantize --rotate FILE` (docs/formats.md, docs/quantization.md).

The network is the one `quantize --rotate` builds (src/quant/fmodel.c,
fmodel_llama.c): norms folded into the matrices they feed, R1 on every
reader's rows and writer's columns (GPT-2: R1 keeps the all-ones direction,
Q 1 = 1, so LayerNorm's mean subtraction commutes with it), R2 on V's rows
and the output projection's columns of each head, and the engine's online
Hadamard R4 before FC2 / down_proj with the engine's signs (seed + 2; the
Hadamard matrices and the random signs are those of src/kernels/hadamard.c
and src/util/rng.c, ported here).  Fake quantisation where the engine
quantizes in W4A4: int4 symmetric per-row RTN weights of the four matrices,
int4 per-token asymmetric inputs of the four matrices (range times the
activation clip ratio), and with --kv8 int8 q, k, v per head (the batch's
max|x| standing for the static scale; Llama: after the rotary step) and
the attention probabilities in 127 steps.  Rounding passes the gradient
straight through; the scales (max|w|, the token's min and max) keep
theirs.  Not modelled: the int8 LM head (fp32 here).  The weights in the
loop (--weights): RTN as above (rtn, the default); unquantized (fp: W16A4,
SpinQuant's recipe for a model whose weights GPTQ rounds afterwards); or
gptq: every --gptq-every steps (and before each held-out check) GPTQ as
quantize's (per row, act-order, damping 0.01; src/quant/wquant.c) rounds the
current rotation's weights with the Hessians of the unquantized network's
inputs over the first --gptq-windows training windows (--gptq-hessian a4:
of their int4 codes), and until the next run each matrix is w + (its GPTQ
rounding - w then), the rounding error carried straight through.

R1 and R2 are parametrised on the orthogonal group as R = R0 expm(A - A^T)
(the exponential map; GPT-2's R1: A - A^T projected onto the complement of
the ones, so R 1 = 1), R0 the engine's Hadamard rotation of --seed (what
`--rotate hadamard` uses) or, with --init identity, the identity, A = 0 at
the start.  Adam on A (learning rate constant, or with --schedule cosine a
linear warm-up over --warmup steps and a cosine decay to zero) minimises, over
random batches of windows of 128 from the first --train-tokens training
ids, either (--loss mse, the default) the relative squared error of the
quantized network's final hidden states (after the final norm) against the
unquantized network's - which does not depend on the rotations and has no
label noise, and skips the LM head - or (--loss ce) the next-token
cross-entropy of the quantized network, as SpinQuant, or (--loss kl) the
KL divergence of its next-token distribution from the unquantized
network's, at --kl-tokens random positions of each window (fp32 LM head).  The cross-entropy
of the quantized network over the first --eval windows of the training ids
(the quantizer's calibration tokens) is printed before and after.  With
--holdout N, N windows of 128 from the END of the training ids (after the
first --train-tokens, never drawn for training) are a held-out set: its
W4A4 cross-entropy is printed before, after and every --check-every steps,
and with --keep-best the rotation written is the one of the check with the
lowest held-out loss (the way to choose among steps or variants without
touching valid.txt).  --r3 is an experiment: a signed Hadamard (seed + 3) on q
and k of every head before their int8 codes (SpinQuant's R3; it leaves
q.k unchanged); neither the rotation file nor `quantize` has it, so the
file written then is only R1 and R2 and its losses are not the engine's.

Token ids: the "ids:" line of `looplynx tokenize -m MODEL -f train.txt
--no-special` (or whitespace-separated integers).  Never give it valid.txt.

usage: learn_rotation.py MODEL_DIR TRAIN_IDS OUT [--steps N] [--batch B]
         [--lr LR] [--schedule const|cosine] [--warmup N] [--init hadamard|identity]
         [--act-clip C] [--seed S] [--train-tokens N] [--eval N] [--holdout N]
         [--check-every K] [--keep-best] [--loss mse|ce|kl] [--kl-tokens N] [--kv8]
         [--weights rtn|fp|gptq] [--gptq-every K] [--gptq-windows N]
         [--gptq-hessian fp32|a4] [--r3] [--threads T]
"""
import argparse, json, math, struct, time
import numpy as np
import torch

torch.set_flush_denormal(True)
M64 = (1 << 64) - 1


# ---- the engine's random signs (src/util/rng.c) and Hadamard matrices ----

class Rng:
    def __init__(self, seed):
        self.s = []
        x = seed & M64
        for _ in range(4):
            x = (x + 0x9e3779b97f4a7c15) & M64
            z = x
            z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
            z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
            self.s.append(z ^ (z >> 31))

    def u64(self):
        s = self.s
        rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & M64
        result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result


def is_prime(q):
    return q >= 2 and all(q % d for d in range(2, int(math.isqrt(q)) + 1))


def chi(a, q):
    a %= q
    if a == 0:
        return 0
    return 1 if any(x * x % q == a for x in range(1, q)) else -1


def small_hadamard(m):
    if m == 1:
        return np.ones((1, 1))
    if m == 2:
        return np.array([[1.0, 1.0], [1.0, -1.0]])
    h = np.zeros((m, m))
    if is_prime(m - 1) and (m - 1) % 4 == 3:  # Paley I
        q = m - 1
        for i in range(m):
            for j in range(m):
                h[i, j] = 1 if i == 0 else -1 if j == 0 else chi(j - i, q) + (i == j)
    elif is_prime(m // 2 - 1) and (m // 2 - 1) % 4 == 1:  # Paley II
        q = m // 2 - 1
        c = q + 1
        for i in range(c):
            for j in range(c):
                cij = 0 if i == j else 1 if (i == 0 or j == 0) else chi(j - i, q)
                for a in range(2):
                    for b in range(2):
                        h[2 * i + a, 2 * j + b] = (cij * (-1 if a and b else 1)) if cij else \
                            ((-1 if a else 1) if a == b else -1)
    else:
        raise ValueError("no Paley order %d" % m)
    assert np.allclose(h @ h.T, m * np.eye(m))
    return h


def hadamard_factor(n):
    odd, e = n, 0
    while odd % 2 == 0:
        odd //= 2; e += 1
    if odd == 1:
        return 1
    m = odd
    for _ in range(e + 1):
        if m % 4 == 0 and ((is_prime(m - 1) and (m - 1) % 4 == 3) or (is_prime(m // 2 - 1) and (m // 2 - 1) % 4 == 1)):
            return m
        m *= 2
    raise ValueError("no Hadamard matrix of order %d" % n)


def hadamard(n):
    """H~ = (H_m kron H_p) / sqrt(n), Sylvester H_p in natural order (kernels/hadamard.c)"""
    m = hadamard_factor(n)
    hp = np.ones((1, 1))
    while hp.shape[0] < n // m:
        hp = np.block([[hp, hp], [hp, -hp]])
    return np.kron(small_hadamard(m), hp) / math.sqrt(n)


def engine_rotation(n, seed, mix):
    """llx_rot_init: signed Q = H~ D, or mixing Q = H~^T D H~ (+1 on the ones)"""
    H = hadamard(n)
    g = Rng(seed)
    d = np.array([-1.0 if (g.u64() >> 63) else 1.0 for _ in range(n)])
    if mix:
        ones = H @ np.ones(n)
        d[np.abs(ones) > 1e-9] = 1.0
        return H.T @ np.diag(d) @ H
    return H @ np.diag(d)


# ---- checkpoints ----

def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        hdr = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        if v["dtype"] == "F32":
            x = np.frombuffer(data[a:b], dtype="<f4")
        elif v["dtype"] == "BF16":
            x = (np.frombuffer(data[a:b], dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError("dtype %s" % v["dtype"])
        out[k] = x.reshape(v["shape"]).astype(np.float64)
    return out


def read_ids(path):
    text = open(path).read()
    for line in text.splitlines():
        if line.startswith("ids:"):
            text = line[4:]
            break
    return [int(t) for t in text.replace(",", " ").split()]


# ---- fake quantisation (docs/quantization.md), straight-through rounding ----

def round_ste(x):
    return x + (torch.round(x) - x).detach()


def w4(w):
    """int4 symmetric per output row (rows of w: [out][in])"""
    s = w.abs().amax(dim=1, keepdim=True) / 7.0
    s = torch.where(s > 0, s, torch.ones_like(s))
    return torch.clamp(round_ste(w / s), -8, 7) * s


def q8_head(x):
    """int8 symmetric per head (dim 1 of [B, heads, N, d]), scale max|x| / 127"""
    s = x.abs().amax(dim=(0, 2, 3), keepdim=True) / 127.0
    s = torch.where(s > 0, s, torch.ones_like(s))
    return torch.clamp(round_ste(x / s), -127, 127) * s


def gptq4(w, h, damp):
    """GPTQ of w ([out][in], double) to int4 per row, as src/quant/wquant.c with
    act-order: columns in decreasing H_jj, scales max|w| / 7 of the original rows,
    H + damp * mean(diag H) * I; returns the rounded weights q * s"""
    K = w.shape[1]
    h = h.clone()
    dead = torch.diagonal(h) == 0
    h[dead, dead] = 1.0
    w = w.clone()
    w[:, dead] = 0.0
    s = w.abs().amax(dim=1) / 7.0
    s = torch.where(s > 0, s, torch.ones_like(s))
    perm = torch.argsort(torch.diagonal(h), descending=True)
    w, h = w[:, perm], h[perm][:, perm]
    h += damp * torch.diagonal(h).mean() * torch.eye(K, dtype=h.dtype)
    u = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    q = torch.zeros_like(w)
    for i in range(K):
        q[:, i] = torch.clamp(torch.round(w[:, i] / s), -8, 7) * s
        e = (w[:, i] - q[:, i]) / u[i, i]
        w[:, i + 1:] -= e[:, None] * u[i, i + 1:][None, :]
    out = torch.empty_like(q)
    out[:, perm] = q
    return out


def a4(x, clip):
    """int4 per token, asymmetric, range [clip*min, clip*max] widened to 0"""
    mn = torch.clamp(x.amin(dim=-1, keepdim=True), max=0.0) * clip
    mx = torch.clamp(x.amax(dim=-1, keepdim=True), min=0.0) * clip
    rng = mx - mn
    rng = torch.where(rng > 0, rng, torch.ones_like(rng))
    step = rng / 15.0
    z = torch.round(-mn / step).detach()
    c = torch.clamp(round_ste(x / step) + z, 0, 15)
    return (c - z) * step


# ---- the two architectures: folded weights, rotations applied per step ----

class Net(torch.nn.Module):
    def __init__(self, sd, cfg, seed, clip, quant=True, kv8=False, identity=False, weights="rtn"):
        super().__init__()
        self.clip, self.quant, self.kv8, self.weights = clip, quant, kv8, weights
        self.capture, self.wdelta, self.hess_a4 = None, {}, False
        self.llama = cfg.get("model_type") == "llama"
        c = cfg
        self.C = c["hidden_size"] if self.llama else c["n_embd"]
        self.L = c["num_hidden_layers"] if self.llama else c["n_layer"]
        self.NH = c["num_attention_heads"] if self.llama else c["n_head"]
        self.KV = c.get("num_key_value_heads", self.NH) if self.llama else self.NH
        self.d = c.get("head_dim", self.C // self.NH) if self.llama else self.C // self.NH
        self.F = c["intermediate_size"] if self.llama else (c.get("n_inner") or 4 * self.C)
        self.eps = c["rms_norm_eps"] if self.llama else c["layer_norm_epsilon"]
        t = lambda a: torch.tensor(a, dtype=torch.float32)
        self.layers = []
        if self.llama:
            p = "model."
            self.wte = t(sd[p + "embed_tokens.weight"])
            lm = sd.get("lm_head.weight", sd[p + "embed_tokens.weight"])
            self.lm = t(lm * sd[p + "norm.weight"][None, :])  # the final norm folded
            self.lm_b = None
            for l in range(self.L):
                q = "%slayers.%d." % (p, l)
                g1, g2 = sd[q + "input_layernorm.weight"], sd[q + "post_attention_layernorm.weight"]
                a = q + "self_attn."
                qkv = np.concatenate([sd[a + "q_proj.weight"], sd[a + "k_proj.weight"], sd[a + "v_proj.weight"]])
                self.layers.append(dict(
                    qkv=t(qkv * g1[None, :]), o=t(sd[a + "o_proj.weight"]),
                    gate=t(sd[q + "mlp.gate_proj.weight"] * g2[None, :]), up=t(sd[q + "mlp.up_proj.weight"] * g2[None, :]),
                    down=t(sd[q + "mlp.down_proj.weight"])))
            self.rope = rope_tables(c, self.d, 128)
        else:
            self.wte, self.wpe = t(sd["wte.weight"]), t(sd["wpe.weight"])
            self.lm = t(sd["wte.weight"] * sd["ln_f.weight"][None, :])
            self.lm_b = t(sd["wte.weight"] @ sd["ln_f.bias"])
            for l in range(self.L):
                q = "h.%d." % l
                g1, b1, g2, b2 = (sd[q + k] for k in ("ln_1.weight", "ln_1.bias", "ln_2.weight", "ln_2.bias"))
                W = lambda k: sd[q + k + ".weight"].T  # Conv1D [in][out] -> [out][in]
                B = lambda k: sd[q + k + ".bias"]
                qkv, fc1 = W("attn.c_attn"), W("mlp.c_fc")
                self.layers.append(dict(
                    qkv=t(qkv * g1[None, :]), qkv_b=t(B("attn.c_attn") + qkv @ b1),
                    proj=t(W("attn.c_proj")), proj_b=t(B("attn.c_proj")),
                    fc1=t(fc1 * g2[None, :]), fc1_b=t(B("mlp.c_fc") + fc1 @ b2),
                    fc2=t(W("mlp.c_proj")), fc2_b=t(B("mlp.c_proj"))))
        # R0: the engine's rotations of seed; R4 fixed
        t64 = lambda a: torch.tensor(a, dtype=torch.float64)
        if identity:  # --init identity: R0 = I (norms still folded; R4 stays the engine's)
            self.R1_0 = torch.eye(self.C, dtype=torch.float64)
            self.R2_0 = torch.eye(self.d, dtype=torch.float64)
        else:
            self.R1_0 = t64(engine_rotation(self.C, seed, 0 if self.llama else 1))
            self.R2_0 = t64(engine_rotation(self.d, seed + 1, 0))
        self.R4 = t(engine_rotation(self.F, seed + 2, 0))
        self.R3 = None  # --r3: a signed Hadamard on q and k of every head (seed + 3), before their int8 codes
        self.A1 = torch.nn.Parameter(torch.zeros(self.C, self.C))
        self.A2 = torch.nn.Parameter(torch.zeros(self.L, self.d, self.d))
        ones = torch.ones(self.C, 1, dtype=torch.float64) / math.sqrt(self.C)
        self.P = None if self.llama else torch.eye(self.C, dtype=torch.float64) - ones @ ones.T

    def rotations(self, dtype=torch.float32):
        S1 = self.A1.to(dtype) - self.A1.to(dtype).T
        if self.P is not None:
            P = self.P.to(dtype)
            S1 = P @ S1 @ P
        R1 = self.R1_0.to(dtype) @ torch.matrix_exp(S1)
        S2 = self.A2.to(dtype) - self.A2.to(dtype).transpose(1, 2)
        R2 = self.R2_0.to(dtype)[None] @ torch.matrix_exp(S2)
        return R1, R2

    def qa(self, x):
        return a4(x, self.clip) if self.quant else x

    def qw(self, w, key):
        if not self.quant or self.weights == "fp":
            return w
        if self.weights == "gptq":  # the last refresh's GPTQ rounding error, carried straight through
            return w + self.wdelta[key]
        return w4(w)

    def mm(self, x, w, key):
        """x @ w^T for the matrix key = (layer, name), quantized as configured; with
        self.capture (a dict), also sums the input's Hessian and keeps the weights"""
        if self.capture is not None:
            xf = x.detach().reshape(-1, x.shape[-1]).double()
            if self.hess_a4:
                xf = a4(xf, self.clip)
            h = xf.T @ xf
            if key in self.capture:
                h = h + self.capture[key][1]
            self.capture[key] = (w.detach(), h)
        return self.qa(x) @ self.qw(w, key).T

    def refresh_gptq(self, wins, damp=0.01, batch=8):
        """--weights gptq: GPTQ (act-order, per-row int4, damping as quantize's default)
        of the current rotation's weights with the Hessians of wins, kept as wdelta"""
        quant, self.quant, self.capture = self.quant, False, {}
        with torch.no_grad():
            for i in range(0, wins.shape[0], batch):
                self.forward(wins[i:i + batch], hidden=True)
            self.wdelta = {k: (gptq4(w.double(), h, damp) - w.double()).float() for k, (w, h) in self.capture.items()}
        self.quant, self.capture = quant, None

    def forward(self, ids, hidden=False):
        """logits, or (hidden) the final norm's output in the original basis"""
        R1, R2 = self.rotations()
        h = (self.fwd_llama if self.llama else self.fwd_gpt2)(ids, R1, R2)
        return h if hidden else self.head(h)

    def head(self, h):
        """the fp32 LM head on final hidden states (original basis)"""
        return h @ self.lm.T + (self.lm_b if self.lm_b is not None else 0.0)

    def attention(self, q, k, v):
        B, N = q.shape[0], q.shape[2]
        if self.R3 is not None:  # q.k unchanged: (R3 q).(R3 k) = q.k
            q, k = q @ self.R3.T, k @ self.R3.T
        if self.quant and self.kv8:  # int8 per head: the batch's max|x| stands for the static scale
            q, k, v = q8_head(q), q8_head(k), q8_head(v)
        rep = self.NH // self.KV
        if rep > 1:
            k = k.repeat_interleave(rep, dim=1); v = v.repeat_interleave(rep, dim=1)
        mask = torch.triu(torch.ones(N, N, dtype=torch.bool), 1)
        sc = (q @ k.transpose(-1, -2)) / math.sqrt(self.d)
        p = torch.softmax(sc.masked_fill(mask, float("-inf")), -1)
        if self.quant and self.kv8:  # the probabilities in 127 steps
            p = round_ste(127.0 * p) / 127.0
        return (p @ v).transpose(1, 2).reshape(B, N, self.NH * self.d)

    def fwd_gpt2(self, ids, R1, R2):
        B, N = ids.shape
        C, NH, d = self.C, self.NH, self.d
        x = (self.wte[ids] + self.wpe[:N][None]) @ R1.T
        ln0 = lambda y: torch.nn.functional.layer_norm(y, (C,), eps=self.eps)
        for l, T in enumerate(self.layers):
            r2 = R2[l]
            qkv = T["qkv"] @ R1.T
            qkv_b = T["qkv_b"]
            v = (r2 @ qkv[2 * C:].reshape(NH, d, C)).reshape(C, C)
            vb = (qkv_b[2 * C:].reshape(NH, d) @ r2.T).reshape(C)
            qkv = torch.cat([qkv[:2 * C], v]); qkv_b = torch.cat([qkv_b[:2 * C], vb])
            proj = R1 @ (T["proj"].reshape(C, NH, d) @ r2.T).reshape(C, C)
            fc1 = T["fc1"] @ R1.T
            fc2 = R1 @ T["fc2"] @ self.R4.T
            y = self.mm(ln0(x), qkv, (l, "qkv")) + qkv_b
            sh = lambda a: a.reshape(B, N, NH, d).transpose(1, 2)
            c = self.attention(sh(y[..., :C]), sh(y[..., C:2 * C]), sh(y[..., 2 * C:]))
            x = x + self.mm(c, proj, (l, "proj")) + T["proj_b"] @ R1.T
            g = gelu(self.mm(ln0(x), fc1, (l, "fc1")) + T["fc1_b"])
            x = x + self.mm(g @ self.R4.T, fc2, (l, "fc2")) + T["fc2_b"] @ R1.T
        return ln0(x) @ R1  # the LM head is fp32 here: back to the original basis

    def fwd_llama(self, ids, R1, R2):
        B, N = ids.shape
        C, NH, KV, d = self.C, self.NH, self.KV, self.d
        x = self.wte[ids] @ R1.T
        rms = lambda y: y * torch.rsqrt((y * y).mean(-1, keepdim=True) + self.eps)
        cos, sin = self.rope[0][:N], self.rope[1][:N]
        for l, T in enumerate(self.layers):
            r2 = R2[l]
            qkv = T["qkv"] @ R1.T
            nq, nk = NH * d, KV * d
            v = (r2 @ qkv[nq + nk:].reshape(KV, d, C)).reshape(nk, C)
            qkv = torch.cat([qkv[:nq + nk], v])
            o = R1 @ (T["o"].reshape(C, NH, d) @ r2.T).reshape(C, nq)
            gate, up = T["gate"] @ R1.T, T["up"] @ R1.T
            down = R1 @ T["down"] @ self.R4.T
            y = self.mm(rms(x), qkv, (l, "qkv"))
            q = rope(y[..., :nq].reshape(B, N, NH, d).transpose(1, 2), cos, sin)
            k = rope(y[..., nq:nq + nk].reshape(B, N, KV, d).transpose(1, 2), cos, sin)
            vv = y[..., nq + nk:].reshape(B, N, KV, d).transpose(1, 2)
            x = x + self.mm(self.attention(q, k, vv), o, (l, "o"))
            h = rms(x)
            m = torch.nn.functional.silu(self.mm(h, gate, (l, "gate"))) * self.mm(h, up, (l, "up"))
            x = x + self.mm(m @ self.R4.T, down, (l, "down"))
        return rms(x) @ R1


def gelu(x):
    return 0.5 * x * (1.0 + torch.tanh(0.7978845608 * (x + 0.044715 * x ** 3)))


def rope_tables(c, d, n):
    theta = c.get("rope_theta", 10000.0)
    inv = 1.0 / (theta ** (np.arange(0, d, 2, dtype=np.float64) / d))
    rs = c.get("rope_scaling") or {}
    if rs.get("rope_type") == "llama3":
        f, lo, hi, orig = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], \
            rs["original_max_position_embeddings"]
        wl = 2 * math.pi / inv
        lw, hw = orig / lo, orig / hi
        new = np.where(wl > lw, inv / f, inv)
        smooth = (orig / wl - lo) / (hi - lo)
        mid = (wl <= lw) & (wl >= hw)
        inv = np.where(mid, (1 - smooth) * new / f + smooth * new, new)
    ang = np.arange(n, dtype=np.float64)[:, None] * inv[None, :]
    ang = np.concatenate([ang, ang], axis=1)
    return torch.tensor(np.cos(ang), dtype=torch.float32), torch.tensor(np.sin(ang), dtype=torch.float32)


def rope(x, cos, sin):
    h = x.shape[-1] // 2
    rot = torch.cat([-x[..., h:], x[..., :h]], dim=-1)
    return x * cos + rot * sin


def windows(ids, w):
    n = len(ids) // w
    return torch.tensor(ids[: n * w], dtype=torch.long).reshape(n, w)


def nll(net, wins, batch=8):
    tot, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, wins.shape[0], batch):
            b = wins[i:i + batch]
            lp = torch.log_softmax(net(b)[:, :-1].double(), -1)
            tot -= lp.gather(-1, b[:, 1:, None]).sum().item()
            n += b.shape[0] * (b.shape[1] - 1)
    return tot / n


def lr_factor(step, steps, warmup, schedule):
    """the learning rate of step (0-based) as a fraction of --lr"""
    if schedule == "const":
        return 1.0
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


def write_rotfile(path, R1, R2):
    C, L, d = R1.shape[0], R2.shape[0], R2.shape[1]
    with open(path + ".tmp", "wb") as f:
        f.write(b"LLXROTAT" + struct.pack("<IIiiiI", 1, 8, C, d, L, 0))
        f.write(np.ascontiguousarray(R1, dtype="<f8").tobytes())
        f.write(np.ascontiguousarray(R2, dtype="<f8").tobytes())
    import os
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model"); ap.add_argument("train_ids"); ap.add_argument("out")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch", type=int, default=4, help="windows of 128 per step")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--schedule", default="const", choices=("const", "cosine"),
                    help="cosine: linear warm-up over --warmup steps, then cosine decay to 0")
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--init", default="hadamard", choices=("hadamard", "identity"),
                    help="R0: the engine's Hadamard rotation of --seed, or the identity")
    ap.add_argument("--holdout", type=int, default=0,
                    help="windows of 128 from the end of the training ids, never trained on")
    ap.add_argument("--check-every", type=int, default=0, help="held-out loss every K steps (0: end only)")
    ap.add_argument("--keep-best", action="store_true",
                    help="write the rotation with the lowest held-out loss among the checks")
    ap.add_argument("--act-clip", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1, help="the Hadamard start (quantize --rotate-seed)")
    ap.add_argument("--train-tokens", type=int, default=32768, help="windows drawn from the first N ids")
    ap.add_argument("--loss", default="mse", choices=("mse", "ce", "kl"),
                    help="mse: squared error of the final hidden states against the unquantized network's "
                         "(relative); ce: cross-entropy of the next token; kl: KL divergence of the quantized "
                         "network's next-token distribution from the unquantized one's")
    ap.add_argument("--kl-tokens", type=int, default=32, help="positions per window in the kl loss (random)")
    ap.add_argument("--eval", type=int, default=32, help="windows of 128 for the loss printed before/after")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--kv8", action="store_true", help="int8 q, k, v per head and int8 probabilities in the loop")
    ap.add_argument("--weights", default="rtn", choices=("rtn", "fp", "gptq"),
                    help="weights in the loop: int4 per-row RTN (W4A4); unquantized (W16A4, SpinQuant's "
                         "choice for a model whose weights GPTQ then rounds); or gptq: int4 by GPTQ of the "
                         "current rotation every --gptq-every steps, its rounding error carried straight through")
    ap.add_argument("--gptq-every", type=int, default=10, help="--weights gptq: steps between GPTQ runs")
    ap.add_argument("--gptq-windows", type=int, default=16,
                    help="--weights gptq: the first N windows of 128 training ids give the Hessians")
    ap.add_argument("--gptq-hessian", default="fp32", choices=("fp32", "a4"),
                    help="--weights gptq: Hessians of the fp32 inputs, or of their int4 codes (quantize's "
                         "--gptq-hessian)")
    ap.add_argument("--r3", action="store_true",
                    help="experiment: a Hadamard per head on q and k (SpinQuant's R3; the quantizer has none)")
    ap.add_argument("--fp32-check", action="store_true", help="print the unquantized loss as well")
    a = ap.parse_args()
    torch.manual_seed(a.seed); np.random.seed(a.seed)
    torch.set_num_threads(a.threads)
    cfg = json.load(open(a.model + "/config.json"))
    sd = load_safetensors(a.model + "/model.safetensors")
    net = Net(sd, cfg, a.seed, a.act_clip, kv8=a.kv8, identity=a.init == "identity", weights=a.weights)
    if a.r3:
        net.R3 = torch.tensor(engine_rotation(net.d, a.seed + 3, 0), dtype=torch.float32)
        print("note: --r3 is an experiment; the rotation file and quantize have no R3", flush=True)
    del sd
    ids = read_ids(a.train_ids)
    train = windows(ids[: a.train_tokens], 128)
    ev = train[: a.eval]
    if a.holdout and len(ids) - a.holdout * 128 < min(a.train_tokens, len(ids)):
        raise SystemExit("learn_rotation.py: --holdout %d windows overlap the first %d training ids (%d ids)" % (
            a.holdout, a.train_tokens, len(ids)))
    held = windows(ids[len(ids) - a.holdout * 128:], 128) if a.holdout else None
    t0 = time.process_time()
    if a.fp32_check:
        net.quant = False
        print("fp32 loss on %d calibration windows: %.6f" % (a.eval, nll(net, ev)), flush=True)
        net.quant = True
    tag = {"rtn": "W4A4", "fp": "W16A4", "gptq": "W4A4 GPTQ"}[a.weights]  # what the loop quantizes
    gwins = train[: a.gptq_windows]
    net.hess_a4 = a.gptq_hessian == "a4"
    refresh = (lambda: net.refresh_gptq(gwins)) if a.weights == "gptq" else (lambda: None)
    refresh()
    before = nll(net, ev)
    print("%s loss on %d calibration windows (first %d train ids), %s start: %.6f" % (
        tag, a.eval, a.eval * 128, a.init, before), flush=True)
    best = None
    if held is not None:
        h0 = nll(net, held)
        print("%s loss on %d held-out windows (last %d train ids), %s start: %.6f" % (
            tag, a.holdout, a.holdout * 128, a.init, h0), flush=True)
        best = (h0, 0, [net.A1.detach().clone(), net.A2.detach().clone()])
    opt = torch.optim.Adam([net.A1, net.A2], lr=a.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, a.steps, a.warmup, a.schedule))
    g = torch.Generator().manual_seed(a.seed)
    teacher = None
    if a.loss in ("mse", "kl"):  # the unquantized network's final hidden states (the same for every rotation)
        net.quant = False
        with torch.no_grad():
            teacher = torch.cat([net(train[i:i + 16], hidden=True) for i in range(0, train.shape[0], 16)])
        net.quant = True
    for step in range(a.steps):
        pick = torch.randint(0, train.shape[0], (a.batch,), generator=g)
        b = train[pick]
        if a.loss == "mse":  # relative squared error of the quantized network's final hidden states
            h = net(b, hidden=True)
            loss = ((h - teacher[pick]) ** 2).sum() / (teacher[pick] ** 2).sum()
        elif a.loss == "kl":  # KL(fp32 || W4A4) at --kl-tokens random positions of each window
            pos = torch.randint(0, b.shape[1], (a.kl_tokens,), generator=g)
            h = net(b, hidden=True)[:, pos]
            with torch.no_grad():
                lt = torch.log_softmax(net.head(teacher[pick][:, pos]), -1)
            lq = torch.log_softmax(net.head(h), -1)
            loss = (lt.exp() * (lt - lq)).sum(-1).mean()
        else:
            lg = net(b)
            loss = torch.nn.functional.cross_entropy(lg[:, :-1].reshape(-1, lg.shape[-1]), b[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if a.weights == "gptq" and (step + 1) % a.gptq_every == 0:
            refresh()
        if step % 10 == 0 or step == a.steps - 1:
            print("step %d loss %.5f lr %.2e (%.0f s CPU)" % (step, loss.item(), opt.param_groups[0]["lr"],
                                                          time.process_time() - t0), flush=True)
        done = step + 1
        if held is not None and ((a.check_every and done % a.check_every == 0) or done == a.steps):
            refresh()
            hl = nll(net, held)
            print("step %d held-out loss %.6f" % (done, hl), flush=True)
            if hl < best[0]:
                best = (hl, done, [net.A1.detach().clone(), net.A2.detach().clone()])
    if a.keep_best and best is not None:
        with torch.no_grad():
            net.A1.copy_(best[2][0]); net.A2.copy_(best[2][1])
        print("keeping the rotation of step %d (held-out loss %.6f)" % (best[1], best[0]), flush=True)
        refresh()
    after = nll(net, ev)
    print("%s loss on the calibration windows, learned: %.6f (%+.6f)" % (tag, after, after - before), flush=True)
    with torch.no_grad():
        R1, R2 = net.rotations(torch.float64)
    R1, R2 = R1.numpy(), R2.numpy()
    e1 = np.abs(R1 @ R1.T - np.eye(R1.shape[0])).max()
    e2 = max(np.abs(r @ r.T - np.eye(r.shape[0])).max() for r in R2)
    print("orthogonality |RR^T - I|: R1 %.2e, R2 %.2e; |R1 1 - 1| %.2e; %.0f s CPU" % (
        e1, e2, np.abs(R1.sum(1) - 1).max(), time.process_time() - t0), flush=True)
    write_rotfile(a.out, R1, R2)
    print("wrote %s" % a.out)


if __name__ == "__main__":
    main()
