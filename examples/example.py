import numpy as np
import softce  # bindings/python; the library: SOFTCE_LIBRARY=build/src/libsoftce.so

rng = np.random.default_rng(0)
logits = rng.standard_normal((4, 10)).astype(np.float32)  # N = 4 samples, C = 10 classes
labels = np.array([3, 0, 9, 1])                            # class indices => hard target
teacher = rng.dirichlet(np.ones(10), size=4).astype(np.float32)  # same shape => soft target

print(softce.cross_entropy(logits, labels, label_smoothing=0.1))  # like F.cross_entropy
loss, grad = softce.cross_entropy_forward_backward(logits, teacher)

# The same soft-target loss and gradient by hand:
logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
assert np.isclose(loss, -(teacher * logp).sum(axis=1).mean(), rtol=1e-5)
assert np.allclose(grad, (np.exp(logp) - teacher) / 4, atol=1e-6)
print(loss, grad.shape)
