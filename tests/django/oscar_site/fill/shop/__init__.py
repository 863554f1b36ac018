"""The parts of the shop fill_shop (management/commands/fill_shop.py) makes, one module per concern: common
(sizes, word lists, the fake clock and the Shop the parts share), sitewide, customers, partners, catalogue,
offers and orders. Each module's functions take the Shop; fill_shop calls them in one fixed order."""
