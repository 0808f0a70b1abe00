"""The Dollr v1 API client: one requestor (auth, retries, rate ceiling) and a service per API area."""
