"""Pretrain the audio encoder once, on snippets the call set never uses, and save it.

Like the offline CLIP (`mmsent.models.clip_pretrain`), the encoder learns from generated data with
targets the generator knows: for each snippet, its voice state (calm, angry, unclear: a 3-way
classifier on the pooled vector) and, for each token, whether the caller is shouting at that
moment (a per-token classifier on the tokens, from the stored shout spans). Both heads are thrown
away; what stays is an encoder whose pooled vector says how the caller sounds and whose tokens say
when. The snippets come from `mmsent.audio.calls.pretraining_calls`, a random stream that never
overlaps the call set's, so the course's calls stay unseen.

    python -m mmsent pretrain-audio                  # rebuild data/audio-encoder (about a minute on 2 cores)
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mmsent.audio.calls import pretraining_calls
from mmsent.audio.encoder import AudioEncoder, AudioEncoderConfig
from mmsent.audio.features import log_mel
from mmsent.audio.spans import span_mask
from mmsent.audio.voice import VOICE_STATES


def _targets(snippets, num_tokens: int, token_seconds: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Voice-state indices [N] and shouting per token [N, tokens] (0/1 floats)."""
    states = torch.tensor([VOICE_STATES.index(state) for _, _, state in snippets])
    shouting = torch.from_numpy(np.stack([
        span_mask(plan.shout_spans, num_tokens, token_seconds) for _, plan, _ in snippets
    ])).float()
    return states, shouting


def pretrain_audio_encoder(
    out_dir: str | Path | None, n: int = 1200, epochs: int = 8, batch_size: int = 32,
    lr: float = 3e-3, seed: int = 0, dim: int = 64,
) -> dict[str, float]:
    """Train an `AudioEncoder` on `n` generated snippets (a fifth held out), save it to `out_dir` (None: not
    saved; the course's: `mmsent.audio.audio_encoder_dir()`).

    Returns what the config records under "training": held-out voice-state accuracy, held-out
    per-token shouting accuracy, and the seconds it took.
    """
    start = time.perf_counter()
    torch.manual_seed(seed)
    snippets = pretraining_calls(n, seed)
    samples = torch.from_numpy(np.stack([snippet for snippet, _, _ in snippets]))  # [N, samples] int16
    log_mels = log_mel(samples)  # [N, mels, frames]
    encoder = AudioEncoder(AudioEncoderConfig(dim=dim))
    encoder.mel_mean.copy_(log_mels.mean(dim=(0, 2))[:, None])
    encoder.mel_std.copy_(log_mels.std(dim=(0, 2))[:, None])
    num_tokens = encoder(log_mels[:1]).last_hidden_state.shape[1]
    states, shouting = _targets(snippets, num_tokens, encoder.token_seconds)
    state_head, shout_head = nn.Linear(dim, len(VOICE_STATES)), nn.Linear(dim, 1)
    parameters = [*encoder.parameters(), *state_head.parameters(), *shout_head.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=1e-2)
    held_out = n // 5
    train_rows = torch.arange(held_out, n)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        encoder.train()
        for rows in train_rows[torch.randperm(len(train_rows), generator=generator)].split(batch_size):
            tokens, pooled = encoder(log_mels[rows])
            loss = F.cross_entropy(state_head(pooled), states[rows]) + F.binary_cross_entropy_with_logits(
                shout_head(tokens).squeeze(-1), shouting[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    encoder.eval()
    with torch.no_grad():
        tokens, pooled = encoder(log_mels[:held_out])
        state_accuracy = (state_head(pooled).argmax(-1) == states[:held_out]).float().mean().item()
        shouted = (shout_head(tokens).squeeze(-1) > 0).float()
        shout_accuracy = (shouted == shouting[:held_out]).float().mean().item()
    training = {"snippets": n, "held_out": held_out, "epochs": epochs, "seed": seed,
                "held_out_voice_state_accuracy": round(state_accuracy, 4),
                "held_out_shouting_token_accuracy": round(shout_accuracy, 4),
                "seconds": round(time.perf_counter() - start, 1)}
    if out_dir is not None:
        encoder.save_pretrained(out_dir, training)
    return training
