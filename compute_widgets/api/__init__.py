"""The Clarifai v2 compute API: models, client, errors and CLI config files. Imports nothing else of ours."""
