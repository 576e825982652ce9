"""Image-to-image data: the folder layouts (pix2pix, CycleGAN, CelebA attributes) and their one-line
errors, seeded crops / flips / unpaired partners that a resumed epoch redraws exactly, and the
offline digit domains with their ground truth."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from gan_lightning.data import (
    AttributeImageFolder, DigitAttributes, EpochKeyedSampler, PairedDigits, PairedImageFolder, UnpairedDigits,
    UnpairedImageFolder, digit_domain_transform, known_data_modules, render_attributes,
)
from gan_lightning.data.digit_domains import DIGIT_ATTRIBUTES, edges, hue_colors, sklearn_digits
from gan_lightning.data.files import DataFolderError
from gan_lightning.data.translation import item_rng
from gan_lightning.errors import UsageError


def noise_image(path, width, height, seed, transform=None):
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    if transform is not None:
        pixels = transform(pixels)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return pixels


def pix2pix_folder(root, counts=(("train", 6), ("val", 2)), size=12):
    """Side-by-side A|B files whose B is the negative of A (255 - A)."""
    for split, count in counts:
        for i in range(count):
            a = np.random.default_rng(hash((split, i)) % 2**32).integers(0, 256, (size, size, 3), dtype=np.uint8)
            Image.fromarray(np.concatenate([a, 255 - a], axis=1)).save(_mk(root / split) / f"{i:03d}.png")
    return root


def _mk(folder):
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def epoch_items(dm, epoch, resume_skip=None):
    """The training items of one epoch as the training DataLoader yields them (a list of batches)."""
    loader = dm.train_dataloader()
    loader.sampler.set_epoch(epoch)
    if resume_skip is not None:
        loader.sampler.resume(epoch, resume_skip)
    return list(loader)


def assert_batches_equal(first, second):
    assert len(first) == len(second)
    for x, y in zip(first, second):
        assert x.keys() == y.keys()
        for key in x:
            assert torch.equal(x[key], y[key]), key


def test_the_new_modules_are_registered_with_their_kinds():
    known = known_data_modules()
    kinds = {"PairedImageFolder": "paired", "UnpairedImageFolder": "unpaired", "AttributeImageFolder": "attributes",
             "PairedDigits": "paired", "UnpairedDigits": "unpaired", "DigitAttributes": "attributes"}
    for name, kind in kinds.items():
        assert known[name].data_kind == kind


# ---------------------------------------------------------------------------- PairedImageFolder
def paired(root, **kwargs):
    options = dict(image_size=8, load_size=10, channels=3, batch_size=2, num_workers=0)
    options.update(kwargs)
    dm = PairedImageFolder(str(root), **options)
    dm.setup()
    return dm


def test_paired_folder_items_share_one_crop_and_flip_and_follow_the_direction(tmp_path):
    dm = paired(pix2pix_folder(tmp_path))
    assert dm.data_shape == (3, 8, 8) and len(dm.train_set) == 6 and len(dm.heldout_set) == 2
    flips = set()
    for key in range(6 * 8):  # 8 epochs of keys
        item = dm.train_set[key]
        assert item["a"].shape == item["b"].shape == (3, 8, 8)
        assert item["a"].min() >= -1 and item["a"].max() <= 1
        # B = 255 - A: b is -a only where both got the same crop and flip (bicubic rounding: 1-2 levels)
        assert torch.allclose(item["b"], -item["a"], atol=0.02)
        flips.add(dm.crop.params(item_rng(0, *divmod(key, 6)))[2])
    assert flips == {True, False}
    backwards = paired(tmp_path, direction="BtoA")
    for key in (0, 7, 20):
        assert torch.equal(backwards.train_set[key]["a"], dm.train_set[key]["b"])
        assert torch.equal(backwards.train_set[key]["b"], dm.train_set[key]["a"])


def test_paired_folder_crops_are_drawn_per_epoch_and_index_and_held_out_is_the_center_crop(tmp_path):
    dm = paired(pix2pix_folder(tmp_path))
    assert torch.equal(dm.train_set[3]["a"], dm.train_set[3]["a"])  # a pure function of the key
    crops = {tuple(dm.train_set[3 + 6 * epoch]["a"].flatten()[:5].tolist()) for epoch in range(10)}
    assert len(crops) > 1  # item 3 gets other crops in other epochs
    held = dm.heldout_set[0]["a"]
    whole = torch.from_numpy(np.array(Image.open(tmp_path / "val" / "000.png").crop((0, 0, 12, 12))
                                        .resize((10, 10), Image.BICUBIC))).permute(2, 0, 1).float() / 127.5 - 1
    assert torch.allclose(held, whole[:, 1:9, 1:9], atol=1e-6)  # (10 - 8) / 2 = 1 px a side
    assert torch.equal(dm.heldout_set[0]["a"], dm.heldout_set[0]["a"])


def test_paired_folder_batches_are_seeded_and_a_resumed_epoch_gives_the_same_items(tmp_path):
    root = pix2pix_folder(tmp_path)
    first, again = paired(root, seed=3), paired(root, seed=3)
    assert isinstance(first.train_dataloader().sampler, EpochKeyedSampler)
    epoch2 = epoch_items(first, 2)
    assert_batches_equal(epoch2, epoch_items(again, 2))
    assert not torch.equal(epoch2[0]["a"], epoch_items(first, 1)[0]["a"])
    # a run resumed after the first batch of epoch 2 sees the rest of epoch 2, crops included
    assert_batches_equal(epoch_items(again, 2, resume_skip=2), epoch2[1:])
    other_seed = epoch_items(paired(root, seed=4), 2)
    assert not all(torch.equal(x["a"], y["a"]) for x, y in zip(epoch2, other_seed))


def test_paired_folder_of_two_folders_by_name(tmp_path):
    for i in range(3):
        a = noise_image(tmp_path / "A" / "train" / f"{i}.png", 12, 12, i)
        noise_image(tmp_path / "B" / "train" / f"{i}.png", 12, 12, i, transform=lambda p: 255 - p)
        assert a.shape == (12, 12, 3)
    dm = paired(tmp_path, heldout_split=None)
    assert dm.heldout_set is None and len(dm.train_set) == 3
    item = dm.train_set[1]
    assert torch.allclose(item["b"], -item["a"], atol=0.02)


@pytest.mark.parametrize("case, message", [
    ("no_train", r"PairedImageFolder: no folder train under .*\(the pix2pix layout"),
    ("no_val", r"PairedImageFolder: no folder val under "),
    ("not_a_pair", r"PairedImageFolder: .*001.png is 12x12, not an A\|B pair side by side \(width twice the height: 24x12\)"),
    ("empty", r"PairedImageFolder: no image files .* in .*train"),
    ("no_partner", r"PairedImageFolder: .*A/train/1.png has no partner file 1.png in .*B/train"),
    ("no_partner_in_a", r"PairedImageFolder: .*B/train/2.png has no partner file 2.png in .*A/train"),
    ("size_mismatch", r"PairedImageFolder: size mismatch between partners .*0.png \(12x12\) and .*0.png \(10x12\)"),
])
def test_paired_folder_errors_are_one_line_naming_the_problem(tmp_path, case, message):
    if case == "no_train":
        pix2pix_folder(tmp_path, counts=(("val", 2),))
    elif case == "no_val":
        pix2pix_folder(tmp_path, counts=(("train", 2),))
    elif case == "not_a_pair":
        pix2pix_folder(tmp_path)
        noise_image(tmp_path / "train" / "001.png", 12, 12, 0)
    elif case == "empty":
        _mk(tmp_path / "train")
        _mk(tmp_path / "val")
    else:
        names_a = {"no_partner": (0, 1), "no_partner_in_a": (0, 1), "size_mismatch": (0,)}[case]
        names_b = {"no_partner": (0,), "no_partner_in_a": (0, 1, 2), "size_mismatch": (0,)}[case]
        for i in names_a:
            noise_image(tmp_path / "A" / "train" / f"{i}.png", 12, 12, i)
        for i in names_b:
            noise_image(tmp_path / "B" / "train" / f"{i}.png", 10 if case == "size_mismatch" else 12, 12, i)
    dm = PairedImageFolder(str(tmp_path), image_size=8, load_size=10, num_workers=0,
                           heldout_split="val" if case != "no_partner" else None)
    with pytest.raises(DataFolderError, match=message) as error:
        dm.setup()
    assert isinstance(error.value, UsageError) and "\n" not in str(error.value)


def test_paired_folder_rejects_bad_options_in_one_line(tmp_path):
    with pytest.raises(ValueError, match="direction must be 'AtoB' or 'BtoA', got 'AtoC'"):
        PairedImageFolder(str(tmp_path), direction="AtoC")
    with pytest.raises(ValueError, match=r"load_size \(8\) must be >= data.image_size \(16\)"):
        PairedImageFolder(str(tmp_path), image_size=16, load_size=8)


def test_paired_folder_unreadable_files_are_named(tmp_path):
    pix2pix_folder(tmp_path)
    (tmp_path / "train" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(UsageError, match=r"1 of 7 image files cannot be read: .*broken.png"):
        paired(tmp_path)
    dm = paired(tmp_path, skip_unreadable=True)
    assert len(dm.train_set) == 6 and dm.skipped_files[0].endswith("broken.png")


# ---------------------------------------------------------------------------- UnpairedImageFolder
def cyclegan_folder(root, train=(5, 3), test=(2, 2)):
    for split, (count_a, count_b) in (("train", train), ("test", test)):
        for domain, count in (("A", count_a), ("B", count_b)):
            for i in range(count):
                noise_image(root / f"{split}{domain}" / f"{i}.png", 12, 12, hash((split, domain, i)) % 2**32)
    return root


def unpaired(root, **kwargs):
    options = dict(image_size=8, load_size=10, channels=3, batch_size=1, num_workers=0)
    options.update(kwargs)
    dm = UnpairedImageFolder(str(root), **options)
    dm.setup()
    return dm


def which_b(dm, item):
    """The index of the training B image an item's b was cropped from (by the center 4x4 patch's
    best match over crops; noise images make it unambiguous)."""
    scores = []
    for j, path in enumerate(dm.train_set.files_b):
        image = dm.train_set.load(path)
        best = min(float((dm.crop(image, (left, top, flip)) - item["b"]).abs().max())
                   for left in range(3) for top in range(3) for flip in (False, True))
        scores.append(best)
    return int(np.argmin(scores)), min(scores)


def test_unpaired_folder_pairs_each_a_with_an_independent_b_fresh_each_epoch(tmp_path):
    dm = unpaired(cyclegan_folder(tmp_path))
    assert dm.data_kind == "unpaired" and len(dm.train_set) == 5 and len(dm.heldout_set) == 2
    partners = {}
    for epoch in range(4):
        order = [dm.train_set.partner(epoch, i) for i in range(5)]
        assert set(order) == {0, 1, 2}  # every b used, 5 a's over 3 b's: twice, twice, once
        assert sorted(np.bincount(order).tolist()) == [1, 2, 2]
        partners[epoch] = order
    assert len({tuple(order) for order in partners.values()}) > 1  # another pairing in another epoch
    item = dm.train_set[5 * 2 + 4]  # epoch 2, index 4
    index, error = which_b(dm, item)
    assert error < 1e-6 and index == partners[2][4]
    again = unpaired(tmp_path)
    assert_batches_equal(epoch_items(dm, 3), epoch_items(again, 3))
    assert_batches_equal(epoch_items(again, 3, resume_skip=2), epoch_items(dm, 3)[2:])


def test_unpaired_folder_epoch_reaches_loader_workers(tmp_path):
    dm = unpaired(cyclegan_folder(tmp_path), num_workers=1)
    in_workers = epoch_items(dm, 1)
    dm.num_workers = 0
    assert_batches_equal(in_workers, epoch_items(dm, 1))


@pytest.mark.parametrize("missing, hint", [("trainA", "the CycleGAN layout"), ("testB", "heldout false")])
def test_unpaired_folder_names_the_missing_folder(tmp_path, missing, hint):
    cyclegan_folder(tmp_path)
    for path in (tmp_path / missing).iterdir():
        path.unlink()
    (tmp_path / missing).rmdir()
    with pytest.raises(DataFolderError, match=rf"UnpairedImageFolder: no folder {missing} under {tmp_path}.*{hint}"):
        unpaired(tmp_path)
    if missing == "testB":
        assert unpaired(tmp_path, heldout=False).heldout_set is None


# ---------------------------------------------------------------------------- AttributeImageFolder
NAMES = ["5_o_Clock_Shadow", "Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]


def celeba_folder(root, count=6, rows=None, header=None):
    table = rows or [[1 if (i + k) % 3 == 0 else -1 for k in range(len(NAMES))] for i in range(count)]
    lines = [str(header if header is not None else len(table)), " ".join(NAMES)]
    for i, values in enumerate(table):
        lines.append(f"{i:06d}.jpg " + " ".join(f"{v:2d}" for v in values))
        noise_image(root / "images" / f"{i:06d}.jpg", 20, 24, i)
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    return table


def test_attribute_folder_reads_celeba_format_and_selects_attributes(tmp_path):
    table = celeba_folder(tmp_path)
    dm = AttributeImageFolder(str(tmp_path), attributes=["Male", "Black_Hair"], image_size=8, crop_size=16,
                              batch_size=2, heldout_count=2, num_workers=0)
    dm.setup()
    assert dm.data_kind == "attributes" and dm.num_attributes == 2 and dm.attribute_names == ["Male", "Black_Hair"]
    assert dm.data_shape == (3, 8, 8) and len(dm.train_set) == 4 and len(dm.heldout_set) == 2
    for dataset in (dm.train_set, dm.heldout_set):
        for i, path in enumerate(dataset.files):
            row = table[int(path.stem)]
            expected = torch.tensor([row[NAMES.index("Male")] == 1, row[NAMES.index("Black_Hair")] == 1]).float()
            item = dataset[i]
            assert torch.equal(item["attributes"], expected)
            assert item["image"].shape == (3, 8, 8) and -1 <= item["image"].min() and item["image"].max() <= 1
    held = {p.name for p in dm.heldout_set.files}
    assert held.isdisjoint(p.name for p in dm.train_set.files)
    # the flip is drawn from (seed, epoch, index): some keys flipped, a key always the same
    flipped = [torch.equal(dm.train_set[k]["image"], dm.train_set[k % 4]["image"].flip(-1)) for k in range(4, 40)]
    assert any(flipped) and torch.equal(dm.train_set[9]["image"], dm.train_set[9]["image"])


@pytest.mark.parametrize("case, message", [
    ("unknown", r"attribute 'Bald' is not in .*list_attr_celeba.txt; its attributes: 5_o_Clock_Shadow, Black_Hair, "
                r"Blond_Hair, Brown_Hair, Male, Young"),
    ("missing_file", r"1 of the 6 files listed in .*list_attr_celeba.txt are missing from .*images: .*000003.jpg"),
    ("no_attr_file", r"attribute file .*list_attr_celeba.txt not found"),
    ("bad_row", r"list_attr_celeba.txt line 4: expected a file name and 6 values of -1/1"),
    ("bad_count", r"says 9 images on line 1 but lists 6"),
    ("no_images_dir", r"no folder images under"),
    ("heldout", r"heldout_count 6 leaves no training images of the 6 listed"),
])
def test_attribute_folder_errors_are_one_line(tmp_path, case, message):
    celeba_folder(tmp_path, header=9 if case == "bad_count" else None)
    attributes = ["Bald"] if case == "unknown" else None
    if case == "missing_file":
        (tmp_path / "images" / "000003.jpg").unlink()
    elif case == "no_attr_file":
        (tmp_path / "list_attr_celeba.txt").unlink()
    elif case == "bad_row":
        text = (tmp_path / "list_attr_celeba.txt").read_text().splitlines()
        text[3] = text[3].rsplit(" ", 1)[0]
        (tmp_path / "list_attr_celeba.txt").write_text("\n".join(text))
    elif case == "no_images_dir":
        for path in (tmp_path / "images").iterdir():
            path.unlink()
        (tmp_path / "images").rmdir()
    dm = AttributeImageFolder(str(tmp_path), attributes=attributes, image_size=8, crop_size=16,
                              heldout_count=6 if case == "heldout" else 2, num_workers=0)
    with pytest.raises(DataFolderError, match=message) as error:
        dm.setup()
    assert "\n" not in str(error.value)


# ---------------------------------------------------------------------------- digit domains
@pytest.fixture(scope="module")
def inverted_pairs():
    dm = PairedDigits("inverted", batch_size=16)
    dm.setup()
    return dm


def image_keys(images):
    return {hash(x.numpy().tobytes()) for x in images}


def test_paired_digits_ground_truth_and_split(inverted_pairs):
    dm = inverted_pairs
    assert dm.data_shape == (1, 32, 32) and dm.data_kind == "paired"
    assert len(dm.train_set) == 4500 and len(dm.heldout_set) == 500
    assert torch.bincount(dm.heldout_set.a.labels).tolist() == [50] * 10  # stratified
    batch = next(iter(dm.train_dataloader()))
    assert batch["a"].shape == (16, 1, 32, 32) and torch.equal(batch["b"], -batch["a"])
    assert torch.equal(batch["label_a"], batch["label_b"]) and batch["label_a"].dtype == torch.int64
    assert batch["a"].min() == -1 and batch["a"].max() == 1
    assert torch.equal(digit_domain_transform("inverted")(batch["a"]), batch["b"])
    train, held = image_keys(dm.train_set.a.images), image_keys(dm.heldout_set.a.images)
    assert train.isdisjoint(held) and len(held) == 500
    backwards = PairedDigits("inverted", direction="BtoA", batch_size=16)
    backwards.setup()
    assert torch.equal(backwards.train_set[5]["a"], dm.train_set[5]["b"])
    assert torch.equal(backwards.train_set[5]["b"], dm.train_set[5]["a"])


def test_paired_digits_batches_are_seeded_per_epoch(inverted_pairs):
    again = PairedDigits("inverted", batch_size=16)
    again.setup()
    first_epoch = epoch_items(inverted_pairs, 1)[:3]
    assert_batches_equal(first_epoch, epoch_items(again, 1)[:3])
    assert_batches_equal(epoch_items(again, 1, resume_skip=16)[:2], first_epoch[1:])
    assert not torch.equal(first_epoch[0]["a"], epoch_items(again, 2)[0]["a"])


@pytest.mark.parametrize("target", ["edges", "colored", "thick"])
def test_paired_digits_targets(target):
    dm = PairedDigits(target, heldout_fraction=0.1)
    dm.setup()
    items = [dm.heldout_set[i] for i in range(0, 500, 50)]
    a, b = torch.stack([x["a"] for x in items]), torch.stack([x["b"] for x in items])
    if target == "edges":  # a = the edge map of the digit b: binary, thin, not empty
        assert dm.data_shape == (1, 32, 32)
        assert torch.equal(a, edges(b)) and set(a.unique().tolist()) == {-1.0, 1.0}
        on = (a > 0).float().mean()
        assert 0.05 < on < 0.4
    elif target == "thick":
        assert torch.equal(b, F.max_pool2d(a, 3, 1, 1)) and ((b > 0).sum() > (a > 0).sum())
    else:  # a grey digit replicated to 3 channels, b the same digit in its own colour
        assert dm.data_shape == (3, 32, 32)
        assert torch.equal(a[:, 0], a[:, 1]) and torch.equal(a[:, 0], a[:, 2])
        colors = dm.heldout_set.b.colors[list(range(0, 500, 50))]
        assert torch.allclose(b, digit_domain_transform("colored")(a, colors), atol=1e-6)
        assert colors.max(dim=1).values.eq(1).all() and len({tuple(c.tolist()) for c in colors}) == 10
        assert torch.equal(dm.heldout_set[7]["b"], dm.heldout_set[7]["b"])  # the colour is fixed per image


def test_hue_colors_are_seeded_saturated_colours():
    colors = hue_colors(100, seed=1)
    assert torch.equal(colors, hue_colors(100, seed=1)) and not torch.equal(colors, hue_colors(100, seed=2))
    assert colors.max(dim=1).values.eq(1).all() and colors.min(dim=1).values.eq(0).all()


@pytest.mark.parametrize("domain_b", ["sklearn", "inverted"])
def test_unpaired_digits_domains_are_disjoint_and_pairing_is_fresh_each_epoch(domain_b):
    dm = UnpairedDigits(domain_b, batch_size=16)
    dm.setup()
    train = dm.train_set
    if domain_b == "sklearn":
        assert len(train.a) == 4500 and len(train.b) + len(dm.heldout_set.b) == 1797
        assert torch.equal(dm.train_set.b.images[0], dm.train_set.b.images[0])
        images, _ = sklearn_digits(32)
        assert images.shape == (1797, 1, 32, 32) and images[:, :, :4].eq(-1).all()  # framed like MNIST
    else:
        assert (len(train.a), len(train.b)) == (2250, 2250)
        # B is the other half of MNIST5k: no b is the inversion of any a
        assert image_keys(-train.b.images).isdisjoint(image_keys(train.a.images))
        assert image_keys(-dm.heldout_set.b.images).isdisjoint(image_keys(train.a.images))
    order = [train.partner(0, i) for i in range(len(train))]
    assert order != [train.partner(1, i) for i in range(len(train))]
    labels_a = torch.tensor([train[i]["label_a"] for i in range(200)])
    labels_b = torch.tensor([train[i]["label_b"] for i in range(200)])
    assert (labels_a == labels_b).float().mean() < 0.3  # independent draws agree about 1 time in 10
    again = UnpairedDigits(domain_b, batch_size=16)
    again.setup()
    assert_batches_equal(epoch_items(dm, 2)[:2], epoch_items(again, 2)[:2])
    assert_batches_equal(epoch_items(again, 2, resume_skip=16)[:1], epoch_items(dm, 2)[1:2])


def test_unpaired_digits_colored_domain_is_three_channels():
    dm = UnpairedDigits("colored", heldout_fraction=0.2)
    dm.setup()
    item = dm.heldout_set[0]
    assert dm.data_shape == (3, 32, 32) and item["a"].shape == item["b"].shape == (3, 32, 32)
    assert len(dm.heldout_set) == 500  # a fifth of MNIST5k's half A


def test_digit_attributes_render_their_attribute_vectors():
    dm = DigitAttributes(batch_size=8)
    dm.setup()
    assert dm.data_kind == "attributes" and dm.num_attributes == 4 and dm.attribute_names == list(DIGIT_ATTRIBUTES)
    assert dm.data_shape == (3, 32, 32)
    ds = dm.train_set
    assert 0.4 < ds.attributes.mean() < 0.6  # each attribute on half of the time
    batch = next(iter(dm.train_dataloader()))
    assert set(batch) == {"image", "attributes", "label"} and batch["attributes"].dtype == torch.float32
    digit = ds.digits[:1]
    rendered = {name: render_attributes(digit, torch.tensor([[float(n == name) for n in DIGIT_ATTRIBUTES]]))[0]
                for name in DIGIT_ATTRIBUTES}
    plain = render_attributes(digit, torch.zeros(1, 4))[0]
    assert torch.equal(plain, digit[0].expand(3, -1, -1))
    assert torch.equal(rendered["inverted"], -plain)
    assert torch.equal(rendered["rotated"], torch.rot90(plain, 1, dims=(1, 2)))
    assert torch.equal(rendered["thick"], F.max_pool2d(plain, 3, 1, 1))
    assert torch.allclose(rendered["colored"][0], plain[0], atol=1e-6) and rendered["colored"][1:].eq(-1).all()  # red
    i = 11
    assert torch.equal(ds[i]["image"], render_attributes(ds.digits[i : i + 1], ds.attributes[i : i + 1])[0])
    grey = DigitAttributes(attributes=["thick", "inverted"])
    assert grey.data_shape == (1, 32, 32) and grey.num_attributes == 2
    with pytest.raises(ValueError, match="unknown attribute 'bold'; attributes: colored, thick, rotated, inverted"):
        DigitAttributes(attributes=["bold"])


def test_digit_domain_transform_names_what_it_has():
    with pytest.raises(ValueError, match="no transform gives"):
        digit_domain_transform("sklearn")
    with pytest.raises(ValueError, match="unknown digit domain 'blurred'"):
        digit_domain_transform("blurred")
    with pytest.raises(ValueError, match="unknown target 'blurred'; targets: edges, inverted, colored, thick"):
        PairedDigits("blurred")
    with pytest.raises(ValueError, match="unknown domain_b 'svhn'"):
        UnpairedDigits("svhn")
    with pytest.raises(ValueError, match="a coloured domain needs 3 channels"):
        PairedDigits("colored", channels=1)


def test_digit_data_records_its_arguments_for_the_checkpoint():
    dm = PairedDigits("thick", image_size=16, seed=4)
    assert dm.hparams["target"] == "thick" and dm.hparams["image_size"] == 16 and dm.hparams["seed"] == 4
    assert dm.hparams["_class_path"] == "gan_lightning.data.digit_domains.PairedDigits"
    assert dm.data_shape == (1, 16, 16)


def test_a_run_resumed_mid_epoch_on_random_crops_and_unpaired_partners_is_bitwise_the_same(tmp_path):
    """Fit 7 iterations (epochs of 5: the second epoch's keys too) straight, and interrupted after 3 then resumed,
    with a loader worker: the crops and partners drawn there depend on the key alone."""
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint

    from conftest import InterruptAt, tiny_trainer
    from core_models import TwoWayTranslator

    root = cyclegan_folder(tmp_path / "data", train=(5, 3))

    def fit(run, steps, ckpt_path=None, interrupt_at=None):
        L.seed_everything(0)
        model = TwoWayTranslator(data_shape=(1, 8, 8))
        callbacks = [ModelCheckpoint(dirpath=tmp_path / run / "ckpt", save_last=True,
                                     every_n_train_steps=interrupt_at or 1000)]
        callbacks += [InterruptAt(interrupt_at)] if interrupt_at else []
        trainer = tiny_trainer(tmp_path / run, steps, callbacks=callbacks, enable_checkpointing=True)
        trainer.fit(model, UnpairedImageFolder(str(root), image_size=8, load_size=10, channels=1, num_workers=1),
                    ckpt_path=ckpt_path)
        return model

    straight = fit("straight", 7)
    fit("resumed", 7, interrupt_at=3)
    resumed = fit("resumed", 7, ckpt_path="last")
    assert resumed.global_step == 7
    one, two = straight.state_dict(), resumed.state_dict()
    assert [k for k in one if not torch.equal(one[k], two[k])] == []
    checkpoint = torch.load(tmp_path / "resumed" / "ckpt" / "last.ckpt", weights_only=False)
    assert checkpoint["datamodule_hyper_parameters"]["root"] == str(root)  # what `sample` rebuilds
