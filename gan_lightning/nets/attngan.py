"""AttnGAN's networks (Xu et al. 2018; the authors' taoxugit/AttnGAN ``code/model.py`` and
``code/GlobalAttention.py``), at CaptionedDigits' sizes.

- :class:`WordAttention`: ``GlobalAttentionGeneral``: the words (N, D, L) projected by a 1x1
  convolution to the image features' channels, each pixel's softmax over the caption's words
  (padding masked out), the words weighted by it: a word-context map of the image's size.
- :class:`ConditioningAugmentation`: ``CA_NET``: linear + GLU to (mu, log variance) of the sentence
  code, c = mu + sigma * eps.
- :class:`AttnGANGenerator`: ``G_NET``: ``INIT_STAGE_G`` (linear + BN + GLU to 4 x 4 x 16 ngf,
  nearest-upsampling blocks of conv3x3 + BN + GLU halving the channels) and per later stage
  ``NEXT_STAGE_G`` (word attention, [features, word context], residual GLU blocks, one upsampling),
  each stage with a conv3x3 + tanh image head.
- :class:`DAMSMImageEncoder`: DAMSM's image side, a small strided CNN here (the authors take Inception
  v3, ImageNet-trained, at 299 px: local features of ``Mixed_6e`` (17 x 17) and the pooled ``Mixed_7c``):
  region features at 1/8 of the image side and a global feature, both of the text's dimension.
- :class:`StageDiscriminator` / :class:`StagedDiscriminators`: ``D_NET64`` / ``D_NET128``: strided
  convolutions to 4 x 4 x 8 ndf, an unconditional logit (conv 4x4, stride 4) and a conditional one
  on [features, the sentence replicated 4 x 4] (conv3x3 + BN + leaky ReLU, then conv 4x4).

Initialisation as the authors' ``miscc/utils.py`` ``weights_init``: orthogonal convolution and
linear weights, BatchNorm weights N(1, 0.02), biases 0.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gan_lightning.nets.text import ReplicateJoin


def attngan_init_(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.orthogonal_(m.weight, 1.0)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def conv3x3(inputs: int, outputs: int) -> nn.Conv2d:
    return nn.Conv2d(inputs, outputs, 3, 1, 1, bias=False)


def up_block(inputs: int, outputs: int) -> nn.Sequential:
    """x2 nearest upsampling, conv3x3 to 2 x outputs, BN, GLU."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv3x3(inputs, 2 * outputs),
                         nn.BatchNorm2d(2 * outputs), nn.GLU(dim=1))


class GLUResidual(nn.Module):
    """x + [conv3x3 to 2c, BN, GLU, conv3x3, BN](x) (the authors' ``ResBlock``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.block = nn.Sequential(conv3x3(channels, 2 * channels), nn.BatchNorm2d(2 * channels), nn.GLU(dim=1),
                                   conv3x3(channels, channels), nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class WordAttention(nn.Module):
    """(features (N, C, H, W), words (N, D, L), valid (N, L) bool) -> (word context (N, C, H, W),
    attention (N, L, H, W): each pixel's weights over the words, summing to 1, 0 on padding)."""

    def __init__(self, channels: int, word_dim: int) -> None:
        super().__init__()
        self.project = nn.Conv1d(word_dim, channels, 1, bias=False)

    def forward(self, features: torch.Tensor, words: torch.Tensor, valid: torch.Tensor):
        n, c, h, w = features.shape
        source = self.project(words)  # (N, C, L)
        scores = torch.bmm(features.flatten(2).transpose(1, 2), source)  # (N, HW, L)
        scores = scores.masked_fill(~valid[:, None, :], float("-inf"))
        attention = scores.softmax(dim=2).nan_to_num(0.0).transpose(1, 2)  # (N, L, HW); an empty caption: 0
        context = torch.bmm(source, attention).view(n, c, h, w)
        return context, attention.view(n, -1, h, w)


class ConditioningAugmentation(nn.Module):
    """sentence (N, D) -> (c (N, condition_dim), mu, log variance): c = mu + exp(logvar / 2) * eps."""

    def __init__(self, sentence_dim: int, condition_dim: int) -> None:
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(sentence_dim, 4 * condition_dim), nn.GLU(dim=1))
        self.condition_dim = condition_dim

    def forward(self, sentence: torch.Tensor):
        mu, logvar = self.fc(sentence).chunk(2, dim=1)
        return mu + torch.randn_like(mu) * logvar.mul(0.5).exp(), mu, logvar


