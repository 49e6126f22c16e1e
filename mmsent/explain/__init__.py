"""Explanations of a prediction over the photo's patches, and how to check them against the truth.

`mmsent.explain.methods`: six methods (attention, attention x gradient, Grad-CAM, Integrated
Gradients, occlusion, attention rollout) and a random baseline, each -> a map [patches] for one review.
`mmsent.explain.scores`: each map scored on the bundled data's damage masks (pointing game, mass on
the damage, lift), for faithfulness (deletion curves against a random order) and by the sanity check
of Adebayo et al. 2018 (re-initialise the fusion head, then the image tower: does the map change?).
`mmsent.explain.report`: the table and the gallery of `python -m mmsent evaluate --explanations`.

May import: errors, progress, data, encoders, viz, analysis.
"""

from mmsent.explain.methods import METHODS, Review, as_weights, predicted_class, prepare_review

__all__ = ["METHODS", "Review", "as_weights", "predicted_class", "prepare_review"]
