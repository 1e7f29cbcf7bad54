"""Reading a card's Python blocks: extraction, the repos they load, the one allowed edit, the `# ->` claims."""

from __future__ import annotations

import pytest

from hubkit.card.codeblocks import (
    CodeBlockError,
    loaded_repos,
    only_revision_pinned,
    pin_revision,
    print_sites,
    python_blocks,
    unclaimed_comments,
    uses_pipeline,
)

SHA = "0123456789abcdef0123456789abcdef01234567"

CARD = """---
license: mit
---
# A model

```python
from transformers import pipeline

qa = pipeline("question-answering", model="alice/m")
print(qa(question="q", context="c")["answer"])  # -> an answer
```

```bash
pip install transformers
```

````py
repo_id, revision = "alice/m", "main"
tok = AutoTokenizer.from_pretrained(repo_id, revision=revision)
model = AutoModel.from_pretrained(
    repo_id,
    trust_remote_code=False,
)
````
"""


def test_python_blocks_are_found_with_their_readme_lines():
    blocks = python_blocks(CARD)
    assert [b.index for b in blocks] == [1, 2]
    assert blocks[0].line == 7 and CARD.splitlines()[blocks[0].line - 1] == "from transformers import pipeline"
    assert blocks[1].code.startswith('repo_id, revision = "alice/m", "main"\n')
    assert "pip install" not in "".join(b.code for b in blocks)


def test_loaded_repos_resolves_literals_and_names_bound_to_literals():
    first, second = python_blocks(CARD)
    assert [(r.call, r.repo) for r in loaded_repos(first.code)] == [("pipeline", "alice/m")]
    assert [(r.call, r.repo) for r in loaded_repos(second.code)] == [("from_pretrained", "alice/m")] * 2
    dynamic = loaded_repos('import os\nm = AutoModel.from_pretrained(os.environ["REPO"])\n')
    assert dynamic[0].repo is None and dynamic[0].source == 'os.environ["REPO"]'
    rebound = loaded_repos('r = "a/b"\nr = "c/d"\nAutoModel.from_pretrained(r)\n')
    assert rebound[0].repo is None  # bound twice: not a single literal
    assert [r.repo for r in loaded_repos('pipeline("fill-mask", "bert/base")\n')] == ["bert/base"]
    assert uses_pipeline(first.code) == "question-answering" and uses_pipeline(second.code) is None


def test_pin_revision_adds_or_replaces_the_keyword_and_keeps_lines():
    first, second = python_blocks(CARD)
    pinned = pin_revision(first.code, SHA)
    assert f'model="alice/m", revision="{SHA}")' in pinned
    pinned2 = pin_revision(second.code, SHA)
    assert f'from_pretrained(repo_id, revision="{SHA}")' in pinned2
    assert f'    trust_remote_code=False, revision="{SHA}",\n)' in pinned2  # after the last argument
    for code, edited in ((first.code, pinned), (second.code, pinned2)):
        assert len(edited.splitlines()) == len(code.splitlines())
        compile(edited, "<pinned>", "exec")
        diff = only_revision_pinned(code, edited, SHA)
        assert diff.startswith("--- card\n+++ pinned to " + SHA)


def test_only_revision_pinned_refuses_any_other_change():
    code = python_blocks(CARD)[0].code
    pinned = pin_revision(code, SHA)
    with pytest.raises(CodeBlockError, match="more than the loaders' revision"):
        only_revision_pinned(code, pinned.replace('"alice/m"', '"alice/other"'), SHA)
    with pytest.raises(CodeBlockError, match="comments differ"):
        only_revision_pinned(code, pinned.replace("# -> an answer", "# -> another"), SHA)
    with pytest.raises(CodeBlockError, match="not pinned"):
        only_revision_pinned(code, code, SHA)
    with pytest.raises(CodeBlockError, match="not valid Python"):
        pin_revision("print(", SHA)


def test_print_sites_and_unclaimed_comments():
    code = "print(1)  # -> 1\nprint(\n    2,\n)  # -> 2\nprint(3)\nx = 4  # -> 4\n"
    assert [(s.first, s.last, s.expected) for s in print_sites(code)] == [(1, 1, "1"), (2, 4, "2"), (5, 5, None)]
    assert unclaimed_comments(code) == [6]


def test_non_ascii_text_before_a_loader_keeps_offsets_right():
    code = 'AutoModel.from_pretrained("ä/€x")  # -> ö\n'
    assert pin_revision(code, SHA) == f'AutoModel.from_pretrained("ä/€x", revision="{SHA}")  # -> ö\n'
