"""Tests for log-mel spectrograms, the audio encoder and its pretraining, span masks and the call model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mmsent.audio import AUDIO_ENCODER_DIR
from mmsent.audio.calls import pretraining_calls
from mmsent.audio.encoder import AudioEncoder, AudioEncoderConfig, encode_audio
from mmsent.audio.features import N_FFT, N_MELS, log_mel, mel_filterbank
from mmsent.audio.fusion import CallAttentionModel
from mmsent.audio.pretrain import pretrain_audio_encoder
from mmsent.audio.spans import span_lift, span_mask
from mmsent.audio.voice import CLIP_SAMPLES, SAMPLE_RATE
from mmsent.errors import CheckpointError


@pytest.fixture(scope="module")
def snippets() -> torch.Tensor:
    return torch.from_numpy(np.stack([samples for samples, _, _ in pretraining_calls(3, seed=5)]))


def test_log_mel_shape_and_a_tone_lands_in_its_band(snippets):
    mels = log_mel(snippets)
    assert mels.shape == (3, N_MELS, 1 + CLIP_SAMPLES // 160) and bool(torch.isfinite(mels).all())
    tone = torch.sin(2 * torch.pi * 1000 * torch.arange(CLIP_SAMPLES) / SAMPLE_RATE)[None]
    bank = mel_filterbank()
    assert bank.shape == (N_FFT // 2 + 1, N_MELS) and float(bank.max()) <= 1.0
    loudest = int(log_mel(tone)[0].mean(dim=1).argmax())
    peaks = bank.argmax(dim=0) * SAMPLE_RATE / N_FFT  # the frequency at each band's peak
    assert abs(float(peaks[loudest]) - 1000) < 120


def test_encoder_shapes_and_bad_input(snippets):
    encoder = AudioEncoder(AudioEncoderConfig(dim=16)).eval()
    out = encoder(log_mel(snippets))
    assert out.last_hidden_state.shape == (3, 76, 16) and out.pooler_output.shape == (3, 16)
    assert encoder.token_seconds == pytest.approx(0.04)
    with pytest.raises(ValueError, match="mel bands"):
        encoder(torch.zeros(2, 7, 100))
    batched = encode_audio(encoder, log_mel(snippets), batch_size=2)
    assert torch.allclose(batched.pooler_output, out.pooler_output, atol=1e-6)


def test_pretrain_saves_an_encoder_that_loads_back(tmp_path, snippets):
    training = pretrain_audio_encoder(tmp_path, n=20, epochs=1, dim=8)
    assert training["snippets"] == 20 and 0.0 <= training["held_out_voice_state_accuracy"] <= 1.0
    loaded = AudioEncoder.from_pretrained(tmp_path)
    assert loaded.config.dim == 8 and float(loaded.mel_std.min()) > 0
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["training"]["epochs"] == 1
    again = AudioEncoder.from_pretrained(tmp_path)
    mels = log_mel(snippets)
    assert torch.equal(loaded(mels).pooler_output, again(mels).pooler_output)
    with pytest.raises(CheckpointError, match="pretrain-audio"):
        AudioEncoder.from_pretrained(tmp_path / "missing")


def test_pretrain_audio_command(tmp_path, capsys):
    from mmsent.cli import main as cli

    assert cli.main(["pretrain-audio", "--out", str(tmp_path), "--n", "10", "--epochs", "1"]) == 0
    assert AudioEncoder.from_pretrained(tmp_path).config.dim == 64
    assert '"snippets": 10' in capsys.readouterr().out
    with pytest.raises(SystemExit) as exited:  # argparse refuses the flag before anything runs
        cli.main(["pretrain-audio", "--out", str(tmp_path), "--epochs", "0"])
    assert exited.value.code == 2 and "--epochs" in capsys.readouterr().err


def test_committed_encoder_is_small_and_was_trained_well():
    size = sum(path.stat().st_size for path in AUDIO_ENCODER_DIR.iterdir())
    assert size < 3 * 2**20
    training = json.loads((AUDIO_ENCODER_DIR / "config.json").read_text())["training"]
    assert training["held_out_voice_state_accuracy"] > 0.9
    assert training["held_out_shouting_token_accuracy"] > 0.9


def test_span_mask_and_lift():
    mask = span_mask([(0.08, 0.16)], num_tokens=10, token_seconds=0.04)
    assert mask.tolist() == [False, False, True, True] + [False] * 6
    uniform = np.full(10, 0.1)
    assert span_lift(uniform, mask) == pytest.approx(1.0)
    focused = np.where(mask, 0.5, 0.0)
    assert span_lift(focused, mask) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="no shouting"):
        span_lift(uniform, np.zeros(10, dtype=bool))


def test_call_attention_model_outputs():
    model = CallAttentionModel(text_dim=12, token_dim=8, dim=16, num_heads=4).eval()
    out = model(torch.randn(5, 12), torch.randn(5, 30, 8))
    assert out.logits.shape == (5, 2) and out.attention_weights.shape == (5, 30) and out.gate.shape == (5, 1)
    assert torch.allclose(out.attention_weights.sum(dim=1), torch.ones(5), atol=1e-5)
    assert bool(((out.gate >= 0) & (out.gate <= 1)).all())
