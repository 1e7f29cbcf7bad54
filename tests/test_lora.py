"""LoRA wrapping: parameter counts as PEFT reports them, target-module errors, and the token_type_ids trap."""

from __future__ import annotations

import copy

import pytest
import torch

from hubkit.errors import HubkitError
from hubkit.train.lora import build_lora_model, check_target_modules, linear_layer_names, lora_info, parameter_counts


def _full_distilbert_qa():
    """The full-size DistilBERT QA architecture (DistilBertConfig() defaults), on the meta device: no memory, no time."""
    from transformers import DistilBertConfig, DistilBertForQuestionAnswering

    with torch.device("meta"):
        return DistilBertForQuestionAnswering(DistilBertConfig())


def _expected_counts(model, r: int, targets: list[str]) -> tuple[int, int]:
    """Counted independently of PEFT: A (r x in) + B (out x r) per targeted linear layer, plus a trained copy of
    the QA head; PEFT's total is the base model plus those added parameters."""
    lora = sum(
        r * (m.in_features + m.out_features)
        for name, m in model.named_modules()
        if isinstance(m, torch.nn.Linear) and name.rsplit(".", 1)[-1] in targets
    )
    head = sum(p.numel() for p in model.qa_outputs.parameters())
    base = sum(p.numel() for p in model.parameters())
    return lora + head, base + lora + head


@pytest.mark.parametrize("r", [4, 8, 16])
def test_parameter_counts_match_an_independent_count(r):
    model = _full_distilbert_qa()
    expected = _expected_counts(model, r, ["q_lin", "v_lin"])
    peft_model = build_lora_model(model, r=r, alpha=2 * r, dropout=0.1, target_modules=["q_lin", "v_lin"])
    assert parameter_counts(peft_model) == expected
    # PEFT's own report agrees with what we record
    assert parameter_counts(peft_model) == peft_model.get_nb_trainable_parameters()


def test_reference_configuration_gives_the_published_counts():
    # The fact in ../shared/README.md (and the reference card): r=8 on q_lin,v_lin with the QA head trained.
    peft_model = build_lora_model(_full_distilbert_qa(), r=8, alpha=16, dropout=0.1, target_modules=["q_lin", "v_lin"])
    assert parameter_counts(peft_model) == (148_994, 66_513_412)


def test_lora_info_reads_back_the_peft_config():
    peft_model = build_lora_model(_full_distilbert_qa(), r=8, alpha=16, dropout=0.1, target_modules=["v_lin", "q_lin"])
    info = lora_info(peft_model)
    assert info.model_dump() == {
        "r": 8,
        "alpha": 16,
        "dropout": 0.1,
        "target_modules": ["q_lin", "v_lin"],
        "task_type": "QUESTION_ANS",
        "modules_to_save": ["qa_outputs"],
    }
    # the QA head is trained in full, the base weights are frozen
    trainable = {n for n, p in peft_model.named_parameters() if p.requires_grad}
    assert any("qa_outputs" in n for n in trainable)
    assert not any("q_lin.base_layer" in n for n in trainable)


def test_missing_target_module_lists_the_linear_layers():
    model = _full_distilbert_qa()
    with pytest.raises(HubkitError) as err:
        build_lora_model(model, r=8, alpha=16, dropout=0.1, target_modules=["q_lin", "query"])
    message = str(err.value)
    assert "'query'" in message and "\n" not in message
    for name in linear_layer_names(model):
        assert name in message
    assert linear_layer_names(model) == ["k_lin", "lin1", "lin2", "out_lin", "q_lin", "qa_outputs", "v_lin"]
    check_target_modules(model, ["q_lin", "lin1"])  # present ones pass


# --- the token_type_ids trap -----------------------------------------------------------------------------------------


