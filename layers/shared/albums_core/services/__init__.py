"""Application services: one module per use case; they reach AWS and PDSes only through adapters."""
