"""Losses and regularizers: pure functions of network outputs, no state."""

from gan_lightning.losses.adversarial import (
    began_convergence,
    began_d,
    began_g,
    began_k_update,
    ebgan_d,
    ebgan_g,
    fisher_constraint,
    fisher_d,
    fisher_lagrange_update,
    hinge_d,
    hinge_g,
    l1_reconstruction,
    lsgan_d,
    lsgan_g,
    magan_margin_update,
    minimax_g,
    nonsaturating_d,
    nonsaturating_g,
    pullaway,
    relativistic_d,
    relativistic_g,
    sigmoid_class_loss,
    wasserstein_d,
    wasserstein_g,
)
from gan_lightning.losses.regularizers import (
    dragan_penalty,
    feature_matching_loss,
    gradient_penalty,
    historical_average_penalty,
    instance_noise,
    r1_penalty,
    r2_penalty,
    update_historical_average_,
    weight_clip_,
    wgan_div_penalty,
)

__all__ = [
    # adversarial losses
    "nonsaturating_d", "nonsaturating_g", "minimax_g",
    "lsgan_d", "lsgan_g",
    "wasserstein_d", "wasserstein_g",
    "hinge_d", "hinge_g",
    "relativistic_d", "relativistic_g",
    "ebgan_d", "ebgan_g", "pullaway",
    "began_d", "began_g", "began_k_update", "began_convergence", "l1_reconstruction",
    "fisher_d", "fisher_constraint", "fisher_lagrange_update", "magan_margin_update",
    # an auxiliary classifier's term
    "sigmoid_class_loss",
    # regularizers
    "weight_clip_", "gradient_penalty", "dragan_penalty", "wgan_div_penalty", "r1_penalty", "r2_penalty",
    "instance_noise", "historical_average_penalty", "update_historical_average_", "feature_matching_loss",
]

from gan_lightning.losses.regularizers import orthogonal_regularization  # noqa: E402

__all__ += ["orthogonal_regularization"]
