"""The one exception type that featviz reports to users as a single line."""


class FeatvizError(Exception):
    """A problem with the user's input: a bad file, layer, image or option.

    The CLI prints it as one line on stderr and exits with status 2.
    """


def first_line(e: BaseException, limit: int = 200) -> str:
    """The first non-empty line of an exception's message, at most `limit` characters."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    text = lines[0] if lines else type(e).__name__
    return text[:limit] + ("..." if len(text) > limit else "")
