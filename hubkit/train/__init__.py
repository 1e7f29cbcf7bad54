"""Training: data -> features -> LoRA fine-tune -> evaluation -> ablation -> merge -> run record.

Imported only by `hubkit train` / `hubkit release`; the card generator and the publisher never import it.
"""
