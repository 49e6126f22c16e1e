"""The one place that knows which transformers generation is installed (4.x or 5.x).

mmsent supports transformers 4.57.1 (its declared floor, Colab's) to 5.x; a few helpers also handle the
4.x releases before it, where they differ again. Every call whose arguments, return type or class names
changed between those versions goes through a helper here, so the rest of the package and the
notebooks never branch on versions:

- `clip_vision_states`, `clip_text_states`: CLIP's vision and text towers. transformers 4.57's
  towers reject ``return_dict``, and 4.40's text tower rejects ``token_type_ids`` (which a
  tokenizer may return). The helpers pass only the arguments every version accepts and read the
  outputs by position, which works whether a version returns a ``ModelOutput`` or a tuple.
- `bert_hidden_states`: the last hidden states of a BERT-family text encoder.
- `bert_layer_states`: one BERT layer on hidden states (5.x returns a tensor, 4.x a tuple).
- `set_attention_implementation`: "eager" or "sdpa" on a built model, where the installed version
  can switch one (``set_attn_implementation``); else the model keeps the implementation it was built with.
- `image_processor_class`: the CLIP image processor class (the names changed in 5.x).
- `load_clip_tokenizer`: a CLIP tokenizer saved by either generation.
- `fused_adamw_works`: whether this PyTorch has the fused AdamW step for a device (CPU: from 2.4).
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import torch
import transformers
from torch import nn


def clip_vision_states(
    vision_model: nn.Module, pixel_values: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """CLIP's vision tower (``CLIPModel.vision_model``) on ``pixel_values`` ``[batch, 3, height, width]``.

    Returns (last_hidden_state ``[batch, 1 + patches, dim]``, CLS token, pre-LayerNormed as
    ``pooler_output`` ``[batch, dim]``). Outputs are read by position: element 0 is the last hidden
    state and element 1 the pooled output in every version, as a ``ModelOutput`` or as a tuple.
    """
    outputs = vision_model(pixel_values=pixel_values)
    return outputs[0], outputs[1]


def clip_vision_hidden_states(
    vision_model: nn.Module, pixel_values: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    """Every state of CLIP's vision tower on ``pixel_values`` ``[batch, 3, height, width]``: a tuple of
    ``1 + layers`` tensors ``[batch, 1 + patches, dim]``, element ``i`` the state that enters layer ``i``
    (element 0: the embeddings after ``pre_layrnorm``; the last: the final hidden state). Asked for by
    keyword and read by attribute, which every version supports.
    """
    return vision_model(pixel_values=pixel_values, output_hidden_states=True).hidden_states


def clip_text_states(
    text_model: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """CLIP's text tower (``CLIPModel.text_model``) on token ids ``[batch, length]``.

    Returns (last_hidden_state ``[batch, length, dim]``, the state at each text's end-of-text token
    ``[batch, dim]``). Only ``input_ids`` and ``attention_mask`` are passed: CLIP has no token types,
    and transformers 4.x fails on a ``token_type_ids`` argument.
    """
    outputs = text_model(input_ids=input_ids, attention_mask=attention_mask)
    return outputs[0], outputs[1]


def bert_hidden_states(
    text_model: nn.Module,
    attention_mask: torch.Tensor,
    input_ids: torch.Tensor | None = None,
    inputs_embeds: torch.Tensor | None = None,
) -> torch.Tensor:
    """Last hidden states ``[batch, length, hidden]`` of a BERT-family model.

    Give either ``input_ids`` ``[batch, length]`` or ``inputs_embeds`` ``[batch, length, hidden]``
    (vectors that stand in for the word embeddings), with ``attention_mask`` ``[batch, length]``.
    """
    outputs = text_model(input_ids=input_ids, inputs_embeds=inputs_embeds, attention_mask=attention_mask)
    return outputs[0]


def bert_layer_states(layer: nn.Module, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """One BERT layer (``model.encoder.layer[i]``) on hidden states ``[batch, length, hidden]``.

    ``attention_mask`` is the additive ``[batch, 1, 1, length]`` form (0 on tokens, a large negative
    number on padding), which eager and SDPA attention take in every version. transformers 5.x
    returns the new states, 4.x a tuple whose first element they are.
    """
    output = layer(hidden, attention_mask=attention_mask)
    return output[0] if isinstance(output, tuple) else output


def attention_implementation(model: nn.Module) -> str:
    """The attention implementation a transformers model runs now: "eager", "sdpa", ..."""
    return model.config._attn_implementation


def set_attention_implementation(model: nn.Module, implementation: str) -> str:
    """Switch a built transformers model (and its sub-models) to ``implementation`` ("eager" or "sdpa").

    Returns the implementation the model runs afterwards: the one asked for where the installed
    transformers can switch a built model of this class (5.x; CLIP from the late 4.5x releases on),
    else the one it was built with (transformers 4.57's BertModel; everything in 4.40, which has only
    "eager" for BERT and CLIP). Callers report what ran, not what they asked for.
    """
    can_switch = getattr(model, "_can_set_attn_implementation", lambda: False)()
    if hasattr(model, "set_attn_implementation") and can_switch:
        model.set_attn_implementation(implementation)
    return attention_implementation(model)


def image_processor_class() -> type[transformers.BaseImageProcessor]:
    """The CLIP image processor class to use: torchvision-backed when torchvision is installed, else PIL.

    Choosing explicitly avoids transformers 5's "requires torchvision, falling back" warning.
    transformers 5 names the PIL backend ``CLIPImageProcessorPil`` and the torchvision one
    ``CLIPImageProcessor``; transformers 4 calls them ``CLIPImageProcessor`` and ``CLIPImageProcessorFast``,
    and has the torchvision one only from 4.49 on: before that, the PIL one is used with torchvision too.
    """
    if hasattr(transformers, "CLIPImageProcessorPil"):  # transformers 5
        pil, torchvision = transformers.CLIPImageProcessorPil, transformers.CLIPImageProcessor
    else:
        pil = transformers.CLIPImageProcessor
        torchvision = getattr(transformers, "CLIPImageProcessorFast", pil)
    return pil if importlib.util.find_spec("torchvision") is None else torchvision


def load_clip_tokenizer(folder: str | Path) -> transformers.PreTrainedTokenizerBase:
    """The CLIP text tokenizer saved in ``folder`` (its ``tokenizer.json``), from disk only.

    `PreTrainedTokenizerFast`, not `AutoTokenizer`: transformers 5 saves the class name
    "TokenizersBackend", which transformers 4 does not know; `PreTrainedTokenizerFast` reads
    ``tokenizer.json`` in both. transformers 4 warns (three lines) that the saved class name is not the
    class loading it; that is the point here, so its tokenizer logger is quiet during the load.
    """
    tokenizer_logger = logging.getLogger("transformers.tokenization_utils_base")
    level = tokenizer_logger.level
    tokenizer_logger.setLevel(logging.ERROR)
    try:
        return transformers.PreTrainedTokenizerFast.from_pretrained(folder, local_files_only=True)
    finally:
        tokenizer_logger.setLevel(level)


def fused_adamw_works(device: torch.device) -> bool:
    """Whether ``torch.optim.AdamW(..., fused=True)`` can step on ``device`` with this PyTorch.

    PyTorch 2.3 builds a fused AdamW for CPU tensors but fails at its first step (the CPU kernel came
    in 2.4), so one step on a one-element probe answers it, whatever the version.
    """
    probe = torch.zeros(1, device=device, requires_grad=True)
    probe.grad = torch.zeros(1, device=device)
    try:
        torch.optim.AdamW([probe], fused=True).step()
    except (RuntimeError, NotImplementedError):
        return False
    return True
