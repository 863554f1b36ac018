"""What the `appmod` commands print (display.py): a line per step change in a log, a block redrawn in place
on a terminal, and a kubectl-style List for several resources."""

from __future__ import annotations

import io
import json

from appmod_operator import display
from appmod_operator.reconcile.outcome import Result
from appmod_operator.standalone import Tracked

BODY = {"apiVersion": "appmod.io/v1alpha1", "kind": "AppModernization",
        "metadata": {"namespace": "shop", "name": "oscar"}, "spec": {}}


def tracked(database: str, data: str) -> Tracked:
    conditions = [{"type": "Ready", "status": "False", "reason": "Creating", "message": "m"},
                  {"type": "DatabaseReady", "status": database, "reason": "R", "message": f"database {database}"},
                  {"type": "DataMigrated", "status": data, "reason": "R", "message": f"data {data}"}]
    return Tracked(BODY, Result({"phase": "Provisioning", "conditions": conditions}), passes=1)


def test_plain_lines_say_each_change_once():
    out = io.StringIO()
    progress = display.Progress(out, live=False)
    for state in (("False", "False"), ("False", "False"), ("True", "False"), ("True", "True")):
        progress(tracked(*state))
    assert out.getvalue().splitlines() == [
        "shop/oscar database: … R: database False", "shop/oscar data: … R: data False",
        "shop/oscar database: ✓ R: database True", "shop/oscar data: ✓ R: data True"]


def test_a_terminal_gets_the_block_redrawn_in_place():
    out = io.StringIO()
    progress = display.Progress(out, live=True)
    progress(tracked("False", "False"))
    progress(tracked("True", "False"))
    text = out.getvalue()
    assert text.count("\x1b[3F") == 1  # the second draw moves up over the first block's three lines
    assert text.rstrip().endswith("\x1b[2K  … data     data False")


def test_several_resources_are_a_list_in_json():
    several = json.loads(display.dump(display.status_objects([tracked("True", "True")] * 2), "json"))
    assert several["kind"] == "List" and len(several["items"]) == 2
    one = json.loads(display.dump(display.status_objects([tracked("True", "True")]), "json"))
    assert one["kind"] == "AppModernization" and one["status"]["phase"] == "Provisioning"
