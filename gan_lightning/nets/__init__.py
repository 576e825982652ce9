"""Network building blocks, written once and shared by the model families.

Networks know nothing about training: no losses, no optimizers here.
"""

from gan_lightning.nets.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_init_, upsampling_plan
from gan_lightning.nets.mlp import MLPDiscriminator, MLPGenerator
from gan_lightning.nets.layers import (
    EqualizedConv2d, EqualizedLinear, Maxout, MinibatchDiscrimination, MinibatchStdDev, PixelNorm, VirtualBatchNorm,
    apply_scaled_weight_norm, apply_spectral_norm, apply_unit_weight_norm, init_from_data_, normal_init_,
)

__all__ = [
    "DCGANGenerator", "DCGANDiscriminator", "dcgan_init_", "upsampling_plan",
    "MLPGenerator", "MLPDiscriminator",
    "MinibatchDiscrimination", "MinibatchStdDev", "apply_scaled_weight_norm", "apply_spectral_norm", "apply_unit_weight_norm", "init_from_data_", "Maxout", "normal_init_",
    "EqualizedConv2d", "EqualizedLinear", "PixelNorm", "VirtualBatchNorm",
]

from gan_lightning.nets.autoencoder import Autoencoder, ConvAutoencoder, MLPAutoencoder  # noqa: E402
from gan_lightning.nets.builders import (  # noqa: E402
    build_autoencoder, build_discriminator, build_generator, build_networks, network_kind,
)

__all__ += [
    "Autoencoder", "MLPAutoencoder", "ConvAutoencoder",
    "build_networks", "build_generator", "build_discriminator", "build_autoencoder", "network_kind",
]

from gan_lightning.nets.conditional import (  # noqa: E402
    AuxiliaryHeadDiscriminator, ConditionalDCGANDiscriminator, ConditionalDCGANGenerator, check_labels, cycle_labels,
)
from gan_lightning.nets.coupled import CoupledDiscriminators, CoupledGenerators  # noqa: E402
from gan_lightning.nets.encoders import ConvEncoder, JointDiscriminator, JointMLPDiscriminator  # noqa: E402

__all__ += [
    "ConditionalDCGANGenerator", "ConditionalDCGANDiscriminator", "AuxiliaryHeadDiscriminator", "ConvEncoder",
    "JointDiscriminator", "JointMLPDiscriminator", "CoupledGenerators", "CoupledDiscriminators", "cycle_labels", "check_labels",
]

from gan_lightning.nets.translation import (  # noqa: E402
    PatchDiscriminator, ResidualBlock, ResnetGenerator, UNetGenerator, norm_layer, translation_init_,
)

__all__ += ["UNetGenerator", "ResnetGenerator", "PatchDiscriminator", "ResidualBlock", "norm_layer",
            "translation_init_"]

from gan_lightning.nets.attention import SelfAttention2d  # noqa: E402
from gan_lightning.nets.sagan import SAGANDiscriminator, SAGANGenerator  # noqa: E402

__all__ += ["SelfAttention2d", "SAGANGenerator", "SAGANDiscriminator"]

from gan_lightning.nets.progan import ProGANDiscriminator, ProGANGenerator  # noqa: E402

__all__ += ["ProGANGenerator", "ProGANDiscriminator"]

from gan_lightning.nets.infogan import (  # noqa: E402
    InfoGANMNISTBody, InfoGANMNISTGenerator, infogan_mnist_discriminator,
)

__all__ += ["InfoGANMNISTBody", "InfoGANMNISTGenerator", "infogan_mnist_discriminator"]
