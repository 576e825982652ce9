"""Network building blocks, written once and shared by the model families.

Networks know nothing about training: no losses, no optimizers here.
"""

from gan_lightning.nets.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_init_, upsampling_plan
from gan_lightning.nets.mlp import MLPDiscriminator, MLPGenerator
from gan_lightning.nets.layers import MinibatchDiscrimination, MinibatchStdDev, apply_spectral_norm

__all__ = [
    "DCGANGenerator", "DCGANDiscriminator", "dcgan_init_", "upsampling_plan",
    "MLPGenerator", "MLPDiscriminator",
    "MinibatchDiscrimination", "MinibatchStdDev", "apply_spectral_norm",
]
