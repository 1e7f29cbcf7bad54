"""hubkit: from a LoRA fine-tune to a documented, verified model on the Hugging Face Hub."""

__version__ = "0.1.0"
