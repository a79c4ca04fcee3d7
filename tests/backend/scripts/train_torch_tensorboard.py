"""Fixture: a tiny PyTorch MLP that logs its loss with TensorBoard's SummaryWriter."""

import argparse
import pathlib
import time

import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--hold-after-first-step", help="wait for this file after step 0")
    args = parser.parse_args()
    torch.manual_seed(0)
    features = torch.randn(64, 4)
    labels = (features.sum(dim=1) > 0).long()
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    optimiser = torch.optim.SGD(model.parameters(), lr=args.lr)
    writer = SummaryWriter("runs/mlp")
    for step in range(args.steps):
        optimiser.zero_grad()
        loss = nn.functional.cross_entropy(model(features), labels)
        loss.backward()
        optimiser.step()
        writer.add_scalar("loss/train", loss.item(), step)
        print(f"step {step} loss {loss.item():.4f}", flush=True)
        if step == 0 and args.hold_after_first_step:
            writer.flush()  # lets a test see step 0 arrive while the run still runs
            deadline = time.monotonic() + 120
            while not pathlib.Path(args.hold_after_first_step).exists():
                if time.monotonic() > deadline:
                    raise SystemExit("nobody saw step 0")
                time.sleep(0.05)
    writer.close()


if __name__ == "__main__":
    main()
