"""The version-independent usage code a card shows, and the smoke test runs against every pushed revision.

It uses plain `AutoTokenizer` + `AutoModelForQuestionAnswering` + span decoding, so it keeps working where
`pipeline("question-answering")` is gone (transformers 5.3). Plain text: importing this module costs nothing.
"""

from __future__ import annotations

import json

REPO_PLACEHOLDER = "<REPO_ID>"
REVISION_PLACEHOLDER = "<REVISION>"

# Shown on the card (with the placeholders filled by `render_usage_snippet`) and executed by the smoke test.
# It mirrors pipeline("question-answering")'s decoding: softmax over context tokens (+[CLS]), best spans of at most
# max_answer_len tokens, widened to whole words, scores of spans giving the same text added up.
USAGE_SNIPPET = """\
import torch
from transformers import AutoModelForQuestionAnswering, AutoTokenizer

repo_id, revision = "<REPO_ID>", "<REVISION>"
tokenizer = AutoTokenizer.from_pretrained(repo_id, revision=revision)
model = AutoModelForQuestionAnswering.from_pretrained(repo_id, revision=revision).eval()


def answer_question(question, context, max_answer_len=15, top_k=12):
    enc = tokenizer(question, context, truncation="only_second", max_length=384, return_tensors="pt")
    with torch.no_grad():
        out = model(**{k: enc[k] for k in tokenizer.model_input_names if k in enc})
    in_context = torch.tensor([s == 1 for s in enc.sequence_ids(0)])
    allowed = in_context.clone()
    allowed[0] = True  # [CLS] takes part in the softmax, then scores 0
    start = out.start_logits[0].masked_fill(~allowed, -10000.0).softmax(-1)
    end = out.end_logits[0].masked_fill(~allowed, -10000.0).softmax(-1)
    start[0] = end[0] = 0.0
    spans = torch.outer(start, end).triu().tril(max_answer_len - 1)  # start <= end < start + max_answer_len
    scores, flat = spans.flatten().topk(min(top_k, spans.numel()))
    answers = {}
    for score, index in zip(scores.tolist(), flat.tolist()):
        s, e = divmod(index, spans.shape[1])
        if not (in_context[s] and in_context[e]):
            continue
        # widen the token span to whole words of the context
        first = enc.word_to_chars(enc.token_to_word(s), sequence_index=1).start
        last = enc.word_to_chars(enc.token_to_word(e), sequence_index=1).end
        text = context[first:last]
        best = answers.setdefault(text.lower(), {"answer": text, "score": 0.0})
        best["score"] += score
    return max(answers.values(), key=lambda a: a["score"])
"""


def render_usage_snippet(repo_id: str, revision: str = "main") -> str:
    """USAGE_SNIPPET with the repo id and revision (a branch, tag or commit) filled in."""
    return USAGE_SNIPPET.replace(f'"{REPO_PLACEHOLDER}"', json.dumps(repo_id)).replace(
        f'"{REVISION_PLACEHOLDER}"', json.dumps(revision)
    )
