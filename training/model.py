"""LMUFormer in PyTorch, written from ../shared/specs/lmuformer.md (not copied from the official code).

Module and parameter names follow the official state_dict layout (zeyuliu1037/LMUFormer, src/), so
`model.state_dict()` with a `module.` prefix is an official-format checkpoint that `edgestream import`
reads like a user's `best_model.pth`. Two variants are built here: `slmu_rnn_ms_conv1d` (Spiking
LMUFormer) and `lmu_rnn_conv1d` (LMUFormer). All tensors inside the model are laid out as the official
code lays them out: [batch, channels, frames].
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from scipy.signal import cont2discrete

SURROGATE_ALPHA = 4.0  # spikingjelly's default surrogate: sigmoid(alpha·x), alpha 4


@torch.jit.script
def _lif_forward(x: torch.Tensor, threshold: float, keep_h: bool) -> tuple[torch.Tensor, torch.Tensor]:
    # x: [T, ...] contiguous; returns spikes and the pre-spike membranes (empty unless keep_h)
    v = torch.zeros_like(x[0])
    spikes = torch.empty_like(x)
    hs = torch.empty_like(x) if keep_h else torch.empty(0)
    for t in range(x.shape[0]):
        h = v + (x[t] - v) * 0.5
        s = (h >= threshold).to(x.dtype)
        spikes[t] = s
        if keep_h:
            hs[t] = h
        v = h * (1.0 - s)
    return spikes, hs


@torch.jit.script
def _lif_backward(grad_s: torch.Tensor, hs: torch.Tensor, spikes: torch.Tensor, threshold: float, alpha: float) -> torch.Tensor:
    sig = torch.sigmoid(alpha * (hs - threshold))
    g_in = grad_s * (alpha * sig * (1.0 - sig))  # surrogate d spike / d h
    keep = 1.0 - spikes  # d v / d h with the reset detached
    grad_x = torch.empty_like(hs)
    g_v = torch.zeros_like(hs[0])
    for t in range(hs.shape[0] - 1, -1, -1):
        g_h = g_in[t] + g_v * keep[t]
        g_v = 0.5 * g_h
        grad_x[t] = g_v
    return grad_x


class _LifFunction(torch.autograd.Function):
    """Multi-step LIF (tau 2, decay_input, hard reset to 0, detached reset) over the first axis.

    Forward is the exact spiking rule (Heaviside): h = v + (x − v)/2, s = h ≥ θ, v = s ? 0 : h.
    Backward uses spikingjelly's default sigmoid surrogate (alpha 4). The loop over frames runs
    without autograd bookkeeping and the backward pass is written out (much faster on a CPU).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, threshold: float) -> torch.Tensor:  # x: [T, ...]
        keep = bool(ctx.needs_input_grad[0])
        spikes, hs = _lif_forward(x, threshold, keep)
        if keep:
            ctx.save_for_backward(hs, spikes)
            ctx.threshold = threshold
        return spikes

    @staticmethod
    def backward(ctx, grad_s: torch.Tensor):
        hs, spikes = ctx.saved_tensors
        return _lif_backward(grad_s.contiguous(), hs, spikes, ctx.threshold, SURROGATE_ALPHA), None


class LIF(nn.Module):
    """LIF neurons over time for [batch, channels, frames] input; one membrane per (batch, channel)."""

    def __init__(self, threshold: float = 1.0):
        super().__init__()
        self.threshold = threshold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = _LifFunction.apply(x.permute(2, 0, 1).contiguous(), self.threshold)
        return s.permute(1, 2, 0)


def conv3(cin: int, cout: int) -> nn.Conv1d:
    return nn.Conv1d(cin, cout, kernel_size=3, stride=1, padding=1, bias=False)


def conv1(cin: int, cout: int) -> nn.Conv1d:
    return nn.Conv1d(cin, cout, kernel_size=1, stride=1)


