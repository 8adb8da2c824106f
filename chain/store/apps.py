from django.apps import AppConfig


class StoreConfig(AppConfig):
    name = "chain.store"
    label = "store"
    verbose_name = "chain store"
