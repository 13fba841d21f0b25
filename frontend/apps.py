from django.apps import AppConfig


class FrontendConfig(AppConfig):
    """The operator UI; fills the block registry and lends the admin its screen preview."""

    name = "frontend"
    label = "frontend"
    verbose_name = "Operator UI"

    def ready(self) -> None:
        from builders.previews import screen_previews

        from .blocks import register_builtin_blocks
        from .preview import ScreenPreview

        register_builtin_blocks()
        if "screen" not in screen_previews:
            screen_previews.register(ScreenPreview())
