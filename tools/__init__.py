"""FHIR access and the patient-scoped evidence tools the model may call."""

__all__: list[str] = []
