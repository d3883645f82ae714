"""The LangGraph agent that answers questions about one patient's FHIR record.

A research and engineering tool, not a medical device.
"""

__all__: list[str] = []
