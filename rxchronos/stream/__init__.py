"""rxchronos.stream."""
