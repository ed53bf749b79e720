"""Domain errors: each message tells the user (or admin) what went wrong and what to do."""


class DomainError(Exception):
    """Base of every business-rule refusal; entrypoints map it to a reply or a 4xx."""


class NotFound(DomainError):
    pass


class InvalidInput(DomainError):
    pass


class ImportFailed(DomainError):
    """A CSV import stopped; `line` is the file line (1 = header) that caused it."""

    def __init__(self, path: str, line: int, message: str):
        super().__init__(f"{path}, line {line}: {message}")
        self.path = path
        self.line = line
        self.reason = message
