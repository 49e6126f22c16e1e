"""mmsent: the multimodal learning course kit.

Data (`mmsent.data`) -> encoders (`mmsent.encoders`) -> fusion models (`mmsent.models`)
-> training (`mmsent.train`) -> pictures (`mmsent.viz`); `python -m mmsent` runs the same
pipeline from a terminal.
"""

__version__ = "0.1.0"
