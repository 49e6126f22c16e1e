"""Text-to-image on the course's own photos: a small flow-matching model, graded by the course CLIP.

Modules, each importing only those before it:

- `unet`: `TextToImageUNet`, the denoiser (32x32 pixels, conditioned on a CLIP text embedding);
- `flow`: the forward noising process, the flow-matching loss and the guided Euler sampler;
- `prompts`: the 3 states x 6 products grid of captions, and the course CLIP's text embeddings;
- `pixels`: photos <-> tensors, and generated pixels -> the CLIP's input;
- `grading`: the CLIP's zero-shot state / product accuracy and CLIP score, over guidance scales;
- `pretrain`: the pretraining recipe (``python -m mmsent pretrain-generator``), save and load;
- its command, ``pretrain-generator``, lives in `mmsent.cli.pretrain`.

Notebook 11 ("From words to pictures") teaches all of it.

May import: errors, paths, progress, compat, data, encoders, hub, models.
"""
