"""appmod-operator: modernizes a legacy web application onto AWS from one AppModernization resource.

Layers (enforced by import-linter, see pyproject.toml): `runner`/`cli` -> `handlers` (kopf wiring)
-> `reconcile` (ordered steps) -> `aws` / `registry` / `migration` -> `spec`, `status`, `config`
-> `errors`.
"""

GROUP = "appmod.io"
VERSION = "v1alpha1"
PLURAL = "appmodernizations"
KIND = "AppModernization"
FINALIZER = f"{GROUP}/finalizer"
# A new value asks for the data to be migrated again (with spec.migration.data.allowReplace, over the rows
# the app has written since).
REMIGRATE_ANNOTATION = f"{GROUP}/remigrate"
