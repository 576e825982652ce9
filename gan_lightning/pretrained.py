"""Networks the project trains once itself and caches: no weights are downloaded.

``caption_encoder()``: the caption encoder of the text-to-image families, trained on
:class:`~gan_lightning.data.CaptionedDigits`' training split as a joint embedding with an image
encoder: DAMSM's sentence-matching loss (Xu et al. 2018, taoxugit/AttnGAN ``pretrain_DAMSM.py``:
cosine similarities of a batch's captions and images, times gamma3 = 10, softmax over the batch in
both directions), plus a class term (:func:`class_matching_loss`): each caption against ten learned
digit prototypes. The first call trains it (``epochs`` passes, seeded, one thread: a few minutes)
and saves it to ``<cache>/caption_encoder_v2.pt`` (``$GAN_LIGHTNING_CACHE``, else
``~/.cache/gan_lightning``); later calls load that file.

Why the class term: the GANs' text embeddings (Reed et al. 2016's char-CNN-RNN, which StackGAN and
GAN-INT-CLS use) are trained with a *class*-structured loss (DS-SJE: an image against each class's
captions) against a fixed ImageNet-trained CNN that already tells the classes apart, so the class is
what the embedding carries first. Trained on the sentence loss alone (``class_weight=0``, the v1 file),
the caption encoder learnt what tells a batch's 64 images apart fastest, colour and background, and
hardly the digit: swapping only the digit word moved its embedding 0.72 on average, swapping only the
colour word 5.8 (``benchmarks/stackgan.py`` measures it), and every model on it drew the asked digit at
chance. Our image encoder is trained from scratch and does not tell digits apart within its 3 epochs,
so the class term compares captions with learned class prototypes instead of the class's images. ``caption_encoder(path)`` loads a file of
one's own, and a missing one is a one-line error.

``damsm_encoders()``: AttnGAN's DAMSM text and image encoders (a bi-LSTM and a small CNN), pre-trained
with DAMSM's word and sentence losses (:mod:`gan_lightning.losses.damsm`) by :func:`train_damsm` on the
same split on first use and cached at ``<cache>/damsm_v1.pt``; ``damsm_encoders(path)`` loads a file.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
import torch.nn.functional as F

from gan_lightning.core.rng import seeded_rng
from gan_lightning.data.captions import VOCABULARY
from gan_lightning.data.files import cache_dir, save_atomically
from gan_lightning.losses import sigmoid_class_loss
from gan_lightning.nets.text import CaptionEncoder, ImageEncoder

CAPTION_ENCODER_FILENAME = "caption_encoder_v2.pt"  # v1: the sentence loss alone (no class term)
GAMMA3 = 10.0  # the authors' sentence-loss temperature (AttnGAN cfg.TRAIN.SMOOTH.GAMMA3)


def default_caption_encoder_path() -> Path:
    return cache_dir() / CAPTION_ENCODER_FILENAME


def matching_loss(sentences: torch.Tensor, images: torch.Tensor, gamma: float = GAMMA3) -> torch.Tensor:
    """DAMSM's sentence loss: cross-entropy of gamma x cosine similarity, each caption against the batch's
    images and each image against its captions (the i-th caption matches the i-th image)."""
    scores = gamma * F.normalize(sentences, dim=1) @ F.normalize(images, dim=1).T
    targets = torch.arange(scores.size(0), device=scores.device)
    return F.cross_entropy(scores, targets) + F.cross_entropy(scores.T, targets)


def class_matching_loss(sentences: torch.Tensor, prototypes: torch.Tensor, labels: torch.Tensor,
                        gamma: float = GAMMA3) -> torch.Tensor:
    """Cross-entropy of gamma x cosine(caption embedding, each class's prototype) against the caption's class:
    the caption side of a class-structured joint embedding (Reed et al. 2016's DS-SJE), with one learned
    vector per class in place of the class's image features."""
    scores = gamma * F.normalize(sentences, dim=1) @ F.normalize(prototypes, dim=1).T
    return F.cross_entropy(scores, labels)


def caption_batches(epochs: int, seed: int, batch_size: int, train_size: int | None, digits_per_image: int = 1,
                    labels: bool = False):
    """(caption ids, images) batches of CaptionedDigits' 64 px training split (of ``digits_per_image``-digit
    scenes), the text encoders' training data: ``epochs`` passes in a seeded order, full batches only
    (``labels``: (caption ids, images, digits)). The data set is built now, the batches drawn as they are
    iterated."""
    from gan_lightning.data import CaptionedDigits

    data = CaptionedDigits(image_size=64, batch_size=batch_size, seed=seed, train_size=train_size,
                           digits_per_image=digits_per_image)
    data.setup("fit")
    generator = torch.Generator().manual_seed(seed)
    keys = len(data.train_set)

    def batches():
        for epoch in range(epochs):
            order = torch.randperm(keys, generator=generator)
            for start in range(0, keys - batch_size + 1, batch_size):
                items = [data.train_set[epoch * keys + int(i)] for i in order[start:start + batch_size]]
                batch = (torch.stack([item["caption"] for item in items]), torch.stack([item["image"] for item in items]))
                yield (*batch, torch.stack([item["label"] for item in items])) if labels else batch

    return batches()


def train_caption_encoder(path: str | Path, epochs: int = 3, seed: int = 0, batch_size: int = 64,
                          train_size: int | None = None, class_weight: float = 1.0) -> CaptionEncoder:
    """Train the caption encoder (and its image encoder) on CaptionedDigits' training split; save it to ``path``.
    ``class_weight``: the weight of :func:`class_matching_loss` beside the sentence loss (0: v1's encoder)."""
    batches = caption_batches(epochs, seed, batch_size, train_size, labels=True)
    with seeded_rng(seed):
        text, image = CaptionEncoder(len(VOCABULARY)), ImageEncoder(3, 64, dim=128)
        prototypes = torch.nn.Parameter(0.1 * torch.randn(10, text.dim))  # after the nets: v1's draws unchanged
        optimizer = torch.optim.Adam([*text.parameters(), *image.parameters(), prototypes], lr=2e-3)
        for captions, pictures, labels in batches:
            sentences = text(captions)[0]
            loss = matching_loss(sentences, image(pictures))
            if class_weight:
                loss = loss + class_weight * class_matching_loss(sentences, prototypes, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    save_atomically({"vocabulary": list(VOCABULARY), "text": text.state_dict(), "image": image.state_dict()}, path)
    return text.eval().requires_grad_(False)


def caption_encoder(path: str | Path | None = None) -> CaptionEncoder:
    """The frozen caption encoder: ``path``, or the cached default (trained on first use)."""
    if path is None:
        path = default_caption_encoder_path()
        if not path.is_file():
            print(f"training the caption encoder once (cached at {path}) ...", flush=True)
            return train_caption_encoder(path)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"caption encoder weights not found: {path}")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if list(saved["vocabulary"]) != list(VOCABULARY):
        raise ValueError(f"{path} was trained with another vocabulary; delete it to train it again")
    encoder = CaptionEncoder(len(VOCABULARY))
    encoder.load_state_dict(saved["text"])
    return encoder.eval().requires_grad_(False)


# ---------------------------------------------------------------------------- AttnGAN's DAMSM
DAMSM_FILENAME = "damsm_v1.pt"
DAMSM_TWO_DIGITS_FILENAME = "damsm_two_digits_v1.pt"  # pre-trained on the two-digit scenes
DAMSM_DIM = 128  # the authors' EMBEDDING_DIM is 256 (a 128-unit bi-LSTM per direction); 64 per direction here


def damsm_networks():
    """A fresh (text encoder, image encoder) pair of DAMSM: a bi-LSTM caption encoder and the small image CNN."""
    from gan_lightning.nets.attngan import DAMSMImageEncoder

    return (CaptionEncoder(len(VOCABULARY), embed_dim=64, hidden=DAMSM_DIM // 2, cell="lstm"),
            DAMSMImageEncoder(3, 64, DAMSM_DIM))


def default_damsm_path(digits_per_image: int = 1) -> Path:
    """The cached DAMSM of CaptionedDigits' one-digit (or two-digit) scenes."""
    return cache_dir() / (DAMSM_FILENAME if digits_per_image == 1 else DAMSM_TWO_DIGITS_FILENAME)


def train_damsm(path: str | Path | None, epochs: int = 3, seed: int = 0, batch_size: int = 48,
                train_size: int | None = None, gammas: tuple[float, float, float] = (4.0, 5.0, 10.0),
                lr: float = 2e-3, rnn_clip: float = 0.25, steps: int | None = None, digits_per_image: int = 1):
    """Pre-train DAMSM (word + sentence losses, taoxugit/AttnGAN ``pretrain_DAMSM.py`` with
    ``cfg/DAMSM/bird.yml``: gamma1 4, gamma2 5, gamma3 10, Adam lr 0.002 betas (0.5, 0.999), batch 48,
    the text encoder's gradient norm clipped at 0.25) on CaptionedDigits' 64 px training split;
    save both encoders to ``path`` (None: keep them in memory). ``steps``: stop after that many
    batches; ``digits_per_image``: on the one- or two-digit scenes. Returns (text encoder, image encoder),
    frozen, in eval mode."""
    from gan_lightning.losses.damsm import damsm_loss

    batches = caption_batches(epochs, seed, batch_size, train_size, digits_per_image)
    with seeded_rng(seed):
        text, image = damsm_networks()
        optimizer = torch.optim.Adam([*text.parameters(), *image.parameters()], lr=lr, betas=(0.5, 0.999))
        for done, (captions, pictures) in enumerate(batches):
            if steps is not None and done >= steps:
                break
            sentences, words = text(captions)
            regions, pooled = image(pictures)
            loss = damsm_loss(words, sentences, captions != 0, regions, pooled, *gammas)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(text.parameters(), rnn_clip)
            optimizer.step()
    if path is not None:
        save_atomically({"vocabulary": list(VOCABULARY), "text": text.state_dict(), "image": image.state_dict()}, path)
    return text.eval().requires_grad_(False), image.eval().requires_grad_(False)


def damsm_encoders(path: str | Path | None = None, key: str = "model.damsm_ckpt_path", digits_per_image: int = 1):
    """The frozen DAMSM (text encoder, image encoder): from ``path``, or the cached default of the
    ``digits_per_image``-digit scenes (pre-trained on first use, a few CPU minutes, and saved to
    ``<cache>/damsm_v1.pt``, two-digit scenes: ``<cache>/damsm_two_digits_v1.pt``). A missing ``path``
    is a one-line error naming ``key``."""
    if path is None:
        path = default_damsm_path(digits_per_image)
        if not path.is_file():
            print(f"pre-training DAMSM once (cached at {path}) ...", flush=True)
            return train_damsm(path, digits_per_image=digits_per_image)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{key}: {str(path)!r} is not a file; give a DAMSM checkpoint written by "
                                f"gan_lightning.pretrained.train_damsm, null for the project's cached one, "
                                f"or random for untrained encoders")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if list(saved["vocabulary"]) != list(VOCABULARY):
        raise ValueError(f"{key}: {path} was trained with another vocabulary; delete it to train it again")
    text, image = damsm_networks()
    text.load_state_dict(saved["text"])
    image.load_state_dict(saved["image"])
    return text.eval().requires_grad_(False), image.eval().requires_grad_(False)


# ---------------------------------------------------------------------------- D's digit reader (text-to-image)
DIGIT_READER_VERSION = 1
DIGIT_READER_ITERATIONS = 3000


def default_digit_reader_path(image_size: int, width: int) -> Path:
    """The cached digit reader for a ``MatchingDiscriminator`` of ``image_size`` px and ``width``."""
    return cache_dir() / f"digit_reader_{image_size}px_w{width}_v{DIGIT_READER_VERSION}.pt"


def fit_class_head(classify: Callable[[torch.Tensor], torch.Tensor], parameters: Iterable[torch.nn.Parameter],
                   epochs: Iterable[Iterable[dict]], iterations: int, lr: float, betas: tuple[float, float],
                   augment: Callable[[torch.Tensor], torch.Tensor] | None = None, device: torch.device | str = "cpu",
                   every: int = 0, on_every: Callable[[int], None] | None = None) -> int:
    """``iterations`` Adam steps (``lr``, ``betas``) of ``classify`` (images -> class logits) on the batches
    (``{"image", "label"}``) of ``epochs`` (one batch iterable per pass, taken as needed), each batch's images
    through ``augment`` first, the loss ``sigmoid_class_loss`` (TAC-GAN's class head's); ``on_every(step)``
    after every ``every``-th step (a held-out curve). Returns the steps taken (fewer when ``epochs`` ran out).
    The loop of ``train_digit_reader`` and of ``benchmarks/text_to_image_probe.py``'s classifier race."""
    optimizer = torch.optim.Adam(parameters, lr=lr, betas=tuple(betas))
    augment = augment if augment is not None else (lambda x: x)
    done = 0
    if iterations <= 0:
        return done
    for loader in epochs:
        for batch in loader:
            loss = sigmoid_class_loss(classify(augment(batch["image"].to(device))), batch["label"].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            done += 1
            if every and on_every is not None and done % every == 0:
                on_every(done)
            if done >= iterations:  # before the next batch is drawn: no draw past the last step
                return done
    return done


def train_digit_reader(path: str | Path | None, image_size: int, width: int,
                       iterations: int = DIGIT_READER_ITERATIONS, seed: int = 0, batch_size: int = 64,
                       lr: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999), train_size: int | None = None,
                       translate: bool = True, device: str | torch.device | None = None) -> dict:
    """Train the image path of GAN-INT-CLS's D (``MatchingDiscriminator.features``: its convolutions to 4 px and
    residual block) as a digit classifier: a class head on its 4 x 4 features (``class_from="image"``), no
    caption read, sigmoid cross-entropy against the one-hot digit, Adam (``lr``, ``betas``: the recipes' D's), on
    CaptionedDigits' training images at ``image_size`` px, each batch shifted by DiffAugment's ``translation``
    (``translate``: up to 1/8 of the size, zero padding); seeded, ``iterations`` batches (a new order each epoch). Saves
    ``{"features": state dict, "image_size", "width", "iterations", "heldout_accuracy"}`` to ``path`` (None: in
    memory only) and returns it. ``device``: where it trains (None: a CUDA GPU when there is one, else the CPU).

    Why: ``benchmarks/text_to_image_probe.py`` (section ``text_to_image_probe``) found that D's image path,
    trained from scratch, reads the digit slowly (held-out 0.277 after 3,000 iterations of plain classification
    at 32 px; 0.845 with translated inputs), and that GAN-INT-CLS draws the asked digit above chance when D's
    image path starts from such a classifier and stays frozen."""
    from gan_lightning.augment import DiffAugment
    from gan_lightning.data import CaptionedDigits
    from gan_lightning.nets.text import MatchingDiscriminator

    data = CaptionedDigits(image_size=image_size, batch_size=batch_size, seed=seed, train_size=train_size)
    data.setup("fit")
    device = torch.device(device if device is not None else "cuda" if torch.cuda.is_available() else "cpu")
    with seeded_rng(seed, device):  # the shifts draw on the device: its stream seeded too, and restored after
        net = MatchingDiscriminator(3, image_size, 1, width, 1, num_classes=10, class_from="image").to(device)

        def classify(images: torch.Tensor) -> torch.Tensor:  # the class head on the image, no caption read
            return net(images, images.new_zeros(images.size(0), 1))[1]

        def epochs():  # a new order each pass, as a fit's epochs
            for epoch in itertools.count():
                loader = data.train_dataloader()
                loader.sampler.set_epoch(epoch)
                yield loader

        fit_class_head(classify, net.parameters(), epochs(), iterations, lr, betas, device=device,
                       augment=DiffAugment("translation") if translate else None)
        net.eval()
        heldout = data.val_dataloader()
        with torch.no_grad():
            hits = [classify(b["image"].to(device)).argmax(1).cpu() == b["label"] for b in heldout]
    saved = {"features": {k: v.cpu() for k, v in net.features.state_dict().items()}, "image_size": image_size,
             "width": width, "iterations": iterations, "heldout_accuracy": float(torch.cat(hits).float().mean()) if hits else None}
    if path is not None:
        save_atomically(saved, path)
    return saved


def digit_reader(source: str | Path, image_size: int, width: int, key: str = "model.d_image_reader") -> dict:
    """The weights of D's image path: ``"digits"`` for the project's cached digit reader (trained on first use,
    ``train_digit_reader``, and saved as ``<cache>/digit_reader_<size>px_w<width>_v1.pt``), or a file written by
    ``train_digit_reader``. A missing file, or one for another image size or width, is a one-line error naming
    ``key``."""
    if str(source) == "digits":
        path = default_digit_reader_path(image_size, width)
        if not path.is_file():
            print(f"training D's digit reader once ({image_size} px, width {width}; cached at {path}) ...", flush=True)
            return train_digit_reader(path, image_size, width, iterations=DIGIT_READER_ITERATIONS)
    else:
        path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"{key}: {str(path)!r} is not a file; give digits (the project's cached digit "
                                f"reader) or a file written by gan_lightning.pretrained.train_digit_reader")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if (saved.get("image_size"), saved.get("width")) != (image_size, width):
        raise ValueError(f"{key}: {path} holds a reader for {saved.get('image_size')} px and width "
                         f"{saved.get('width')}; this D takes {image_size} px and width {width}")
    return saved
