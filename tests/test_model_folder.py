"""The trust boundary of a model folder (mmsent.hub.folder_check): a folder from someone else is checked
before anything in it is believed: sizes and kinds of files before reading, every config value's type
and range before building, the weights' shapes before allocating (tiny profile)."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mmsent.config import TrainConfig
from mmsent.encoders import load_encoders
from mmsent.errors import CheckpointError
from mmsent.hub.manifest import write_manifest
from mmsent.models import MultimodalSentimentModel, SentimentModelConfig

LABELS = ["negative", "positive"]

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """An (untrained) tiny model folder written by save_pretrained."""
    torch.manual_seed(0)
    model_config = SentimentModelConfig(labels=LABELS, train_text_layers=1)
    model = MultimodalSentimentModel(model_config, load_encoders("tiny"))
    return model.save_pretrained(tmp_path_factory.mktemp("trust") / "model", ["negative", "positive"],
                                 TrainConfig(epochs=1))


@pytest.fixture
def copy(saved, tmp_path) -> Path:
    return Path(shutil.copytree(saved, tmp_path / "model"))


def _edit_config(folder: Path, change: dict, recipe: dict | None = None) -> None:
    """Change config.json's values and write a manifest that agrees (as an attacker would)."""
    config = json.loads((folder / "config.json").read_text())
    config.update(change)
    if recipe is not None:
        config["recipe"].update(recipe)
    (folder / "config.json").write_text(json.dumps(config))
    write_manifest(folder, exclude=("README.md",))


# Each value that config.json must refuse, by field: wrong JSON type or out of range.
BAD_CONFIG = [
    ({"num_heads": 0}, "num_heads"),
    ({"num_heads": 3}, "num_heads"),  # does not divide dim
    ({"dim": "x"}, "dim"),
    ({"dim": True}, "dim"),  # a JSON boolean is no number
    ({"dim": 262_144}, "dim"),
    ({"dim": 2.5}, "dim"),
    ({"dropout": 1.5}, "dropout"),
    ({"dropout": "0.1"}, "dropout"),
    ({"recipe": "fast"}, "recipe"),
    ({"labels": ["only"]}, "labels"),
    ({"labels": [1, 2]}, "labels"),
    ({"labels": "negative,positive"}, "labels"),
    ({"mode": "both"}, "mode"),
    ({"profile": ["tiny"]}, "profile"),
    ({"train_text_layers": -3}, "train_text_layers"),
    ({"freeze_image": "yes"}, "freeze_image"),
    ({"text_encoder": 5}, "text_encoder"),
]
BAD_RECIPE = [
    ({"batch_size": True}, "batch_size"),
    ({"max_length": 0}, "max_length"),
    ({"mixed_precision": "fp8"}, "mixed_precision"),
    ({"lr": "high"}, "lr"),
    ({"num_workers": -1}, "num_workers"),
]


@pytest.mark.parametrize(("change", "field"), BAD_CONFIG, ids=[str(c) for c, _ in BAD_CONFIG])
def test_every_config_value_is_type_and_range_checked_before_building(copy, change, field, monkeypatch):
    built = []
    monkeypatch.setattr(MultimodalSentimentModel, "__init__", lambda *a, **k: built.append(1))
    _edit_config(copy, change)
    with pytest.raises(CheckpointError, match=rf"config\.json: field '{field}' is .*; it must") as error:
        MultimodalSentimentModel.from_pretrained(copy)
    assert "Fix the value" in str(error.value) and not built  # nothing built from a bad value


@pytest.mark.parametrize(("change", "field"), BAD_RECIPE, ids=[str(c) for c, _ in BAD_RECIPE])
def test_every_recipe_value_is_type_and_range_checked(copy, change, field):
    _edit_config(copy, {}, recipe=change)
    with pytest.raises(CheckpointError, match=rf"\(recipe\): field '{field}' is .*; it must"):
        MultimodalSentimentModel.from_pretrained(copy)


def test_weight_shapes_are_compared_with_the_config_before_anything_is_allocated(copy, meta_builds_only):
    """A consistent config with a large dim (in range) over weights of dim 32: only a meta-device
    skeleton is built; the header's shapes refuse the folder before the real model is."""
    _edit_config(copy, {"dim": 16_384})
    with pytest.raises(CheckpointError, match=r"model\.safetensors does not fit .*other shapes.*nothing was"):
        MultimodalSentimentModel.from_pretrained(copy)
    assert meta_builds_only == ["meta"]


def test_a_damaged_safetensors_header_is_refused_before_reading(copy):
    weights = copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[:8] = struct.pack("<Q", 1 << 40)  # a header "longer" than the file
    weights.write_bytes(bytes(data))
    write_manifest(copy, exclude=("README.md",))
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        MultimodalSentimentModel.from_pretrained(copy)


