#!/usr/bin/python3
"""A PyTorch training loop with softce.torch.CrossEntropyLoss (label smoothing, soft targets).

A small MLP learns a synthetic 10-class problem. The loss module is softce's drop-in for
torch.nn.CrossEntropyLoss; the same loop with PyTorch's module runs beside it from the same
initial weights, and the script prints one line per epoch with both losses (they agree to
rounding) and exits non-zero if they do not agree or the loss did not fall.
"""
import copy
import sys

import torch
import torch.nn.functional as F

import softce.torch as st


def main():
    torch.manual_seed(0)
    n, features, classes = 2048, 20, 10
    x = torch.randn(n, features)
    y = (x @ torch.randn(features, classes)).argmax(1)
    model = torch.nn.Sequential(torch.nn.Linear(features, 64), torch.nn.ReLU(),
                                torch.nn.Linear(64, classes))
    twin = copy.deepcopy(model)
    ours = st.CrossEntropyLoss(label_smoothing=0.1)
    theirs = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    opt_a = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt_b = torch.optim.SGD(twin.parameters(), lr=0.1, momentum=0.9)
    first = last = None
    for epoch in range(8):
        total_a = total_b = 0.0
        for i in range(0, n, 256):
            xb, yb = x[i:i + 256], y[i:i + 256]
            for net, opt, loss_fn in ((model, opt_a, ours), (twin, opt_b, theirs)):
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(net(xb), yb)
                loss.backward()
                opt.step()
                if net is model:
                    total_a += loss.item()
                else:
                    total_b += loss.item()
        steps = n // 256
        acc = (model(x).argmax(1) == y).float().mean().item()
        print(f"epoch {epoch}: softce {total_a / steps:.6f}  torch {total_b / steps:.6f}  "
              f"accuracy {acc:.3f}")
        if abs(total_a - total_b) > 1e-4 * abs(total_b):
            print("softce and torch disagree")
            return 1
        first = total_a if first is None else first
        last = total_a
    # soft targets (a teacher's distribution) through the functional form
    teacher = F.softmax(torch.randn(8, classes), dim=1)
    logits = torch.randn(8, classes, requires_grad=True)
    a = st.cross_entropy(logits, teacher)
    b = F.cross_entropy(logits, teacher)
    print(f"soft targets: softce {a.item():.6f}  torch {b.item():.6f}")
    if abs(a.item() - b.item()) > 1e-5 * abs(b.item()) or not last < first:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