def legendre_delay_zoh(memory: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-order-hold discretisation (dt 1) of the Legendre delay system; float32 A [M,M], B [M,1]."""
    q = np.arange(memory, dtype=np.float64).reshape(-1, 1)
    r = (2 * q + 1) / theta
    i, j = np.meshgrid(q, q, indexing='ij')
    a = r * np.where(i < j, -1, (-1.0) ** (i - j + 1))
    b = r * ((-1.0) ** q)
    ad, bd, *_ = cont2discrete((a, b, np.ones((1, memory)), np.zeros((1,))), dt=1.0, method='zoh')
    return torch.from_numpy(ad).float(), torch.from_numpy(bd).float()


class LmuCell(nn.Module):
    """The LMU memory cell (official names W_u, W_h, A, B, H, fft_H; spiking adds bn_u/bn_m/bn_h).

    Memory m_t = A m_{t-1} + B u_t, computed for a whole clip as a causal convolution with the
    impulse response H (via FFT), which equals the recurrence.
    """

    def __init__(self, dim: int, memory: int, spiking: bool, seq_len: int = 128, theta: float = 128.0):
        super().__init__()
        self.spiking = spiking
        self.seq_len = seq_len
        self.W_u = nn.Linear(dim, 1)
        self.W_h = nn.Linear(memory + dim, dim)
        a, b = legendre_delay_zoh(memory, theta)
        self.register_buffer('A', a)
        self.register_buffer('B', b)
        h = []
        power = torch.eye(memory)
        for _ in range(seq_len):
            h.append(power @ b)
            power = a @ power
        impulse = torch.cat(h, dim=-1)  # [M, seq_len]
        self.register_buffer('H', impulse)
        self.register_buffer('fft_H', torch.fft.rfft(impulse, n=2 * seq_len, dim=-1))
        if spiking:
            self.bn_u = nn.BatchNorm1d(1)
            self.bn_m = nn.BatchNorm1d(memory)
            self.bn_h = nn.BatchNorm1d(dim)
            self.lif_u, self.lif_m, self.lif_h = LIF(), LIF(), LIF()

    def memory(self, u: torch.Tensor) -> torch.Tensor:  # u [B, 1, N] -> m [B, M, N]
        n = u.shape[-1]
        if n == self.seq_len:
            fft_h = self.fft_H
        else:  # other lengths (streams longer than a clip): the same recurrence, a longer impulse response
            key = (n, self.H.data_ptr())
            fft_h = self._fft_cache.get(key) if hasattr(self, '_fft_cache') else None
            if fft_h is None:
                with torch.no_grad():
                    fft_h = torch.fft.rfft(self.H[:, :n] if n <= self.seq_len else self._impulse(n), n=2 * n, dim=-1)
                self._fft_cache = {key: fft_h}
        m = torch.fft.irfft(torch.fft.rfft(u, n=2 * n, dim=-1) * fft_h.unsqueeze(0), n=2 * n, dim=-1)
        return m[..., :n]

    def _impulse(self, n: int) -> torch.Tensor:
        h = [self.B]
        for _ in range(n - 1):
            h.append(self.A @ h[-1])
        return torch.cat(h, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [B, C, N] -> h [B, C, N]
        xt = x.transpose(1, 2).contiguous()  # [B, N, C] (contiguous: Linear then runs as one matmul, not a slow bmm)
        u = self.W_u(xt).transpose(1, 2)  # [B, 1, N]
        if self.spiking:
            u = self.lif_u(self.bn_u(u))
            m = self.lif_m(self.bn_m(self.memory(u)))
        else:
            u = torch.relu(u)
            m = self.memory(u)
        hin = torch.cat((m, x), dim=1).transpose(1, 2).contiguous()  # [B, N, M + C], memory first
        h = self.W_h(hin).transpose(1, 2)
        return self.lif_h(self.bn_h(h)) if self.spiking else torch.relu(h)


class Conv1d4EBMs(nn.Module):
    """Spiking patch embedding, membrane-shortcut style."""

    def __init__(self, mels: int, dim: int):
        super().__init__()
        self.proj_conv, self.proj_bn = conv3(mels, dim), nn.BatchNorm1d(dim)
        self.proj_conv1, self.proj_bn1 = conv3(dim, dim), nn.BatchNorm1d(dim)
        self.proj_conv2, self.proj_bn2 = conv3(dim, dim), nn.BatchNorm1d(dim)
        self.proj_conv3, self.proj_bn3 = conv3(dim, dim), nn.BatchNorm1d(dim)
        self.rpe_conv = conv3(dim, dim)
        self.lifs = nn.ModuleList([LIF() for _ in range(4)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj_conv(x)
        x = self.proj_conv1(self.lifs[0](self.proj_bn(x)))
        x = self.proj_conv2(self.lifs[1](self.proj_bn1(x)))
        x = self.proj_conv3(self.lifs[2](self.proj_bn2(x)))
        return x + self.rpe_conv(self.lifs[3](self.proj_bn3(x)))


class Tokenizer(nn.Module):
    """Non-spiking patch embedding: 4 × (conv3 → ReLU → BN), then x + rpe_conv(x)."""

    def __init__(self, mels: int, dim: int):
        super().__init__()
        self.conv_layers = nn.Sequential(*[
            nn.Sequential(conv3(mels if i == 0 else dim, dim), nn.ReLU(), nn.Identity(), nn.BatchNorm1d(dim))
            for i in range(4)
        ])
        self.rpe_conv = conv3(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_layers(x)
        return x + self.rpe_conv(x)


class SLMUMs(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.prev_bn = nn.BatchNorm1d(dim)
        self.prev_lif = LIF(threshold=0.5)
        self.lmu = LmuCell(dim, 2 * dim, spiking=True)
        self.proj_conv, self.proj_bn = conv1(dim, dim), nn.BatchNorm1d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj_bn(self.proj_conv(self.lmu(self.prev_lif(self.prev_bn(x)))))


class LMU(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.lmu = LmuCell(dim, dim, spiking=False)
        self.proj_conv, self.proj_bn = conv1(dim, dim), nn.BatchNorm1d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj_bn(self.proj_conv(self.lmu(x)))


class ConvFFNMs(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1_bn, self.fc1_conv = nn.BatchNorm1d(dim), conv1(dim, hidden)
        self.fc2_bn, self.fc2_conv = nn.BatchNorm1d(hidden), conv1(hidden, dim)
        self.lif1, self.lif2 = LIF(), LIF()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc1_conv(self.lif1(self.fc1_bn(x)))
        return self.fc2_conv(self.lif2(self.fc2_bn(x)))


class ConvFFN(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1_conv, self.fc1_bn = conv1(dim, hidden), nn.BatchNorm1d(hidden)
        self.fc2_conv, self.fc2_bn = conv1(hidden, dim), nn.BatchNorm1d(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.gelu(self.fc1_bn(self.fc1_conv(x)))
        return torch.relu(self.fc2_bn(self.fc2_conv(x)))


class Block(nn.Module):
    def __init__(self, dim: int, hidden: int, spiking: bool):
        super().__init__()
        self.attn = SLMUMs(dim) if spiking else LMU(dim)
        self.mlp = ConvFFNMs(dim, hidden) if spiking else ConvFFN(dim, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)


VARIANTS = ('slmu_rnn_ms_conv1d', 'lmu_rnn_conv1d')


class LmuFormer(nn.Module):
    """Input [batch, frames, mels] (normalised fbank). Output: whole-clip logits [batch, classes]
    (`forward`) or the per-frame cumulative-mean outputs [frames, batch, classes] (`all_seq`)."""

    def __init__(self, variant: str, dim: int, classes: int = 35, mels: int = 128, depths: int = 1, mlp_ratio: int = 4):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f'unsupported variant {variant}; expected one of {VARIANTS}')
        self.variant = variant
        spiking = variant == 'slmu_rnn_ms_conv1d'
        self.patch_embed = Conv1d4EBMs(mels, dim) if spiking else Tokenizer(mels, dim)
        self.block = nn.ModuleList([Block(dim, dim * mlp_ratio, spiking) for _ in range(depths)])
        if spiking:
            self.head_bn = nn.BatchNorm1d(dim)
            self.head_lif = LIF()
        self.head = nn.Linear(dim, classes)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):  # as the official ConvLMU._init_weights
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:  # [B, N, F] -> [B, C, N]
        x = self.patch_embed(x.transpose(1, 2))
        for blk in self.block:
            x = blk(x)
        if hasattr(self, 'head_bn'):
            x = self.head_lif(self.head_bn(x))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=2))

    def all_seq(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(x).permute(2, 0, 1)  # [N, B, C]
        n = torch.arange(1, f.shape[0] + 1, dtype=f.dtype).view(-1, 1, 1)
        return self.head(torch.cumsum(f, dim=0) / n)

    def official_state_dict(self) -> dict[str, torch.Tensor]:
        """state_dict as the official training saves it (nn.DataParallel: every key under `module.`)."""
        return {f'module.{k}': v.detach().clone() for k, v in self.state_dict().items()}
