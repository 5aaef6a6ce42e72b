"""The embedded local control plane: Clarifai's compute API on 127.0.0.1, stored in SQLite."""