def _rewrite_header(weights: Path, change, data=lambda old: old) -> None:
    """Rewrite a safetensors file's header with `change(header)` and its data with `data(old data)`."""
    raw = weights.read_bytes()
    length = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + length])
    change(header)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    weights.write_bytes(struct.pack("<Q", len(text)) + text + data(raw[8 + length :]))


def _tensors(header: dict) -> list[dict]:
    return [entry for name, entry in sorted(header.items()) if name != "__metadata__"]


def _last(header: dict) -> dict:
    return max(_tensors(header), key=lambda entry: entry["data_offsets"][1])


HEADER_DAMAGE = {  # each keeps every name and shape: only the header against the file is wrong
    "all at one span": (lambda h: [e.update(data_offsets=[0, 4]) for e in _tensors(h)], lambda _: bytes(4)),
    "span past the end": (lambda h: _last(h)["data_offsets"].__setitem__(1, 1 << 40), lambda old: old),
    "bytes left over": (lambda h: None, lambda old: old + bytes(8)),
    "a truncated file": (lambda h: None, lambda old: old[:-4]),
    "dtype of another size": (lambda h: _tensors(h)[0].update(dtype="F64"), lambda old: old),
    "unknown dtype": (lambda h: _tensors(h)[0].update(dtype="F128"), lambda old: old),
    "no offsets": (lambda h: _tensors(h)[0].pop("data_offsets"), lambda old: old),
}


@pytest.mark.parametrize("damage", HEADER_DAMAGE)
def test_the_safetensors_header_is_checked_against_the_file_before_building(copy, damage, meta_builds_only):
    """Names and shapes right, offsets, dtypes or size wrong: refused with only a meta skeleton built."""
    _rewrite_header(copy / "model.safetensors", *HEADER_DAMAGE[damage])
    write_manifest(copy, exclude=("README.md",))
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*(header|data_offsets|tensor data|dtype)"):
        MultimodalSentimentModel.from_pretrained(copy)
    assert meta_builds_only == ["meta"]


def test_a_crafted_header_for_a_huge_model_is_refused_before_building(copy, meta_builds_only):
    """The reviewer's case: config dim 65536 / 1 head (allowed values), a header naming exactly the shapes
    of that model (about 100 GB), and 4 bytes of data: refused on the meta skeleton, nothing allocated."""
    _edit_config(copy, {"dim": 65_536, "num_heads": 1})
    config = SentimentModelConfig.from_dict(json.loads((copy / "config.json").read_text()), copy)
    with torch.device("meta"):
        skeleton = MultimodalSentimentModel(config, load_encoders("tiny"))
    header = {name: {"dtype": "F32", "shape": list(p.shape), "data_offsets": [0, 4]}
              for name, p in skeleton.named_parameters() if p.requires_grad}  # fmt: skip
    _rewrite_header(copy / "model.safetensors", lambda h: (h.clear(), h.update(header)), lambda _: bytes(4))
    write_manifest(copy, exclude=("README.md",))
    with pytest.raises(CheckpointError, match=r"model\.safetensors: tensor .* span 4 bytes"):
        MultimodalSentimentModel.from_pretrained(copy)
    assert meta_builds_only == ["meta", "meta"]  # the skeleton above, then the checked load's


def test_a_model_far_larger_than_its_weights_file_is_refused_before_building(tmp_path, monkeypatch):
    """Every model folder kind (`load_checked_module`): the header is right, but the config builds a model
    whose unsaved tensors (a buffer) need 8 GB from a file of a few bytes: refused before the real build."""
    from safetensors.torch import save_file

    from mmsent.hub.folder_check import load_checked_module

    class Masked(torch.nn.Module):
        def __init__(self, size: int) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(2))
            self.register_buffer("mask", torch.empty(size, dtype=torch.bool), persistent=False)

    (tmp_path / "config.json").write_text(json.dumps({"size": 8 << 30}))
    save_file({"weight": torch.zeros(2)}, tmp_path / "model.safetensors")
    devices = []
    build = lambda values: devices.append(torch.empty(0).device.type) or Masked(values["size"])  # noqa: E731
    with pytest.raises(CheckpointError, match=r"config\.json describes a model whose weights need 8,5"):
        load_checked_module(tmp_path, build, "Rebuild it.")
    assert devices == ["meta"]
    (tmp_path / "config.json").write_text(json.dumps({"size": 16}))  # a small buffer is no problem
    assert load_checked_module(tmp_path, build, "Rebuild it.").mask.shape == (16,)


