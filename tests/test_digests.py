"""One digest of each kind and one atomic write (`mmsent.files.digests`, `mmsent.paths.file_sha256`,
`mmsent.files.replace.written_aside`), and the byte format that saved model folders depend on."""

from __future__ import annotations

import hashlib

import pytest
import torch

from mmsent.files.digests import identity_key, tensors_sha256
from mmsent.files.replace import written_aside
from mmsent.hub.pretrained import encoder_fingerprint
from mmsent.paths import file_sha256

# encoder_fingerprint of the model below, computed by the code that saved the model folders already out
# there (before the digests were shared): a folder stores this value and must still load.
SAVED_FINGERPRINT = "ed9eb8c6ed5df7efa3eb363db362992a46d95e089040fa94f59bd9cbe97bf28a"


def _model() -> torch.nn.Module:
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.LayerNorm(2), torch.nn.Embedding(4, 2).half())
    with torch.no_grad():
        for index, parameter in enumerate(model.parameters()):
            parameter.copy_(torch.arange(parameter.numel()).reshape(parameter.shape) * 0.25 - index)
    model[0].weight.requires_grad_(False)
    model[2].weight.requires_grad_(False)
    return model


def test_encoder_fingerprint_keeps_the_byte_format_of_saved_folders():
    model = _model()
    assert encoder_fingerprint(model) == SAVED_FINGERPRINT
    model[0].weight.data[0, 0] += 1  # a frozen weight changed: another fingerprint
    assert encoder_fingerprint(model) != SAVED_FINGERPRINT


def test_tensors_sha256_is_by_name_and_sees_dtype_and_shape():
    a, b = torch.arange(6.0), torch.ones(2)
    assert tensors_sha256([("a", a), ("b", b)]) == tensors_sha256([("b", b), ("a", a)])
    assert tensors_sha256([("a", a)]) != tensors_sha256([("a", a.reshape(2, 3))])
    assert tensors_sha256([("a", a)]) != tensors_sha256([("a", a.double())])


def test_file_sha256_streams_the_bytes(tmp_path):
    path = tmp_path / "blob"
    data = bytes(range(256)) * 5000  # over one 1 MiB chunk
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()


def test_identity_key_is_readable_and_follows_the_identity():
    key = identity_key("org/model name", {"a": 1, "b": [2]}, "layers5")
    assert key.startswith("org_model_name-layers5-") and len(key.rsplit("-", 1)[1]) == 16
    assert key == identity_key("org/model name", {"b": [2], "a": 1}, "layers5")  # key order: no matter
    assert key != identity_key("org/model name", {"a": 2, "b": [2]}, "layers5")


def test_written_aside_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), written_aside(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("stopped")
    assert target.read_text() == "old"
    with written_aside(target) as temporary:
        assert temporary.parent == tmp_path and temporary != target
        temporary.write_text("new")
    assert target.read_text() == "new"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.txt"]  # no temporary file left
