"""softce.distributed.cross_entropy_sharded on 2 processes (torch.distributed, gloo, 127.0.0.1).

Every rank holds an uneven slice of the class axis; the sharded loss (the same on both ranks)
and each rank's slice of the input gradient are compared with the single-process results:
torch.nn.functional.cross_entropy for what torch expresses (weights, ignore_index, reductions,
label smoothing, soft targets), softce.cross_entropy_forward_backward for the libsoftce 1.1
options. The neg_view cases pass the logits slice (and the soft target slice) as a lazily negated
view (torch._neg_view: the memory holds -x, the tensor means x). Exit 0 = pass, 77 = skipped
(no torch / torch.distributed / gloo).
"""

import os
import socket
import sys
import traceback

try:
    import numpy as np
    import torch
    import torch.distributed as dist
    import torch.multiprocessing as mp
except ImportError as e:
    print(f"skipped: {e}")
    sys.exit(77)

WORLD = 2
TOL = {torch.float32: 1e-6, torch.float64: 1e-12}


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cases():
    """(name, dtype, soft, shape, kwargs, torch_kwargs or None) — deterministic."""
    out = []
    for dtype in (torch.float32, torch.float64):
        for soft in (False, True):
            base = [
                ("plain", {}, {}),
                ("weight", {"weight": True}, {"weight": True}),
                ("ignore", {"ignore_index": 3}, {"ignore_index": 3}),
                ("smooth", {"label_smoothing": 0.2}, {"label_smoothing": 0.2}),
                ("weight+smooth+sum", {"weight": True, "label_smoothing": 0.1, "reduction": "sum"},
                 {"weight": True, "label_smoothing": 0.1, "reduction": "sum"}),
                ("none", {"reduction": "none", "label_smoothing": 0.3},
                 {"reduction": "none", "label_smoothing": 0.3}),
                ("z_loss+softcap", {"z_loss": 1e-3, "softcap": 5.0}, None),
                ("scale+kl", {"logit_scale": 0.7, "kl": True}, None),
                ("others", {"smoothing": "others", "label_smoothing": 0.2}, None),
                ("prior", {"smoothing_prior": True, "label_smoothing": 0.25}, None),
                ("sample_weight+valid", {"sample_weight": True, "denominator": "valid"}, None),
            ]
            for name, kw, tkw in base:
                shape = (6, 11) if name != "none" else (3, 11, 2)
                out.append((f"{name}-{'soft' if soft else 'hard'}-{dtype}", dtype, soft, shape,
                            kw, tkw))
    # last, so that the cases above keep their seeds
    for dtype in (torch.float32, torch.float64):
        for soft in (False, True):
            out.append((f"neg_view-{'soft' if soft else 'hard'}-{dtype}", dtype, soft, (6, 11),
                        {"neg_view": True, "label_smoothing": 0.1}, {"label_smoothing": 0.1}))
    return out


def make(dtype, soft, shape, kw, seed):
    g = torch.Generator().manual_seed(seed)
    C = shape[1]
    x = (torch.randn(shape, generator=g, dtype=torch.float64) * 2.0).to(dtype)
    eshape = shape[:1] + shape[2:]
    if soft:
        t = torch.rand(shape, generator=g, dtype=torch.float64).to(dtype)
        t = t / t.sum(1, keepdim=True)
    else:
        t = torch.randint(0, C, eshape, generator=g)
        t.view(-1)[::4] = kw.get("ignore_index", -100)
    w = (torch.rand(C, generator=g, dtype=torch.float64) + 0.2).to(dtype)
    prior = torch.rand(C, generator=g, dtype=torch.float64) + 0.1
    prior = (prior / prior.sum()).to(dtype)
    sw = torch.rand(eshape, generator=g, dtype=torch.float64).to(dtype)
    sw.view(-1)[::3] = 0
    return x, t, w, prior, sw


def relerr(a, b):
    a, b = a.double(), b.double()
    if a.dim() == 0:
        return float((a - b).abs() / b.abs().clamp_min(1e-300))
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-2))


