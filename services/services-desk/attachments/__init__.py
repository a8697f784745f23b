"""The desk's attachments concept."""
