"""mmsent: the multimodal learning course kit.

Data (`mmsent.data`) -> encoders (`mmsent.encoders`, `mmsent.features.vectors`) -> models (`mmsent.models`)
-> training (`mmsent.train`) -> pictures (`mmsent.viz`) -> the ablation run (`mmsent.analysis.ablation`);
`python -m mmsent` (`mmsent.cli.main`) runs the same pipeline from a terminal. Below them all sit the
settings and names every layer shares: `mmsent.choices`, `mmsent.config`, `mmsent.runtime`.
Imports only go down this order (README "Layout"; `tests/test_layers.py` checks it).
"""

__version__ = "0.1.0"
