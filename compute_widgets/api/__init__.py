"""The Clarifai v2 compute API: models, client, errors and CLI config files. Imports nothing else of ours."""

# Display helpers the widgets and magics share (cheap: no pydantic, no pandas).
from compute_widgets.api._frames import html_table
from compute_widgets.api._labels import enum_label, plural, provider_label

__all__ = ["enum_label", "html_table", "plural", "provider_label"]
