"""E4: a DCGAN (convolutional GAN) whose shapes fit and whose data is real.

From the deep learning and GANs tutorial, §4.1.2 (docs/tutorials.md).

What the tutorial intended: a generator of transposed convolutions from noise
z(100) to a 3-channel image, a convolutional discriminator ending in a sigmoid,
binary cross-entropy, Adam with learning rate 3e-4, 100 training steps.

What was wrong:
- z is reshaped to 5-D ``(-1, 100, 1, 1, 1)``, which no 2-D convolution accepts;
- no activations or normalisation between layers (a stack of linear maps);
- the generator's output (its first transposed conv with padding 1 gives 3x3,
  then 6x6, 12x12) does not match the 64x64 "real" images, and the
  discriminator's output is a map, not one probability per image;
- the "real" images are ``torch.randn`` noise, so there is nothing to learn;
- the G step reuses ``fake_image``'s graph after ``loss_D.backward()`` freed it,
  and D's step also pushes gradients into G.

What this script does (Radford et al., 2016, "DCGAN"):
- z of shape (N, 100, 1, 1); generator: ConvTranspose2d(4, 1, 0) to 4x4, then
  ConvTranspose2d(4, 2, 1) layers each doubling the size, BatchNorm + ReLU
  between, Tanh at the end: 32x32 (``--size 32``) or 64x64 (``--size 64``);
- discriminator: Conv2d(4, 2, 1) layers halving the size, BatchNorm (not on the
  first) + LeakyReLU(0.2), a final 4x4 Conv2d to one logit per image;
- weights drawn from N(0, 0.02) (BatchNorm scales from N(1, 0.02)), as DCGAN does;
- BCE on logits (the sigmoid folded in); Adam 3e-4 with beta1 = 0.5;
- real images: Stacked MNIST (three random digits as R, G, B; ``--channels 3``,
  the article's 3 channels) or plain MNIST (``--channels 1``), padded from 28 to
  32 pixels (and upsampled to 64 for ``--size 64``), scaled to [-1, 1];
- the D step sees ``fake.detach()``; the G step runs a fresh forward pass of the
  updated D on the (non-detached) fakes.

Run:  python examples/seeds/e04_dcgan.py [--steps 20] [--size 32|64] [--channels 3|1]
      (the article's run: --steps 100 --size 64)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad import nn, optim
from tapegrad.data import stacked_mnist

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seedutil import mnist_scaled, save_grid  # noqa: E402

Z_DIM = 100


def _n_up(size: int) -> int:
    if size not in (32, 64):
        raise ValueError(f"size must be 32 or 64, got {size}")
    return 3 if size == 32 else 4  # doublings after the first 4x4


def build_generator(size: int = 32, channels: int = 3, ngf: int = 16, z_dim: int = Z_DIM):
    """``(N, z_dim, 1, 1) -> (N, channels, size, size)`` in [-1, 1]."""
    n = _n_up(size)
    width = ngf * 2 ** (n - 1)
    layers: list[nn.Module] = [
        nn.ConvTranspose2d(z_dim, width, 4, 1, 0, bias=False),  # 1x1 -> 4x4
        nn.BatchNorm2d(width),
        nn.ReLU(),
    ]
    for _ in range(n - 1):
        layers += [
            nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),  # doubles H and W
            nn.BatchNorm2d(width // 2),
            nn.ReLU(),
        ]
        width //= 2
    layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


def build_discriminator(size: int = 32, channels: int = 3, ndf: int = 16) -> nn.Sequential:
    """``(N, channels, size, size) -> (N, 1)`` logits."""
    n = _n_up(size)
    layers: list[nn.Module] = [nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2)]
    width = ndf
    for _ in range(n - 1):
        layers += [
            nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),  # halves H and W
            nn.BatchNorm2d(width * 2),
            nn.LeakyReLU(0.2),
        ]
        width *= 2
    layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False), nn.Flatten()]  # 4x4 -> 1x1
    return nn.Sequential(*layers)


def dcgan_init(m: nn.Module) -> None:
    """DCGAN's initialisation: conv weights ~ N(0, 0.02); BatchNorm scale ~ N(1, 0.02), shift 0."""
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def real_images(
    n: int, size: int = 32, channels: int = 3, seed: int = 0, root: str | None = None
) -> np.ndarray:
    """``n`` real images float32 ``(n, channels, size, size)`` in [-1, 1]: (Stacked) MNIST,
    zero-padded (i.e. -1) from 28 to 32 pixels, nearest-upsampled x2 for size 64."""
    x, y, _ = mnist_scaled(root)
    if channels == 3:
        stacked, _ = stacked_mnist((x[:, 0] + 1.0) / 2.0, y, n, generator=seed)  # [0,1] in
        x = stacked.numpy() * 2.0 - 1.0
    elif channels == 1:
        x = x[np.random.default_rng(seed).integers(0, len(x), n)]
    else:
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    x = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)), constant_values=-1.0)
    if size == 64:
        x = x.repeat(2, axis=2).repeat(2, axis=3)
    return np.ascontiguousarray(x, dtype=np.float32)


