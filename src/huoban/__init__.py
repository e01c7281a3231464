"""Huoban (伙伴): a platform on which a provider, its partners and its customers run big digital projects."""

__version__ = "0.1.0"
