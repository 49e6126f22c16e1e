"""`sentiment_pipeline`: a text, a text + photo (path, PIL image, URL) and a batch, answered like predict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import load_script, write_tiny_csv
from PIL import Image

from mmsent.apply.inference import SentimentPipeline, sentiment_pipeline
from mmsent.data.photo_store import PhotoStore
from mmsent.errors import DataError

SERVER = Path(__file__).resolve().parent.parent / "bench" / "photo_server.py"


@pytest.fixture(scope="module")
def classify(tiny_model_dir) -> SentimentPipeline:
    return sentiment_pipeline(tiny_model_dir, batch_size=2)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[Path]:
    csv = write_tiny_csv(tmp_path_factory.mktemp("photos"), n=3)
    return sorted((csv.parent / "images").glob("*.png"))


def test_a_text_alone(classify):
    answer = classify("Well. It arrived.")
    assert set(answer) == {"label", "score", "scores", "gate", "attention", "status"}
    assert answer["label"] == max(answer["scores"], key=answer["scores"].get) in ("bad", "good", "meh")
    assert answer["score"] == answer["scores"][answer["label"]]
    assert sum(answer["scores"].values()) == pytest.approx(1.0, abs=1e-5)
    assert answer["gate"] == 0.0 and answer["attention"] is None and answer["status"] == "ok"


def test_a_text_and_a_photo_as_a_path_or_a_pil_image(classify, photos):
    by_path = classify("Well. It arrived.", image=photos[0])
    assert by_path["gate"] > 0  # the photo is looked at
    assert by_path["attention"].ndim == 1 and by_path["attention"].sum() == pytest.approx(1.0, abs=1e-3)
    by_pil = classify("Well. It arrived.", image=Image.open(photos[0]))
    for name, p in by_path["scores"].items():
        assert by_pil["scores"][name] == pytest.approx(p, abs=1e-5)
    np.testing.assert_allclose(by_pil["attention"], by_path["attention"], atol=1e-5)


def test_a_batch_answers_in_order_as_one_by_one(classify, photos):
    texts = ["great", "broken on arrival", "meh", "fine"]
    images = [photos[0], None, Image.open(photos[1]), str(photos[2])]
    batch = classify(texts, images=images)  # batch_size 2: two forward passes
    assert len(batch) == 4
    for text, image, answer in zip(texts, images, batch, strict=True):
        alone = classify(text, image=image)
        assert answer["label"] == alone["label"]
        for name, p in alone["scores"].items():
            assert answer["scores"][name] == pytest.approx(p, abs=1e-5)
        assert (answer["attention"] is None) == (image is None)


def test_photo_urls_go_through_the_photo_store(tiny_model_dir, tmp_path):
    photo_server = load_script(SERVER)
    store = PhotoStore(tmp_path / "photos", progress=False, retries=0)
    classify = sentiment_pipeline(tiny_model_dir, photos=store)
    with photo_server.PhotoServer() as server:
        urls = [server.url("/photo/a.png"), server.url("/missing.png")]
        good, missing = classify(["a photo", "a lost photo"], images=urls)
    assert good["status"] == "ok" and good["gate"] > 0
    assert missing["status"].startswith("text-only: ") and "HTTP" in missing["status"]
    assert missing["gate"] == 0.0 and missing["attention"] is None
    assert len(list((tmp_path / "photos").rglob("*"))) >= 1  # the photo was stored


def test_bad_input_is_named(classify, tmp_path):
    with pytest.raises(DataError, match="one image"):
        classify(["a", "b"], images=[None])
    with pytest.raises(DataError, match="needs some text"):
        classify(["fine", "  "])
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="broken.png"):
        classify("fine", image=tmp_path / "broken.png")
