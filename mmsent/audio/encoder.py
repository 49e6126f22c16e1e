"""A small audio encoder: log-mel spectrogram -> time-frame tokens + one pooled vector.

The audio counterpart of CLIP's vision tower in the offline profile: the course pretrains it once
(`mmsent.audio.pretrain`, `python -m mmsent pretrain-audio`) and commits it (`data/audio-encoder/`,
safetensors + a JSON config), and the notebooks load it frozen with `AudioEncoder.from_pretrained`.

    log-mel [B, n_mels, frames]  (10 ms frames)
      -> standardise each mel band (the pretraining set's mean and spread, stored with the weights)
      -> Conv1d over time, GELU; two strided Conv1d (each halves the frame rate), GELU; Conv1d
      -> LayerNorm -> tokens [B, tokens, dim]      one token per 40 ms: what attention looks over
      -> [mean over time, max over time] -> Linear, tanh -> pooled [B, dim]

The names follow transformers' outputs (`last_hidden_state`, `pooler_output`), so the rest of the
course treats these tokens like CLIP's patch tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor, nn

from mmsent.audio import audio_encoder_dir
from mmsent.audio.features import HOP, N_MELS
from mmsent.audio.voice import SAMPLE_RATE
from mmsent.hub.model_files import load_model_files, save_model_files


@dataclass
class AudioEncoderConfig:
    """The encoder's shape: `n_mels` input bands, `dim` features per token, `kernel` frames a convolution."""

    n_mels: int = N_MELS
    dim: int = 64
    kernel: int = 5
    stride: int = 4  # frames per token: two convolutions of stride 2


class AudioEncoderOutput(NamedTuple):
    """last_hidden_state [B, tokens, dim] (one token per `token_seconds`); pooler_output [B, dim]."""

    last_hidden_state: Tensor
    pooler_output: Tensor


class AudioEncoder(nn.Module):
    """log-mel [B, n_mels, frames] -> (tokens [B, ceil(frames / 4), dim], pooled [B, dim])."""

    def __init__(self, config: AudioEncoderConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or AudioEncoderConfig()
        if config.stride != 4:
            raise ValueError(f"stride={config.stride}: this encoder has two stride-2 convolutions, so 4.")
        dim, kernel, pad = config.dim, config.kernel, config.kernel // 2
        self.register_buffer("mel_mean", torch.zeros(config.n_mels, 1))
        self.register_buffer("mel_std", torch.ones(config.n_mels, 1))
        self.convs = nn.Sequential(
            nn.Conv1d(config.n_mels, dim, kernel, padding=pad), nn.GELU(),
            nn.Conv1d(dim, dim, kernel, stride=2, padding=pad), nn.GELU(),
            nn.Conv1d(dim, dim, kernel, stride=2, padding=pad), nn.GELU(),
            nn.Conv1d(dim, dim, 3, padding=1),
        )
        self.norm = nn.LayerNorm(dim)
        self.pool = nn.Linear(2 * dim, dim)

    @property
    def token_seconds(self) -> float:
        """Seconds of audio between two tokens (0.04 s)."""
        return self.config.stride * HOP / SAMPLE_RATE

    def forward(self, log_mels: Tensor) -> AudioEncoderOutput:
        if log_mels.dim() != 3 or log_mels.shape[1] != self.config.n_mels:
            raise ValueError(f"log_mels has shape {tuple(log_mels.shape)}; expected "
                             f"[batch, {self.config.n_mels} mel bands, frames] (see features.log_mel).")
        hidden = self.convs((log_mels - self.mel_mean) / self.mel_std)  # [B, dim, tokens]
        tokens = self.norm(hidden.transpose(1, 2))  # [B, tokens, dim]
        pooled = torch.tanh(self.pool(torch.cat([tokens.mean(dim=1), tokens.amax(dim=1)], dim=-1)))
        return AudioEncoderOutput(tokens, pooled)

    def save_pretrained(self, directory: str | Path, training: dict | None = None) -> None:
        """Write the folder (`mmsent.hub.model_files`): the config, how it was trained, every weight."""
        extra = {"architecture": "AudioEncoder", "training": training or {}}
        save_model_files(directory, self, self.config, extra)

    @classmethod
    def from_pretrained(cls, directory: str | Path | None = None) -> AudioEncoder:
        """Load an encoder saved by `save_pretrained` (default: the course's, `audio_encoder_dir()`)."""
        directory = Path(directory or audio_encoder_dir())
        model, _ = load_model_files(directory, AudioEncoderConfig, cls, "audio encoder", "pretrain-audio")
        return model


@torch.no_grad()
def encode_audio(encoder: AudioEncoder, log_mels: Tensor, batch_size: int = 128) -> AudioEncoderOutput:
    """Run a frozen encoder over many spectrograms [N, n_mels, frames] in batches; outputs on the CPU."""
    encoder.eval()
    device = next(encoder.parameters()).device
    parts = [encoder(chunk.to(device)) for chunk in log_mels.split(batch_size)]
    return AudioEncoderOutput(torch.cat([part.last_hidden_state.cpu() for part in parts]),
                              torch.cat([part.pooler_output.cpu() for part in parts]))