def reference(x, t, w, prior, sw, kw, tkw):
    """Single-process loss and input gradient."""
    if tkw is not None:
        xr = x.detach().clone().requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(
            xr, t, weight=w if tkw.get("weight") else None,
            ignore_index=-100 if t.is_floating_point() else tkw.get("ignore_index", -100),
            reduction=tkw.get("reduction", "mean"),
            label_smoothing=tkw.get("label_smoothing", 0.0))
        g = torch.linspace(0.5, 1.5, loss.numel(), dtype=loss.dtype).reshape(loss.shape)
        loss.backward(g)
        return loss.detach(), xr.grad, g
    import softce
    args = {k: v for k, v in kw.items() if k not in ("weight", "smoothing_prior",
                                                       "sample_weight")}
    if kw.get("weight"):
        args["weight"] = w.numpy()
    if kw.get("smoothing_prior"):
        args["smoothing_prior"] = prior.numpy()
    if kw.get("sample_weight"):
        args["sample_weight"] = sw.numpy()
    loss, grad = softce.cross_entropy_forward_backward(x.numpy(), t.numpy(), **args)
    return torch.from_numpy(np.asarray(loss)), torch.from_numpy(grad), None


def run(rank, port, failures):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    from softce.distributed import cross_entropy_sharded
    worst = {}
    try:
        for i, (name, dtype, soft, shape, kw, tkw) in enumerate(cases()):
            x, t, w, prior, sw = make(dtype, soft, shape, kw, 1234 + i)
            C = shape[1]
            cut = [0, 4, C]  # uneven: 4 and 7 classes
            c0, c1 = cut[rank], cut[rank + 1]
            loss_ref, grad_ref, g = reference(x, t, w, prior, sw, kw, tkw)
            xs = x[:, c0:c1].detach().clone().requires_grad_(True)
            ts = t[:, c0:c1] if soft else t
            args = {k: v for k, v in kw.items() if k not in ("weight", "smoothing_prior",
                                                               "sample_weight", "neg_view")}
            xin, tin = xs, ts
            if kw.get("neg_view"):  # memory holds -xs (-ts), the tensor means xs (ts)
                xin = torch._neg_view(-xs)
                tin = torch._neg_view(-ts) if soft else ts
                if not (xin.is_neg() and tin.is_neg() == soft):
                    failures.append(f"rank {rank}: {name}: not a lazily negated view")
            if kw.get("weight"):
                args["weight"] = w[c0:c1]
            if kw.get("smoothing_prior"):
                args["smoothing_prior"] = prior[c0:c1]
            if kw.get("sample_weight"):
                args["sample_weight"] = sw
            loss = cross_entropy_sharded(xin, tin, c0, C, **args)
            if g is None:
                loss.backward()
            else:
                loss.backward(g)
            d_loss = relerr(loss.detach(), loss_ref)
            d_grad = relerr(xs.grad, grad_ref[:, c0:c1]) * float(
                grad_ref[:, c0:c1].abs().max().clamp_min(1e-2) /
                grad_ref.abs().max().clamp_min(1e-2))
            key = str(dtype)
            worst[key] = max(worst.get(key, (0, 0))[0], d_loss), max(worst.get(key, (0, 0))[1], d_grad)
            if not (d_loss <= TOL[dtype] and d_grad <= TOL[dtype]):
                failures.append(f"rank {rank}: {name}: loss {d_loss:.3g}, grad {d_grad:.3g}")
        # the loss is bitwise the same on every rank
        x, t, *_ = make(torch.float32, False, (5, 9), {}, 99)
        loss = cross_entropy_sharded(x[:, [0, 3][rank]:[3, 9][rank]], t, [0, 3][rank], 9)
        both = [torch.zeros(()) for _ in range(WORLD)]
        dist.all_gather(both, loss.detach())
        if not torch.equal(both[0], both[1]):
            failures.append(f"rank {rank}: losses differ between ranks: {both}")
        if rank == 0:
            for key, (dl, dg) in worst.items():
                print(f"distributed [{key}]: {len(cases()) // 2} cases, max relative difference "
                      f"loss {dl:.3g}, input grad {dg:.3g}")
    except Exception:
        failures.append(f"rank {rank}: {traceback.format_exc()}")
    finally:
        dist.destroy_process_group()


def worker(rank, port, queue):
    failures = []
    run(rank, port, failures)
    queue.put((rank, failures))


def main():
    if not dist.is_available() or not dist.is_gloo_available():
        print("skipped: torch.distributed with gloo is not available")
        return 77
    torch.set_num_threads(1)
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    port = free_port()
    procs = [ctx.Process(target=worker, args=(r, port, queue)) for r in range(WORLD)]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=300) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    failures = [f for r in sorted(results) for f in results[r]]
    for f in failures:
        print("FAIL", f)
    if any(p.exitcode != 0 for p in procs):
        print("FAIL: a worker exited with", [p.exitcode for p in procs])
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
