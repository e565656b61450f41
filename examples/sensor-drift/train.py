"""Training recipe for the sensor-drift example's TTT-Linear forecaster.

Run with Debian's Python + torch (CPU, ~5 minutes, one thread):
    nice -n 10 /usr/bin/python3 examples/sensor-drift/train.py
Writes examples/sensor-drift/model.safetensors (an edgestream `arch: ttt`, `variant: stack` model
file) and reference.json (a held-out stream and this script's own predictions on it, which the
example's test compares with the TypeScript runtime).

The TTT layer below is written from specs/ttt.md section 2 (the per-token primal form, mini-batch
gradient descent on the inner LayerNorm-L2 loss), the same arithmetic the runtime streams.
The outer weights are trained by backpropagating through the inner updates on synthetic
streams whose dynamics change: the model has to learn *how to adapt*, since no fixed predictor
fits every regime.
"""
import json, math, os, struct, sys
import torch

torch.set_num_threads(1)
torch.manual_seed(0)
HERE = os.path.dirname(os.path.abspath(__file__))

C, NH, K, KERNEL = 32, 4, 8, 4
F = C // NH
BASE_LR = 1.0
EPS = 1e-6


def make_signal(n, gen):
    """Vibration-like sensor: a resonance whose frequency and amplitude jump between regimes,
    riding on a slowly drifting baseline (temperature), plus sensor noise. Same generator as signal.ts."""
    y = torch.zeros(n)
    t = 0
    phase = 0.0
    base = float(torch.randn(1, generator=gen)) * 0.5
    drift = float(torch.randn(1, generator=gen)) * 0.004
    while t < n:
        length = int(torch.randint(48, 160, (1,), generator=gen))
        freq = 0.02 + 0.16 * float(torch.rand(1, generator=gen))
        amp = 0.4 + 1.1 * float(torch.rand(1, generator=gen))
        for i in range(t, min(n, t + length)):
            phase += 2 * math.pi * freq
            base += drift
            y[i] = base + amp * math.sin(phase) + 0.03 * float(torch.randn(1, generator=gen))
        drift = float(torch.randn(1, generator=gen)) * 0.004
        t += length
    return y


def rope_tables():
    inv = 1.0 / (10000.0 ** (torch.arange(0, F, 2).float() / F))
    ang = torch.arange(K).float()[:, None] * inv[None, :]
    return ang.cos(), ang.sin()  # float32, as the official code


COS, SIN = rope_tables()


def rope(x, m):  # x [B, NH, F], interleaved pairs
    a, b = x[..., 0::2], x[..., 1::2]
    c, s = COS[m], SIN[m]
    out = torch.empty_like(x)
    out[..., 0::2] = a * c - b * s
    out[..., 1::2] = b * c + a * s
    return out


def ln(z, w, b):
    mu = z.mean(-1, keepdim=True)
    var = ((z - mu) ** 2).mean(-1, keepdim=True)
    std = torch.sqrt(var + EPS)
    return w * ((z - mu) / std) + b, (z - mu) / std, std


def ln_l2_grad(z, target, w, b):
    y, xh, std = ln(z, w, b)
    gh = (y - target) * w
    n = z.shape[-1]
    return (n * gh - gh.sum(-1, keepdim=True) - xh * (gh * xh).sum(-1, keepdim=True)) / (n * std)


def rmsnorm(x, w):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + EPS) * w


class Forecaster(torch.nn.Module):
    def __init__(self):
        super().__init__()
        p = lambda *s: torch.nn.Parameter(torch.randn(*s) * 0.02)
        self.input_proj = torch.nn.Linear(1, C)
        self.norm0 = torch.nn.Parameter(torch.ones(C))
        self.q_proj, self.v_proj, self.o_proj = p(C, C), p(C, C), p(C, C)
        self.conv_q_w, self.conv_k_w = torch.nn.Parameter(torch.randn(C, 1, KERNEL) * 0.3), torch.nn.Parameter(torch.randn(C, 1, KERNEL) * 0.3)
        self.conv_q_b, self.conv_k_b = torch.nn.Parameter(torch.zeros(C)), torch.nn.Parameter(torch.zeros(C))
        self.lr_w, self.lr_b = p(NH, 1, C), torch.nn.Parameter(torch.zeros(NH, 1))
        self.token_idx = torch.nn.Parameter(torch.zeros(K))
        self.ttt_w, self.ttt_b = torch.nn.Parameter(torch.ones(NH, F)), torch.nn.Parameter(torch.zeros(NH, F))
        self.post_w, self.post_b = torch.nn.Parameter(torch.ones(C)), torch.nn.Parameter(torch.zeros(C))
        self.W1, self.b1 = p(NH, F, F), torch.nn.Parameter(torch.zeros(NH, 1, F))
        self.norm = torch.nn.Parameter(torch.ones(C))
        self.head = torch.nn.Linear(C, 1)

    def forward(self, y, learn=True):  # y [B, L] -> predictions [B, L] of y[t+1]
        B, L = y.shape
        h = self.input_proj(y[..., None])  # [B, L, C]
        x = rmsnorm(h, self.norm0)
        u = x @ self.q_proj.T
        upad = torch.nn.functional.pad(u.transpose(1, 2), (KERNEL - 1, 0))
        q_all = (torch.nn.functional.conv1d(upad, self.conv_q_w, self.conv_q_b, groups=C)).transpose(1, 2)
        k_all = (torch.nn.functional.conv1d(upad, self.conv_k_w, self.conv_k_b, groups=C)).transpose(1, 2)
        v_all = x @ self.v_proj.T
        eta_all = BASE_LR * torch.sigmoid(torch.einsum('blc,hc->blh', x, self.lr_w[:, 0, :]) + self.lr_b[:, 0]) / F
        W = self.W1.expand(B, NH, F, F)
        b = self.b1[:, 0, :].expand(B, NH, F)
        GW = torch.zeros(B, NH, F, F)
        Gb = torch.zeros(B, NH, F)
        outs = []
        tok = torch.clamp(torch.tensor([1.0 / (m + 1) for m in range(K)], dtype=torch.float32) + self.token_idx, min=0)
        for t in range(L):
            m = t % K
            q = rope(q_all[:, t].reshape(B, NH, F), m)
            k = rope(k_all[:, t].reshape(B, NH, F), m)
            v = v_all[:, t].reshape(B, NH, F)
            s = tok[m]
            if learn:
                z = torch.einsum('bhi,bhij->bhj', k, W) + b
                g = ln_l2_grad(z, v - k, self.ttt_w, self.ttt_b)
                eta = eta_all[:, t][..., None]
                GW = GW + eta[..., None] * k[..., :, None] * g[..., None, :]
                Gb = Gb + eta * g
                zbar = torch.einsum('bhi,bhij->bhj', q, W - s * GW) + (b - s * Gb)
            else:
                zbar = torch.einsum('bhi,bhij->bhj', q, W) + b
            o = q + ln(zbar, self.ttt_w, self.ttt_b)[0]
            if learn and m == K - 1:
                W = W - s * GW
                b = b - s * Gb
                GW = torch.zeros_like(GW)
                Gb = torch.zeros_like(Gb)
            outs.append(o.reshape(B, C))
        o = torch.stack(outs, 1)
        mu = o.mean(-1, keepdim=True)
        var = ((o - mu) ** 2).mean(-1, keepdim=True)
        o = (o - mu) / torch.sqrt(var + EPS) * self.post_w + self.post_b
        h = h + o @ self.o_proj.T
        return self.head(rmsnorm(h, self.norm))[..., 0]


