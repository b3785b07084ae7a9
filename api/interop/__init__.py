"""Hospital standards in and out of the ledger's envelope: FHIR AuditEvent and CDS Hooks feedback.

The mapping modules here are pure (no FastAPI, no store): each turns a parsed
request body into catalogue envelopes, or raises InvalidEvent naming the
element at fault (a FHIRPath-like location such as ``AuditEvent.agent[0].who``).
"""
