"""Errors that retrying cannot fix: bad data or bad config. Their messages name the problem and the fix."""


class DataError(ValueError):
    """Bad input; operators fail such a task at once instead of retrying it."""
