"""rxchronos.graph."""
