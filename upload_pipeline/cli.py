"""`python -m upload_pipeline.cli check`: validate the datasets file and print one clear line."""

from __future__ import annotations

import os
import sys

from upload_pipeline.config import ConfigError
from upload_pipeline.config_file import config_path, load_config
from upload_pipeline.providers import build_resources
from upload_pipeline.providers.base import ProviderError


def main(argv: list[str]) -> int:
    if argv[:1] != ["check"]:
        print("usage: python -m upload_pipeline.cli check", file=sys.stderr)
        return 2
    try:
        cfg = load_config()
        build_resources(cfg, os.environ)
    except (ConfigError, ProviderError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    names = ", ".join(ds.name for ds in cfg.datasets)
    print(f"{config_path()}: OK, {len(cfg.datasets)} dataset(s): {names}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
