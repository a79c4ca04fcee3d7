"""Train a small PyTorch MLP on scikit-learn's bundled breast-cancer data set.

Needs the `torch` extra (`mlworkbench[torch]`). Scalars go to TensorBoard through
SummaryWriter, which ML Workbench mirrors into the run's metrics.
"""

import argparse

import torch
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn
from torch.utils.tensorboard import SummaryWriter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=20, help="passes over the training set")
    parser.add_argument("--lr", type=float, default=1e-2, help="learning rate")
    parser.add_argument("--hidden", type=int, default=32, help="hidden units")
    args = parser.parse_args()

    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(x_train)
    xt = torch.tensor(scaler.transform(x_train), dtype=torch.float32)
    yt = torch.tensor(y_train, dtype=torch.float32).unsqueeze(1)
    xv = torch.tensor(scaler.transform(x_test), dtype=torch.float32)
    yv = torch.tensor(y_test, dtype=torch.float32).unsqueeze(1)

    model = nn.Sequential(nn.Linear(xt.shape[1], args.hidden), nn.ReLU(), nn.Linear(args.hidden, 1))
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.BCEWithLogitsLoss()
    writer = SummaryWriter()
    for epoch in range(args.epochs):
        optimiser.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            accuracy = ((model(xv) > 0).float() == yv).float().mean().item()
        writer.add_scalar("loss/train", loss.item(), epoch)
        writer.add_scalar("accuracy/test", accuracy, epoch)
        print(f"epoch {epoch}: loss={loss.item():.4f} accuracy={accuracy:.4f}")
    writer.close()


if __name__ == "__main__":
    main()
