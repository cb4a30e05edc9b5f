#!/usr/bin/env python3
"""Reference figures for docs/performance.md: a PyTorch (CPU) training step of the fp4 `small`
(or, with --preset medium, `medium`) preset at the same shapes as `fp4 bench-step` / TrainStepBench.

LLaMA-style decoder: vocab 256, dim 256, 4 layers, 8 heads (no GQA), SwiGLU ffn 768 (medium: dim
512, 8 layers, 8 heads, ffn 1376), RMSNorm
(eps 1e-5), half-split RoPE (theta 1e4), untied LM head, causal softmax attention written out
(q·kᵀ, mask, softmax, ·v; PyTorch 1.13 has scaled_dot_product_attention only from 2.0), mean
cross-entropy, AdamW (betas 0.9/0.95, eps 1e-8, weight decay 0.1, lr 1e-4), batch 16, seq 256.
`--fp4` fake-quantizes the inputs and weights of every linear layer to FP4 E2M1 (per-row absmax
power-of-two scale, round to nearest E2M1 value, straight-through gradient), as a simulation
would on a CPU without FP4 hardware.

Usage: python3 torch_train_step.py [--preset small|medium] [--fp4] [--threads 1] [--batch 16] [--steps 5] [--warmup 2]
Last line: "tokens/s: N".
"""
import argparse
import math
import time

import torch
import torch.nn.functional as F

E2M1 = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])


def fake_fp4(x):
    """Per-row E2M1 fake quantization with a power-of-two scale, straight-through gradient."""
    amax = x.detach().abs().amax(dim=-1, keepdim=True).clamp_min(1e-30)
    sf = torch.exp2(torch.floor(torch.log2(6.0 / amax)))
    y = (x.detach() * sf).clamp(-6, 6)
    idx = torch.bucketize(y.abs(), (E2M1[1:] + E2M1[:-1]) / 2)
    q = torch.sign(y) * E2M1[idx] / sf
    return x + (q - x).detach()


class Linear(torch.nn.Module):
    def __init__(self, din, dout, fp4):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(dout, din) * 0.02)
        self.fp4 = fp4

    def forward(self, x):
        if self.fp4:
            return F.linear(fake_fp4(x), fake_fp4(self.weight))
        return F.linear(x, self.weight)


class RMSNorm(torch.nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, cos, sin):
    half = x.shape[-1] // 2
    a, b = x[..., :half], x[..., half:]
    return torch.cat([a * cos - b * sin, a * sin + b * cos], dim=-1)


class Block(torch.nn.Module):
    def __init__(self, dim, heads, ffn, fp4):
        super().__init__()
        self.heads = heads
        self.n1 = RMSNorm(dim)
        self.n2 = RMSNorm(dim)
        self.wq, self.wk, self.wv, self.wo = (Linear(dim, dim, fp4) for _ in range(4))
        self.w1, self.w3 = Linear(dim, ffn, fp4), Linear(dim, ffn, fp4)
        self.w2 = Linear(ffn, dim, fp4)

    def forward(self, x, cos, sin, mask):
        b, t, d = x.shape
        hd = d // self.heads
        h = self.n1(x)
        q = self.wq(h).view(b, t, self.heads, hd).transpose(1, 2)
        k = self.wk(h).view(b, t, self.heads, hd).transpose(1, 2)
        v = self.wv(h).view(b, t, self.heads, hd).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        p = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1)
        o = (p @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.wo(o)
        h = self.n2(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


class Model(torch.nn.Module):
    def __init__(self, vocab=256, dim=256, layers=4, heads=8, ffn=768, seq=256, fp4=False):
        super().__init__()
        self.emb = torch.nn.Parameter(torch.randn(vocab, dim) * 0.02)
        self.blocks = torch.nn.ModuleList(Block(dim, heads, ffn, fp4) for _ in range(layers))
        self.norm = RMSNorm(dim)
        self.head = Linear(dim, vocab, fp4)
        hd = dim // heads
        inv = 10000.0 ** (-torch.arange(0, hd // 2, dtype=torch.float64) * 2 / hd)
        ang = torch.arange(seq, dtype=torch.float64)[:, None] * inv[None, :]
        self.register_buffer("cos", torch.cos(ang).float())
        self.register_buffer("sin", torch.sin(ang).float())
        self.register_buffer("mask", torch.triu(torch.ones(seq, seq, dtype=torch.bool), 1))

    def forward(self, tokens, targets):
        x = self.emb[tokens]
        for blk in self.blocks:
            x = blk(x, self.cos, self.sin, self.mask)
        logits = self.head(self.norm(x))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fp4", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--preset", choices=["small", "medium"], default="small")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    shape = dict(dim=256, layers=4, heads=8, ffn=768) if a.preset == "small" else dict(dim=512, layers=8, heads=8, ffn=1376)
    model = Model(seq=a.seq, fp4=a.fp4, **shape)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and n != "emb"]
    rest = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and n != "emb")]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    tokens = torch.randint(0, 256, (a.batch, a.seq))
    targets = torch.randint(0, 256, (a.batch, a.seq))

    def step():
        opt.zero_grad(set_to_none=False)
        loss = model(tokens, targets)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    dt = time.perf_counter() - t0
    print(f"torch {torch.__version__}, {a.preset}, {'fp4 fake-quant' if a.fp4 else 'fp32'}, threads {a.threads}, "
          f"batch {a.batch}, seq {a.seq}: {dt * 1e3 / a.steps:.1f} ms/step, last loss {loss:.4f}")
    print(f"tokens/s: {round(a.batch * a.seq * a.steps / dt)}")


if __name__ == "__main__":
    main()
