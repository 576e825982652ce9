"""Text networks of the text-to-image families: a caption encoder and the image encoder it is matched with,
and GAN-INT-CLS's generator and matching-aware discriminator.

- :class:`CaptionEncoder`: word embeddings and a bidirectional GRU over token ids (0 pads), giving a
  sentence embedding (the last states of both directions) and per-word features (AttnGAN's words).
- :class:`ImageEncoder`: a small strided CNN to the same embedding size: with the caption encoder it is
  trained as a joint embedding (DAMSM's sentence-matching loss), by :mod:`gan_lightning.pretrained`.
- :class:`TextToImageGenerator` / :class:`MatchingDiscriminator`: Reed et al. 2016's networks
  (reedscot/icml2016, ``main_cls_int.lua``): the text embedding projected to ``text_dim`` (linear +
  leaky ReLU 0.2 in G; linear + BN + leaky ReLU in D) and joined to z (G) or, replicated over the
  4 x 4 map, to D's last features; residual 1x1-3x3-3x3 blocks at 4 px (G, D) and 8 px (G);
  convolutions without biases (the authors zero them every step), N(0, 0.02) weights.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gan_lightning.nets.dcgan import dcgan_init_


class CaptionEncoder(nn.Module):
    """Token ids (N, L), 0 padding at the end, -> (sentence (N, 2 hidden), words (N, 2 hidden, L)).
    ``cell``: ``gru`` (the default) or ``lstm`` (AttnGAN's DAMSM encoder).

    A bidirectional GRU written as two forward ones, the second over each caption reversed within its
    length (a gather), so that neither direction reads padding before a word and nothing is read on the
    host (``pack_padded_sequence`` wants the lengths there: a GPU would wait every call)."""

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden: int = 64, cell: str = "gru") -> None:
        super().__init__()
        if cell not in ("gru", "lstm"):
            raise ValueError(f"CaptionEncoder cell must be gru or lstm, got {cell!r}")
        rnn = nn.GRU if cell == "gru" else nn.LSTM  # AttnGAN's DAMSM text encoder is a bi-LSTM
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.forward_rnn = rnn(embed_dim, hidden, batch_first=True)
        self.backward_rnn = rnn(embed_dim, hidden, batch_first=True)
        self.dim = 2 * hidden

    @staticmethod
    def reversal(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(index that reverses each caption within its length (pads stay), last word's index)."""
        positions = torch.arange(ids.size(1), device=ids.device).expand_as(ids)
        lengths = (ids != 0).sum(1, keepdim=True).clamp(min=1)
        index = torch.where(positions < lengths, lengths - 1 - positions, positions)
        return index, lengths - 1

    def forward(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedded = self.embedding(ids)
        index, last = self.reversal(ids)
        along = index.unsqueeze(-1).expand_as(embedded)
        forward_words, _ = self.forward_rnn(embedded)
        backward_words, _ = self.backward_rnn(embedded.gather(1, along))
        hidden = forward_words.size(-1)
        backward_words = backward_words.gather(1, index.unsqueeze(-1).expand(-1, -1, hidden))  # back in word order
        at_last = last.unsqueeze(-1).expand(-1, 1, hidden)
        sentence = torch.cat([forward_words.gather(1, at_last)[:, 0], backward_words[:, 0]], dim=1)
        return sentence, torch.cat([forward_words, backward_words], dim=2).transpose(1, 2)


class ImageEncoder(nn.Module):
    """Images (N, C, S, S) -> an embedding (N, dim): strided 4x4 convolutions to 4 px, then a linear map."""

    def __init__(self, channels: int, image_size: int, dim: int = 128, width: int = 32) -> None:
        super().__init__()
        layers, size, c = [], image_size, channels
        while size > 4:
            layers += [nn.Conv2d(c, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
            c, size, width = width, size // 2, width * 2
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.head = nn.Linear(c * size * size, dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def residual_block(channels: int, inner: int, activation: nn.Module) -> nn.Sequential:
    """The authors' bottleneck: 1x1 to ``inner``, 3x3, 3x3 back to ``channels``, BN after each."""
    return nn.Sequential(
        nn.Conv2d(channels, inner, 1, bias=False), nn.BatchNorm2d(inner), activation,
        nn.Conv2d(inner, inner, 3, 1, 1, bias=False), nn.BatchNorm2d(inner), activation,
        nn.Conv2d(inner, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels))


class Residual(nn.Module):
    def __init__(self, block: nn.Module, activation: nn.Module) -> None:
        super().__init__()
        self.block, self.activation = block, activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(x + self.block(x))


class TextToImageGenerator(nn.Module):
    """G(z, t): [z, leaky(linear(t))] -> 4 px (ngf 8) -> residual -> 8 px (ngf 4) -> residual -> ... -> image."""

    def __init__(self, latent_dim: int, embedding_dim: int, channels: int, image_size: int, width: int = 128,
                 text_dim: int = 128) -> None:
        super().__init__()
        doublings = int(round(math.log2(image_size / 4)))
        if 4 * 2**doublings != image_size or doublings < 2:
            raise ValueError(f"TextToImageGenerator needs a power-of-two image size >= 16, got {image_size}")
        self.project = nn.Sequential(nn.Linear(embedding_dim, text_dim), nn.LeakyReLU(0.2, True))
        top = width * 2 ** min(3, doublings)
        layers: list[nn.Module] = [nn.ConvTranspose2d(latent_dim + text_dim, top, 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(top),
                                   Residual(residual_block(top, top // 4, nn.ReLU(True)), nn.ReLU(True))]
        c = top
        for i in range(doublings):
            out = channels if i == doublings - 1 else max(width, c // 2)
            layers.append(nn.ConvTranspose2d(c, out, 4, 2, 1, bias=False))
            if i == doublings - 1:
                layers.append(nn.Tanh())
            else:
                layers.append(nn.BatchNorm2d(out))
                layers.append(Residual(residual_block(out, out // 4, nn.ReLU(True)), nn.ReLU(True)) if i == 0
                              else nn.ReLU(True))
            c = out
        self.net = nn.Sequential(*layers)
        dcgan_init_(self)

    def forward(self, z: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        joined = torch.cat([z, self.project(embedding)], dim=1)
        return self.net(joined[:, :, None, None])


class ReplicateJoin(nn.Module):
    """[features (N, C, H, W), text (N, T) replicated over H x W] -> (N, C + T, H, W)."""

    def forward(self, features: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        return torch.cat([features, text[:, :, None, None].expand(-1, -1, *features.shape[2:])], dim=1)


class MatchingDiscriminator(nn.Module):
    """D(x, t): DCGAN convolutions to 4 px (ndf 8; the last two without an activation after their
    BatchNorm, as the authors'), a residual block, then [features, t replicated 4 x 4] -> 1x1 conv ->
    4x4 conv -> one logit per (image, text) pair.

    ``num_classes`` > 0 adds an auxiliary class head (TAC-GAN): a second 4x4 conv to ``num_classes`` logits,
    and ``forward`` returns ``(pair logits, class logits)``. ``class_from``: where the head reads, ``joint``
    (the joint image-text 4 x 4 map, after the 1x1 conv, as the TAC-GAN authors') or ``image`` (the image's
    4 x 4 features before the text joins them, as AC-GAN's head: it cannot read the class from the text)."""

    def __init__(self, channels: int, image_size: int, embedding_dim: int, width: int = 64,
                 text_dim: int = 128, num_classes: int = 0, class_from: str = "joint") -> None:
        super().__init__()
        if class_from not in ("joint", "image"):
            raise ValueError(f"MatchingDiscriminator class_from: {class_from!r} is not accepted; give joint or image")
        self.class_from = class_from
        doublings = int(round(math.log2(image_size / 4)))
        if 4 * 2**doublings != image_size or doublings < 2:
            raise ValueError(f"MatchingDiscriminator needs a power-of-two image size >= 16, got {image_size}")
        layers: list[nn.Module] = []
        c = channels
        for i in range(doublings):
            out = width * 2 ** min(i, 3)
            layers.append(nn.Conv2d(c, out, 4, 2, 1, bias=False))
            if i > 0:
                layers.append(nn.BatchNorm2d(out))
            if i < doublings - 2:  # the authors' last two downsamplings end at their BatchNorm
                layers.append(nn.LeakyReLU(0.2, True))
            c = out
        layers.append(Residual(residual_block(c, max(c // 4, 1), nn.LeakyReLU(0.2, True)), nn.LeakyReLU(0.2, True)))
        self.features = nn.Sequential(*layers)
        self.project = nn.Sequential(nn.Linear(embedding_dim, text_dim), nn.BatchNorm1d(text_dim),
                                     nn.LeakyReLU(0.2, True))
        self.join = ReplicateJoin()
        self.judge = nn.Sequential(nn.Conv2d(c + text_dim, c, 1, bias=False), nn.BatchNorm2d(c),
                                   nn.LeakyReLU(0.2, True), nn.Conv2d(c, 1, 4, bias=False))
        self.classify = nn.Conv2d(c, num_classes, 4, bias=False) if num_classes > 0 else None
        dcgan_init_(self)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor):
        features = self.features(x)
        joined = self.join(features, self.project(embedding))
        if self.classify is None:
            return self.judge(joined).flatten()
        shared = self.judge[:-1](joined)
        read = shared if self.class_from == "joint" else features
        return self.judge[-1](shared).flatten(), self.classify(read).flatten(1)
