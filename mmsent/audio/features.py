"""Log-mel spectrograms with torch's STFT: a picture of sound, time left to right, pitch bottom to top.

1. Short-time Fourier transform: 25 ms Hann windows every 10 ms; the power |X|^2 of each window's
   frequencies is one column of the spectrogram ([freqs = N_FFT // 2 + 1, frames]).
2. Mel filter bank: `N_MELS` triangular filters spaced evenly on the mel scale (the ear's: fine at low
   frequencies, coarse at high ones) sum the power into `N_MELS` bands.
3. Log: loudness is heard on a log scale, and a log turns the huge range of power into numbers a
   network can use.

A 3-second snippet gives `N_MELS` x 301 numbers. No torchaudio needed.
"""

from __future__ import annotations

import torch

from mmsent.audio.voice import SAMPLE_RATE

N_FFT = 400  # 25 ms windows
HOP = 160  # 10 ms between frames
N_MELS = 40
F_MIN, F_MAX = 50.0, SAMPLE_RATE / 2
LOG_FLOOR = 1e-6  # added before the log: silence stays finite


def hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    """The HTK mel scale: 2595 log10(1 + f / 700)."""
    return 2595.0 * torch.log10(1.0 + hz / 700.0)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE,
                   f_min: float = F_MIN, f_max: float = F_MAX) -> torch.Tensor:
    """Triangular filters [n_fft // 2 + 1 frequencies, n_mels]: column m sums the power of band m.

    Band m rises from edge m to a peak at edge m + 1 and falls to edge m + 2, where the n_mels + 2
    edges are evenly spaced in mel between f_min and f_max.
    """
    frequencies = torch.linspace(0.0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    edges = mel_to_hz(torch.linspace(hz_to_mel(torch.tensor(f_min)).item(),
                                     hz_to_mel(torch.tensor(f_max)).item(), n_mels + 2, dtype=torch.float64))
    low, centre, high = edges[:-2], edges[1:-1], edges[2:]  # [n_mels] each
    rising = (frequencies[:, None] - low) / (centre - low)  # [freqs, n_mels]
    falling = (high - frequencies[:, None]) / (high - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()


def log_mel(samples: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
    """Log-mel spectrograms of int16 (or float in [-1, 1]) snippets [B, samples] -> [B, N_MELS, frames].

    frames = 1 + samples // HOP (windows centred on every hop, the edges padded by reflection).
    Computed `batch_size` snippets at a time: the complex spectrum of 1,000 snippets would take 0.5 GB.
    """
    return torch.cat([_log_mel(chunk) for chunk in samples.split(batch_size)])


def _log_mel(samples: torch.Tensor) -> torch.Tensor:
    if samples.dtype == torch.int16:
        samples = samples.float() / 32768.0
    window = torch.hann_window(N_FFT, device=samples.device)
    spectrum = torch.stft(samples, N_FFT, HOP, window=window, center=True, return_complex=True)
    power = spectrum.abs() ** 2  # [B, freqs, frames]
    mel = mel_filterbank().to(samples.device).T @ power  # [B, N_MELS, frames]
    return torch.log(mel + LOG_FLOOR)


def frame_seconds(num_frames: int, step: float = HOP / SAMPLE_RATE) -> torch.Tensor:
    """Centre time in seconds of each of `num_frames` frames `step` seconds apart, [num_frames]."""
    return torch.arange(num_frames) * step

