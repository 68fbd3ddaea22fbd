"""PyTorch's DCGAN tutorial ("DCGAN Tutorial"), ported with its imports changed.

``weights_init``, ``BCELoss`` with ``torch.full`` labels, Adam with beta1 = 0.5
and the D-then-G training loop are the tutorial's. What changes is the data:
MNIST from its IDX files (one channel, 28x28, scaled to [-1, 1]) instead of
CelebA at 64x64, so the generator and discriminator have one layer fewer, with
kernel sizes that map 1x1 <-> 28x28; and ``--steps`` can cut an epoch short.
``--backend`` picks the library::

    python examples/pytorch_ports/dcgan.py --data DIR --epochs 1 --backend tapegrad
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from idx_data import data_dir, load_split

_pre = argparse.ArgumentParser(add_help=False)
_pre.add_argument("--backend", choices=["tapegrad", "torch"], default="tapegrad")
BACKEND = _pre.parse_known_args()[0].backend

# ---- the only lines that differ from PyTorch's tutorial: the imports ----
if BACKEND == "torch":
    import torch
    import torch.nn as nn
    import torch.optim as optim
    from torch.utils.data import DataLoader, TensorDataset

    try:
        import torchvision.utils as vutils
    except ImportError:  # torchvision is optional here: no image grid without it
        vutils = None
else:
    import tapegrad as torch
    import tapegrad.nn as nn
    import tapegrad.optim as optim
    import tapegrad.utils as vutils
    from tapegrad.utils.data import DataLoader, TensorDataset
# -------------------------------------------------------------------------

nc = 1  # number of channels in the training images (MNIST: 1)
nz = 100  # size of the latent vector
ngf = 64  # size of the feature maps in the generator
ndf = 64  # size of the feature maps in the discriminator


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


class Generator(nn.Module):
    def __init__(self, ngpu):
        super().__init__()
        self.ngpu = ngpu
        self.main = nn.Sequential(
            # input is Z, going into a convolution
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            # state size. (ngf*4) x 4 x 4
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 3, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            # state size. (ngf*2) x 7 x 7
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            # state size. (ngf) x 14 x 14
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
            # state size. (nc) x 28 x 28
        )

    def forward(self, input):
        return self.main(input)


class Discriminator(nn.Module):
    def __init__(self, ngpu):
        super().__init__()
        self.ngpu = ngpu
        self.main = nn.Sequential(
            # input is (nc) x 28 x 28
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf) x 14 x 14
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf*2) x 7 x 7
            nn.Conv2d(ndf * 2, ndf * 4, 3, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (ndf*4) x 4 x 4
            nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, input):
        return self.main(input)


def main(argv=None):
    parser = argparse.ArgumentParser(description="DCGAN tutorial on MNIST", parents=[_pre])
    parser.add_argument("--data", help="folder of the MNIST IDX files (else $TAPEGRAD_DATA)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.0002)
    parser.add_argument("--beta1", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=999)
    parser.add_argument("--steps", type=int, default=0, help="stop each epoch after N batches")
    parser.add_argument("--grid", help="save the fixed-noise samples as an image grid here")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)

    manualSeed = args.seed
    torch.manual_seed(manualSeed)
    ngpu = 1 if torch.cuda.is_available() else 0
    device = torch.device("cuda:0" if (torch.cuda.is_available() and ngpu > 0) else "cpu")

    # The data change: MNIST from IDX files, scaled to [-1, 1] like Normalize(0.5, 0.5).
    images, labels = load_split(data_dir(args.data), True)
    x = torch.from_numpy(images).float().unsqueeze(1) / 255.0
    dataset = TensorDataset((x - 0.5) / 0.5, torch.from_numpy(labels))
    dataloader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True)

    netG = Generator(ngpu).to(device)
    netG.apply(weights_init)
    netD = Discriminator(ngpu).to(device)
    netD.apply(weights_init)

    criterion = nn.BCELoss()
    fixed_noise = torch.randn(64, nz, 1, 1, device=device)
    real_label = 1.0
    fake_label = 0.0
    optimizerD = optim.Adam(netD.parameters(), lr=args.lr, betas=(args.beta1, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=args.lr, betas=(args.beta1, 0.999))

    img_list = []
    G_losses = []
    D_losses = []
    D_x_list = []
    D_G_z_list = []
    iters = 0
    start = time.perf_counter()
    print("Starting Training Loop...")
    for epoch in range(args.epochs):
        for i, data in enumerate(dataloader, 0):
            ############################
            # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
            ###########################
            ## Train with all-real batch
            netD.zero_grad()
            real_cpu = data[0].to(device)
            b_size = real_cpu.size(0)
            label = torch.full((b_size,), real_label, dtype=torch.float, device=device)
            output = netD(real_cpu).view(-1)
            errD_real = criterion(output, label)
            errD_real.backward()
            D_x = output.mean().item()

            ## Train with all-fake batch
            noise = torch.randn(b_size, nz, 1, 1, device=device)
            fake = netG(noise)
            label.fill_(fake_label)
            output = netD(fake.detach()).view(-1)
            errD_fake = criterion(output, label)
            errD_fake.backward()
            D_G_z1 = output.mean().item()
            errD = errD_real + errD_fake
            optimizerD.step()

            ############################
            # (2) Update G network: maximize log(D(G(z)))
            ###########################
            netG.zero_grad()
            label.fill_(real_label)  # fake labels are real for generator cost
            output = netD(fake).view(-1)
            errG = criterion(output, label)
            errG.backward()
            D_G_z2 = output.mean().item()
            optimizerG.step()

            if i % 50 == 0:
                print(
                    "[%d/%d][%d/%d]\tLoss_D: %.4f\tLoss_G: %.4f\tD(x): %.4f\tD(G(z)): %.4f / %.4f"
                    % (
                        epoch,
                        args.epochs,
                        i,
                        len(dataloader),
                        errD.item(),
                        errG.item(),
                        D_x,
                        D_G_z1,
                        D_G_z2,
                    )
                )
            G_losses.append(errG.item())
            D_losses.append(errD.item())
            D_x_list.append(D_x)
            D_G_z_list.append(D_G_z2)
            last = (epoch == args.epochs - 1) and (i == len(dataloader) - 1 or i + 1 == args.steps)
            if (iters % 500 == 0) or last:
                with torch.no_grad():
                    fake = netG(fixed_noise).detach().cpu()
                if vutils is not None:
                    img_list.append(vutils.make_grid(fake, padding=2, normalize=True))
            iters += 1
            if args.steps and i + 1 >= args.steps:
                break

    if args.grid and vutils is not None:
        vutils.save_image(fake, args.grid, padding=2, normalize=True)

    def tail_mean(values):
        return sum(values[-100:]) / len(values[-100:])

    result = {
        "backend": BACKEND,
        "steps": iters,
        "last_100_loss_D": tail_mean(D_losses),
        "last_100_loss_G": tail_mean(G_losses),
        "last_100_D_x": tail_mean(D_x_list),
        "last_100_D_G_z": tail_mean(D_G_z_list),
        "seconds": time.perf_counter() - start,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
