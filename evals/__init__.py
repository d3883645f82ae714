"""EHR question-answering benchmark: dataset builder, runner, scorers, reports, simulations."""

__all__: list[str] = []
