"""The one exception type that featviz reports to users as a single line."""


class FeatvizError(Exception):
    """A problem with the user's input: a bad file, layer, image or option.

    The CLI prints it as one line on stderr and exits with status 2.
    """
