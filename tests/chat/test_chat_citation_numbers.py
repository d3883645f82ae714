from __future__ import annotations

from agent.chat.citation_numbers import CitationNumbers, cited_in_order

HANDLES = {"C1": "Condition/c-one", "O3": "Observation/o-three", "M2": "MedicationRequest/m-two"}


def _resolve(token: str) -> str | None:
    return HANDLES.get(token) or (token if token in HANDLES.values() else None)


def test_answers_are_numbered_in_the_order_they_cite() -> None:
    answer = "Her A1c fell [Observation/o-three] after metformin [MedicationRequest/m-two]."
    citations = ["MedicationRequest/m-two", "Observation/o-three", "Condition/c-one"]
    assert cited_in_order(answer, citations) == [
        "Observation/o-three",
        "MedicationRequest/m-two",
        "Condition/c-one",
    ]


def test_numbers_are_stable_across_a_conversation() -> None:
    numbers = CitationNumbers()
    assert numbers.assign(["Observation/o-three", "Condition/c-one"]) == [1, 2]
    assert numbers.assign(["Condition/c-one", "MedicationRequest/m-two"]) == [2, 3]
    assert numbers.number("Condition/c-one") == 2
    assert numbers.ref(3) == "MedicationRequest/m-two"
    assert numbers.ref(0) is None
    assert numbers.ref(4) is None
    assert len(numbers) == 3


def test_streamed_handles_show_the_numbers_they_will_get() -> None:
    numbers = CitationNumbers()
    numbers.assign(["Condition/c-one"])
    pieces = numbers.label("A [O3], B [C1], again [O3], unknown [X9], then [M2]", _resolve)
    assert pieces == [
        ("A ", None),
        ("[2]", "Observation/o-three"),
        (", B ", None),
        ("[1]", "Condition/c-one"),
        (", again ", None),
        ("[2]", "Observation/o-three"),
        (", unknown [X9], then ", None),
        ("[3]", "MedicationRequest/m-two"),
    ]
    assert len(numbers) == 1  # labelling a draft numbers nothing


def test_final_answers_with_full_references_get_the_same_labels() -> None:
    numbers = CitationNumbers()
    numbers.assign(["Observation/o-three"])
    pieces = numbers.label("Fell [Observation/o-three].", _resolve)
    assert "".join(text for text, _ in pieces) == "Fell [1]."
