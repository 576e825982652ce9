"""Every model, importable by its class name: ``from gan_lightning.models import DCGAN``."""

from gan_lightning.models.base import GANModule
from gan_lightning.models.dcgan import DCGAN
from gan_lightning.models.gan import GAN
from gan_lightning.models.began import BEGAN
from gan_lightning.models.dragan import DRAGAN
from gan_lightning.models.ebgan import EBGAN
from gan_lightning.models.lsgan import LSGAN
from gan_lightning.models.madgan import MADGAN
from gan_lightning.models.pacgan import PacGAN
from gan_lightning.models.relativistic import RelativisticGAN
from gan_lightning.models.sngan import SNGAN
from gan_lightning.models.unrolled import UnrolledGAN
from gan_lightning.models.wgan import WGAN
from gan_lightning.models.wgandiv import WGANDiv
from gan_lightning.models.wgangp import WGANGP

__all__ = ["GANModule", "GAN", "DCGAN", "known_models"]
__all__ += [
    "LSGAN", "WGAN", "WGANGP", "WGANDiv", "DRAGAN", "SNGAN", "RelativisticGAN",
    "EBGAN", "BEGAN", "UnrolledGAN", "MADGAN", "PacGAN",
]


def known_models() -> dict[str, type[GANModule]]:
    """Every concrete ``GANModule`` subclass defined in ``gan_lightning.models``, by class name."""
    found: dict[str, type[GANModule]] = {}
    stack = list(GANModule.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("gan_lightning.models") and not cls.__name__.startswith("_"):
            found[cls.__name__] = cls
    return dict(sorted(found.items()))


from gan_lightning.models.cgan import CGAN  # noqa: E402
from gan_lightning.models.acgan import ACGAN  # noqa: E402
from gan_lightning.models.infogan import InfoGAN  # noqa: E402
from gan_lightning.models.semisupervisedgan import SemiSupervisedGAN  # noqa: E402
from gan_lightning.models.aae import AAE  # noqa: E402
from gan_lightning.models.vaegan import VAEGAN  # noqa: E402
from gan_lightning.models.bigan import BiGAN  # noqa: E402
from gan_lightning.models.cogan import CoGAN  # noqa: E402

__all__ += ["CGAN", "ACGAN", "InfoGAN", "SemiSupervisedGAN", "AAE", "VAEGAN", "BiGAN", "CoGAN"]

from gan_lightning.models.distancegan import DistanceGAN  # noqa: E402
from gan_lightning.models.dtn import DTN  # noqa: E402
from gan_lightning.models.pldt import PLDT  # noqa: E402

__all__ += ["DistanceGAN", "DTN", "PLDT"]
from gan_lightning.models.stargan import StarGAN  # noqa: E402

__all__ += ["StarGAN"]

from gan_lightning.models.pix2pix import Pix2Pix  # noqa: E402
from gan_lightning.models.cyclegan import CycleGAN  # noqa: E402

__all__ += ["Pix2Pix", "CycleGAN"]

from gan_lightning.models.discogan import DiscoGAN  # noqa: E402
from gan_lightning.models.dualgan import DualGAN  # noqa: E402
from gan_lightning.models.unit import UNIT  # noqa: E402

__all__ += ["DiscoGAN", "DualGAN", "UNIT"]

from gan_lightning.models.sagan import SAGAN  # noqa: E402

__all__ += ["SAGAN"]

from gan_lightning.models.progan import ProGAN  # noqa: E402

__all__ += ["ProGAN"]
from gan_lightning.models.biggan import BigGAN  # noqa: E402

__all__ += ["BigGAN"]
from gan_lightning.models.spade import SPADE  # noqa: E402

__all__ += ["SPADE"]
from gan_lightning.models.srgan import SRGAN  # noqa: E402

__all__ += ["SRGAN"]
from gan_lightning.models.stylegan2 import StyleGAN2  # noqa: E402

__all__ += ["StyleGAN2"]
from gan_lightning.models.triplegan import TripleGAN  # noqa: E402
from gan_lightning.models.ssinfogan import SSInfoGAN  # noqa: E402

__all__ += ["TripleGAN", "SSInfoGAN"]
from gan_lightning.models.fgan import FGAN  # noqa: E402
from gan_lightning.models.mrgan import MRGAN  # noqa: E402

__all__ += ["FGAN", "MRGAN"]