def batch(gen, B, L):
    return torch.stack([make_signal(L + 1, gen) for _ in range(B)])


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 600
    model = Forecaster()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(1)
    for step in range(steps):
        y = batch(gen, 16, 160)
        pred = model(y[:, :-1])
        loss = ((pred - y[:, 1:]) ** 2)[:, 16:].mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            print(f'step {step} mse {loss.item():.4f}', flush=True)
    export(model)


def export(model):
    sd = {
        'input_proj.weight': model.input_proj.weight, 'input_proj.bias': model.input_proj.bias,
        'layers.0.norm.weight': model.norm0,
        'layers.0.mixer.q_proj.weight': model.q_proj, 'layers.0.mixer.v_proj.weight': model.v_proj, 'layers.0.mixer.o_proj.weight': model.o_proj,
        'layers.0.mixer.conv_q.weight': model.conv_q_w, 'layers.0.mixer.conv_q.bias': model.conv_q_b,
        'layers.0.mixer.conv_k.weight': model.conv_k_w, 'layers.0.mixer.conv_k.bias': model.conv_k_b,
        'layers.0.mixer.learnable_ttt_lr_weight': model.lr_w, 'layers.0.mixer.learnable_ttt_lr_bias': model.lr_b,
        'layers.0.mixer.learnable_token_idx': model.token_idx,
        'layers.0.mixer.ttt_norm_weight': model.ttt_w, 'layers.0.mixer.ttt_norm_bias': model.ttt_b,
        'layers.0.mixer.post_norm.weight': model.post_w, 'layers.0.mixer.post_norm.bias': model.post_b,
        'layers.0.mixer.W1': model.W1, 'layers.0.mixer.b1': model.b1,
        'norm.weight': model.norm, 'head.weight': model.head.weight, 'head.bias': model.head.bias,
    }
    layer = {'kind': 'ttt', 'hidden_size': C, 'num_attention_heads': NH, 'mini_batch_size': K, 'ttt_base_lr': BASE_LR, 'rope_theta': 10000.0,
             'share_qk': True, 'use_gate': False, 'conv_kernel': KERNEL, 'ttt_layer_type': 'linear'}
    config = {'input_dim': 1, 'output_dim': 1, 'hidden_size': C, 'norm_eps': EPS, 'layers': [layer]}
    header = {'__metadata__': {'format': 'edgestream', 'version': '1', 'arch': 'ttt', 'variant': 'stack', 'config': json.dumps(config),
                               'labels': '[]', 'frontend': 'null', 'name': 'sensor-drift-ttt-linear', 'model_version': '1'}}
    blobs, off = [], 0
    for k, t in sd.items():
        data = t.detach().float().contiguous().numpy().tobytes()
        header[k] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    hb = json.dumps(header).encode()
    hb += b' ' * ((8 - len(hb) % 8) % 8)
    with open(os.path.join(HERE, 'model.safetensors'), 'wb') as f:
        f.write(struct.pack('<Q', len(hb)) + hb + b''.join(blobs))
    gen = torch.Generator().manual_seed(12345)
    y = make_signal(400, gen)
    with torch.no_grad():
        pred = model(y[None, :-1])[0]
        frozen = model(y[None, :-1], learn=False)[0]
    json.dump({'signal': y.tolist(), 'pred': pred.tolist(), 'frozen': frozen.tolist()}, open(os.path.join(HERE, 'reference.json'), 'w'))
    print('wrote model.safetensors and reference.json')


if __name__ == '__main__':
    main()
