"""Draws the product pictures the shop's database names: the fill command (tests/django/oscar_site/fill)
stores image file names only, and a shop page of missing pictures looks broken. Run once at build time:
`python product_pictures.py`. Each is a flat colour from the product's id, with its title on it."""

import colorsys
from pathlib import Path

import django

django.setup()

from django.conf import settings  # noqa: E402 - after setup
from oscar.core.loading import get_model  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

ProductImage = get_model("catalogue", "ProductImage")


def main() -> None:
    media = Path(settings.MEDIA_ROOT)
    for picture in ProductImage.objects.select_related("product"):
        path = media / picture.original.name
        path.parent.mkdir(parents=True, exist_ok=True)
        hue = (picture.product_id * 0.137) % 1
        colour = tuple(int(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.35, 0.9))
        image = Image.new("RGB", (400, 500), colour)
        ImageDraw.Draw(image).text((20, 230), picture.product.get_title()[:40], fill=(40, 40, 40))
        image.save(path)


if __name__ == "__main__":
    main()
