"""The problems and the timed implementations of bench/peers.py.

Every implementation reads the same numpy buffers (torch and softce as views of that memory,
JAX from one device copy made outside timing). bf16 logits are stored as their 16-bit patterns
(uint16); torch views them as torch.bfloat16, softce and JAX as ml_dtypes.bfloat16 when that is
importable, else softce gets raw descriptors from the binding's own ctypes structures.
"""

import ctypes
import importlib
import importlib.util
import os

_mods = {}


def _module(name):
    """The module, imported on first use; None when it cannot be imported."""
    if name not in _mods:
        try:
            _mods[name] = importlib.import_module(name)
        except Exception:  # noqa: BLE001 - any import failure means "not available"
            _mods[name] = None
    return _mods[name]


def numpy_available():
    return _module("numpy") is not None


def torch_available():
    return _module("torch") is not None


def ml_dtypes_available():
    return _module("ml_dtypes") is not None


def softce_available():
    """The binding imports and finds the library."""
    sc = _module("softce")
    try:
        return sc is not None and bool(sc.version())
    except OSError:
        return False


def jax_available():
    return importlib.util.find_spec("jax") is not None  # imported late: XLA_FLAGS first


def bf16_available():
    return torch_available() or ml_dtypes_available()


def configure_jax_single_thread():
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               " --xla_cpu_multi_thread_eigen=false"
                               " intra_op_parallelism_threads=1").strip()


def jax_threads():
    return 1 if "intra_op_parallelism_threads=1" in os.environ.get("XLA_FLAGS", "") else \
        os.cpu_count()


def describe_versions():
    parts = [f"numpy {_module('numpy').__version__}"]
    for name in ("torch", "ml_dtypes"):
        mod = _module(name)
        parts.append(f"{name} {mod.__version__ if mod else 'missing'}")
    if jax_available() and _module("jax"):
        parts.append(f"jax {_module('jax').__version__} ({jax_threads()} threads)")
    else:
        parts.append("jax missing")
    sc = _module("softce")
    parts.append(f"softce {sc.version()} from {sc.library_path()}" if sc else "softce missing")
    return "; ".join(parts)


def _bf16_bits(a):
    """float32 array -> bfloat16 bit patterns (uint16), round to nearest even."""
    np = _module("numpy")
    u = a.view(np.uint32)
    return ((u + np.uint32(0x7FFF) + ((u >> 16) & np.uint32(1))) >> 16).astype(np.uint16)


def aligned_empty(shape, dtype, align=64):
    """An uninitialised array starting on an `align`-byte boundary, as PyTorch's CPU allocator
    gives its tensors (numpy's large arrays start 16 bytes past one)."""
    np = _module("numpy")
    dt, n = np.dtype(dtype), int(np.prod(shape))
    buf = np.empty(n * dt.itemsize + align, dtype=np.uint8)
    off = -buf.ctypes.data % align
    return buf[off:off + n * dt.itemsize].view(dt).reshape(shape)


def aligned_copy(a):
    b = aligned_empty(a.shape, a.dtype)
    b[...] = a
    return b


class Problem:
    """Logits, a pristine copy and the target of one (shape, dtype, target kind), each on a
    64-byte boundary as PyTorch allocates them."""

    def __init__(self, name, shape, dtype, target):
        np = _module("numpy")
        self.name, self.shape, self.dtype, self.target = name, shape, dtype, target
        rng = np.random.default_rng(12345)
        x = rng.random(shape, dtype=np.float32)
        x *= 8.0
        x -= 4.0  # uniform in [-4, 4), as in softce_bench
        self.x = aligned_copy(x if dtype == "f32" else _bf16_bits(x))
        del x
        self.pristine = aligned_copy(self.x)
        self.nbytes = self.x.nbytes
        if target == "hard":
            elem = shape[:1] + shape[2:]
            self.t = aligned_copy(rng.integers(0, shape[1], size=elem, dtype=np.int64))
        else:
            p = rng.random(shape, dtype=np.float32) + np.float32(1e-3)
            p /= p.sum(axis=1, keepdims=True)
            self.t = aligned_copy(p if dtype == "f32" else _bf16_bits(p))

    def restore(self):
        _module("numpy").copyto(self.x, self.pristine)

    def view(self, a, lib):
        """a (f32, int64 or bf16 bits) as a float array of `lib` ("numpy" or "torch")."""
        np = _module("numpy")
        if a.dtype != np.uint16:
            return a if lib == "numpy" else _module("torch").from_numpy(a)
        if lib == "torch":
            torch = _module("torch")
            return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
        return a.view(_module("ml_dtypes").bfloat16)


class SoftceRunner:
    """softce through bindings/python: the public functions on numpy views (no copies)."""

    name = "softce"
    ops = ("forward", "fused", "fused_inplace")

    def __init__(self, problem, nt):
        self.sc, self.nt = _module("softce"), nt
        self.version = self.sc.version()
        self.raw = problem.dtype == "bf16" and not ml_dtypes_available()
        if self.raw:
            self.raw_call = RawSoftce(problem, nt)
            return
        self.x = problem.view(problem.x, "numpy")
        self.t = problem.view(problem.t, "numpy")
        self.grad = aligned_empty(self.x.shape, self.x.dtype)

    def prepare(self, op):
        return None

    def run(self, op, _):
        if self.raw:
            return self.raw_call.run(op)
        if op == "forward":
            return self.sc.cross_entropy(self.x, self.t, num_threads=self.nt)
        out = self.grad if op == "fused" else self.x
        loss, _ = self.sc.cross_entropy_forward_backward(self.x, self.t, num_threads=self.nt,
                                                         out=out)
        return loss

    def close(self):
        pass


