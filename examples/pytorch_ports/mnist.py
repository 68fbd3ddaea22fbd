"""PyTorch's MNIST example (``examples/mnist/main.py``), ported with its imports changed.

The network, Adadelta with StepLR, and the train and test loops are PyTorch's;
only the data loading differs (the IDX files read with NumPy instead of
torchvision, normalised with the example's mean 0.1307 and std 0.3081), and
``--steps`` can cut an epoch short. ``--backend`` picks the library::

    python examples/pytorch_ports/mnist.py --data DIR --epochs 1 --backend tapegrad
    python examples/pytorch_ports/mnist.py --data DIR --epochs 1 --backend torch
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

# ---- the only lines that differ from PyTorch's example: the imports ----
if BACKEND == "torch":
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim
    from torch.optim.lr_scheduler import StepLR
    from torch.utils.data import DataLoader, TensorDataset
else:
    import tapegrad as torch
    import tapegrad.nn as nn
    import tapegrad.nn.functional as F
    import tapegrad.optim as optim
    from tapegrad.optim.lr_scheduler import StepLR
    from tapegrad.utils.data import DataLoader, TensorDataset
# -------------------------------------------------------------------------


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def train(args, model, device, train_loader, optimizer, epoch):
    model.train()
    losses = []
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if batch_idx % args.log_interval == 0:
            print(
                "Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}".format(
                    epoch,
                    batch_idx * len(data),
                    len(train_loader.dataset),
                    100.0 * batch_idx / len(train_loader),
                    loss.item(),
                )
            )
            if args.dry_run:
                break
        if args.steps and batch_idx + 1 >= args.steps:
            break
    return losses


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()  # sum up batch loss
            pred = output.argmax(dim=1, keepdim=True)  # index of the max log-probability
            correct += pred.eq(target.view_as(pred)).sum().item()

    test_loss /= len(test_loader.dataset)
    print(
        "\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n".format(
            test_loss,
            correct,
            len(test_loader.dataset),
            100.0 * correct / len(test_loader.dataset),
        )
    )
    return test_loss, correct / len(test_loader.dataset)


def mnist_tensors(folder, train):
    """The data change: IDX files -> normalised (N, 1, 28, 28) floats and int64 labels."""
    images, labels = load_split(folder, train)
    x = torch.from_numpy(images).float().unsqueeze(1) / 255.0
    x = (x - 0.1307) / 0.3081
    return TensorDataset(x, torch.from_numpy(labels))


def main(argv=None):
    parser = argparse.ArgumentParser(description="PyTorch MNIST Example", parents=[_pre])
    parser.add_argument("--batch-size", type=int, default=64, metavar="N")
    parser.add_argument("--test-batch-size", type=int, default=1000, metavar="N")
    parser.add_argument("--epochs", type=int, default=14, metavar="N")
    parser.add_argument("--lr", type=float, default=1.0, metavar="LR")
    parser.add_argument("--gamma", type=float, default=0.7, metavar="M")
    parser.add_argument("--no-accel", action="store_true", help="disables accelerator")
    parser.add_argument("--dry-run", action="store_true", help="quickly check a single pass")
    parser.add_argument("--seed", type=int, default=1, metavar="S")
    parser.add_argument("--log-interval", type=int, default=10, metavar="N")
    parser.add_argument("--save-model", action="store_true")
    parser.add_argument("--data", help="folder of the MNIST IDX files (else $TAPEGRAD_DATA)")
    parser.add_argument("--steps", type=int, default=0, help="stop each epoch after N batches")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)

    use_cuda = not args.no_accel and torch.cuda.is_available()
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if use_cuda else "cpu")

    train_kwargs = {"batch_size": args.batch_size, "shuffle": True}
    test_kwargs = {"batch_size": args.test_batch_size}
    if use_cuda:
        cuda_kwargs = {"num_workers": 1, "pin_memory": True}
        train_kwargs.update(cuda_kwargs)
        test_kwargs.update(cuda_kwargs)

    folder = data_dir(args.data)
    train_loader = DataLoader(mnist_tensors(folder, True), **train_kwargs)
    test_loader = DataLoader(mnist_tensors(folder, False), **test_kwargs)

    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)

    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        losses = train(args, model, device, train_loader, optimizer, epoch)
        test_loss, accuracy = test(model, device, test_loader)
        scheduler.step()

    if args.save_model:
        torch.save(model.state_dict(), "mnist_cnn.pt")
    result = {
        "backend": BACKEND,
        "epochs": args.epochs,
        "train_steps_last_epoch": len(losses),
        "last_100_train_loss": sum(losses[-100:]) / len(losses[-100:]),
        "test_loss": test_loss,
        "test_accuracy": accuracy,
        "seconds": time.perf_counter() - start,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
