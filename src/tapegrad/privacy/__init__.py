"""``tapegrad.privacy``: differentially private training.

* :func:`per_sample_grads` and :func:`clipped_grad_sum`: per-sample gradients
  from tapegrad's own backward pass.
* :class:`DPOptimizer` and :class:`PoissonSampler`: DP-SGD.
* :func:`compute_epsilon`, :func:`noise_multiplier_for_epsilon`,
  :func:`steps_for_epsilon`: the accountant (needs ``dp-accounting``:
  ``pip install tapegrad[privacy]``).
* :func:`train_dp_gan`: a conditional GAN whose discriminator is trained with
  DP-SGD, so the generator and its samples are differentially private.
"""

from .accountant import compute_epsilon, noise_multiplier_for_epsilon, steps_for_epsilon
from .gan import DPGANConfig, load_mnist_for_dp, synthesize, train_dp_gan
from .grad_sample import SUPPORTED_LAYERS, clipped_grad_sum, per_sample_grads
from .optimizer import DPOptimizer, PoissonSampler, clip_and_sum
