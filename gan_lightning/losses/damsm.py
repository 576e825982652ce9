"""DAMSM, the Deep Attentional Multimodal Similarity Model of AttnGAN (Xu et al. 2018, section 3.3).

Facts from the authors' code (taoxugit/AttnGAN ``code/miscc/losses.py``, ``code/GlobalAttention.py``):

- :func:`region_context`: each word attends to the image regions (``func_attention``): word-region dot
  products, a softmax over the caption's words (eq. 8), times gamma1, a softmax over the regions
  (eq. 9), the regions weighted by it;
- :func:`words_loss`: the relevance of caption i and image j is log sum over i's words of
  exp(gamma2 x cosine(word, its region context)) (eq. 10), times gamma3, against the batch in both
  directions (cross-entropy, the i-th caption matches the i-th image);
- :func:`sentence_loss`: gamma3 x cosine(sentence, global image feature) against the batch, both ways.

Vectorised over all (caption, image) pairs with a word mask instead of the authors' per-caption loop;
the authors also mask pairs of the same bird class out of the softmax (their ``class_ids``); not here:
CaptionedDigits' captions of one digit class still differ (colour, background, style).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gan_lightning.pretrained import matching_loss


def region_context(words: torch.Tensor, regions: torch.Tensor, valid: torch.Tensor,
                   gamma1: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Every caption's words against every image's regions.

    words (N, D, L), regions (M, D, H, W), valid (N, L) bool -> (context (N, M, L, D): each word's
    attention-weighted regions of each image, attention (N, M, L, H * W): sums to 1 over regions)."""
    flat = regions.flatten(2)  # (M, D, R)
    scores = torch.einsum("ndl,mdr->nmlr", words, flat)
    scores = scores.masked_fill(~valid[:, None, :, None], float("-inf"))
    over_words = scores.softmax(dim=2).nan_to_num(0.0)  # eq. 8; a padded word has no weight
    attention = (gamma1 * over_words).softmax(dim=3)  # eq. 9
    context = torch.einsum("nmlr,mdr->nmld", attention, flat)
    return context, attention


def words_loss(words: torch.Tensor, regions: torch.Tensor, valid: torch.Tensor, gamma1: float, gamma2: float,
               gamma3: float) -> torch.Tensor:
    """DAMSM's word loss of a batch whose i-th caption describes its i-th image (both directions summed)."""
    context, _ = region_context(words, regions, valid, gamma1)
    cosine = F.cosine_similarity(words.transpose(1, 2)[:, None], context, dim=-1, eps=1e-8)  # (N, M, L)
    relevance = (gamma2 * cosine).exp().mul(valid[:, None, :]).sum(2).clamp_min(1e-30).log()  # eq. 10
    scores = gamma3 * relevance
    targets = torch.arange(scores.size(0), device=scores.device)
    return F.cross_entropy(scores, targets) + F.cross_entropy(scores.T, targets)


def sentence_loss(sentences: torch.Tensor, images: torch.Tensor, gamma3: float) -> torch.Tensor:
    """DAMSM's sentence loss (the project's caption-encoder loss, :func:`gan_lightning.pretrained.matching_loss`)."""
    return matching_loss(sentences, images, gamma3)


def damsm_loss(words: torch.Tensor, sentences: torch.Tensor, valid: torch.Tensor, regions: torch.Tensor,
               images: torch.Tensor, gamma1: float = 4.0, gamma2: float = 5.0, gamma3: float = 10.0) -> torch.Tensor:
    """Word loss + sentence loss (``pretrain_DAMSM.py`` and AttnGAN's G weigh them equally)."""
    return words_loss(words, regions, valid, gamma1, gamma2, gamma3) + sentence_loss(sentences, images, gamma3)
