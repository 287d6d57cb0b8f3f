"""The HTTP edge: request context, access log, the problem boundary, the ops routes."""
