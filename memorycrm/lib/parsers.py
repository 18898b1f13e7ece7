"""Request parsers for the API (REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]).

Apart from memorycrm/lib/api.py: DRF imports parsers while it loads its settings, and that
module imports rest_framework.views (a cycle).
"""

from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, but a body nested deeper than Python's recursion limit (a few
    thousand levels, e.g. 50,000 `[`) is a 400 like any other malformed JSON, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
