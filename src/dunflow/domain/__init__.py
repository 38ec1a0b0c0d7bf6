"""The pure core: policy model, schedule and money rules. Standard library only, no I/O."""
