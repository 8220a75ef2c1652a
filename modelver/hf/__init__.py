"""Hugging Face repository layout: publish a model's weights where users look, and load them back.

A repository (or a local folder) written by :func:`save_pretrained` holds:

- ``config.json``: the registered builder's name and the arguments that build the
  architecture, the weights entry it started from, modelver's version and the sha256 of
  the weights file;
- ``model.safetensors``: the tensors (shared tensors stored once, as safetensors does);
- ``README.md``: a model card whose YAML front matter (library, license, tags, metrics)
  and text are generated from the weights' meta.

:func:`from_pretrained` rebuilds the model through its registered builder and loads the
tensors after checking their sha256 against ``config.json``; :func:`push_to_hub` uploads
the folder with huggingface_hub. A folder pushed at a commit is also a weights file any
``Weights`` entry can name (``hf://org/repo@<commit>/model.safetensors``), so a library
publishes a new weights version as a new enum entry.
"""

from ._common import CONFIG_NAME, WEIGHTS_NAME
from ._load import from_pretrained, pretrained_weights
from ._push import push_to_hub
from ._save import save_pretrained

__all__ = ["CONFIG_NAME", "WEIGHTS_NAME", "from_pretrained", "pretrained_weights", "push_to_hub", "save_pretrained"]
