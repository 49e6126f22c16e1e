"""Metadata-only wheels: a package pip must see as installed (Colab's CUDA torch) without its GBs of code.

    python stub_wheel.py FOLDER NAME VERSION [REQUIREMENT...]
"""

from __future__ import annotations

import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path


def stub_wheel(folder: Path, name: str, version: str, requires: Sequence[str] = (),
               files: dict[str, str] | None = None) -> Path:
    """Write the wheel `name`-`version` into `folder`, with these requirements and these files."""
    info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
    path = Path(folder) / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for file_name, text in (files or {}).items():
            wheel.writestr(file_name, text)
        wheel.writestr(f"{info}/METADATA", metadata)
        wheel.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: stub\nRoot-Is-Purelib: true\n"
                                        "Tag: py3-none-any\n")
        wheel.writestr(f"{info}/RECORD", "")
    return path


if __name__ == "__main__":
    stub_wheel(Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:])
