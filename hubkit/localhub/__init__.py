"""A local, Hugging Face Hub-compatible server for tests, demos and offline publishing.

    from hubkit.localhub import LocalHub
    with LocalHub.start(root, tokens={"token": "user"}) as hub:   # free port, background thread
        HfApi(endpoint=hub.url, token="token").create_repo("user/model")

The real `huggingface_hub` client, `transformers` and `datasets` talk to it through `HF_ENDPOINT` (or `endpoint=`):
model, dataset and Space repos, pull requests merged as the Hub merges them (squash, or `merge_mode="fast-forward"`),
and the Hub's card metadata check (`check_card`, also behind `/api/validate-yaml`). Of hubkit it imports only
`hubkit.data` (the Hub's license list). Rooms: `server` (LocalHub, the request handler), `routes` (the endpoint table),
`api_repos`/`api_files`/`api_discussions` (endpoints), `http` (plumbing), `storage`/`discussions` (state on disk),
`errors`, `cards`/`card_validation` (what the Hub reads from and checks in a README).
"""

from .card_validation import CardCheck, check_card
from .server import LocalHub, RequestRecord, iter_requests
from .storage import DEFAULT_GITATTRIBUTES, MERGE_MODES, Storage, repo_key

__all__ = [
    "DEFAULT_GITATTRIBUTES",
    "MERGE_MODES",
    "CardCheck",
    "LocalHub",
    "RequestRecord",
    "Storage",
    "check_card",
    "iter_requests",
    "repo_key",
]
