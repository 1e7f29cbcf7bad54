"""`python -m hubkit ...`: the same command line as the `hubkit` script, for launchers that take a module
(`torchrun -m hubkit train ...`, `accelerate launch -m hubkit train ...`)."""

from .cli import main

if __name__ == "__main__":
    main()
