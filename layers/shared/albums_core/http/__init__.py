"""HTTP plumbing of the API functions: the resolver, the error map, request and response models."""