def _tiny_bert_qa(folder):
    """A small random BERT QA model + a BERT tokenizer that makes token_type_ids, saved like a Hub model."""
    from transformers import BertConfig, BertForQuestionAnswering, BertTokenizerFast

    from hubkit.train.tiny import tiny_vocab

    vocab = tiny_vocab(500)
    tokenizer = BertTokenizerFast(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=True)
    assert "token_type_ids" in tokenizer.model_input_names
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        type_vocab_size=2,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = BertForQuestionAnswering(config)
    with torch.no_grad():  # make segment B clearly different from segment A, as a trained BERT's are
        model.bert.embeddings.token_type_embeddings.weight[1].normal_(0, 1.0)
    return model, tokenizer


def _nudge_adapters(peft_model):
    """Non-zero LoRA B (as after training), so the merge really changes weights."""
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)


EXAMPLES = [
    {
        "question": "What is the financial sentiment of this statement?",
        "context": "Options: negative, neutral, positive. Statement: Profits rose sharply this quarter.",
    },
    {"question": "Why did the shares fall?", "context": "The shares fell after the company cut its sales outlook."},
]


def test_training_model_sees_the_segment_ids_that_pipeline_gives_the_merged_model(tmp_path):
    from peft import PeftModelForQuestionAnswering
    from transformers import DataCollatorWithPadding

    from hubkit.train.features import prepare_train_features
    from hubkit.train.merge import parity_check, save_merged

    model, tokenizer = _tiny_bert_qa(tmp_path)
    peft_model = build_lora_model(model, r=4, alpha=8, dropout=0.0, target_modules=["query", "value"])
    _nudge_adapters(peft_model)
    merged = save_merged(peft_model, tokenizer, tmp_path / "model")

    # 1. a training batch, built exactly as the Trainer builds it (features + dynamic-padding collator)
    squad = {
        "question": [e["question"] for e in EXAMPLES],
        "context": [e["context"] for e in EXAMPLES],
        "answers": [
            {"text": [answer], "answer_start": [e["context"].index(answer)]}
            for e, answer in zip(EXAMPLES, ["positive", "cut its sales outlook"])
        ],
    }
    features = prepare_train_features(squad, tokenizer, max_length=64, doc_stride=16)
    batch = DataCollatorWithPadding(tokenizer)([{k: features[k][i] for k in features} for i in range(len(EXAMPLES))])
    assert int(batch["token_type_ids"].max()) == 1  # the question/context segments are there
    peft_model.eval()
    merged.eval()
    with torch.no_grad():
        training_time = peft_model(**batch).start_logits
        inference_time = merged(**batch).start_logits
        # peft's own QA wrapper with the very same weights drops token_type_ids: that is the trap
        plain = copy.copy(peft_model)
        plain.__class__ = PeftModelForQuestionAnswering
        trapped = plain(**batch).start_logits
    assert torch.allclose(training_time, inference_time, atol=1e-5)
    assert (trapped - inference_time).abs().max() > 1e-2

    # 2. the merge parity check runs the saved model as pipeline() does (token_type_ids included) and agrees
    result = parity_check(peft_model, tmp_path / "model", EXAMPLES)
    assert result.max_abs_logit_diff < 1e-4
    assert result.num_examples == 2 and result.model_type == "bert"


def test_parity_check_catches_a_model_that_ignores_segment_ids(tmp_path):
    """If training-time forward dropped token_type_ids, the parity check would report a large difference."""
    from peft import PeftModelForQuestionAnswering

    from hubkit.train.merge import parity_check, save_merged

    model, tokenizer = _tiny_bert_qa(tmp_path)
    peft_model = build_lora_model(model, r=4, alpha=8, dropout=0.0, target_modules=["query", "value"])
    _nudge_adapters(peft_model)
    save_merged(peft_model, tokenizer, tmp_path / "model")
    peft_model.__class__ = PeftModelForQuestionAnswering  # peft 0.21's forward, which drops token_type_ids
    assert parity_check(peft_model, tmp_path / "model", EXAMPLES).max_abs_logit_diff > 1e-2
