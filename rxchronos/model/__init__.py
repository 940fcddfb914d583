"""rxchronos.model."""