class InitialStage(nn.Module):
    """[c, z] -> linear + BN + GLU to (16 ngf, 4, 4) -> up-blocks halving the channels to ``size`` px."""

    def __init__(self, latent_dim: int, condition_dim: int, width: int, size: int) -> None:
        super().__init__()
        doublings = round(math.log2(size / 4))
        if 4 * 2**doublings != size or doublings < 1:
            raise ValueError(f"AttnGAN's first stage needs a power-of-two size >= 8, got {size}")
        top = 16 * width
        self.fc = nn.Sequential(nn.Linear(latent_dim + condition_dim, top * 4 * 4 * 2, bias=False),
                                nn.BatchNorm1d(top * 4 * 4 * 2), nn.GLU(dim=1))
        self.top = top
        self.up = nn.Sequential(*[up_block(top // 2**i, top // 2**(i + 1)) for i in range(doublings)])
        self.channels = top // 2**doublings

    def forward(self, z: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        return self.up(self.fc(torch.cat([code, z], dim=1)).view(-1, self.top, 4, 4))


class NextStage(nn.Module):
    """(features, words, valid) -> ([features, word context] -> residual blocks -> up-block, attention)."""

    def __init__(self, channels: int, word_dim: int, residual_blocks: int) -> None:
        super().__init__()
        self.attend = WordAttention(channels, word_dim)
        self.residual = nn.Sequential(*[GLUResidual(2 * channels) for _ in range(residual_blocks)])
        self.up = up_block(2 * channels, channels)

    def forward(self, features: torch.Tensor, words: torch.Tensor, valid: torch.Tensor):
        context, attention = self.attend(features, words, valid)
        return self.up(self.residual(torch.cat([features, context], dim=1))), attention


class AttnGANGenerator(nn.Module):
    """G(z, sentence, words, valid) -> (images of each stage, small to large; attention maps of each
    later stage (N, L, H, W); mu; log variance). The last stage draws ``image_size``; each stage
    doubles the side."""

    def __init__(self, latent_dim: int, sentence_dim: int, word_dim: int, channels: int, image_size: int,
                 stages: int = 2, width: int = 32, condition_dim: int = 100, residual_blocks: int = 2) -> None:
        super().__init__()
        if stages < 1:
            raise ValueError(f"AttnGAN needs at least one stage, got {stages}")
        self.augment = ConditioningAugmentation(sentence_dim, condition_dim)
        self.first = InitialStage(latent_dim, condition_dim, width, image_size // 2**(stages - 1))
        c = self.first.channels
        self.later = nn.ModuleList([NextStage(c, word_dim, residual_blocks) for _ in range(stages - 1)])
        self.heads = nn.ModuleList([nn.Sequential(conv3x3(c, channels), nn.Tanh()) for _ in range(stages)])
        attngan_init_(self)

    def forward(self, z: torch.Tensor, sentence: torch.Tensor, words: torch.Tensor, valid: torch.Tensor):
        code, mu, logvar = self.augment(sentence)
        features = self.first(z, code)
        images, maps = [self.heads[0](features)], []
        for stage, head in zip(self.later, self.heads[1:]):
            features, attention = stage(features, words, valid)
            images.append(head(features))
            maps.append(attention)
        return images, maps, mu, logvar


class DAMSMImageEncoder(nn.Module):
    """Images (N, C, S, S) -> (regions (N, dim, S/8, S/8), global feature (N, dim)): strided 4x4
    convolutions (leaky ReLU) to S/8, a 1x1 convolution to the regions; two more strided ones, a mean
    over space and a linear map to the global feature."""

    def __init__(self, channels: int, image_size: int, dim: int, width: int = 32) -> None:
        super().__init__()
        if image_size < 32 or image_size % 32:
            raise ValueError(f"DAMSMImageEncoder needs an image side that is a multiple of 32, got {image_size}")

        def down(i, o):
            return [nn.Conv2d(i, o, 4, 2, 1), nn.LeakyReLU(0.2, True)]

        self.local = nn.Sequential(*down(channels, width), *down(width, 2 * width), *down(2 * width, 4 * width))
        self.regions = nn.Conv2d(4 * width, dim, 1)
        self.deeper = nn.Sequential(*down(4 * width, 8 * width), *down(8 * width, 8 * width))
        self.pooled = nn.Linear(8 * width, dim)

    def forward(self, images: torch.Tensor):
        features = self.local(images)
        return self.regions(features), self.pooled(self.deeper(features).mean((2, 3)))


class StageDiscriminator(nn.Module):
    """D of one stage: (images, sentence) -> (unconditional logits (N,), conditional logits (N,))."""

    def __init__(self, channels: int, image_size: int, sentence_dim: int, width: int = 64) -> None:
        super().__init__()
        doublings = round(math.log2(image_size / 4))
        if 4 * 2**doublings != image_size or doublings < 2:
            raise ValueError(f"AttnGAN's D needs a power-of-two image size >= 16, got {image_size}")
        layers: list[nn.Module] = []
        c = channels
        for i in range(doublings):  # the authors' encode_image_by_16times, then downBlocks
            out = width * 2 ** min(i, 4)
            layers += [nn.Conv2d(c, out, 4, 2, 1, bias=False)]
            layers += [nn.LeakyReLU(0.2, True)] if i == 0 else [nn.BatchNorm2d(out), nn.LeakyReLU(0.2, True)]
            c = out
        top = 8 * width
        if c != top:  # the authors' Block3x3_leakRelu back to 8 ndf (D_NET128); 32 px ends at 4 ndf
            layers += [conv3x3(c, top), nn.BatchNorm2d(top), nn.LeakyReLU(0.2, True)]
        self.features = nn.Sequential(*layers)
        self.unconditional = nn.Conv2d(top, 1, 4, 4)
        self.join = ReplicateJoin()
        self.conditional = nn.Sequential(conv3x3(top + sentence_dim, top), nn.BatchNorm2d(top),
                                         nn.LeakyReLU(0.2, True), nn.Conv2d(top, 1, 4, 4))

    def forward(self, images: torch.Tensor, sentences: tuple[torch.Tensor, ...]):
        """(unconditional logits, [conditional logits of each sentence batch in ``sentences``])."""
        features = self.features(images)
        return (self.unconditional(features).flatten(),
                [self.conditional(self.join(features, s)).flatten() for s in sentences])


class StagedDiscriminators(nn.Module):
    """One :class:`StageDiscriminator` per generator stage; ``forward(images, sentences, stage)``."""

    def __init__(self, channels: int, image_size: int, sentence_dim: int, width: int, stages: int) -> None:
        super().__init__()
        self.stages = nn.ModuleList([StageDiscriminator(channels, image_size // 2**(stages - 1 - i), sentence_dim,
                                                        width) for i in range(stages)])
        attngan_init_(self)

    def forward(self, images: torch.Tensor, sentences: tuple[torch.Tensor, ...], stage: int):
        return self.stages[stage](images, sentences)
