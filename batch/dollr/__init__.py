"""The Dollr v1 API client: one requestor (auth, retries, rate ceiling), a service per area."""
