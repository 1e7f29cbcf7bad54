"""A local, Hugging Face Hub-compatible server for tests, demos and offline publishing.

    from hubkit.localhub import LocalHub
    with LocalHub.start(root, tokens={"token": "user"}) as hub:   # free port, background thread
        HfApi(endpoint=hub.url, token="token").create_repo("user/model")

The real `huggingface_hub` client and `transformers` talk to it through `HF_ENDPOINT` (or `endpoint=`). It imports
nothing of hubkit's: `storage` keeps the state on disk, `server` maps HTTP routes onto it.
"""

from .server import LocalHub, RequestRecord, iter_requests
from .storage import DEFAULT_GITATTRIBUTES, Storage

__all__ = ["LocalHub", "RequestRecord", "Storage", "iter_requests", "DEFAULT_GITATTRIBUTES"]
