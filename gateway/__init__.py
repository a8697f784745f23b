"""The HTTP gateway: login, tokens, role checks and the web console."""