def test_a_value_that_is_not_a_finite_number_is_named_as_such(copy):
    _edit_config(copy, {"dropout": float("nan")})
    with pytest.raises(CheckpointError, match=r"'dropout' is NaN; it must be a finite number, found NaN\."):
        MultimodalSentimentModel.from_pretrained(copy)


def test_file_sizes_are_checked_against_the_manifest_before_any_file_is_read(copy, monkeypatch):
    """An 800 MB config.json (sparse: no disk used) whose manifest says otherwise is never read."""
    with open(copy / "config.json", "r+b") as handle:
        handle.truncate(800_000_000)
    opened = []
    for method in ("read_bytes", "read_text", "open"):
        real = getattr(Path, method)
        monkeypatch.setattr(Path, method, lambda self, *a, _real=real, **k: opened.append(self.name) or _real(
            self, *a, **k))
    with pytest.raises(CheckpointError, match=r"config\.json has 800,000,000 bytes, but .* not read"):
        MultimodalSentimentModel.from_pretrained(copy)
    assert "config.json" not in opened and "manifest.json" in opened  # the spy sees reads


def test_a_json_file_over_the_cap_is_not_read_even_when_the_manifest_agrees(copy):
    with open(copy / "config.json", "r+b") as handle:
        handle.truncate(5_000_000)
    write_manifest(copy, exclude=("README.md",))
    with pytest.raises(CheckpointError, match=r"config\.json has 5,000,000 bytes, over the 1,048,576"):
        MultimodalSentimentModel.from_pretrained(copy)


@pytest.mark.parametrize(
    "files",
    [
        [],
        {"config.json": "abc"},
        {"config.json": {"bytes": "12", "sha256": "0" * 64}},
        {"config.json": {"bytes": True, "sha256": "0" * 64}},
        {"config.json": {"bytes": 12, "sha256": 12}},
        {"../config.json": {"bytes": 12, "sha256": "0" * 64}},
    ],
    ids=["a list", "a string entry", "bytes a string", "bytes a boolean", "sha256 a number", "a path"],
)
def test_manifest_entries_of_the_wrong_type_are_named(copy, files):
    (copy / "manifest.json").write_text(json.dumps({"files": files}))
    with pytest.raises(CheckpointError, match=r"manifest\.json"):
        MultimodalSentimentModel.from_pretrained(copy)


def test_a_symbolic_link_out_of_the_folder_is_refused(copy, tmp_path):
    outside = tmp_path / "elsewhere.safetensors"
    shutil.move(copy / "model.safetensors", outside)
    (copy / "model.safetensors").symlink_to(outside)
    with pytest.raises(CheckpointError, match="symbolic link to .* outside the model folder"):
        MultimodalSentimentModel.from_pretrained(copy)


def test_a_listed_file_that_is_not_a_regular_file_is_refused(copy):
    (copy / "notes.txt").write_text("x")
    write_manifest(copy, exclude=("README.md",))
    (copy / "notes.txt").unlink()
    os.mkfifo(copy / "notes.txt")  # reading a pipe would block forever
    with pytest.raises(CheckpointError, match="notes.txt is not a regular file"):
        MultimodalSentimentModel.from_pretrained(copy)


def test_links_inside_the_hub_cache_entry_load(saved, tmp_path):
    """A hub snapshot's files are links into the entry's blobs/: those stay inside and load."""
    entry = tmp_path / "models--me--reviews"
    snapshot, blobs = entry / "snapshots" / "abc123", entry / "blobs"
    snapshot.mkdir(parents=True)
    blobs.mkdir()
    for path in saved.iterdir():
        shutil.copy(path, blobs / path.name)
        (snapshot / path.name).symlink_to(Path("../../blobs") / path.name)
    model = MultimodalSentimentModel.from_pretrained(snapshot)
    assert model.config.labels == ["negative", "positive"]


def test_predict_on_a_bad_folder_prints_one_error_naming_file_and_field(copy):
    _edit_config(copy, {"num_heads": 0})
    done = subprocess.run(
        [sys.executable, "-m", "mmsent", "predict", "--model", str(copy), "--text", "Great phone"],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "config.json: field 'num_heads' is 0" in done.stderr and done.stderr.startswith("error: ")


def test_a_mistyped_local_path_is_not_sent_to_the_hub(tmp_path, monkeypatch):
    """A path whose first part is a folder here is local; another owner/name asks the hub only after a
    quick probe, so an unreachable hub is said at once, with the closest local folder."""
    (tmp_path / "reports" / "model").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    import huggingface_hub
    from huggingface_hub import constants

    def no_download(*_, local_files_only=False, **__):
        assert local_files_only, "asked the hub"
        raise FileNotFoundError("not in the cache")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_download)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # a closed port: refused at once
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    typo = r"reports/modle: no such model folder\. Did you mean reports/model"
    with pytest.raises(CheckpointError, match=typo):
        MultimodalSentimentModel.from_pretrained("reports/modle")
    unreachable = (r"reportz/model: no such model folder, and the Hugging Face hub \(http://127.0.0.1:9\) "
                   r"did not answer.*Did you mean reports/model")
    with pytest.raises(CheckpointError, match=unreachable):
        MultimodalSentimentModel.from_pretrained("reportz/model")


