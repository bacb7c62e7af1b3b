"""REST API v1 (FastAPI), mounted at /api/v1; OpenAPI at /openapi.json."""
