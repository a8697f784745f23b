"""zh-CN templates per kind and channel: platform defaults, county versions, sandboxed rendering, previews."""