def test_split_json_linking_out_of_the_folder_is_refused(copy, tmp_path):
    from mmsent.hub.split_record import load_split_record

    (tmp_path / "secret.json").write_text('{"token": "hf_secret"}')
    (copy / "split.json").symlink_to(tmp_path / "secret.json")
    with pytest.raises(CheckpointError, match="outside the model folder"):
        load_split_record(copy)


def test_a_hub_endpoint_on_a_private_address_is_refused_by_the_download_policy(tmp_path, monkeypatch):
    import huggingface_hub
    from huggingface_hub import constants

    def no_download(*_, local_files_only=False, **__):
        assert local_files_only, "asked the hub"
        raise FileNotFoundError("not in the cache")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_download)
    monkeypatch.setattr(constants, "ENDPOINT", "http://10.255.255.1")  # HF_ENDPOINT set to a private host
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("MMSENT_ALLOW_PRIVATE_URLS", raising=False)
    with pytest.raises(CheckpointError, match=r"me/model: the hub address .* private address.*MMSENT_ALLOW"):
        MultimodalSentimentModel.from_pretrained("me/model")


# The course's other model folders (config.json + model.safetensors) pass the same boundary
# (`mmsent.hub.folder_check.load_checked_module`): each damage below is one CheckpointError naming the file.
def _load_generator(folder):
    from mmsent.generation.pretrain import load_generator

    return load_generator(folder)


def _load_audio(folder):
    from mmsent.audio.encoder import AudioEncoder

    return AudioEncoder.from_pretrained(folder)


def _load_vlm(folder):
    from mmsent.vlm.model import VisionLanguageModel
    from mmsent.vlm.tokenizer import WordTokenizer

    WordTokenizer.from_pretrained(folder)
    return VisionLanguageModel.from_pretrained(folder)


OTHER_FOLDERS = {  # name: (data folder, loader, a path to an integer field of config.json)
    "generator": ("generator-offline", _load_generator, ("unet", "embed_dim")),
    "audio": ("audio-encoder", _load_audio, ("dim",)),
    "vlm": ("vlm-offline/llava", _load_vlm, ("dim",)),
}
OTHER_DAMAGE = [(kind, damage) for kind in OTHER_FOLDERS
                for damage in ["wrong type", "huge", "zero", "oversize", "link out", "not json"]]  # fmt: skip


@pytest.mark.parametrize(("kind", "damage"), [*OTHER_DAMAGE, ("vlm", "vocab")])
def test_the_other_model_folders_are_checked_before_anything_is_built(kind, damage, tmp_path, monkeypatch):
    from mmsent.paths import DATA_DIR

    name, load, field = OTHER_FOLDERS[kind]
    folder = Path(shutil.copytree(DATA_DIR / name, tmp_path / "model"))
    config = json.loads((folder / "config.json").read_text())
    where = config
    for key in field[:-1]:
        where = where[key]
    if damage in ("wrong type", "huge", "zero"):
        where[field[-1]] = {"wrong type": "x", "huge": 262_144, "zero": 0}[damage]
        (folder / "config.json").write_text(json.dumps(config))
    elif damage == "oversize":
        (folder / "config.json").write_text(json.dumps(config) + " " * (1 << 20))
    elif damage == "link out":
        (tmp_path / "elsewhere.safetensors").write_bytes((folder / "model.safetensors").read_bytes())
        (folder / "model.safetensors").unlink()
        (folder / "model.safetensors").symlink_to(tmp_path / "elsewhere.safetensors")
    elif damage == "not json":
        (folder / "config.json").write_text("[1, 2")
    else:
        (folder / "vocab.json").write_text(json.dumps({"words": [1, 2]}))
    built = []
    monkeypatch.setattr(torch.nn.Module, "load_state_dict", lambda *a, **k: built.append(a))
    with pytest.raises(CheckpointError) as raised:
        load(folder)
    assert str(folder) in str(raised.value) and "\n" not in str(raised.value)
    assert built == []  # no weight was loaded into anything