class RawSoftce:
    """bf16 without ml_dtypes: descriptors built from the binding's ctypes mirror."""

    def __init__(self, problem, nt):
        C = importlib.import_module("softce._ctypes")
        np = _module("numpy")
        self.C, self.lib = C, C.lib()
        self.opts = C.Options()
        self.lib.softce_options_init(ctypes.byref(self.opts))
        self.opts.num_threads = nt
        self.x_t = self._tensor(problem.x, C.DTYPE_BF16)
        t_code = C.DTYPE_I64 if problem.target == "hard" else C.DTYPE_BF16
        self.t_t = self._tensor(problem.t, t_code)
        self.grad = aligned_empty(problem.x.shape, problem.x.dtype)
        self.g_t = self._tensor(self.grad, C.DTYPE_BF16)
        self.loss = np.zeros((), dtype=np.float32)
        self.l_t = self._tensor(self.loss, C.DTYPE_F32)

    def _tensor(self, a, code):
        t = self.C.Tensor()
        t.struct_size, t.dtype, t.ndim, t.reserved = ctypes.sizeof(t), code, a.ndim, 0
        t.data = a.ctypes.data
        for k, (n, s) in enumerate(zip(a.shape, a.strides)):
            t.shape[k], t.strides[k] = n, s // a.itemsize
        return t

    def run(self, op):
        r = ctypes.byref
        if op == "forward":
            s = self.lib.softce_forward(r(self.opts), r(self.x_t), r(self.t_t), r(self.l_t), None)
        else:
            g = self.g_t if op == "fused" else self.x_t
            s = self.lib.softce_forward_backward(r(self.opts), r(self.x_t), r(self.t_t), None,
                                                 r(self.l_t), r(g))
        if s != 0:
            raise RuntimeError(self.lib.softce_last_error().decode())
        return float(self.loss)


class TorchRunner:
    """F.cross_entropy; fused = forward + loss.backward() into a fresh .grad."""

    name = "torch"
    ops = ("forward", "fused")

    def __init__(self, problem, nt):
        self.torch = _module("torch")
        self.torch.set_num_threads(nt)
        self.version = self.torch.__version__
        self.F = importlib.import_module("torch.nn.functional")
        self.x = problem.view(problem.x, "torch").requires_grad_()
        self.t = problem.view(problem.t, "torch")

    def prepare(self, op):
        self.x.grad = None  # what optimizer.zero_grad() (set_to_none) leaves

    def run(self, op, _):
        if op == "forward":
            with self.torch.no_grad():
                return self.F.cross_entropy(self.x, self.t).item()
        loss = self.F.cross_entropy(self.x, self.t)
        loss.backward()
        return loss.item()

    def close(self):
        self.x.grad = None


class JaxRunner:
    """jax.nn.log_softmax + the loss, under jax.jit; fused = jax.value_and_grad."""

    name = "jax"
    ops = ("forward", "fused")

    def __init__(self, problem):
        jax, jnp = _module("jax"), importlib.import_module("jax.numpy")
        self.version = jax.__version__
        self.x = jax.device_put(jnp.asarray(problem.view(problem.x, "numpy")))
        self.t = jax.device_put(jnp.asarray(problem.view(problem.t, "numpy")))
        loss = _jax_hard_loss if problem.target == "hard" else _jax_soft_loss
        self.fns = {"forward": jax.jit(loss), "fused": jax.jit(jax.value_and_grad(loss))}

    def prepare(self, op):
        return None

    def run(self, op, _):
        out = _module("jax").block_until_ready(self.fns[op](self.x, self.t))
        return float(out if op == "forward" else out[0])

    def close(self):
        self.x = self.t = self.fns = None


def _jax_hard_loss(x, t):
    jax, jnp = _module("jax"), importlib.import_module("jax.numpy")
    logp = jax.nn.log_softmax(x, axis=1)
    picked = jnp.take_along_axis(logp, jnp.expand_dims(t, 1), axis=1)
    return -jnp.mean(picked)


def _jax_soft_loss(x, t):
    jax, jnp = _module("jax"), importlib.import_module("jax.numpy")
    return -jnp.mean(jnp.sum(t * jax.nn.log_softmax(x, axis=1), axis=1))


def check_against_torch(problem, nt):
    """softce's fused loss and gradient vs torch's in float32 on the same (upcast) inputs;
    returns 1 (and says why) if they differ by more than the output dtype's rounding."""
    if not (softce_available() and torch_available()):
        return 0
    np, torch = _module("numpy"), _module("torch")
    problem.restore()
    sc = SoftceRunner(problem, nt)
    loss = float(sc.run("fused", None))
    grad = sc.raw_call.grad if sc.raw else sc.grad
    got = problem.view(grad, "torch").float().numpy() if grad.dtype == np.uint16 else grad
    x = problem.view(problem.x, "torch").float().requires_grad_()
    t = problem.view(problem.t, "torch")
    ref = torch.nn.functional.cross_entropy(x, t if t.dtype == torch.int64 else t.float())
    ref.backward()
    ref, ref_grad = float(ref.detach()), x.grad.numpy()
    tol = 1e-5 if problem.dtype == "f32" else 1e-2
    err = float(np.max(np.abs(got - ref_grad))) / float(np.max(np.abs(ref_grad)))
    if abs(loss - ref) <= tol * abs(ref) and err <= tol:
        return 0
    print(f"CHECK FAILED {problem.name} {problem.dtype} {problem.target}: loss {loss} vs "
          f"torch {ref}, max grad error {err:.3g} of max |grad|")
    return 1
