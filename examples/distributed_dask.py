"""Data-parallel training on a Dask cluster with agrad's ``dask`` backend.

A two-layer MLP, written with bare ``agrad.Tensor`` operations, fits a smooth function of its
inputs. The batch is split into row chunks (one or more per worker); the forward pass, the
backward pass and the sum of the per-chunk gradients are all tasks of one Dask graph, so the
gradient reduction happens on the cluster, and only the scalar loss comes back each step.
After each step the parameters are persisted (``agrad.materialize``) so that the next step's
graph starts from stored values instead of replaying the whole history.

    python examples/distributed_dask.py                     # a local 2-worker cluster
    python examples/distributed_dask.py --scheduler tcp://10.0.0.5:8786
    python examples/distributed_dask.py --backend numpy     # the same training, in-process

The same ``train`` function runs on any agrad backend; only the data placement is Dask's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np

import agrad
from agrad import Tensor


def make_data(n: int, features: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and a smooth target ``y = sin(x0) + x1 * x2 + 0.1 * sum(x)``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features))
    y = np.sin(x[:, :1]) + x[:, 1:2] * x[:, 2:3] + 0.1 * x.sum(axis=1, keepdims=True)
    return x, y


def init_params(features: int, hidden: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed + 1)
    return [
        rng.normal(size=(features, hidden)) / np.sqrt(features),
        np.zeros(hidden),
        rng.normal(size=(hidden, 1)) / np.sqrt(hidden),
        np.zeros(1),
    ]


def place(backend: agrad.Backend, a: np.ndarray, rows_per_chunk: int | None) -> Any:
    """``a`` as an array of ``backend``; on Dask, the batch is cut into row chunks."""
    if backend.name == "dask" and rows_per_chunk is not None:
        import dask.array as da

        return da.from_array(a, chunks=(rows_per_chunk, *a.shape[1:]))
    return backend.asarray(a)


def loss_fn(params: list[Tensor], x: Tensor, y: Tensor) -> Tensor:
    w1, b1, w2, b2 = params
    h = agrad.tanh(x @ w1 + b1)
    return ((h @ w2 + b2 - y) ** 2).mean()


def train(
    backend_name: str,
    x: np.ndarray,
    y: np.ndarray,
    params0: list[np.ndarray],
    *,
    steps: int,
    lr: float,
    rows_per_chunk: int | None = None,
    log_every: int = 0,
) -> list[float]:
    """Full-batch gradient descent; returns the loss before each update."""
    backend = agrad.load_backend(backend_name)
    losses = []
    with agrad.using_backend(backend):
        xt = Tensor(place(backend, x, rows_per_chunk), requires_grad=False)
        yt = Tensor(place(backend, y, rows_per_chunk), requires_grad=False)
        agrad.materialize([xt, yt])  # Dask: the chunks go to the workers once
        params = [Tensor(backend.asarray(p)) for p in params0]
        for step in range(steps):
            loss = loss_fn(params, xt, yt)
            loss.backward()
            for p in params:
                p.value = p.value - lr * p.grad
            agrad.materialize([*params, loss])  # one compute per step; graphs stay one step long
            losses.append(float(loss))
            if log_every and (step % log_every == 0 or step == steps - 1):
                print(f"step {step:4d}  loss {losses[-1]:.6f}", flush=True)
    return losses


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Without --scheduler a LocalCluster of --workers processes is started on this "
        "machine (loopback only) and shut down at the end.",
    )
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--workers", type=int, default=2, help="local cluster: worker processes (2)")
    p.add_argument("--memory-limit", default="1GiB", help="local cluster: memory per worker (1GiB)")
    p.add_argument("--backend", default="dask",
                   help="agrad backend to train on (dask; any other trains in-process)")
    p.add_argument("--samples", type=int, default=2048, help="batch size (2048)")
    p.add_argument("--chunks", type=int, default=4,
                   help="row chunks the batch is cut into, spread over the workers (4)")
    p.add_argument("--features", type=int, default=4, help="input features (4)")
    p.add_argument("--hidden", type=int, default=32, help="hidden units (32)")
    p.add_argument("--steps", type=int, default=100, help="gradient-descent steps (100)")
    p.add_argument("--lr", type=float, default=0.3, help="learning rate (0.3)")
    p.add_argument("--seed", type=int, default=0, help="data and initialisation seed (0)")
    p.add_argument("--losses-out", metavar="FILE", help="also write the losses as JSON to FILE")
    return p.parse_args(argv)


def _client(args: argparse.Namespace):
    from dask.distributed import Client, LocalCluster

    if args.scheduler:
        return Client(args.scheduler), None
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                           memory_limit=args.memory_limit, host="127.0.0.1", dashboard_address=None)
    return Client(cluster), cluster


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    x, y = make_data(args.samples, args.features, args.seed)
    params0 = init_params(args.features, args.hidden, args.seed)
    rows = -(-args.samples // args.chunks)
    client = cluster = None
    if args.backend == "dask":
        client, cluster = _client(args)
        print(f"Dask cluster: {client.scheduler.address}, "
              f"{len(client.scheduler_info()['workers'])} workers", flush=True)
    try:
        start = time.perf_counter()
        losses = train(args.backend, x, y, params0, steps=args.steps, lr=args.lr,
                       rows_per_chunk=rows, log_every=max(1, args.steps // 10))
        print(f"{args.steps} steps in {time.perf_counter() - start:.2f} s; "
              f"loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    if args.losses_out:
        with open(args.losses_out, "w") as f:
            json.dump(losses, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