def train(
    steps: int = 20,
    size: int = 32,
    channels: int = 3,
    batch_size: int = 64,
    ngf: int = 16,
    ndf: int = 16,
    lr: float = 3e-4,
    n_real: int = 4096,
    seed: int = 0,
    root: str | None = None,
    log_every: int = 0,
) -> dict[str, Any]:
    """DCGAN training. Returns ``G``, ``D``, ``history`` (per step: ``loss_d``, ``loss_g``,
    ``d_real``, ``d_fake``), ``fake_shape``, ``d_out_shape`` and ``seconds``."""
    F = nn.functional
    tg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    data = real_images(n_real, size, channels, seed, root)
    G = build_generator(size, channels, ngf).apply(dcgan_init)
    D = build_discriminator(size, channels, ndf).apply(dcgan_init)
    opt_g = optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    ones, zeros = tg.ones(batch_size, 1), tg.zeros(batch_size, 1)
    history = []
    t0 = time.perf_counter()
    for step in range(steps):
        real = tg.tensor(data[rng.integers(0, len(data), batch_size)])
        z = tg.randn(batch_size, Z_DIM, 1, 1)
        fake = G(z)
        out_real, out_fake = D(real), D(fake.detach())
        loss_d = 0.5 * (
            F.binary_cross_entropy_with_logits(out_real, ones)
            + F.binary_cross_entropy_with_logits(out_fake, zeros)
        )
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()

        loss_g = F.binary_cross_entropy_with_logits(D(fake), ones)  # fresh forward of D
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        with tg.no_grad():
            row = {
                "loss_d": loss_d.item(),
                "loss_g": loss_g.item(),
                "d_real": tg.sigmoid(out_real).mean().item(),
                "d_fake": tg.sigmoid(out_fake).mean().item(),
            }
        history.append(row)
        if log_every and (step % log_every == 0 or step == steps - 1):
            print(
                f"  step {step:4d}: L_D {row['loss_d']:.4f}  L_G {row['loss_g']:.4f}  "
                f"D(x) {row['d_real']:.3f}  D(G(z)) {row['d_fake']:.3f}  "
                f"({time.perf_counter() - t0:.0f} s)"
            )
    return {
        "G": G,
        "D": D,
        "history": history,
        "fake_shape": fake.shape,
        "d_out_shape": out_real.shape,
        "seconds": time.perf_counter() - t0,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=20, help="the article ran 100")
    p.add_argument("--size", type=int, choices=[32, 64], default=32)
    p.add_argument("--channels", type=int, choices=[1, 3], default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--width", type=int, default=16, help="ngf = ndf, the base channel count")
    p.add_argument("--data", default=None, help="folder holding the MNIST IDX files")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(Path(tempfile.gettempdir()) / "tapegrad_e04_samples"))
    a = p.parse_args()
    print(f"DCGAN {a.channels}x{a.size}x{a.size}, width {a.width}, batch {a.batch_size}")
    r = train(
        a.steps,
        a.size,
        a.channels,
        a.batch_size,
        a.width,
        a.width,
        seed=a.seed,
        root=a.data,
        log_every=max(1, a.steps // 10),
    )
    print(f"G output {r['fake_shape']}, D output {r['d_out_shape']}; {r['seconds']:.1f} s")
    # Sampled in training mode (batch statistics), as DCGAN implementations do: after a
    # short run BatchNorm's running averages still lag behind the generator.
    with tg.no_grad():
        samples = r["G"](tg.randn(64, Z_DIM, 1, 1)).numpy()
    print(f"64 samples saved to {save_grid(samples, a.out)}")


if __name__ == "__main__":
    main()
