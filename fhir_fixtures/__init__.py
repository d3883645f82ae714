"""The embedded FHIR R4 server, bundle loading, the sample cohort and image fixtures."""

__all__: list[str] = []
