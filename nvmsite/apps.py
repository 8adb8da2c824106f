from django.apps import AppConfig


class NvmsiteConfig(AppConfig):
    name = "nvmsite"
    verbose_name = "n-VM devnet"
