"""Both APIs answer JSON whatever `Accept` says (as Stripe does): a client asking for HTML or XML still gets its
answer, never a 406 or a 500."""

from rest_framework.negotiation import DefaultContentNegotiation


class JSONWhateverAccept(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        return renderer, renderer.media_type
