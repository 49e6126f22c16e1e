"""The wheel carries the offline profile's data: `data/clip-offline/` goes into the package as
`mmsent/packaged/clip-offline/`, so a model folder of the offline profile loads with only the wheel
installed (`mmsent.paths` looks in the checkout's `data/` first, then there). Everything else is in
pyproject.toml."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
PACKAGED = ("clip-offline",)  # folders of data/ that the offline profile needs at run time


class BuildWithOfflineData(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's data/ directly
            return
        for name in PACKAGED:
            source = HERE / "data" / name
            if not source.is_dir():
                raise SystemExit(f"data/{name} is missing: python -m mmsent pretrain-clip, then build again.")
            target = Path(self.build_lib) / "mmsent" / "packaged" / name
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target)


setup(cmdclass={"build_py": BuildWithOfflineData})
